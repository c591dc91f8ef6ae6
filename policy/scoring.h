#pragma once

// The scoring rules of prioritize: one pure function per rule, each scoring one node 0..100
// from plain inputs, and a combiner that turns the rules' scores into the extender's 0..10 as a
// weighted mean (weights: Options::weights) with a per-rule breakdown for the explain view.
//
// Speed: prioritize on 5,000 nodes runs every rule on every node within a few hundred
// microseconds. So every per-pod preparation (resolving images, counting anchors per domain)
// happens once per call in a per-pod object (ImageIndex::PodImages, Anchors, PodScorer), and
// the per-node functions below allocate nothing and run in O(levels + pod images x log).
//
// Thread-safety: everything here is either a pure function or an immutable value after
// construction; const methods may run concurrently.

#include <algorithm>
#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "policy/engine.h"  // RuleScore
#include "policy/objects.h"
#include "policy/options.h"
#include "policy/resources.h"
#include "policy/topology.h"

namespace mlsched::policy {

class FragmentationProfile;

inline constexpr int kMaxRuleScore = 100;
inline constexpr int64_t kMaxExtenderScore = 10;
// A rule that does not apply to this pod (a CPU-only pod and GPU best-fit, a pod that is not a
// pipeline step, ...). The combiner leaves it out of the mean for every node alike.
inline constexpr int kNotApplicable = -1;

enum class Rule : uint8_t {
  kLeastAllocated,
  kGangPlan,
  kTopology,
  kGpuFit,
  kGpuFragmentation,
  kCpuOffGpu,
  kImageLocality,
  kPipelineLocality,
  kFunctionWarm,
};
inline constexpr size_t kNumRules = 9;

// Stable rule names for the explain view and metrics: the ScoreWeights field names.
std::string_view RuleName(Rule rule);
int RuleWeight(const ScoreWeights& weights, Rule rule);

// Per-rule scores of one node: 0..100, or kNotApplicable.
using RuleScores = std::array<int, kNumRules>;

// ---- Resources as the rules see them. ----

// The few quantities the rules compare, with every configured GPU resource summed into `gpus`.
struct ResourceView {
  int64_t milli_cpu = 0;
  int64_t memory = 0;
  int64_t gpus = 0;
  bool operator==(const ResourceView&) const = default;
};
ResourceView ViewOf(const Resources& r, const std::vector<std::string>& gpu_resources);

// One node's capacity and what is already taken on it: requests of the pods on it (including
// pods bound but not yet seen by the watch) plus capacity reserved for gangs other than the
// pod's own. The engine computes this per node; the rules only read it.
struct NodeLoad {
  ResourceView allocatable;
  ResourceView used;
};

// Kube-scheduler's LeastAllocated (NodeResourcesFit, scoringStrategy LeastAllocated): the mean
// over cpu, memory and (when the node has any) GPUs of the free share after placing the pod,
// 0 for a resource the pod would overflow. Unlike the scheduler, requests are taken as given
// (no 100m/200MiB stand-in for pods without requests): the model's node usage is counted the
// same way, so the comparison between nodes stays fair.
int LeastAllocatedScore(const ResourceView& pod, const NodeLoad& node);

// GPU best-fit for a pod requesting GPUs: the fewer GPUs stay free on the node after
// placement, the higher; an exact fit scores 100 and a node that cannot fit the pod 0.
// `max_node_gpus` is the largest GPU count of any node (the scale: a node left with that many
// free GPUs scores 0). With `spread` (Options::gpu_spread) the order flips: the larger the
// share of the node's GPUs left free, the higher. kNotApplicable for CPU-only pods.
int GpuFitScore(int64_t pod_gpus, const NodeLoad& node, bool spread, int64_t max_node_gpus);

// GPU fragmentation (the least growth of GPUs stranded for the workload's pod shapes) is
// GpuFragmentationScore in policy/fragmentation.h.

// CPU-only pods away from GPU nodes: 100 on a node without GPUs, 0 on a GPU node.
// kNotApplicable for pods that request GPUs.
int CpuOffGpuScore(int64_t pod_gpus, int64_t node_gpus);

// The filter variant (Options::cpu_off_gpu_filter): false when the node has GPUs, the pod
// requests none and `cpu_node_fits` (some CPU-only candidate node can take the pod in this
// call), with the reason in `*why` when not null. Always true when `filter_on` is false.
bool PassesCpuOffGpuFilter(bool filter_on, int64_t pod_gpus, int64_t node_gpus, bool cpu_node_fits,
                           std::string* why);

// ---- Image locality. ----

// Which images each node holds (NodeStatus.images), indexed like Topology (nodes[i] is node
// index i; nullptr is an empty slot). Build once per node change, like Topology.
class ImageIndex {
 public:
  static constexpr uint32_t kUnknownImage = UINT32_MAX;

