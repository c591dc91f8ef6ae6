#include "extender/tls_context.h"

#include <glog/logging.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <fstream>
#include <sstream>

namespace mlsched::extender {
namespace {

// OpenSSL's error queue as text (reasons and file names, never key material); clears it.
std::string OpenSslErrors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "unknown OpenSSL error" : out;
}

// Mozilla "intermediate" TLS 1.2 suites: forward secrecy and AEAD only. TLS 1.3 suites are all
// AEAD; OpenSSL's default TLS 1.3 list is kept.
constexpr char kTls12Ciphers[] =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

std::string ReadAll(const std::string& path, bool* ok) {
  std::ifstream in(path, std::ios::binary);
  *ok = static_cast<bool>(in);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string DescribeCert(SSL_CTX* ctx) {
  X509* cert = SSL_CTX_get0_certificate(ctx);
  if (!cert) return "no certificate";
  char subject[256] = "";
  X509_NAME_oneline(X509_get_subject_name(cert), subject, sizeof subject);
  std::string serial;
  if (BIGNUM* bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr)) {
    if (char* hex = BN_bn2hex(bn)) {
      serial = hex;
      OPENSSL_free(hex);
    }
    BN_free(bn);
  }
  std::string not_after;
  if (BIO* bio = BIO_new(BIO_s_mem())) {
    ASN1_TIME_print(bio, X509_get0_notAfter(cert));
    char* data = nullptr;
    long n = BIO_get_mem_data(bio, &data);
    not_after.assign(data, static_cast<size_t>(n));
    BIO_free(bio);
  }
  return std::string(subject) + ", serial " + serial + ", valid until " + not_after;
}

}  // namespace

