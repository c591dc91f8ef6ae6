#include "policy/scoring.h"

#include <algorithm>
#include <cassert>

#include "policy/fragmentation.h"

namespace mlsched::policy {
namespace {

constexpr int64_t kMiB = 1024 * 1024;
// Kube-scheduler's ImageLocality bounds: below 23 MiB an image is too small to matter; above
// 1000 MiB per container the score saturates.
constexpr int64_t kImageMinThreshold = 23 * kMiB;
constexpr int64_t kImageMaxContainerThreshold = 1000 * kMiB;

// Free share of one resource after placement, 0..100; -1 when the node has none of it.
int FreeShare(int64_t capacity, int64_t used, int64_t request) {
  if (capacity <= 0) return -1;
  int64_t after = used + request;
  if (after > capacity) return 0;
  return static_cast<int>((capacity - after) * kMaxRuleScore / capacity);
}

int Clamp100(int64_t v) { return static_cast<int>(std::clamp<int64_t>(v, 0, kMaxRuleScore)); }

}  // namespace

std::string_view RuleName(Rule rule) {
  switch (rule) {
    case Rule::kLeastAllocated:
      return "least_allocated";
    case Rule::kGangPlan:
      return "gang_plan";
    case Rule::kTopology:
      return "topology";
    case Rule::kGpuFit:
      return "gpu_fit";
    case Rule::kGpuFragmentation:
      return "gpu_fragmentation";
    case Rule::kCpuOffGpu:
      return "cpu_off_gpu";
    case Rule::kImageLocality:
      return "image_locality";
    case Rule::kPipelineLocality:
      return "pipeline_locality";
    case Rule::kFunctionWarm:
      return "function_warm";
  }
  return "unknown";
}

// The ScoreWeights field of each rule, in Rule order: one table for RuleWeight and the combiner.
constexpr int ScoreWeights::*kWeightFields[kNumRules] = {
    &ScoreWeights::least_allocated,   &ScoreWeights::gang_plan,     &ScoreWeights::topology,
    &ScoreWeights::gpu_fit,           &ScoreWeights::gpu_fragmentation,
    &ScoreWeights::cpu_off_gpu,       &ScoreWeights::image_locality,
    &ScoreWeights::pipeline_locality, &ScoreWeights::function_warm,
};

int RuleWeight(const ScoreWeights& w, Rule rule) {
  const size_t i = static_cast<size_t>(rule);
  return i < kNumRules ? w.*kWeightFields[i] : 0;
}

ResourceView ViewOf(const Resources& r, const std::vector<std::string>& gpu_resources) {
  ResourceView v;
  v.milli_cpu = r.milli_cpu;
  v.memory = r.memory;
  for (const std::string& name : gpu_resources) v.gpus += r.Scalar(name);
  return v;
}

int LeastAllocatedScore(const ResourceView& pod, const NodeLoad& node) {
  int shares[3] = {
      FreeShare(node.allocatable.milli_cpu, node.used.milli_cpu, pod.milli_cpu),
      FreeShare(node.allocatable.memory, node.used.memory, pod.memory),
      FreeShare(node.allocatable.gpus, node.used.gpus, pod.gpus),
  };
  // why: the pod asks for GPUs the node lacks: it cannot run here at all.
  if (pod.gpus > 0 && node.allocatable.gpus <= 0) return 0;
  int sum = 0, n = 0;
  for (int s : shares) {
    if (s < 0) continue;  // as the scheduler: a resource the node has none of is skipped
    sum += s;
    ++n;
  }
  return n == 0 ? 0 : sum / n;
}

int GpuFitScore(int64_t pod_gpus, const NodeLoad& node, bool spread, int64_t max_node_gpus) {
  if (pod_gpus <= 0) return kNotApplicable;
  const int64_t capacity = node.allocatable.gpus;
  const int64_t free_after = capacity - node.used.gpus - pod_gpus;
  if (capacity <= 0 || free_after < 0) return 0;
  if (spread) return Clamp100(free_after * kMaxRuleScore / capacity);
  // why: count free GPUs in absolute terms, not as a share of the node, so that a 16-GPU node
  // left with 2 free strands as many GPUs as an 8-GPU node left with 2 free.
  const int64_t scale = std::max<int64_t>(max_node_gpus, 1);
  return Clamp100((scale - std::min(free_after, scale)) * kMaxRuleScore / scale);
}

int CpuOffGpuScore(int64_t pod_gpus, int64_t node_gpus) {
  if (pod_gpus > 0) return kNotApplicable;
  return node_gpus > 0 ? 0 : kMaxRuleScore;
}

bool PassesCpuOffGpuFilter(bool filter_on, int64_t pod_gpus, int64_t node_gpus, bool cpu_node_fits,
                           std::string* why) {
  if (!filter_on || pod_gpus > 0 || node_gpus <= 0 || !cpu_node_fits) return true;
  if (why != nullptr) {
    *why = "GPU node kept for GPU pods: the pod requests no GPU and a CPU-only node fits it";
  }
  return false;
}

// ---- ImageIndex ----

bool ImageIndex::IsNormal(std::string_view image) {
  // why: the scheduler's own rule, so our scores agree with ImageLocality's ("a" and "a:latest"
  // are the same image; "host:5000/a" has no tag).
  size_t colon = image.rfind(':');
  size_t slash = image.rfind('/');
  return colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash);
}

