#pragma once

// A scheduler driver that mimics kube-scheduler's cycle on a virtual clock, so a day of jobs
// runs in seconds:
//
//   active queue (priority, then arrival) -> stock filter (resources against allocatable minus
//   assumed/bound requests, node selector, taints, unschedulable/not-ready nodes) -> extender
//   filter on the survivors -> stock score (NodeResourcesFit least-allocated + balanced
//   allocation, 0..100 each) + extender score x weight x 10 (prioritize is skipped when one node
//   is feasible) -> best node (ties broken by a seeded random) -> assume in the driver's cache ->
//   asynchronous bind (a gang member's bind may wait for its gang while other pods go on).
//
// A pod that fails filtering waits in the unschedulable queue until a cluster event (a pod
// finishing or being deleted, a node added, a failed bind) or 60 s pass, then retries after its
// backoff (1 s doubling to 10 s), as kube-scheduler 1.24 does. A failed bind un-assumes the pod
// and requeues it.
//
// The driver is also the cluster's API server: it creates pods when jobs arrive, records
// bindings, runs pods for their duration and tells the extender every change as a watch
// would. It records per-pod and per-job events and samples the cluster over time
// (metrics.h turns a RunResult into the report's figures).
//
// Not thread-safe: one thread drives it.

#include <climits>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <queue>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "bench/driver/extender.h"
#include "bench/driver/types.h"

namespace mlsched::bench {

struct DriverOptions {
  uint64_t seed = 1;  // tie-breaking among equal best nodes
  // The extender's weight in the scheduler configuration: its 0..10 score is multiplied by it
  // and by 10 (MaxNodeScore / MaxExtenderPriority), next to two stock plugins of 0..100.
  int extender_weight = 5;
  bool extender_binds = true;              // the extender has the bind verb; else the driver binds
  TimeMs bind_latency_ms = 5;              // API round trip of a binding the driver creates
  TimeMs initial_backoff_ms = 1'000;       // podInitialBackoffSeconds
  TimeMs max_backoff_ms = 10'000;          // podMaxBackoffSeconds
  TimeMs unschedulable_flush_ms = 60'000;  // podMaxInUnschedulablePodsDuration (1.24)
  // false: a pod that fails to schedule is given up at once (the FGD-style replay, where
  // arriving pods either fit or are counted as rejected).
  bool retry_unschedulable = true;
  TimeMs sample_interval_ms = 60'000;
  // Virtual time one scheduling cycle takes (0: cycles are instantaneous). Scenarios set it to
  // stop a run between the cycles of one gang.
  TimeMs cycle_ms = 0;  // cluster samples for the time series (0: none)
  // A node is "warm" for a function that ran on it within this time (as the policy's default).
  TimeMs function_warm_ms = 30 * 60 * 1000;
  std::string label = "run";  // name of this run in reports
};

struct PodRecord {
  std::string job;
  std::string ns, name, uid;
  int64_t gpus = 0;
  TimeMs created = -1, bound = -1, started = -1, finished = -1, deleted = -1;
  std::string node;
  int attempts = 0;  // scheduling cycles it went through
  int bind_failures = 0;
  std::string last_reason;  // why the last attempt failed
  // Pipeline steps with predecessors: whether the step landed on a predecessor's node/rack.
  bool has_predecessors = false, on_pred_node = false, on_pred_rack = false;
  // Function pods: whether the node was warm for the function when it was bound.
  bool is_function = false, warm = false;
};

struct JobRecord {
  std::string name;
  JobKind kind = JobKind::kGpu;
  TimeMs arrival = -1, started = -1, finished = -1;
  int64_t gpus = 0;
  int pods = 0;
  int gang_size = 0;
  int racks = 0, nodes = 0;    // distinct racks / nodes its pods ran on (gangs: at start)
  TimeMs queue_delay_ms = -1;  // arrival -> start; pipelines: the sum of their steps' waits
  int bound_members = 0;       // gangs: members bound at the end of the run
};

struct Sample {
  TimeMs t = 0;
  int64_t gpus_total = 0;
  int64_t gpus_used = 0;             // requested by assumed or bound pods
  int64_t gpus_busy = 0;             // requested by pods whose job is running (useful work)
  int64_t gpus_held_incomplete = 0;  // held by bound members of gangs that have not started
  int64_t pending_pods = 0;
  int64_t whole_free_nodes = 0;    // nodes with all their GPUs free
  int64_t full_node_jobs_fit = 0;  // node-sized GPU jobs that could start now
  int64_t partly_used_nodes = 0;   // GPU nodes with some but not all GPUs used
  int64_t gpus_free_on_partly_used = 0;
};

struct RunResult {
  std::string label;
  std::string extender;  // transport name or "none"
  std::vector<PodRecord> pods;
  std::vector<JobRecord> jobs;
  std::vector<Sample> samples;
  TimeMs end_ms = 0;
  int64_t cycles = 0, filter_calls = 0, prioritize_calls = 0, bind_calls = 0;
  int64_t bind_failures = 0, extender_errors = 0;
  double wall_seconds = 0;
  // Exact (event-driven) GPU time held by bound members of gangs that had not started.
  double gpu_seconds_held_incomplete = 0;
  int64_t max_gpus_held_incomplete = 0;
};

class Driver : public BindingSink {
 public:
  // `nodes` is the cluster; `extender` may be null (the baseline: no extender) and is not
  // owned; it must outlive the driver or be replaced with SetExtender first.
  Driver(DriverOptions options, std::vector<policy::Node> nodes, Extender* extender);
  ~Driver() override;