  ImageIndex() = default;
  static ImageIndex Build(const std::vector<const Node*>& nodes);
  static ImageIndex Build(const std::vector<Node>& nodes);

  // A pod's images resolved once per call: the per-node sums are computed here, by walking the
  // nodes that hold each of the pod's images, so that scoring a node is two array reads.
  struct PodImages {
    std::vector<uint32_t> ids;  // one per pod image; kUnknownImage when no node holds it
    int num_containers = 0;
    std::vector<int64_t> scaled_sum;  // per node; empty when no node holds any of the images
    std::vector<uint8_t> present;     // per node: how many of the pod's images it holds
    bool empty() const { return num_containers == 0; }
  };
  PodImages Resolve(const std::vector<std::string>& images) const;

  // Kube-scheduler's ImageLocality, on 0..100: the sum over the pod's images present on the
  // node of size x (nodes holding it / all nodes), clamped to [23 MiB, 1000 MiB x containers]
  // and scaled. The size is the one this node reports. 0 for an empty slot or no images.
  // `pod` must come from this index's Resolve.
  int Score(const PodImages& pod, uint32_t node) const;
  // How many of the pod's images the node holds (0..num_containers).
  int CountPresent(const PodImages& pod, uint32_t node) const;

  uint32_t NumNodes() const { return num_slots_; }

  // Kube-scheduler's normalisation: a name without a tag gets ":latest" (a digest or tag after
  // the last '/' is kept as is).
  static std::string Normalize(std::string_view image);
  // True when Normalize would return the name unchanged.
  static bool IsNormal(std::string_view image);

 private:
  struct Holder {
    uint32_t node;
    int64_t size;
  };

  struct NameHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, uint32_t, NameHash, std::equal_to<>> ids_;
  // Nodes holding image i: holders_[offsets_[i] .. offsets_[i+1]), ascending by node, once each.
  std::vector<uint32_t> offsets_;
  std::vector<Holder> holders_;
  uint32_t num_slots_ = 0;   // node indices (including empty slots)
  int64_t total_nodes_ = 0;  // present nodes
};

// ---- Topology closeness. ----

// Points for an anchor node by how close it is: per level (index = Topology level, the last
// one the node itself) for the deepest level shared with the anchor, and for sharing an
// NVLink domain. Non-decreasing by level; nvlink points sit between the last configured level
// and the node (or are 0: NVLink ignored).
struct ClosenessTable {
  std::vector<int> level_points;  // size Topology::NumLevels()
  int nvlink_points = 0;
};

// Gang/pipeline closeness: same node 100 > same NVLink domain 90 > same rack (the narrowest
// configured level) 80 > ... > the widest level 80/L > nothing 0. Linear by level so that any
// number of configured levels works.
ClosenessTable TopologyClosenessTable(const Topology& topology);

// Data locality for a pipeline step at `locality_level` (a Topology level; NodeLevel() for
// "node"): sharing that level or deeper with the predecessor is 100; shallower levels
// fall off linearly, 80 x (shared levels) / (locality_level + 1). No NVLink bonus (data sits
// on disks, not in GPU memory).
ClosenessTable DataLocalityTable(const Topology& topology, int locality_level);

// A multiset of anchor nodes (where a gang's members or a step's predecessors are), counted
// per domain once per call so that scoring a node costs O(levels), not O(anchors).
class Anchors {
 public:
  Anchors() = default;
  // Anchors not present in `topology` (deleted nodes, out-of-range indices) are skipped; the
  // set may then be empty. Repeats count (two members on one node weigh twice).
  Anchors(const Topology& topology, std::span<const uint32_t> nodes);