Status BuildServerContext(const TlsFiles& files, SslCtxPtr* out) {
  ERR_clear_error();
  SslCtxPtr ctx(SSL_CTX_new(TLS_server_method()), SslCtxFree());
  if (!ctx) return Status::Internal("TLS: SSL_CTX_new failed: " + OpenSslErrors());
  SSL_CTX* c = ctx.get();
  SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
  SSL_CTX_set_options(c, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                             SSL_OP_CIPHER_SERVER_PREFERENCE);
  if (SSL_CTX_set_cipher_list(c, kTls12Ciphers) != 1) {
    return Status::Internal("TLS: cipher list refused: " + OpenSslErrors());
  }
  // The proxy retries a partial SSL_write with the rest of its buffer, which may have moved.
  SSL_CTX_set_mode(c, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                          SSL_MODE_RELEASE_BUFFERS);
  if (SSL_CTX_use_certificate_chain_file(c, files.cert_file.c_str()) != 1) {
    return Status::InvalidArgument("--tls-cert-file " + files.cert_file +
                                   ": not a usable PEM certificate: " + OpenSslErrors());
  }
  if (SSL_CTX_use_PrivateKey_file(c, files.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    std::string why = OpenSslErrors();
    if (why.find("values mismatch") != std::string::npos) {  // OpenSSL checks the pair here
      return Status::InvalidArgument("--tls-private-key-file " + files.key_file +
                                     " does not match the certificate in " + files.cert_file);
    }
    return Status::InvalidArgument("--tls-private-key-file " + files.key_file +
                                   ": not a usable PEM private key: " + why);
  }
  if (SSL_CTX_check_private_key(c) != 1) {
    return Status::InvalidArgument("--tls-private-key-file " + files.key_file +
                                   " does not match the certificate in " + files.cert_file);
  }
  if (!files.client_ca_file.empty()) {
    if (SSL_CTX_load_verify_locations(c, files.client_ca_file.c_str(), nullptr) != 1) {
      return Status::InvalidArgument("--client-ca-file " + files.client_ca_file +
                                     ": not a usable PEM CA bundle: " + OpenSslErrors());
    }
    STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(files.client_ca_file.c_str());
    if (!names) {
      return Status::InvalidArgument("--client-ca-file " + files.client_ca_file +
                                     ": no CA certificate in it");
    }
    SSL_CTX_set_client_CA_list(c, names);
    SSL_CTX_set_verify(c, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
    SSL_CTX_set_verify_depth(c, 4);
    // Session resumption with client certificates needs a context id.
    static const unsigned char kSessionId[] = "mlsched-extender";
    SSL_CTX_set_session_id_context(c, kSessionId, sizeof kSessionId - 1);
  }
  ERR_clear_error();
  *out = std::move(ctx);
  return Status::Ok();
}

TlsContext::TlsContext(TlsFiles files, std::chrono::milliseconds poll)
    : files_(std::move(files)), poll_(poll) {}

TlsContext::~TlsContext() { Stop(); }

std::string TlsContext::Fingerprint() const {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_MD_CTX* h = EVP_MD_CTX_new();
  EVP_DigestInit_ex(h, EVP_sha256(), nullptr);
  for (const std::string* f : {&files_.cert_file, &files_.key_file, &files_.client_ca_file}) {
    bool ok = false;
    std::string bytes = f->empty() ? std::string() : ReadAll(*f, &ok);
    uint64_t n = bytes.size();
    EVP_DigestUpdate(h, &n, sizeof n);  // separates the files
    EVP_DigestUpdate(h, bytes.data(), bytes.size());
    OPENSSL_cleanse(bytes.data(), bytes.size());
  }
  EVP_DigestFinal_ex(h, md, &len);
  EVP_MD_CTX_free(h);
  return std::string(reinterpret_cast<char*>(md), len);
}

Status TlsContext::Start() {
  std::string fp = Fingerprint();
  SslCtxPtr ctx;
  Status s = BuildServerContext(files_, &ctx);
  if (!s.ok()) return s;
  {
    std::lock_guard lock(mu_);
    current_ = std::move(ctx);
    loaded_fingerprint_ = fp;
    description_ = DescribeCert(current_.get());
  }
  LOG(INFO) << "TLS certificate " << files_.cert_file << ": " << Describe()
            << (files_.client_ca_file.empty() ? ""
                                               : "; client certificates required, CA " +
                                                     files_.client_ca_file);
  thread_ = std::thread([this] { Loop(); });
  return Status::Ok();
}

void TlsContext::Stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

SslCtxPtr TlsContext::Current() const {
  std::lock_guard lock(mu_);
  return current_;
}

int TlsContext::reloads() const {
  std::lock_guard lock(mu_);
  return reloads_;
}

int TlsContext::failed_reloads() const {
  std::lock_guard lock(mu_);
  return failed_reloads_;
}

std::string TlsContext::Describe() const {
  std::lock_guard lock(mu_);
  return description_;
}

// Polling rather than inotify: the mounted files are symlinks into a directory that kubelet
// replaces, which inotify watches on the files themselves miss; hashing three small files once
// a second costs nothing.
void TlsContext::Loop() {
  std::unique_lock lock(mu_);
  while (!cv_.wait_for(lock, poll_, [&] { return stop_; })) {
    lock.unlock();
    std::string fp = Fingerprint();
    lock.lock();
    if (fp == loaded_fingerprint_ || fp == failed_fingerprint_) continue;
    lock.unlock();
    SslCtxPtr ctx;
    Status s = BuildServerContext(files_, &ctx);
    lock.lock();
    if (!s.ok()) {
      failed_fingerprint_ = fp;
      ++failed_reloads_;
      LOG(WARNING) << "TLS files changed but do not load (keeping the current certificate; "
                      "retried when they change again): "
                   << s.message();
      continue;
    }
    current_ = std::move(ctx);
    loaded_fingerprint_ = fp;
    failed_fingerprint_.clear();
    ++reloads_;
    description_ = DescribeCert(current_.get());
    LOG(INFO) << "TLS files changed: new connections use " << description_;
  }
}

}  // namespace mlsched::extender
