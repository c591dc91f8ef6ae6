#pragma once

// The topology tree: which region, zone, block, rack and NVLink domain each node sits in, built
// from node labels. Built once per node change (node add/remove/label change), read on the hot
// path by scoring (closeness), pipeline locality and the gang planner (domain enumeration).
//
// Levels come from Options::topology_levels, widest first; the node itself is the level below
// the last one (key kubernetes.io/hostname). Domains form a tree: a domain at level l is named
// by the path of label values from the top, so "rack-1" under zone a and "rack-1" under zone b
// are two racks (as Kueue's topology domains are). A node without a label (or with an empty
// value) at some level forms its own domain at that level and every level below it: it is never
// grouped with anyone by a level it does not declare.
//
// Mapping the labels clouds and queueing systems already put on nodes (set topology_levels to
// the keys in this order, widest first; the node level is implicit):
//   - Kubernetes well-known: topology.kubernetes.io/region > topology.kubernetes.io/zone
//     (the default adds mlsched.io/block > mlsched.io/rack, labelled by the admin).
//   - AWS EC2 (topology.k8s.aws/ labels from the EC2 instance topology API):
//     topology.k8s.aws/network-node-layer-1 > topology.k8s.aws/network-node-layer-2 >
//     topology.k8s.aws/network-node-layer-3 (layer 1 is the widest; layer 3 the switch next to
//     the instance, i.e. the "rack"); prefix with topology.kubernetes.io/zone if wanted.
//   - GKE: cloud.google.com/gce-topology-block > cloud.google.com/gce-topology-subblock >
//     cloud.google.com/gce-topology-host for compact-placement/A3+ reservations;
//     cloud.google.com/gke-nodepool can stand in for a block when node pools are placed
//     compactly (a pool is then one domain).
//   - Kueue Topology CRD (kueue.x-k8s.io/v1alpha1 Topology, spec.levels[].nodeLabel): copy the
//     nodeLabel values in the same order. Kueue usually ends with kubernetes.io/hostname; that
//     entry is accepted and dropped, since the node level is implicit here.
//   - KAI scheduler Topology CRD (kai.scheduler/v1alpha1, spec.levels[].nodeLabel): the same.
//   - NVLink: nvidia.com/gpu.clique (GPU operator / GFD on GB200 NVL systems) is the default
//     nvlink_label; its value ("<cluster-uuid>.<clique-id>") is globally unique, so NVLink
//     domains are not nested under the levels.
//
// A Topology is an immutable value: build a new one on change and swap it in. All const
// methods are safe to call concurrently. Queries take node indices (positions in the vector
// given to Build) and trust them: out-of-range indices are a programming error (asserted).

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "policy/objects.h"
#include "policy/options.h"
#include "policy/status.h"

namespace mlsched::policy {

// The node level's key, as Kubernetes and Kueue name it.
inline constexpr std::string_view kHostnameLabel = "kubernetes.io/hostname";
// "No domain": an empty node slot, or a node without the NVLink label.
inline constexpr uint32_t kNoDomain = UINT32_MAX;

class Topology {
 public:
  // An empty topology with the default levels and no nodes.
  Topology();

  // Builds the tree over `nodes`; nodes[i] becomes node index i. A nullptr slot is an empty
  // index (a deleted node whose index the caller keeps stable): it belongs to no domain.
  // Configured levels equal to kHostnameLabel, empty or repeated are skipped (the first
  // occurrence wins). O(nodes x levels) with no per-node string allocation for the keys;
  // about a millisecond for 5,000 nodes in 4 levels.
  static Topology Build(const Options& options, const std::vector<const Node*>& nodes);
  static Topology Build(const Options& options, const std::vector<Node>& nodes);

  // ---- Levels. Level 0 is the widest; NodeLevel() is the node itself. ----
  int NumLevels() const { return static_cast<int>(level_keys_.size()); }
  int NodeLevel() const { return NumLevels() - 1; }
  // Label key of a level (kHostnameLabel for the node level).
  const std::string& LevelKey(int level) const { return level_keys_[level]; }
  // Level of a label key, accepting kHostnameLabel for the node level; -1 when unknown.
  int LevelIndex(std::string_view label_key) const;

  // ---- Nodes. ----
  uint32_t NumNodes() const { return static_cast<uint32_t>(node_names_.size()); }
  bool HasNode(uint32_t node) const { return node < NumNodes() && present_[node]; }
  const std::string& NodeName(uint32_t node) const { return node_names_[node]; }
  // Index of a node by name; kNoDomain when unknown.
  uint32_t IndexOf(std::string_view node_name) const;