  bool empty() const { return total_ == 0; }
  int64_t size() const { return total_; }
  // Mean points over the anchors for `node` (0..100); 0 for an empty slot or no anchors.
  // `topology` must be the one the anchors were built with.
  int Score(const Topology& topology, const ClosenessTable& table, uint32_t node) const;

 private:
  struct Joint {  // anchors sharing (domain at a level, NVLink domain)
    uint32_t domain;
    uint32_t nvlink;
    uint32_t count;
    auto operator<=>(const Joint&) const = default;
  };
  int64_t total_ = 0;
  std::vector<std::vector<uint32_t>> counts_;  // [level][domain]
  std::vector<uint32_t> nvlink_counts_;        // [nvlink domain]
  std::vector<std::vector<Joint>> joint_;      // [level], sorted; only anchors with NVLink
};

// ---- ML function warmth. ----

// A function pod on a node where the same function ran `age_ms` ago (negative: never, or
// longer than `warm_ms`) or that holds `images_present` of its `num_images` images: ran within
// the window 100 falling to 70 at its end (fresher caches, likelier still-loaded models);
// otherwise 50 x the share of its images the node holds.
int FunctionWarmScore(int64_t age_ms, int64_t warm_ms, int images_present, int num_images);

// ---- The combiner. ----

// Weighted mean of the applicable rules (weight > 0 and score != kNotApplicable), on 0..10
// rounded to nearest; 0 when no rule applies. Rules must be applicable for all nodes of a call
// alike (a per-pod decision), or nodes are compared on different means.
int64_t CombineScores(const ScoreWeights& weights, const RuleScores& scores);
// The same as a breakdown: one RuleScore per applicable rule with weight > 0.
ScoreExplanation ExplainScores(std::string_view node, const ScoreWeights& weights,
                               const RuleScores& scores);

// CombineScores for many nodes under one set of weights (prioritize's loop): the weights are
// read once, the per-rule sum has no branch, and the one division per node becomes a multiply
// when the applicable rules' weights add up to what they did for the last node (almost
// always: which rules apply depends on the pod). CombineScores is one call of it.
class ScoreCombiner {
 public:
  explicit ScoreCombiner(const ScoreWeights& weights);
  int64_t operator()(const RuleScores& scores) const;

  // operator() in parts, for a caller that keeps partial sums (PodScorer::Total): Add puts
  // one rule's score into a running (weighted, total_weight) pair, Mean ends it. Adding every
  // rule of `scores` and taking the Mean is operator(), exactly; the sums are integers, so
  // their order does not matter.
  void Add(Rule rule, int score, int64_t* weighted, int64_t* total_weight) const {
    const int64_t w = score == kNotApplicable ? 0 : weight_[static_cast<size_t>(rule)];
    *weighted += w * std::clamp(score, 0, kMaxRuleScore);
    *total_weight += w;
  }
  int64_t Mean(int64_t weighted, int64_t total_weight) const;

 private:
  std::array<int64_t, kNumRules> weight_{};
  mutable int64_t last_total_ = -1;
  mutable double inverse_ = 0;  // 1 / (last_total_ * kMaxRuleScore)
};

// Everything one prioritize call needs for one pod, prepared once, then ScoreNode per
// candidate. The engine fills the inputs it owns (gang anchors and plan, pipeline
// predecessors and locality, function warmth); unset parts leave their rule not applicable.
class PodScorer {
 public:
  // `topology`, `images` and `options` must outlive the scorer.
  PodScorer(const Options& options, const Topology& topology, const ImageIndex& images,
            const Pod& pod);