std::string ImageIndex::Normalize(std::string_view image) {
  std::string name(image);
  if (!IsNormal(image)) name += ":latest";
  return name;
}

ImageIndex ImageIndex::Build(const std::vector<Node>& nodes) {
  std::vector<const Node*> ptrs;
  ptrs.reserve(nodes.size());
  for (const Node& n : nodes) ptrs.push_back(&n);
  return Build(ptrs);
}

ImageIndex ImageIndex::Build(const std::vector<const Node*>& nodes) {
  ImageIndex x;
  x.num_slots_ = static_cast<uint32_t>(nodes.size());
  struct Entry {
    uint32_t id;
    uint32_t node;
    int64_t size;
  };
  std::vector<Entry> entries;
  for (size_t i = 0; i < nodes.size(); ++i) {
    const Node* node = nodes[i];
    if (node == nullptr) continue;
    ++x.total_nodes_;
    for (const NodeImage& image : node->images) {
      for (const std::string& raw : image.names) {
        if (raw.empty()) continue;
        // why: 150,000 names on a big cluster; look up without building a string when the name
        // is already normal (it has a tag or digest, as runtimes report them).
        uint32_t id;
        if (auto it = x.ids_.find(std::string_view(raw)); it != x.ids_.end() && IsNormal(raw)) {
          id = it->second;
        } else {
          id = x.ids_.try_emplace(Normalize(raw), static_cast<uint32_t>(x.ids_.size()))
                   .first->second;
        }
        entries.push_back({id, static_cast<uint32_t>(i), std::max<int64_t>(image.size_bytes, 0)});
      }
    }
  }
  // Counting sort by image id; stable, so each image's holders stay in node order and a node
  // listing one image under several names (tag and digest) has its entries side by side.
  const size_t num_ids = x.ids_.size();
  std::vector<uint32_t> start(num_ids + 1, 0);
  for (const Entry& e : entries) ++start[e.id + 1];
  for (size_t i = 0; i < num_ids; ++i) start[i + 1] += start[i];
  std::vector<Holder> sorted(entries.size());
  {
    std::vector<uint32_t> cursor(start.begin(), start.end() - 1);
    for (const Entry& e : entries) sorted[cursor[e.id]++] = {e.node, e.size};
  }
  // why: one image counts once per node (the largest size reported wins).
  x.offsets_.assign(num_ids + 1, 0);
  x.holders_.reserve(sorted.size());
  for (size_t id = 0; id < num_ids; ++id) {
    for (uint32_t k = start[id]; k < start[id + 1]; ++k) {
      const Holder& h = sorted[k];
      if (x.holders_.size() > x.offsets_[id] && x.holders_.back().node == h.node) {
        x.holders_.back().size = std::max(x.holders_.back().size, h.size);
      } else {
        x.holders_.push_back(h);
      }
    }
    x.offsets_[id + 1] = static_cast<uint32_t>(x.holders_.size());
  }
  return x;
}