  // Adds a job; its pods are created at its arrival time (pipeline steps when their
  // predecessors finish). Jobs may be submitted before or between Run calls. A job whose
  // arrival is in the past arrives now. Returns InvalidArgument (and adds nothing) for a job
  // without pods, with duplicate pod names, or with an `after` naming no pod of the job.
  Status Submit(JobSpec job);

  // Runs until virtual time `until` or until nothing can change any more (every job done, or
  // the only pods left wait for something that will not happen). Returns the time reached.
  TimeMs RunUntil(TimeMs until);

  // ---- Scenario hooks (between Run calls). ----
  // Deletes a pod as `kubectl delete` would; with `recreate`, its controller creates a new pod
  // of the same spec (new uid) right away. NotFound when no live pod has that name.
  Status DeletePod(const std::string& ns, const std::string& name, bool recreate);
  // Replaces the extender (a restart): binds parked in the old one fail, and the new one is
  // told the whole cluster as a fresh watch would list it. `extender` may be null.
  void SetExtender(Extender* extender);

  // ---- Introspection. ----
  TimeMs now() const { return now_; }
  Sample SampleNow() const;
  // The job's record as of now (by job name); nullopt when unknown.
  std::optional<JobRecord> Job(const std::string& name) const;
  // The record of the live pod of that name, else of the last one that had it; nullptr when
  // none. Valid until the next call that changes the driver.
  const PodRecord* Pod(const std::string& ns, const std::string& name) const;
  // GPUs requested by assumed/bound pods on each node, by node name.
  std::vector<std::pair<std::string, int64_t>> GpusUsedByNode() const;
  // Builds the result (records as of now, samples so far).
  RunResult Result() const;

  // BindingSink: the extender (or the driver itself) creates a binding.
  Status CreateBinding(const policy::PodBinding& binding, TimeMs now) override;

 private:
  enum class PodState : uint8_t {
    kNotCreated,
    kActive,
    kBackoff,
    kUnschedulable,
    kAssumed,
    kRunning,
    kFinished,
    kDeleted,
    kGivenUp,
  };
  enum EventType : int {
    kJobArrival,
    kPodCreate,
    kPodFinish,
    kGangFinish,
    kDriverBind,
    kSample,
    kFlush
  };
  struct NodeState {
    policy::Node node;
    policy::Resources requested;               // assumed and bound pods
    int64_t nonzero_cpu = 0, nonzero_mem = 0;  // as the scorer counts them
    int64_t gpu_alloc = 0, gpu_used = 0;
    std::string rack;
  };
  struct PodEntry {
    PodSpec spec;  // spec.pod is the API object (uid, node_name, phase kept current)
    size_t job = 0;
    PodState state = PodState::kNotCreated;
    size_t node = SIZE_MAX;
    bool api_bound = false;
    int attempts = 0;
    TimeMs last_attempt = 0, unschedulable_since = 0;
    uint64_t gen = 0;
    int64_t gpus = 0;
    std::vector<size_t> preds;
    PodRecord rec;
  };
  struct JobEntry {
    std::string name;
    JobKind kind = JobKind::kGpu;
    TimeMs arrival = 0;
    int32_t gang_size = 0;
    std::optional<policy::PodGroup> pod_group;
    std::vector<size_t> pods;
    bool arrived = false, started = false, finished = false;
    TimeMs started_at = -1, finished_at = -1;
    int racks = 0, nodes = 0;
  };
  struct Event {
    TimeMs t;
    uint64_t seq;
    int type;
    int64_t a;
    uint64_t b;
    bool operator>(const Event& o) const { return t != o.t ? t > o.t : seq > o.seq; }
  };
  struct QueueKey {
    int64_t neg_priority;
    TimeMs ts;
    uint64_t seq;
    size_t pod;
    uint64_t gen;
    bool operator>(const QueueKey& o) const {
      if (neg_priority != o.neg_priority) return neg_priority > o.neg_priority;
      if (ts != o.ts) return ts > o.ts;
      return seq > o.seq;
    }
  };
  struct BackoffKey {
    TimeMs ready;
    uint64_t seq;
    size_t pod;
    uint64_t gen;
    bool operator>(const BackoffKey& o) const {
      return ready != o.ready ? ready > o.ready : seq > o.seq;
    }
  };
  struct Watch {
    int kind;  // 0 changed, 1 deleted
    policy::Pod pod;
  };