  // Nodes where the pod's gang (or its pipeline run, when not a gang) already has pods:
  // enables the topology rule.
  void SetTopologyAnchors(std::span<const uint32_t> nodes);
  // The gang plan: enables the gang_plan rule (100 on the planned node, 0 elsewhere).
  void SetPlannedNode(uint32_t node);
  // Predecessor nodes of a pipeline step and its locality level (a Topology level): enables
  // pipeline_locality. Gone predecessors (empty slots) are skipped.
  void SetPipelinePredecessors(std::span<const uint32_t> nodes, int locality_level);
  // A function pod: enables function_warm. `warm` lists (node, last ran ms), any order.
  void SetFunctionWarmth(std::vector<std::pair<uint32_t, int64_t>> warm, TimeMs now);
  // Largest GPU count of any node (the best-fit scale); default 8.
  void SetMaxNodeGpus(int64_t gpus) { max_node_gpus_ = gpus > 0 ? gpus : 1; }
  // The workload's shapes (policy/fragmentation.h): enables gpu_fragmentation once the
  // profile is not empty (never with Options::gpu_spread, which leaves GPUs free on purpose).
  // Not owned; must outlive the scorer and stay unchanged meanwhile.
  void SetFragmentationProfile(const FragmentationProfile* profile) { fragmentation_ = profile; }

  // Per-rule scores of one candidate. Allocates once (the load table), on the first call.
  // Not thread-safe: one scorer serves one call.
  RuleScores ScoreNode(uint32_t node, const NodeLoad& load) const;
  int64_t Combine(const RuleScores& scores) const { return combine_(scores); }
  // Combine(ScoreNode(node, load)), always, for less: the load rules' part of the mean is kept
  // with their scores in the load table, so a node costs the rules that read the node itself
  // (none for most pods; image locality for a pod whose images some nodes hold) and one
  // division, or nothing more than a table hit when no such rule applies (prioritize's loop).
  int64_t Total(uint32_t node, const NodeLoad& load) const;

  const ResourceView& pod_view() const { return pod_; }

 private:
  // The rules that read nothing but the node's load (least_allocated, gpu_fit,
  // gpu_fragmentation, cpu_off_gpu) score every node in the same state alike, and nodes share
  // states (empty ones, full ones, the same hardware with the same pods): their scores are kept
  // for the call in a small direct-mapped table keyed by the load. A miss costs a hash; a hit
  // saves the rules, the fragmentation rule's shape mix above all.
  struct LoadScores {
    int least_allocated = kNotApplicable;
    int gpu_fit = kNotApplicable;
    int gpu_fragmentation = kNotApplicable;
    int cpu_off_gpu = kNotApplicable;
  };
  struct LoadMemo {
    NodeLoad load;
    LoadScores scores;
    // The load rules' part of the combined mean (ScoreCombiner::Add over `scores`), and the
    // mean itself for a node no other rule scores.
    int64_t weighted = 0;
    int64_t total_weight = 0;
    int64_t total = 0;
    bool filled = false;
  };
  static constexpr size_t kLoadMemoSize = 512;  // a power of two
  LoadScores ScoreLoad(const NodeLoad& load) const;
  const LoadMemo& MemoScoreLoad(const NodeLoad& load) const;
  mutable std::vector<LoadMemo> load_memo_;
  // The rules that read the node itself (gang plan, topology, images, pipeline, function)
  // into `s`; those that do not apply stay as they are.
  void ScoreNodeRules(uint32_t node, RuleScores& s) const;
  // Whether ScoreNodeRules scores anything for this pod (the same conditions).
  bool NodeRulesApply() const;

  const Options& options_;
  const ScoreCombiner combine_;
  const Topology& topology_;
  const ImageIndex& images_;
  ResourceView pod_;
  ImageIndex::PodImages pod_images_;
  int64_t max_node_gpus_ = 8;
  const FragmentationProfile* fragmentation_ = nullptr;
  Anchors topology_anchors_;
  ClosenessTable closeness_;
  uint32_t planned_node_ = kNoDomain;
  bool has_plan_ = false;
  Anchors predecessors_;
  ClosenessTable data_table_;
  bool is_function_ = false;
  std::vector<std::pair<uint32_t, int64_t>> warm_;  // sorted by node
  TimeMs now_ = 0;
};

}  // namespace mlsched::policy
