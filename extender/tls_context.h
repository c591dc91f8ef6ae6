#pragma once

// The server side of TLS: an OpenSSL SSL_CTX built from --tls-cert-file, --tls-private-key-file
// and --client-ca-file, and rebuilt when those files change (cert-manager rotates the Secret
// behind them; kubelet swaps the mounted files atomically). Connections take the context that
// is current when they are accepted; a connection keeps its own (SSL_new holds a reference), so
// a reload never drops the port or a connection.
//
// Policy: TLS 1.2 and 1.3 only; TLS 1.2 restricted to ECDHE key exchange with AEAD ciphers
// (Mozilla's "intermediate" list), server preference; no compression (CRIME), no
// renegotiation. With a client CA: the peer must present a certificate that chains to it, or
// the handshake fails (SSL_VERIFY_FAIL_IF_NO_PEER_CERT).

#include <openssl/ssl.h>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "extender/tls_files.h"
#include "policy/status.h"

namespace mlsched::extender {

// SSL_CTX owner with SSL_CTX_free.
struct SslCtxFree {
  void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
};
using SslCtxPtr = std::shared_ptr<SSL_CTX>;

// Builds a server context from the files. Errors name the file and OpenSSL's reason, never
// file contents.
Status BuildServerContext(const TlsFiles& files, SslCtxPtr* out);

class TlsContext {
 public:
  // Loads the files once (Start fails if they do not load).
  explicit TlsContext(TlsFiles files, std::chrono::milliseconds poll = std::chrono::seconds(1));
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  // First load, then a thread that polls the files every `poll` and reloads when their bytes
  // change. A reload that fails (cert and key written one after the other, a bad file) keeps
  // the current context, logs once per distinct content and is retried on the next change.
  Status Start();
  void Stop();

  // The context for a new connection. Thread-safe.
  SslCtxPtr Current() const;
  // How many times the context was replaced after the first load (for tests and the log).
  int reloads() const;
  // Changed files that did not load (each distinct content counted once).
  int failed_reloads() const;
  // A short description of the current certificate (subject, serial, notAfter), for logs.
  std::string Describe() const;

 private:
  std::string Fingerprint() const;  // the three files' bytes, hashed
  void Loop();

  const TlsFiles files_;
  const std::chrono::milliseconds poll_;
  mutable std::mutex mu_;
  SslCtxPtr current_;
  std::string loaded_fingerprint_;
  std::string failed_fingerprint_;
  int reloads_ = 0;
  int failed_reloads_ = 0;
  std::string description_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace mlsched::extender