  // Domain id (dense per level, 0..NumDomains(level)-1) of a node at a level; kNoDomain for
  // an empty slot. O(1).
  uint32_t DomainOf(uint32_t node, int level) const {
    return domains_[static_cast<size_t>(node) * NumLevels() + level];
  }
  // The node's domain ids at every level (NumLevels() of them, widest first), for loops that
  // read all levels of one node.
  const uint32_t* DomainRow(uint32_t node) const {
    return &domains_[static_cast<size_t>(node) * NumLevels()];
  }
  // NVLink domain of a node, kNoDomain when it has no NVLink label. O(1).
  uint32_t NvlinkOf(uint32_t node) const { return nvlink_[node]; }
  // False for empty slots and out-of-range indices.
  bool SameNvlink(uint32_t a, uint32_t b) const {
    return a < NumNodes() && b < NumNodes() && nvlink_[a] != kNoDomain && nvlink_[a] == nvlink_[b];
  }
  // How many levels from the top two nodes share: 0 (not even a region) .. NumLevels() (the
  // same node). Empty slots and out-of-range indices share nothing. O(levels).
  int SharedLevels(uint32_t a, uint32_t b) const;

  // ---- Domains, for the gang planner and the explain view. ----
  uint32_t NumDomains(int level) const {
    return static_cast<uint32_t>(levels_[level].names.size());
  }
  // Member node indices of a domain, ascending.
  std::span<const uint32_t> DomainNodes(int level, uint32_t domain) const;
  // The label value ("rack-3"); for a domain formed by a node missing the label,
  // "(unlabeled:<node name>)".
  const std::string& DomainName(int level, uint32_t domain) const {
    return levels_[level].names[domain];
  }
  // "us-east1/us-east1-a/b2/rack-3": the values from the top, for display.
  std::string DomainPath(int level, uint32_t domain) const;
  // The enclosing domain one level up; kNoDomain at level 0.
  uint32_t ParentDomain(int level, uint32_t domain) const { return levels_[level].parents[domain]; }
  // False for a domain formed by a node missing the label at this level (or above).
  bool IsLabeled(int level, uint32_t domain) const { return levels_[level].labeled[domain] != 0; }

  uint32_t NumNvlinkDomains() const { return static_cast<uint32_t>(nvlink_level_.names.size()); }
  std::span<const uint32_t> NvlinkNodes(uint32_t domain) const;
  const std::string& NvlinkName(uint32_t domain) const { return nvlink_level_.names[domain]; }

 private:
  struct Bare {};
  explicit Topology(Bare) {}
  struct Level {
    std::vector<std::string> names;
    std::vector<uint32_t> parents;
    std::vector<uint8_t> labeled;
    // Members in CSR form: nodes of domain d are members[offsets[d] .. offsets[d+1]).
    std::vector<uint32_t> offsets;
    std::vector<uint32_t> members;
  };
  static void FillMembers(Level& level, const uint32_t* domain_of, size_t stride, size_t num_nodes);

  std::vector<std::string> level_keys_;  // configured levels, then kHostnameLabel
  std::vector<Level> levels_;
  Level nvlink_level_;
  std::vector<uint32_t> domains_;  // node-major: domains_[node * NumLevels() + level]
  std::vector<uint32_t> nvlink_;
  std::vector<std::string> node_names_;
  std::vector<uint8_t> present_;
  struct NameHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, uint32_t, NameHash, std::equal_to<>> index_by_name_;
};

// A gang's topology constraint, parsed from its pods' annotations. Levels are Topology level
// indices; -1 means none.
struct TopologyRequest {
  int required_level = -1;      // never span more than one domain of this level; wait instead
  int preferred_level = -1;     // best effort: pack into one domain of this level if possible
  std::string required_source;  // the annotation key that set required_level ("" if none)
  std::string preferred_source;
  bool operator==(const TopologyRequest&) const = default;
};

// Annotation keys, in precedence order: for each of required and preferred, the first key
// present wins and the others of that kind are not read. mlsched's own key comes first (it is
// the explicit instruction to this scheduler), then Kueue's, then KAI's.
inline constexpr std::string_view kTopologyRequiredKeys[] = {
    "mlsched.io/topology-required", "kueue.x-k8s.io/podset-required-topology",
    "kai.scheduler/topology-required-placement"};
inline constexpr std::string_view kTopologyPreferredKeys[] = {
    "mlsched.io/topology-preferred", "kueue.x-k8s.io/podset-preferred-topology",
    "kai.scheduler/topology-preferred-placement"};

// Parses the topology annotations of a gang member. The value is a level's label key
// (kHostnameLabel: the whole gang on one node), surrounding spaces ignored. A preferred level
// that is not narrower than the required one adds nothing and is dropped. Returns
// InvalidArgument naming the key and value when the winning annotation of either kind is empty
// or names a level `topology` does not have; `*out` is then left unchanged, so the caller
// decides (the planner should make a bad required annotation a visible waiting reason rather
// than silently spreading the gang).
Status ParseTopologyRequest(const Labels& annotations, const Topology& topology,
                            TopologyRequest* out);

}  // namespace mlsched::policy