ImageIndex::PodImages ImageIndex::Resolve(const std::vector<std::string>& images) const {
  PodImages p;
  p.num_containers = static_cast<int>(images.size());
  p.ids.reserve(images.size());
  for (const std::string& image : images) {
    auto it = IsNormal(image) ? ids_.find(std::string_view(image)) : ids_.find(Normalize(image));
    const uint32_t id = it == ids_.end() ? kUnknownImage : it->second;
    p.ids.push_back(id);
    if (id == kUnknownImage) continue;
    if (p.scaled_sum.empty()) {
      p.scaled_sum.assign(num_slots_, 0);
      p.present.assign(num_slots_, 0);
    }
    const int64_t holders = offsets_[id + 1] - offsets_[id];
    for (uint32_t k = offsets_[id]; k < offsets_[id + 1]; ++k) {
      const Holder& h = holders_[k];
      // why: scaled by spread, as the scheduler does, so an image on every node does not pull
      // pods onto a few of them.
      p.scaled_sum[h.node] +=
          static_cast<int64_t>(static_cast<double>(h.size) * holders / total_nodes_);
      if (p.present[h.node] < 255) ++p.present[h.node];
    }
  }
  return p;
}

int ImageIndex::Score(const PodImages& pod, uint32_t node) const {
  if (pod.num_containers == 0 || node >= pod.scaled_sum.size()) return 0;
  const int64_t max_threshold = kImageMaxContainerThreshold * pod.num_containers;
  const int64_t sum = std::clamp(pod.scaled_sum[node], kImageMinThreshold, max_threshold);
  return static_cast<int>(kMaxRuleScore * (sum - kImageMinThreshold) /
                          (max_threshold - kImageMinThreshold));
}

int ImageIndex::CountPresent(const PodImages& pod, uint32_t node) const {
  return node < pod.present.size() ? pod.present[node] : 0;
}

// ---- Closeness ----

ClosenessTable TopologyClosenessTable(const Topology& topology) {
  ClosenessTable t;
  const int levels = topology.NumLevels();
  const int configured = levels - 1;
  t.level_points.resize(levels);
  for (int l = 0; l < configured; ++l) t.level_points[l] = 80 * (l + 1) / configured;
  t.level_points[levels - 1] = kMaxRuleScore;
  t.nvlink_points = 90;
  return t;
}

ClosenessTable DataLocalityTable(const Topology& topology, int locality_level) {
  ClosenessTable t;
  const int levels = topology.NumLevels();
  locality_level = std::clamp(locality_level, 0, levels - 1);
  t.level_points.resize(levels);
  for (int l = 0; l < levels; ++l) {
    t.level_points[l] = l >= locality_level ? kMaxRuleScore : 80 * (l + 1) / (locality_level + 1);
  }
  t.nvlink_points = 0;
  return t;
}

Anchors::Anchors(const Topology& topology, std::span<const uint32_t> nodes) {
  const int levels = topology.NumLevels();
  counts_.resize(levels);
  for (int l = 0; l < levels; ++l) counts_[l].assign(topology.NumDomains(l), 0);
  nvlink_counts_.assign(topology.NumNvlinkDomains(), 0);
  joint_.resize(levels);
  for (uint32_t n : nodes) {
    if (!topology.HasNode(n)) continue;  // why: a deleted node holds no anchor
    ++total_;
    for (int l = 0; l < levels; ++l) ++counts_[l][topology.DomainOf(n, l)];
    uint32_t v = topology.NvlinkOf(n);
    if (v == kNoDomain) continue;
    ++nvlink_counts_[v];
    for (int l = 0; l < levels; ++l) joint_[l].push_back({topology.DomainOf(n, l), v, 1});
  }
  // Merge repeats: sorted by (domain, nvlink), counts summed.
  for (auto& j : joint_) {
    std::sort(j.begin(), j.end());
    size_t out = 0;
    for (size_t i = 0; i < j.size(); ++i) {
      if (out > 0 && j[out - 1].domain == j[i].domain && j[out - 1].nvlink == j[i].nvlink) {
        j[out - 1].count += j[i].count;
      } else {
        j[out++] = j[i];
      }
    }
    j.resize(out);
  }
}

