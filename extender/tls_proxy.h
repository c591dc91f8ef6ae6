#pragma once

// The TLS front of the extender port: accepts TLS on --bind-address:--port, terminates it with
// OpenSSL (extender/tls_context.h) on one non-blocking epoll thread, and relays the plaintext to
// the Pistache endpoint on a loopback port that only it may use.
//
// Why not Pistache's own TLS (Endpoint::useSSL, PISTACHE_USE_SSL; Debian's libpistache is built
// with it): Pistache 0.0.5 runs SSL_accept on its single accept thread with the socket still
// blocking (SO_RCVTIMEO 10 s). One client that opens a TCP connection and sends nothing stalls
// every new connection, the scheduler's included, for 10 s, and 500 of them for over an hour:
// exactly the flood the server must survive. Its SSL_CTX is also private to the Listener, built
// once from file names, so a rotated certificate could only be picked up by reaching into
// Pistache's internals or restarting the listener (dropping the port). Here the handshake is
// non-blocking with a deadline, the context is swapped by TlsContext for new connections, and
// the connection cap, handshake timeout and idle timeout are enforced before Pistache sees a
// byte. The cost is one loopback hop per request (measured by `mlsched-bench-service --tls`).
//
// The loopback endpoint refuses peers that are not this proxy: every backend connection is
// bound to a source port the proxy records (IsOwnBackendPort) before it connects, and the
// server closes loopback connections from any other port, so a local process cannot skip the
// client-certificate check.
//
// Timeouts: a handshake must finish within handshake_timeout; a connection with no request
// outstanding (the last bytes went to the client, or none moved yet) is closed after
// idle_timeout. While a request is outstanding the proxy does not time it out: Pistache's header
// and body timeouts and the bind barrier bound it, and closing the backend closes the client.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "extender/tls_context.h"
#include "policy/status.h"

namespace mlsched::extender {

struct TlsProxyOptions {
  std::string bind_address = "127.0.0.1";
  uint16_t port = 0;           // 0: a free port (see TlsProxy::port)
  uint16_t backend_port = 0;   // the plaintext endpoint on 127.0.0.1
  int max_connections = 1024;  // beyond: accepted and closed at once
  std::chrono::milliseconds handshake_timeout{10'000};
  std::chrono::milliseconds idle_timeout{120'000};
};

class TlsProxy {
 public:
  // `tls` must outlive the proxy.
  TlsProxy(TlsProxyOptions options, const TlsContext* tls);
  ~TlsProxy();
  TlsProxy(const TlsProxy&) = delete;
  TlsProxy& operator=(const TlsProxy&) = delete;

  // Binds and listens, then serves on a background thread.
  Status Start();
  // Closes the listener and every connection; joins the thread. Idempotent.
  void Stop();
  uint16_t port() const { return port_; }

  // True when `port` is the local port of one of this proxy's backend connections. Thread-safe.
  bool IsOwnBackendPort(uint16_t port) const;

  struct Stats {
    int64_t open = 0;                // connections open now
    int64_t accepted = 0;            // handshakes completed
    int64_t handshake_failures = 0;  // refused or broken handshakes (no/wrong client cert, ...)
    int64_t over_limit = 0;          // closed at once: max_connections reached
    int64_t timed_out = 0;           // handshake or idle timeout
  };
  Stats stats() const;

  struct Conn;

 private:
  void Loop();
  void AcceptAll();
  void Pump(Conn* c, bool backend_side, uint32_t events);
  bool ConnectBackend(Conn* c);
  void UpdateInterest(Conn* c);
  // The epoll events wanted for one side of a connection (`have`: what is registered now).
  void SetInterest(int fd, void* tag, uint32_t want, uint32_t* have);
  void Close(Conn* c);
  void Sweep();

  const TlsProxyOptions options_;
  const TlsContext* tls_;
  int listen_fd_ = -1;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  bool listen_paused_ = false;

  std::unordered_set<Conn*> conns_;  // loop thread only
  std::vector<Conn*> graveyard_;     // closed in this epoll batch, freed after it

  mutable std::mutex ports_mu_;
  std::unordered_set<uint16_t> backend_ports_;

  std::atomic<int64_t> open_{0}, accepted_{0}, handshake_failures_{0}, over_limit_{0},
      timed_out_{0};
};

}  // namespace mlsched::extender
