#pragma once

// The extender's HTTP face: the four verbs, health, readiness, metrics and a loopback explain
// view, served by Pistache on background threads. main.cc builds one; tests and the speed
// bench start one on port 0.
//
// Threads: Pistache's reactor threads run the handlers (decode -> policy::Engine -> encode ->
// one write). Binds that the engine parks (a gang member waiting at its barrier) hold their
// Pistache ResponseWriter in a map keyed by pod UID, not a thread; a timer thread answers the
// ones ExpireBinds reports; the API bindings themselves are created on a small pool
// (`bind_threads`), never on a reactor thread, because they wait on the API server.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "extender/cluster_view.h"
#include "extender/tls_files.h"
#include "extender/wire.h"
#include "policy/engine.h"
#include "policy/status.h"

namespace prometheus {
class Registry;
}

namespace mlsched::extender {

// Milliseconds since the epoch; injected so that tests drive bind deadlines.
using Clock = std::function<policy::TimeMs()>;
policy::TimeMs SystemClockMs();

// Creates one pods/binding (k8s::ApiBinder in production, the model in the demo, a double in
// tests). Called on the bind pool; may block; must be thread-safe.
using BindFunc = std::function<Status(const policy::PodBinding&)>;

struct ServerOptions {
  std::string bind_address = "127.0.0.1";
  // 0 picks a free port (see Server::port()).
  uint16_t port = 8888;
  // The verbs are served at url_prefix + "/filter" etc.; "" or a path such as "/scheduler".
  std::string url_prefix;
  // Pistache reactor threads; 0: the number of CPUs, at least 2.
  int threads = 0;
  DecodeLimits limits;
  // The explain view and the cluster view page on <debug_bind_address>:<debug_port>; unset:
  // off. 0 picks a free port.
  std::optional<uint16_t> debug_port;
  std::string debug_bind_address = "127.0.0.1";
  // Probes only (/healthz, /livez, /readyz) on <health_bind_address>:<health_port>, plain HTTP;
  // unset: off. 0 picks a free port.
  std::optional<uint16_t> health_port;
  std::string health_bind_address = "0.0.0.0";

  // TLS on the extender port (extender/tls_proxy.h); unset: plain HTTP. The files are polled
  // every tls_poll and reloaded when they change.
  std::optional<TlsFiles> tls;
  std::chrono::milliseconds tls_poll{1'000};

  // Limits. Headers above max_header_bytes are answered 431; a connection beyond
  // max_connections is closed at once; a request whose headers (TLS handshake included) or
  // body do not arrive in time is dropped; an idle keep-alive connection is closed.
  size_t max_header_bytes = 64 << 10;
  int max_connections = 1024;
  std::chrono::milliseconds header_timeout{10'000};
  std::chrono::milliseconds body_timeout{30'000};
  std::chrono::milliseconds idle_timeout{120'000};
  // Threads that create bindings through the BindFunc.
  int bind_threads = 2;
  // How long Shutdown waits for requests in flight and bindings being created.
  std::chrono::milliseconds shutdown_grace{10'000};
  // Bench only: POST <url_prefix>/empty reads the body and answers a fixed small body, a
  // baseline for the cost of HTTP on the same server; with ?answer_bytes=N it answers N bytes
  // (the cost of sending an answer that size).
  bool empty_route = false;
  // Filter, prioritize and preempt answers go straight to the socket (direct_answer.h); false:
  // through Pistache's ResponseWriter, as every other answer (tests compare the two).
  bool direct_answers = true;
};

class Server {
 public:
  // `engine` must outlive the server. `clock` defaults to the system clock.
  Server(ServerOptions options, policy::Engine* engine, BindFunc bind, Clock clock = nullptr);
  // Calls Shutdown().
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds the sockets and starts serving on background threads. Fails (Unavailable) when an
  // address cannot be bound. Call once.
  Status Start();

  // The bound ports (after Start).
  uint16_t port() const { return port_; }
  uint16_t debug_port() const { return debug_port_; }
  uint16_t health_port() const { return health_port_; }

  // Reloads of the TLS certificate since Start (0 without TLS).
  int tls_reloads() const;

  // Readiness: /readyz answers 200 once `synced` returns true (the model has its initial
  // state) and Shutdown has not begun. Default: always synced. Thread-safe.
  void SetSyncedProbe(std::function<bool()> synced);

  // The API watch state the cluster view shows (/debug/view/service). Default: none known.
  // `probe` runs on a debug request thread; it must be thread-safe.
  void SetApiWatchProbe(std::function<ApiWatchState()> probe);

  // The metrics registry, for other components' metric families; `hook` runs before each
  // scrape of /metrics (to refresh gauges). Register before Start.
  prometheus::Registry& registry();
  void AddScrapeHook(std::function<void()> hook);

  // The last pods seen in filter requests (bounded), by UID: the demo binder and the explain
  // view use them. Thread-safe.
  std::optional<policy::Pod> RecentPod(std::string_view uid) const;
  std::optional<policy::Pod> RecentPod(std::string_view ns, std::string_view name) const;

  // Wakes the bind timer so that it re-reads the clock (tests with a fake clock).
  void PokeBindTimer();
  // Binds parked right now.
  size_t ParkedBinds() const;

  // Graceful stop: /readyz turns 503 at once; waits (up to shutdown_grace) for requests in
  // flight and bindings being created; answers every parked bind with an Error (and tells the
  // engine); stops the sockets. Idempotent; thread-safe; blocks.
  void Shutdown();
  bool shutting_down() const { return shutting_down_.load(); }

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
  uint16_t port_ = 0;
  uint16_t debug_port_ = 0;
  uint16_t health_port_ = 0;
  std::atomic<bool> shutting_down_{false};
};

}  // namespace mlsched::extender