  // Event loop.
  void Push(TimeMs t, int type, int64_t a, uint64_t b = 0);
  void HandleEvent(const Event& e);
  bool ProcessDue();  // true when something happened
  bool Quiescent() const;
  void ScheduleOne(size_t pod);
  void HandleBindOutcome(size_t pod, bool ok, const std::string& error);
  void AdoptBinding(size_t pod, const std::string& node, const std::string& error);
  void Notify(int kind, const policy::Pod& pod) { watch_.push_back({kind, pod}); }
  void FlushWatch();

  // Pods.
  void JobArrives(size_t job);
  void CreatePod(size_t pod);
  void Enqueue(size_t pod);
  void ToBackoff(size_t pod, TimeMs ready);
  void MarkUnschedulable(size_t pod, std::string reason);
  void MoveAllToActiveOrBackoff();
  void FlushUnschedulable();
  void Assume(size_t pod, size_t node);
  void Unassume(size_t pod);
  void Bound(size_t pod);
  void FinishPod(size_t pod);
  void StartGang(size_t job);
  void MaybeFinishJob(size_t job);
  TimeMs Backoff(const PodEntry& p) const;
  JobRecord MakeJobRecord(const JobEntry& j) const;

  // Stock rules.
  bool StockFits(const PodEntry& p, const NodeState& n, std::string* why) const;
  int64_t StockScore(const PodEntry& p, const NodeState& n) const;

  DriverOptions options_;
  Extender* extender_;
  std::mt19937_64 rng_;
  TimeMs now_ = 0;
  uint64_t seq_ = 0;
  uint64_t next_uid_ = 0;
  bool sampled_ = false;

  std::vector<NodeState> nodes_;
  std::unordered_map<std::string, size_t> node_index_;
  std::vector<PodEntry> pods_;
  std::unordered_map<std::string, size_t> pod_by_uid_;
  std::unordered_map<std::string, size_t> pod_by_key_;  // live pods by ns/name
  std::vector<JobEntry> jobs_;
  std::unordered_map<std::string, size_t> job_by_name_;
  std::vector<size_t> open_gangs_;  // arrived gang jobs not started yet

  std::priority_queue<Event, std::vector<Event>, std::greater<Event>> events_;
  int64_t real_events_ = 0;  // events other than samples and flushes
  bool flush_scheduled_ = false;
  std::priority_queue<QueueKey, std::vector<QueueKey>, std::greater<QueueKey>> active_;
  std::priority_queue<BackoffKey, std::vector<BackoffKey>, std::greater<BackoffKey>> backoff_;
  std::vector<size_t> unschedulable_;  // may hold stale entries; state is checked
  std::vector<Watch> watch_;

  // Function warmth: function -> node -> (pods running, last end time).
  std::unordered_map<std::string, std::unordered_map<size_t, std::pair<int, TimeMs>>> warm_;

  std::vector<Sample> samples_;
  int64_t cycles_ = 0, filter_calls_ = 0, prioritize_calls_ = 0, bind_calls_ = 0;
  int64_t bind_failures_ = 0, extender_errors_ = 0;
  int64_t pending_ = 0;       // created pods not bound, finished, deleted or given up
  int64_t running_gpus_ = 0;  // GPUs of API-bound running pods
  int64_t progress_since_flush_ = 0;
  int stalled_flushes_ = 0;
  double wall_seconds_ = 0;
  // GPUs held by bound members of gangs that have not started, integrated over time.
  void AddHeld(int64_t delta);
  int64_t held_ = 0, max_held_ = 0;
  TimeMs held_since_ = 0;
  double held_gpu_ms_ = 0;
};

}  // namespace mlsched::bench
