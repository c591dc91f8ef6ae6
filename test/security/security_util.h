#pragma once

// Helpers for the security tests: a temporary directory, a small PKI made with the openssl CLI,
// a raw OpenSSL client (to see handshake results and the server's certificate), raw TCP
// sockets, a child process with its stderr in a file, and (from test/extender) the server
// fixture.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "extender/server.h"
#include "policy/engine.h"
#include "test/extender/http_test_util.h"
#include "test/test_files.h"

namespace mlsched::security_test {

struct TempDir {
  TempDir() {
    char tmpl[] = "/tmp/mlsched-security-XXXXXX";
    if (!mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string operator/(const std::string& name) const { return path + "/" + name; }
  std::string path;
};

// Files are read with test_files::ReadFile (test/test_files.h).
using test_files::ReadFile;

inline void WriteText(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

inline void Sh(const std::string& cmd) {
  if (std::system(("( " + cmd + " ) >/dev/null 2>&1").c_str()) != 0) {
    throw std::runtime_error("command failed: " + cmd);
  }
}

// A CA, a server certificate for 127.0.0.1 signed by it, a client certificate signed by it,
// and a client certificate signed by another CA. EC P-256 keys: quick to make.
struct Pki {
  explicit Pki(const TempDir& d) : dir(d.path) {
    const std::string ec = "-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes";
    Sh("cd " + dir + " && openssl req -x509 " + ec + " -keyout ca.key -out ca.pem -days 2 " +
       "-subj /CN=mlsched-test-ca");
    Sh("cd " + dir + " && openssl req -x509 " + ec + " -keyout other-ca.key -out other-ca.pem " +
       "-days 2 -subj /CN=other-ca");
    Sh("cd " + dir + " && printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > san.ext");
    IssueServer("server", "1001");
    Issue("client", "kube-scheduler", "ca", "2001");
    Issue("intruder", "intruder", "other-ca", "3001");
  }
  // <name>.pem/<name>.key for the server, with the given serial (hex).
  void IssueServer(const std::string& name, const std::string& serial) {
    Sh("cd " + dir + " && openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes " +
       "-keyout " + name + ".key -out " + name + ".csr -subj /CN=mlsched-extender && " +
       "openssl x509 -req -in " + name + ".csr -CA ca.pem -CAkey ca.key -set_serial 0x" + serial +
       " -out " + name + ".pem -days 1 -extfile san.ext");
  }
  void Issue(const std::string& name, const std::string& cn, const std::string& ca,
             const std::string& serial) {
    Sh("cd " + dir + " && openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes " +
       "-keyout " + name + ".key -out " + name + ".csr -subj /CN=" + cn + " && " +
       "openssl x509 -req -in " + name + ".csr -CA " + ca + ".pem -CAkey " + ca + ".key " +
       "-set_serial 0x" + serial + " -out " + name + ".pem -days 1");
  }
  std::string operator/(const std::string& name) const { return dir + "/" + name; }
  std::string dir;
};

using extender::testing::ConnectTcp;

// True when the peer closed `fd` (read returns 0 or an error) within `limit`. Bytes that
// arrive meanwhile (TLS session tickets, alerts) are read and dropped.
inline bool ClosedByPeer(int fd, std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
    char buf[4096];
    ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n == 0) return true;
    if (n < 0 && errno != EAGAIN && errno != EINTR) return true;
  }
}

// One TLS connection made with OpenSSL directly.
class TlsClient {
 public:
  struct Options {
    std::string ca_file;
    std::string cert_file;  // empty: no client certificate
    std::string key_file;
    int max_version = 0;  // e.g. TLS1_1_VERSION; 0: the library's maximum
  };
  TlsClient(uint16_t port, const Options& o) {
    ctx_ = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_min_proto_version(ctx_, TLS1_VERSION);
    if (o.max_version) SSL_CTX_set_max_proto_version(ctx_, o.max_version);
    SSL_CTX_set_security_level(ctx_, 0);  // let the client offer old versions: the server decides
    SSL_CTX_load_verify_locations(ctx_, o.ca_file.c_str(), nullptr);
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
    if (!o.cert_file.empty()) {
      SSL_CTX_use_certificate_chain_file(ctx_, o.cert_file.c_str());
      SSL_CTX_use_PrivateKey_file(ctx_, o.key_file.c_str(), SSL_FILETYPE_PEM);
    }
    fd_ = ConnectTcp(port);
    if (fd_ < 0) {
      error_ = "connect failed";
      return;
    }
    ssl_ = SSL_new(ctx_);
    SSL_set_fd(ssl_, fd_);
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_), "127.0.0.1");  // the server's IP SAN
    handshake_ok_ = SSL_connect(ssl_) == 1;
    if (!handshake_ok_) {
      error_ = Errors();
      long v = SSL_get_verify_result(ssl_);
      if (v != X509_V_OK) error_ += std::string(" (") + X509_verify_cert_error_string(v) + ")";
    }
  }
  ~TlsClient() {
    if (ssl_) SSL_free(ssl_);
    if (fd_ >= 0) close(fd_);
    SSL_CTX_free(ctx_);
  }
  TlsClient(const TlsClient&) = delete;
  TlsClient& operator=(const TlsClient&) = delete;

