#pragma once

// A fake Kubernetes API server for tests and benchmarks: real list/watch semantics over HTTP on
// 127.0.0.1 (cpp-httplib), in memory, with fault injection.
//
// Served (JSON only; everything else answers 404 with a v1 Status):
//   GET  /api/v1/nodes, /api/v1/pods, /apis/scheduling.x-k8s.io/v1alpha1/podgroups
//        LIST: `limit` + `continue` paging from a consistent snapshot taken at the first page,
//        items sorted by namespace/name, metadata.resourceVersion of the snapshot,
//        metadata.remainingItemCount. A continue token whose snapshot expired (ExpireVersions,
//        or more than 32 newer snapshots) answers 410 Gone (reason Expired).
//        WATCH (`watch=true|1`): chunked stream of {"type":..,"object":..}\n events with
//        resourceVersion > `resourceVersion` (empty or "0": from now), of that kind only, in
//        order; BOOKMARK events every `bookmark_interval_ms` when `allowWatchBookmarks=true`;
//        ends cleanly after `timeoutSeconds`. A resourceVersion older than the retained window
//        gets an in-stream ERROR event with a 410 Status (or an HTTP 410 when
//        Options::expired_watch_as_http_410), as the real server does.
//   GET  /api/v1/namespaces/{ns}/pods/{name}      one pod
//   POST /api/v1/namespaces/{ns}/pods/{name}/binding  a v1 Binding: 201 and the pod gets
//        spec.nodeName (a MODIFIED event); 404 for an unknown pod; 409 when already bound or
//        when metadata.uid is set and differs from the pod's uid; 400 on a malformed body.
//   GET  /apis/scheduling.x-k8s.io/v1alpha1       API discovery; 404 while the PodGroup CRD is
//        "not installed" (SetPodGroupCrdInstalled(false)), as are list and watch of podgroups.
//
// Thread-safety: every public method may be called from any thread while the server runs.
// Resource versions are one global counter, as etcd's revision.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "policy/status.h"

namespace httplib {
class Server;
class Request;
class Response;
class DataSink;
}  // namespace httplib

namespace mlsched::fakes {

enum class Kind : uint8_t { kNode = 0, kPod = 1, kPodGroup = 2 };
constexpr int kNumKinds = 3;

struct FakeApiServerOptions {
  // Watch events kept for resuming watches; a watch from an older resourceVersion gets 410.
  size_t retained_events = 200'000;
  // How often an idle watch with allowWatchBookmarks=true gets a BOOKMARK.
  int bookmark_interval_ms = 1000;
  // How an expired watch resourceVersion is answered: an in-stream ERROR event (false, what
  // kube-apiserver's watch cache does) or an HTTP 410 response (true).
  bool expired_watch_as_http_410 = false;
  // Whether the scheduling.x-k8s.io PodGroup CRD starts installed.
  bool podgroup_crd_installed = true;
  // Worker threads: every open watch holds one.
  int threads = 64;
};

class FakeApiServer {
 public:
  explicit FakeApiServer(FakeApiServerOptions options = {});
  ~FakeApiServer();  // Stop()s
  FakeApiServer(const FakeApiServer&) = delete;
  FakeApiServer& operator=(const FakeApiServer&) = delete;

  // Listens on 127.0.0.1 on a free port (port 0). Fails if the socket cannot be bound.
  Status Start();
  // Ends every open watch (the connection is closed) and stops serving. Idempotent.
  void Stop();
  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  // ---- Objects. `json` is a whole API object (metadata.name; metadata.namespace for pods and
  // podgroups). The server sets metadata.resourceVersion, and metadata.uid when absent.
  // Returns the new resourceVersion, or an error for malformed JSON or a missing name. ----
  Status Upsert(Kind kind, std::string_view json, int64_t* rv = nullptr);  // ADDED/MODIFIED
  // DELETED (the event carries the last state at a new resourceVersion). False if absent.
  bool Delete(Kind kind, std::string_view ns, std::string_view name);
  std::optional<std::string> Get(Kind kind, std::string_view ns, std::string_view name) const;
  // Every object of a kind, sorted by namespace/name.
  std::vector<std::string> List(Kind kind) const;
  size_t Count(Kind kind) const;
  int64_t resource_version() const;