int Anchors::Score(const Topology& topology, const ClosenessTable& table, uint32_t node) const {
  if (total_ == 0 || !topology.HasNode(node)) return 0;
  const int levels = topology.NumLevels();
  assert(static_cast<int>(counts_.size()) == levels);
  assert(static_cast<int>(table.level_points.size()) == levels);
  // Each anchor earns the points of the deepest level it shares with `node`. Summing the
  // increments P[l] - P[l-1] over the anchors sharing level l gives the same total with one
  // counter lookup per level.
  const uint32_t* row = topology.DomainRow(node);
  const int* points = table.level_points.data();
  const uint32_t v = topology.NvlinkOf(node);
  const bool nvlink = table.nvlink_points > 0 && v != kNoDomain && v < nvlink_counts_.size() &&
                      nvlink_counts_[v] > 0;
  int64_t sum = 0;
  int prev = 0;
  if (!nvlink) {
    for (int l = 0; l < levels; ++l) {
      const uint32_t c = counts_[l][row[l]];
      if (c == 0) break;  // why: nested domains: no anchor here means none deeper either
      sum += int64_t{points[l] - prev} * c;
      prev = points[l];
    }
  } else {
    const uint32_t same_node = counts_[levels - 1][row[levels - 1]];
    // why: anchors in the node's NVLink domain earn nvlink_points whatever levels they share
    // (cliques may span racks), so they are taken out of the level sums.
    const int64_t in_clique = nvlink_counts_[v];
    sum += int64_t{table.level_points[levels - 1]} * same_node;
    // The table promises nvlink points at least those of the narrowest configured level.
    const int narrowest = levels >= 2 ? table.level_points[levels - 2] : 0;
    sum += int64_t{std::max(table.nvlink_points, narrowest)} * (in_clique - same_node);
    for (int l = 0; l + 1 < levels; ++l) {
      const uint32_t d = row[l];
      const auto& j = joint_[l];
      auto it = std::lower_bound(j.begin(), j.end(), Joint{d, v, 0});
      const int64_t joint = it != j.end() && it->domain == d && it->nvlink == v ? it->count : 0;
      sum += int64_t{points[l] - prev} * (counts_[l][d] - joint);
      prev = points[l];
    }
  }
  return Clamp100((sum + total_ / 2) / total_);
}

// ---- Functions ----

int FunctionWarmScore(int64_t age_ms, int64_t warm_ms, int images_present, int num_images) {
  if (age_ms >= 0 && warm_ms > 0 && age_ms <= warm_ms) {
    return Clamp100(kMaxRuleScore - 30 * age_ms / warm_ms);
  }
  if (num_images <= 0) return 0;
  return Clamp100(50 * int64_t{std::clamp(images_present, 0, num_images)} / num_images);
}

// ---- Combiner ----

int64_t CombineScores(const ScoreWeights& weights, const RuleScores& scores) {
  return ScoreCombiner(weights)(scores);
}

ScoreCombiner::ScoreCombiner(const ScoreWeights& weights) {
  for (size_t i = 0; i < kNumRules; ++i) weight_[i] = std::max(weights.*kWeightFields[i], 0);
}

int64_t ScoreCombiner::operator()(const RuleScores& scores) const {
  int64_t weighted = 0, total_weight = 0;
  for (size_t i = 0; i < kNumRules; ++i) {
    Add(static_cast<Rule>(i), scores[i], &weighted, &total_weight);
  }
  return Mean(weighted, total_weight);
}

int64_t ScoreCombiner::Mean(int64_t weighted, int64_t total_weight) const {
  if (total_weight == 0) return 0;
  const int64_t denom = total_weight * kMaxRuleScore;
  if (total_weight != last_total_) {
    last_total_ = total_weight;
    inverse_ = 1.0 / static_cast<double>(denom);
  }
  // why exact: the dividend is below 2^31, so a quotient's fractional part, when not zero, is at
  // least 1/denom (far above double's rounding error here); the small nudge only lifts
  // quotients that are whole numbers above the products' rounding.
  const int64_t numerator = weighted * kMaxExtenderScore + denom / 2;
  if (numerator >= (int64_t{1} << 31)) return std::min<int64_t>(numerator / denom, kMaxExtenderScore);
  const int64_t q = static_cast<int64_t>(static_cast<double>(numerator) * inverse_ + 1e-9);
  return std::clamp<int64_t>(q, 0, kMaxExtenderScore);
}

