#pragma once

// The policy engine: the cluster model plus every placement decision behind one thread-safe
// facade. Writers (watch caches, the binder, the cluster file) call the Upsert/Delete/Replace
// methods; the verbs (Filter, Prioritize, Bind, Preempt) are called by extender/ handlers and by
// the bench driver's in-process transport. No I/O, no clock reads, no threads: `now` is passed
// in, and waiting binds are parked by the caller (see Bind).

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "policy/objects.h"
#include "policy/options.h"
#include "policy/shared_text.h"

#include <mutex>
#include <shared_mutex>

namespace mlsched::policy {

class ClusterModel;
struct SlotTotals;
struct Totals;
class GangBook;
class Topology;
class ImageIndex;
class PipelineHistory;
class WorkloadMix;

// A node offered to a verb. In nodeCacheCapable mode only `name` is set and the model's node
// is used; with full Node objects `node` points at the decoded request object, which then
// wins over the model's copy for labels, taints and allocatable (usage still comes from the
// model). `node` must outlive the call.
struct Candidate {
  std::string_view name;
  const Node* node = nullptr;
};

struct FailedNode {
  uint32_t index = 0;  // into the candidate list
  SharedText reason;   // shared: thousands of nodes often fail for the same reason
};

struct FilterResult {
  std::vector<uint32_t> passed;             // candidate indices, in input order
  std::vector<FailedNode> failed;           // preemption may help
  std::vector<FailedNode> unresolvable;     // preemption cannot help
  std::string error;                        // non-empty: the whole call failed
};

// Extender score per candidate, already clamped to 0..10, aligned with the candidate list.
using Scores = std::vector<int64_t>;

// Per-rule scores (0..100) for the explain view.
struct RuleScore {
  std::string rule;
  int weight = 0;
  int64_t score = 0;
};
struct ScoreExplanation {
  std::string node;
  std::vector<RuleScore> rules;
  int64_t total = 0;  // 0..10
};

struct PodBinding {
  std::string ns;
  std::string name;
  std::string uid;
  std::string node;
};

// What the caller of Bind must do next.
struct BindDecision {
  enum class Kind : uint8_t {
    kBindNow,  // create the bindings in `bindings` now, then report each via BindDone
    kWait,     // park this bind; it is released by a later Bind or failed by ExpireBinds
    kFail,     // answer the scheduler with `error`
  };
  Kind kind = Kind::kFail;
  // kBindNow: the pod of this call first, then any gang members whose waiting binds this call
  // released (their parked requests must be answered once their binding is created).
  std::vector<PodBinding> bindings;
  std::string error;
};

// A parked bind that can no longer succeed: answer it with `error`.
struct BindExpiry {
  std::string uid;
  std::string error;
};

struct NodeVictims {
  std::string node;
  std::vector<std::string> victim_uids;
  int64_t num_pdb_violations = 0;
};

struct ModelStats {
  int64_t nodes = 0;
  int64_t pods = 0;            // non-terminal pods in the model
  int64_t bound_pods = 0;
  int64_t assumed_pods = 0;    // bound by us, not yet confirmed by the watch
  int64_t pod_groups = 0;
  int64_t gangs = 0;
  int64_t gangs_waiting = 0;
  int64_t reservations = 0;    // gang members with a reserved node
  int64_t pipeline_runs = 0;
  int64_t waiting_binds = 0;
};

// A gang as the explain view shows it.
struct GangView {
  std::string ns;
  std::string name;
  std::string source;         // which convention recognised it ("pod-group", "volcano", ...)
  std::string state;          // "waiting", "planned", "binding", "running"
  int32_t min_member = 0;
  int32_t members = 0;        // pods seen
  int32_t bound = 0;
  std::string reason;         // why it waits, in plain words
  struct Member {
    std::string pod;
    std::string uid;
    std::string node;          // bound node, else planned node, else ""
    bool bound = false;
    bool waiting_bind = false;
  };
  std::vector<Member> plan;
  std::vector<std::string> domains;  // topology domains the plan spans
};

struct NodeView {
  std::string name;
  Labels labels;              // topology labels only
  Resources allocatable;
  Resources requested;        // pods on it, including assumed
  Resources reserved;         // held for gangs
  std::vector<std::pair<std::string, int64_t>> gpu_reserved_by_gang;  // "ns/gang" -> GPUs
  bool schedulable = true;
};

// One node as the cluster view draws it: its GPU counts and the label values it is grouped and
// filtered by.
struct NodeGpuRow {
  std::string name;
  std::vector<std::string> labels;  // values of the keys asked for, in that order; "" if absent
  int64_t gpus = 0;                 // allocatable GPUs
  int64_t gpus_used = 0;            // requested by pods counted on the node (bound or assumed)
  int64_t gpus_reserved = 0;        // held for gang plans
  std::vector<std::pair<std::string, int64_t>> gpus_reserved_by_gang;  // "ns/gang" -> GPUs
  bool schedulable = true;          // Ready and not cordoned
};

// A pipeline run as the cluster view shows it: where its steps ran, and where its pending
// steps are steered (their predecessors' nodes, the data-locality rule's preference).
struct PipelineRunView {
  std::string run;  // "ns/run"
  TimeMs last = 0;  // last time a step was recorded (0: no step ran yet)
  struct Step {
    std::string step;
    std::string node;
    TimeMs at = 0;
  };
  std::vector<Step> steps;  // in the order they were recorded
  struct Next {
    std::string pod;                      // "ns/name"
    std::string step;
    std::string locality_key;             // label key of the data-locality level; "" for none
    bool required = false;                // mlsched.io/data-locality-required
    std::vector<std::string> after;       // the predecessor steps found
    std::vector<std::string> steered_to;  // their nodes, without repeats
  };
  std::vector<Next> pending;
};

class Engine {
 public:
  explicit Engine(Options options);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  const Options& options() const { return options_; }

