#pragma once

// The cluster as mlsched knows it: nodes with their usage, pods, PodGroups, and the pods the
// scheduler has asked us about. Not thread-safe: the Engine guards it with a reader/writer lock.
//
// Capacity accounting (DESIGN §3): free = allocatable − requests of non-terminal pods on the
// node − pods we bound that the watch has not confirmed yet (assumed) − gang reservations.
// Each pod is counted on at most one node at a time (PodEntry::counted_node), so a pod that is
// first assumed and later confirmed by the watch is never counted twice.

#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "policy/name_table.h"
#include "policy/objects.h"
#include "policy/resources.h"

namespace mlsched::policy {

// Transparent hashing so maps keyed by std::string can be probed with a string_view on the
// hot path without allocating.
struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
template <typename V>
using StringMap = std::unordered_map<std::string, V, StringHash, std::equal_to<>>;

// The few quantities the hot path compares, as plain integers: GPUs are the sum of the
// configured GPU resources. Kept in step with the named Resources by ClusterModel, so that
// filter and prioritize on 5,000 nodes never look resources up by name.
struct Totals {
  int64_t milli_cpu = 0;
  int64_t memory = 0;
  int64_t ephemeral_storage = 0;
  int64_t pods = 0;
  int64_t gpus = 0;
};

struct NodeState {
  Node node;
  bool present = false;  // the Node object exists (usage may outlive a deleted node's object)
  Resources requested;   // pods counted on this node (bound or assumed)
  Resources reserved;    // gang reservations held on this node
  int32_t pod_count = 0;
};

// A node slot's capacity and usage as plain integers (see Totals): what filter and prioritize
// read for every candidate. Kept in their own contiguous array, apart from NodeState (hundreds
// of bytes each), so that a pass over 5,000 candidates streams through 5,000 × 88 bytes.
struct SlotTotals {
  Totals alloc;  // of node.allocatable; zero when the node is not present
  Totals used;   // of requested + reserved
  Totals reserved;  // the gang-reserved part of `used`
  bool present = false;  // as NodeState::present
};

struct PodEntry {
  Pod pod;
  std::string assumed_node;  // bound by us, not yet confirmed by the watch
  std::string counted_node;  // where pod.requests are currently counted ("" if nowhere)
  bool from_watch = false;   // false: only seen in a scheduler request
};

class ClusterModel {
 public:
  // `gpu_resources`: the extended resources counted as GPUs in Totals.
  explicit ClusterModel(std::vector<std::string> gpu_resources = {"nvidia.com/gpu"});

  Totals TotalsOf(const Resources& r) const;
  const std::vector<std::string>& gpu_resources() const { return gpu_resources_; }

  // ---- nodes ----
  void UpsertNode(Node node);
  void DeleteNode(std::string_view name);
  void ReplaceNodes(std::vector<Node> nodes);
  // Index of a node slot, or -1. Slots are stable for the life of the model.
  int32_t NodeIndex(std::string_view name) const;
  // out[i] = NodeIndex(name(i)) for i in [0, n), for long lists (NameTable::FindMany).
  template <typename NameAt>
  void NodeIndices(size_t n, NameAt&& name, int32_t* out) const {
    name_table_.FindMany(n, name, out);
  }
  const NodeState& node(uint32_t index) const { return nodes_[index]; }
  const SlotTotals& totals(uint32_t index) const { return totals_[index]; }
  size_t node_slots() const { return nodes_.size(); }
  int64_t present_nodes() const { return present_nodes_; }
  // Bumped on every change of a node object's set or labels (topology must be rebuilt).
  uint64_t node_generation() const { return node_generation_; }
  // Bumped when a node appears, goes, or changes its allocatable or images (the image index
  // and the GPU scale must be rebuilt).
  uint64_t node_status_generation() const { return node_status_generation_; }

  // Adds (sign +1) or removes (-1) a gang reservation on a node.
  void AddReserved(uint32_t index, const Resources& r, int sign);

  // Free capacity of a node: allocatable − requested − reserved.
  Resources Free(uint32_t index) const;

  // ---- pods ----
  // Returns the previous state (or nullptr-like empty optional via `had_previous`).
  void UpsertPod(Pod pod, bool from_watch);
  // Removes a pod; returns true when it was known.
  bool DeletePod(std::string_view uid);
  // Replace all watched pods; pods only seen in requests (not from the watch) are kept unless
  // the new list has them.
  void ReplacePods(std::vector<Pod> pods);
  const PodEntry* FindPod(std::string_view uid) const;
  const PodEntry* FindPodByName(std::string_view ns, std::string_view name) const;
  // Counts the pod on `node` now (we are binding it). Creates an entry when the pod is
  // unknown (zero requests then). Returns false when the node is unknown.
  bool Assume(const std::string& uid, const std::string& ns, const std::string& name,
              const std::string& node);
  // Undoes Assume after a failed binding.
  void Forget(std::string_view uid);
  const StringMap<PodEntry>& pods() const { return pods_; }
  int64_t counted_pods() const { return counted_pods_; }
  int64_t assumed_pods() const;

  // ---- pod groups ----
  void UpsertPodGroup(PodGroup group);
  void DeletePodGroup(std::string_view ns, std::string_view name);
  void ReplacePodGroups(std::vector<PodGroup> groups);
  const PodGroup* FindPodGroup(std::string_view ns, std::string_view name) const;
  size_t pod_group_count() const { return pod_groups_.size(); }
  bool pod_groups_known() const { return pod_groups_known_; }
  void set_pod_groups_known(bool known) { pod_groups_known_ = known; }

  // Listeners for pod changes (the gang book and the pipeline history follow pods).
  // `before` is null for a new pod, `after` null for a removed one.
  using PodListener = std::function<void(const PodEntry* before, const PodEntry* after)>;
  void AddPodListener(PodListener l) { listeners_.push_back(std::move(l)); }

 private:
  uint32_t SlotFor(std::string_view node_name);
  // Moves a pod's counted requests to where they belong now.
  void Recount(PodEntry& e);
  void Uncount(PodEntry& e);
  void Notify(const PodEntry* before, const PodEntry* after);

  void AddUsed(NodeState& s, const Resources& r, int sign);

  std::vector<std::string> gpu_resources_;
  std::vector<NodeState> nodes_;
  std::vector<SlotTotals> totals_;  // aligned with nodes_
  NameTable name_table_;  // node name -> slot
  int64_t present_nodes_ = 0;
  uint64_t node_generation_ = 0;
  uint64_t node_status_generation_ = 0;

  StringMap<PodEntry> pods_;                // by uid
  // "ns/name" -> entry; unordered_map nodes are stable, so the pointers stay valid.
  std::unordered_multimap<uint64_t, PodEntry*> by_name_;
  int64_t counted_pods_ = 0;

  StringMap<PodGroup> pod_groups_;          // "ns/name"
  bool pod_groups_known_ = false;

  std::vector<PodListener> listeners_;
};

}  // namespace mlsched::policy