  bool handshake_ok() const { return handshake_ok_; }
  const std::string& error() const { return error_; }

  // The server certificate's serial number (upper-case hex), "" before a handshake.
  std::string ServerSerial() const {
    if (!ssl_) return "";
    X509* cert = SSL_get1_peer_certificate(ssl_);
    if (!cert) return "";
    std::string out;
    BIGNUM* bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr);
    char* hex = BN_bn2hex(bn);
    out = hex;
    OPENSSL_free(hex);
    BN_free(bn);
    X509_free(cert);
    return out;
  }

  // Writes raw bytes on the TLS connection.
  bool Write(const std::string& bytes) {
    return handshake_ok_ && SSL_write(ssl_, bytes.data(), static_cast<int>(bytes.size())) > 0;
  }
  int fd() const { return fd_; }

  // Sends one HTTP/1.1 request on the connection (kept alive) and returns the whole answer
  // (status line, headers, body; Content-Length framing), or "" when the connection failed.
  // With TLS 1.3 a refused client certificate shows here: the server's alert arrives after
  // the client's handshake finished.
  std::string Request(const std::string& method, const std::string& path,
                      const std::string& body = "") {
    if (!handshake_ok_) return "";
    std::string req = method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
    if (!body.empty() || method == "POST") {
      req += "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
             "\r\n";
    }
    req += "\r\n" + body;
    if (SSL_write(ssl_, req.data(), static_cast<int>(req.size())) <= 0) {
      error_ = Errors();
      return "";
    }
    std::string in;
    char buf[16384];
    for (;;) {
      size_t head_end = in.find("\r\n\r\n");
      if (head_end != std::string::npos) {
        size_t cl = in.find("Content-Length: ");
        size_t want = head_end + 4;
        if (cl != std::string::npos && cl < head_end) want += std::stoul(in.substr(cl + 16));
        if (in.size() >= want) return in.substr(0, want);
      }
      int n = SSL_read(ssl_, buf, sizeof buf);
      if (n <= 0) {
        error_ = Errors();
        return "";
      }
      in.append(buf, static_cast<size_t>(n));
    }
  }

 private:
  static std::string Errors() {
    std::string out;
    while (unsigned long e = ERR_get_error()) {
      char buf[256];
      ERR_error_string_n(e, buf, sizeof buf);
      out += std::string(out.empty() ? "" : "; ") + buf;
    }
    return out.empty() ? "connection closed" : out;
  }

  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  int fd_ = -1;
  bool handshake_ok_ = false;
  std::string error_;
};

// A child process with stdout+stderr in a file.
class Child {
 public:
  Child(const std::vector<std::string>& argv, const std::string& log_path) : log_(log_path) {
    pid_ = fork();
    if (pid_ == 0) {
      FILE* f = fopen(log_path.c_str(), "w");
      dup2(fileno(f), 1);
      dup2(fileno(f), 2);
      std::vector<char*> args;
      for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
      args.push_back(nullptr);
      execv(args[0], args.data());
      _exit(127);
    }
  }
  ~Child() {
    if (pid_ > 0 && !exited_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  // The exit code once the process ends within `limit`; -1 if it is still running.
  int Wait(std::chrono::milliseconds limit) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        exited_ = true;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return -1;
  }
  void Signal(int sig) { kill(pid_, sig); }
  // What the child wrote so far; "" before it has created the file (it is polled from the
  // start, so a missing file is not an error here, as it is for test_files::ReadFile).
  std::string Log() const {
    std::ifstream in(log_, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  // Waits (bounded) until the log contains `text`.
  bool WaitForLog(const std::string& text, std::chrono::milliseconds limit) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      if (Log().find(text) != std::string::npos) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }

 private:
  pid_t pid_ = -1;
  bool exited_ = false;
  std::string log_;
};

// The extender tests' server fixture: a Server on a free loopback port over an empty engine.
using extender::testing::TestServer;

}  // namespace mlsched::security_test