  // ---- Model updates. Thread-safe; each takes the write lock briefly. ----
  void UpsertNode(Node node);
  void DeleteNode(std::string_view name);
  // After a relist: the model's nodes become exactly `nodes`.
  void ReplaceNodes(std::vector<Node> nodes);
  // A pod that turns terminal or is deleted leaves the model and frees its node; a pipeline
  // step or function pod leaves a record of where it ran.
  void UpsertPod(Pod pod, TimeMs now);
  void DeletePod(const Pod& last_state, TimeMs now);
  void ReplacePods(std::vector<Pod> pods, TimeMs now);
  void UpsertPodGroup(PodGroup group);
  void DeletePodGroup(std::string_view ns, std::string_view name);
  void ReplacePodGroups(std::vector<PodGroup> groups);
  // Whether the PodGroup CRD is installed: without it, pod-group labels need another size.
  void SetPodGroupsKnown(bool known);

  // ---- Verbs. Thread-safe; read-mostly. ----
  FilterResult Filter(const Pod& pod, const std::vector<Candidate>& nodes, TimeMs now);
  Scores Prioritize(const Pod& pod, const std::vector<Candidate>& nodes, TimeMs now) const;
  std::vector<ScoreExplanation> ExplainScores(const Pod& pod,
                                              const std::vector<Candidate>& nodes,
                                              TimeMs now) const;

  // The scheduler asks to bind `binding` (a pod the model may or may not know). Ordinary pods
  // are bound at once; a gang member waits until its gang's barrier is full. The model counts
  // the pod on its node from this call on (assumed) until BindDone says otherwise.
  BindDecision Bind(const PodBinding& binding, TimeMs now);
  // The outcome of creating one binding returned by Bind. On failure the assumption is undone
  // and the gang is told; a gang whose member failed re-plans.
  void BindDone(const PodBinding& binding, bool ok, const std::string& error, TimeMs now);
  // Parked binds whose barrier timed out or whose gang can no longer complete.
  std::vector<BindExpiry> ExpireBinds(TimeMs now);
  // The earliest time ExpireBinds has work (or nullopt).
  std::optional<TimeMs> NextBindDeadline() const;

  std::vector<NodeVictims> Preempt(const Pod& preemptor, std::vector<NodeVictims> candidates,
                                   TimeMs now) const;