ScoreExplanation ExplainScores(std::string_view node, const ScoreWeights& weights,
                               const RuleScores& scores) {
  ScoreExplanation e;
  e.node = std::string(node);
  for (size_t i = 0; i < kNumRules; ++i) {
    const Rule r = static_cast<Rule>(i);
    const int w = RuleWeight(weights, r);
    if (w <= 0 || scores[i] == kNotApplicable) continue;
    e.rules.push_back({std::string(RuleName(r)), w, scores[i]});
  }
  e.total = CombineScores(weights, scores);
  return e;
}

// ---- PodScorer ----

PodScorer::PodScorer(const Options& options, const Topology& topology, const ImageIndex& images,
                     const Pod& pod)
    : options_(options),
      combine_(options.weights),
      topology_(topology),
      images_(images),
      pod_(ViewOf(pod.requests, options.gpu_resources)),
      pod_images_(images.Resolve(pod.images)) {}

void PodScorer::SetTopologyAnchors(std::span<const uint32_t> nodes) {
  topology_anchors_ = Anchors(topology_, nodes);
  closeness_ = TopologyClosenessTable(topology_);
}

void PodScorer::SetPlannedNode(uint32_t node) {
  planned_node_ = node;
  has_plan_ = true;
}

void PodScorer::SetPipelinePredecessors(std::span<const uint32_t> nodes, int locality_level) {
  predecessors_ = Anchors(topology_, nodes);
  data_table_ = DataLocalityTable(topology_, locality_level);
}

void PodScorer::SetFunctionWarmth(std::vector<std::pair<uint32_t, int64_t>> warm, TimeMs now) {
  is_function_ = true;
  now_ = now;
  std::sort(warm.begin(), warm.end());
  // Keep the latest time per node.
  size_t out = 0;
  for (size_t i = 0; i < warm.size(); ++i) {
    if (out > 0 && warm[out - 1].first == warm[i].first) {
      warm[out - 1].second = std::max(warm[out - 1].second, warm[i].second);
    } else {
      warm[out++] = warm[i];
    }
  }
  warm.resize(out);
  warm_ = std::move(warm);
}

PodScorer::LoadScores PodScorer::ScoreLoad(const NodeLoad& load) const {
  auto on = [this](Rule r) { return RuleWeight(options_.weights, r) > 0; };
  LoadScores s;
  if (on(Rule::kLeastAllocated)) s.least_allocated = LeastAllocatedScore(pod_, load);
  if (on(Rule::kGpuFit)) {
    s.gpu_fit = GpuFitScore(pod_.gpus, load, options_.gpu_spread, max_node_gpus_);
  }
  // why: gpu_spread leaves GPUs free on every node on purpose (inference fleets); measuring that
  // as fragmentation would fight the operator's choice.
  if (fragmentation_ != nullptr && !fragmentation_->empty() && !options_.gpu_spread &&
      on(Rule::kGpuFragmentation)) {
    s.gpu_fragmentation = GpuFragmentationScore(pod_, load, *fragmentation_);
  }
  if (on(Rule::kCpuOffGpu)) s.cpu_off_gpu = CpuOffGpuScore(pod_.gpus, load.allocatable.gpus);
  return s;
}

const PodScorer::LoadMemo& PodScorer::MemoScoreLoad(const NodeLoad& load) const {
  if (load_memo_.empty()) load_memo_.resize(kLoadMemoSize);
  // A multiply-xor mix of the six integers; the top bits pick the slot.
  uint64_t h = 0x9E3779B97F4A7C15ULL;
  for (int64_t v : {load.allocatable.milli_cpu, load.allocatable.memory, load.allocatable.gpus,
                    load.used.milli_cpu, load.used.memory, load.used.gpus}) {
    h = (h ^ static_cast<uint64_t>(v)) * 0xBF58476D1CE4E5B9ULL;
  }
  LoadMemo& m = load_memo_[(h >> 32) & (kLoadMemoSize - 1)];
  if (!m.filled || !(m.load.allocatable == load.allocatable) || !(m.load.used == load.used)) {
    m.load = load;
    m.scores = ScoreLoad(load);
    m.weighted = 0;
    m.total_weight = 0;
    combine_.Add(Rule::kLeastAllocated, m.scores.least_allocated, &m.weighted, &m.total_weight);
    combine_.Add(Rule::kGpuFit, m.scores.gpu_fit, &m.weighted, &m.total_weight);
    combine_.Add(Rule::kGpuFragmentation, m.scores.gpu_fragmentation, &m.weighted,
                 &m.total_weight);
    combine_.Add(Rule::kCpuOffGpu, m.scores.cpu_off_gpu, &m.weighted, &m.total_weight);
    m.total = combine_.Mean(m.weighted, m.total_weight);
    m.filled = true;
  }
  return m;
}