  // ---- Faults. ----
  // Every open watch writes the first half of its next event (or of a bookmark) and then
  // closes the connection: a stream cut mid-event.
  void DropWatches();
  // While stalled, open watches send nothing at all (no events, no bookmarks); new events
  // queue up and flow again when un-stalled.
  void StallWatches(bool stalled);
  // Every open watch gets an in-stream ERROR event with this code (410: "too old resource
  // version") and its stream ends.
  void SendWatchError(int code = 410);
  // The next `n` requests whose path starts with `path_prefix` ("" for all) answer `status`
  // with a v1 Status body.
  void FailRequests(int n, int status = 500, std::string path_prefix = "");
  // Each request fails with 500 with probability `p` (seeded, reproducible).
  void SetFailureRate(double p, uint64_t seed = 1);
  // Compaction: every resourceVersion up to now expires: watches from them get 410, and so
  // do continue tokens of earlier list snapshots. Open watches continue.
  void ExpireVersions();
  // Writes watch events in pieces of at most `bytes` (0: whole), each a separate chunk and
  // write, `delay_ms` apart: a slow stream with arbitrary chunk boundaries.
  void SetWatchChunking(size_t bytes, int delay_ms = 0);
  void SetPodGroupCrdInstalled(bool installed);
  // Every request must then carry "Authorization: Bearer <token>" or gets 401 (empty: no
  // authentication, the default).
  void RequireBearerToken(std::string token);

  struct Counters {
    int64_t list_pages = 0;
    int64_t lists_started = 0;     // first pages
    int64_t watches = 0;           // watch requests accepted
    int64_t watches_gone = 0;      // watches answered 410
    int64_t continue_gone = 0;     // continue tokens answered 410
    int64_t binds = 0;             // successful bindings
    int64_t bind_conflicts = 0;
    int64_t injected_failures = 0;
    int64_t discovery = 0;
    int64_t unauthorized = 0;      // requests answered 401
    int open_watches = 0;
  };
  Counters counters() const;

 private:
  struct Object {
    std::shared_ptr<const std::string> json;
    int64_t rv = 0;
    std::string uid;  // kept across updates that do not name one, as the real server does
  };
  struct Event {
    int64_t rv;
    Kind kind;
    const char* type;  // "ADDED", "MODIFIED", "DELETED"
    std::shared_ptr<const std::string> json;
  };
  struct Snapshot {
    int64_t rv;
    Kind kind;
    std::vector<std::shared_ptr<const std::string>> items;
  };
  struct Watch;

  void Handle(const httplib::Request& req, httplib::Response& res, bool post);
  void HandleList(Kind kind, const httplib::Request& req, httplib::Response& res);
  void HandleWatch(Kind kind, const httplib::Request& req, httplib::Response& res);
  void HandleBinding(const std::string& ns, const std::string& name, const httplib::Request& req,
                     httplib::Response& res);
  bool WatchStep(Watch& w, httplib::DataSink& sink);
  bool WriteChunked(Watch& w, httplib::DataSink& sink, const std::string& data);
  bool InjectFailure(const std::string& path, httplib::Response& res);
  // Stores `json` (already validated) at a new version; mu_ held.
  int64_t StoreLocked(Kind kind, const std::string& key, std::string json, const char* type);
  void AppendEventLocked(Event e);

  const FakeApiServerOptions options_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
  std::atomic<bool> stopping_{false};

  mutable std::mutex mu_;
  std::condition_variable cv_;  // signalled on every new event and fault
  int64_t rv_ = 100;
  std::map<std::string, Object> objects_[kNumKinds];  // key: "ns/name" or "name"
  std::deque<Event> log_;
  int64_t expired_rv_ = 0;  // watches from a resourceVersion < this get 410
  std::map<int64_t, std::shared_ptr<Snapshot>> snapshots_;
  int64_t next_snapshot_ = 1;
  bool stalled_ = false;
  uint64_t drop_gen_ = 0;
  uint64_t error_gen_ = 0;
  uint64_t crd_gen_ = 0;
  int error_code_ = 410;
  int fail_n_ = 0;
  int fail_status_ = 500;
  std::string fail_prefix_;
  double fail_rate_ = 0;
  std::mt19937_64 rng_{1};
  size_t chunk_bytes_ = 0;
  int chunk_delay_ms_ = 0;
  bool crd_installed_;
  std::string bearer_token_;
  uint64_t uid_counter_ = 0;
  Counters counters_;
};

}  // namespace mlsched::fakes
