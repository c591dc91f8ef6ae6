#pragma once

// Keeps the policy model in step with the API server: list/watch of nodes, pods and (when its
// CRD is installed) scheduling.x-k8s.io PodGroups, each on its own thread.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "k8s/api_client.h"
#include "k8s/client_config.h"
#include "k8s/model_writer.h"
#include "k8s/reflector.h"
#include "policy/engine.h"

namespace mlsched::k8s {

struct SyncOptions {
  // List page size, watch timeouts, backoff: see ReflectorOptions for each default.
  ReflectorOptions reflector;
  // Follow scheduling.x-k8s.io/v1alpha1 PodGroups when the CRD is installed.
  bool watch_pod_groups = true;
  // Without the CRD, look for it again this often (3 minutes).
  int64_t crd_recheck_ms = 180'000;
  // Wall clock passed to the model as `now` (ms since the epoch). Empty: the system clock.
  std::function<policy::TimeMs()> clock;
  // Seeds the jitter and watch timeouts. 0: a random seed.
  uint64_t seed = 0;
};

// A plain snapshot for metrics (extender/ exports it; k8s/ does not depend on prometheus).
struct SyncStats {
  bool synced = false;            // every initial list is done
  bool connected = false;         // the last request of every reflector succeeded
  bool pod_groups_known = false;  // the PodGroup CRD is installed (discovery said so)
  int64_t relists = 0;            // lists after the first, all resources (410s, errors)
  int64_t watch_restarts = 0;
  int64_t events_applied = 0;
  int64_t bookmarks = 0;
  int64_t objects_skipped = 0;    // malformed objects (decode failed), with a log line each
  int64_t malformed_events = 0;   // undecodable watch events (forced a relist)
  int64_t errors = 0;             // failed requests and broken streams
  int64_t list_bytes = 0;         // bytes of LIST responses
  double list_decode_seconds = 0; // CPU time spent parsing and decoding them
  double seconds_since_last_contact = -1;  // -1: never reached the server
  std::string last_error;         // most recent failure, "" if none
};

class ClusterSync {
 public:
  // Feeds `engine`. `config` is copied; `engine` must outlive this object.
  ClusterSync(const ClientConfig& config, policy::Engine& engine, const SyncOptions& options);
  // Feeds any ModelWriter (tests, bench). `writer` must outlive this object.
  ClusterSync(const ClientConfig& config, ModelWriter& writer, const SyncOptions& options);
  ~ClusterSync();  // Stop()s
  ClusterSync(const ClusterSync&) = delete;
  ClusterSync& operator=(const ClusterSync&) = delete;

  // Starts the watch threads and returns at once. Call once.
  void Start();
  // Aborts requests in flight and joins the threads; returns within about a second. The model
  // keeps its last state. Idempotent.
  void Stop();
  // True once nodes, pods and (when the CRD is there) PodGroups have each been listed, and
  // the CRD has been looked for. Stays true while the API server is away.
  bool Synced() const;
  SyncStats Stats() const;

 private:
  class NodeSink;
  class PodSink;
  class PodGroupSink;
  void RunPodGroups();
  policy::TimeMs Now() const;
  bool SleepMs(int64_t ms);

  const SyncOptions options_;
  std::unique_ptr<EngineWriter> engine_writer_;  // when constructed with an Engine
  ModelWriter& writer_;
  ApiClient client_;
  std::atomic<int64_t> skipped_{0};
  std::unique_ptr<NodeSink> node_sink_;
  std::unique_ptr<PodSink> pod_sink_;
  std::unique_ptr<PodGroupSink> group_sink_;
  std::unique_ptr<Reflector> nodes_;
  std::unique_ptr<Reflector> pods_;
  std::unique_ptr<Reflector> groups_;  // guarded by mu_ while it is replaced
  std::thread node_thread_, pod_thread_, group_thread_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool started_ = false;
  bool stopping_ = false;
  bool crd_checked_ = false;
  bool crd_installed_ = false;
  Cancellation discovery_cancel_;
  std::string discovery_error_;
  ReflectorStats finished_group_stats_;  // of podgroup reflectors that ended (CRD removed)
};

}  // namespace mlsched::k8s