RuleScores PodScorer::ScoreNode(uint32_t node, const NodeLoad& load) const {
  RuleScores s;
  s.fill(kNotApplicable);
  auto at = [&s](Rule r) -> int& { return s[static_cast<size_t>(r)]; };
  const LoadScores& by_load = MemoScoreLoad(load).scores;
  at(Rule::kLeastAllocated) = by_load.least_allocated;
  at(Rule::kGpuFit) = by_load.gpu_fit;
  at(Rule::kGpuFragmentation) = by_load.gpu_fragmentation;
  at(Rule::kCpuOffGpu) = by_load.cpu_off_gpu;
  ScoreNodeRules(node, s);
  return s;
}

int64_t PodScorer::Total(uint32_t node, const NodeLoad& load) const {
  const LoadMemo& m = MemoScoreLoad(load);
  if (!NodeRulesApply()) return m.total;
  RuleScores s;
  s.fill(kNotApplicable);
  ScoreNodeRules(node, s);
  int64_t weighted = m.weighted, total_weight = m.total_weight;
  for (Rule r : {Rule::kGangPlan, Rule::kTopology, Rule::kImageLocality, Rule::kPipelineLocality,
                 Rule::kFunctionWarm}) {
    combine_.Add(r, s[static_cast<size_t>(r)], &weighted, &total_weight);
  }
  return combine_.Mean(weighted, total_weight);
}

bool PodScorer::NodeRulesApply() const {
  auto on = [this](Rule r) { return RuleWeight(options_.weights, r) > 0; };
  return (has_plan_ && on(Rule::kGangPlan)) || (!topology_anchors_.empty() && on(Rule::kTopology)) ||
         (!pod_images_.empty() && on(Rule::kImageLocality)) ||
         (!predecessors_.empty() && on(Rule::kPipelineLocality)) ||
         (is_function_ && on(Rule::kFunctionWarm));
}

void PodScorer::ScoreNodeRules(uint32_t node, RuleScores& s) const {
  // why: a rule with weight 0 takes no part in the mean, so it is not computed either; turning
  // rules off in the options makes prioritize cheaper, not just different.
  auto on = [this](Rule r) { return RuleWeight(options_.weights, r) > 0; };
  auto at = [&s](Rule r) -> int& { return s[static_cast<size_t>(r)]; };
  if (has_plan_ && on(Rule::kGangPlan)) {
    at(Rule::kGangPlan) = node == planned_node_ ? kMaxRuleScore : 0;
  }
  if (!topology_anchors_.empty() && on(Rule::kTopology)) {
    at(Rule::kTopology) = topology_anchors_.Score(topology_, closeness_, node);
  }
  if (!pod_images_.empty() && on(Rule::kImageLocality)) {
    at(Rule::kImageLocality) = images_.Score(pod_images_, node);
  }
  if (!predecessors_.empty() && on(Rule::kPipelineLocality)) {
    at(Rule::kPipelineLocality) = predecessors_.Score(topology_, data_table_, node);
  }
  if (is_function_ && on(Rule::kFunctionWarm)) {
    auto it = std::lower_bound(warm_.begin(), warm_.end(), std::make_pair(node, INT64_MIN));
    int64_t age = it != warm_.end() && it->first == node ? now_ - it->second : -1;
    // why: a record from the future (clock skew between writers) is as warm as it gets.
    if (it != warm_.end() && it->first == node && age < 0) age = 0;
    at(Rule::kFunctionWarm) =
        FunctionWarmScore(age, options_.function_warm_ms, images_.CountPresent(pod_images_, node),
                          pod_images_.num_containers);
  }
}

}  // namespace mlsched::policy