  // ---- Introspection. ----
  ModelStats Stats() const;
  std::vector<GangView> Gangs() const;
  std::optional<GangView> GangOf(std::string_view ns, std::string_view pod_name) const;
  std::vector<NodeView> Nodes(size_t offset, size_t limit) const;
  // The model's copy of a pod (from the watch or from a scheduler request), if any.
  std::optional<Pod> PodByUid(std::string_view uid) const;
  // Every pod the model holds (for tests and the debug view; copies, so not for hot paths).
  std::vector<Pod> Pods() const;
  // Why a pod waits, in plain words ("" when it does not).
  std::string WhyWaiting(std::string_view ns, std::string_view pod_name, TimeMs now) const;

  // ---- Cluster view (read-only copies for the debug page; each takes the shared lock). ----
  // Every present node, in model order, with the values of `label_keys`.
  std::vector<NodeGpuRow> GpuRows(const std::vector<std::string>& label_keys) const;
  // The `limit` most recently active pipeline runs (most recent first), then runs that only
  // have pending steps. Scans the model's pending pods once.
  std::vector<PipelineRunView> PipelineRuns(size_t limit) const;

 private:
  // The hard data-locality rule (mlsched.io/data-locality-required): moves passing nodes that
  // are not where the step's predecessors ran to `failed`, unless that would leave the step
  // nowhere to go (then every node passes and the reason is kept for the explain view).
  struct ResolvedNames;
  void ApplyDataLocality(const Pod& pod, const ResolvedNames& resolved, FilterResult* out) const;

  // Filter's verdict on a node that fails the quick integer check (Totals), exactly as the
  // named path (FitsOnNode, Resources::Fits) would give it: passed, failed with the reason, or
  // unresolvable when even the empty node is too small.
  // `reasons` holds the reason texts of one call, made when first needed and shared by every
  // node that fails for the same one.
  struct FastReasons;
  void FailFast(const SlotTotals& t, const Totals& want, uint32_t index, FastReasons* reasons,
                FilterResult* out) const;

  // Options::cpu_off_gpu_filter: a CPU-only pod that a CPU-only candidate can take does not
  // pass GPU nodes.
  void KeepGpuNodesForGpuPods(const ResolvedNames& resolved, const std::vector<Candidate>& nodes,
                              FilterResult* out) const;

  // Prepares one PodScorer for the pod and calls visit(scorer, planned, i, slot, load) for each
  // candidate i: its model slot and load, or a null load for a node the model does not know;
  // `planned` is the gang plan's node or "". The visitor runs the rules it needs (all of them
  // per rule, or just the total). Callers hold mu_ shared. Defined in engine.cc, the only user.
  template <typename Visit>
  void ScoreEach(const Pod& pod, const std::vector<Candidate>& nodes, TimeMs now,
                 Visit&& visit) const;

  // The topology tree for the current node set, rebuilt lazily when nodes or their labels
  // changed. Callers hold mu_ (shared or exclusive); topology_mu_ serialises the rebuild.
  std::shared_ptr<const Topology> CurrentTopology() const;
  // Model slots of the candidates' names, cached across calls (the list rarely changes).
  std::shared_ptr<const ResolvedNames> Resolve(const std::vector<Candidate>& nodes) const;
  // The image index and the largest node GPU count, rebuilt lazily like the topology.
  struct NodeStatusIndex;
  std::shared_ptr<const NodeStatusIndex> CurrentStatusIndex(TimeMs now) const;

  const Options options_;
  mutable std::shared_mutex mu_;  // guards everything below
  std::unique_ptr<ClusterModel> model_;
  std::unique_ptr<GangBook> gangs_;
  std::unique_ptr<PipelineHistory> pipelines_;
  std::unique_ptr<WorkloadMix> mix_;  // GPU pod shapes seen arriving (gpu_fragmentation)
  mutable std::mutex names_mu_;
  static constexpr size_t kResolvedLists = 2;
  mutable std::array<std::shared_ptr<const ResolvedNames>, kResolvedLists> resolved_;
  mutable size_t resolved_next_ = 0;
  mutable std::mutex topology_mu_;
  mutable std::shared_ptr<const Topology> topology_;
  mutable uint64_t topology_generation_ = ~uint64_t{0};
  mutable std::shared_ptr<const NodeStatusIndex> status_index_;
  mutable uint64_t status_generation_ = ~uint64_t{0};
  mutable TimeMs status_built_at_ = 0;
};

}  // namespace mlsched::policy
