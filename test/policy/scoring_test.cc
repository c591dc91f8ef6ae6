#include "policy/scoring.h"

#include "policy/fragmentation.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

namespace mlsched::policy {
namespace {

constexpr int64_t kGi = 1024LL * 1024 * 1024;
constexpr int64_t kMi = 1024LL * 1024;
constexpr int kNA = kNotApplicable;

NodeLoad Load(int64_t cpu, int64_t mem, int64_t gpus, int64_t used_cpu = 0, int64_t used_mem = 0,
              int64_t used_gpus = 0) {
  return NodeLoad{{cpu, mem, gpus}, {used_cpu, used_mem, used_gpus}};
}

Node MakeNode(std::string name, std::initializer_list<std::pair<std::string, std::string>> kv) {
  Node n;
  n.name = std::move(name);
  n.labels = Labels(kv);
  return n;
}

TEST_CASE("scoring: rule names and weights line up with ScoreWeights") {
  ScoreWeights w;
  CHECK(RuleName(Rule::kLeastAllocated) == "least_allocated");
  CHECK(RuleName(Rule::kFunctionWarm) == "function_warm");
  CHECK(RuleWeight(w, Rule::kGpuFit) == w.gpu_fit);
  CHECK(RuleWeight(w, Rule::kPipelineLocality) == w.pipeline_locality);
  CHECK(RuleWeight(w, Rule::kGangPlan) == w.gang_plan);
}

TEST_CASE("scoring: ViewOf sums the configured GPU resources") {
  Resources r;
  r.milli_cpu = 1500;
  r.memory = 2 * kGi;
  r.SetScalar("nvidia.com/gpu", 2);
  r.SetScalar("amd.com/gpu", 1);
  r.SetScalar("example.com/foo", 7);
  CHECK(ViewOf(r, {"nvidia.com/gpu"}) == ResourceView{1500, 2 * kGi, 2});
  CHECK(ViewOf(r, {"nvidia.com/gpu", "amd.com/gpu"}) == ResourceView{1500, 2 * kGi, 3});
  CHECK(ViewOf(r, {}) == ResourceView{1500, 2 * kGi, 0});
}

TEST_CASE("scoring: least allocated (the stock rule)") {
  struct Case {
    const char* name;
    ResourceView pod;
    NodeLoad node;
    int want;
  } cases[] = {
      {"empty node, small pod", {1000, 1 * kGi, 0}, Load(4000, 4 * kGi, 0), 75},
      {"half used", {1000, 1 * kGi, 0}, Load(4000, 4 * kGi, 0, 1000, 1 * kGi), 50},
      {"cpu overflows: that resource scores 0",
       {4000, 1 * kGi, 0},
       Load(4000, 4 * kGi, 0, 1000, 0),
       37},
      {"GPUs count on GPU nodes", {0, 0, 4}, Load(4000, 4 * kGi, 8), 83},
      {"GPU pod on a node without GPUs", {0, 0, 1}, Load(4000, 4 * kGi, 0), 0},
      {"node with no allocatable at all", {1000, kGi, 0}, Load(0, 0, 0), 0},
      {"zero request on an empty node", {0, 0, 0}, Load(4000, 4 * kGi, 0), 100},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    CHECK(LeastAllocatedScore(c.pod, c.node) == c.want);
  }
}

TEST_CASE("scoring: GPU best-fit and spread") {
  struct Case {
    const char* name;
    int64_t pod_gpus;
    NodeLoad node;
    bool spread;
    int want;
  } cases[] = {
      {"CPU-only pod: not applicable", 0, Load(1, 1, 8), false, kNA},
      {"exact fit on a partly used node", 2, Load(1, 1, 8, 0, 0, 6), false, 100},
      {"exact fit of a whole node", 8, Load(1, 1, 8), false, 100},
      {"one left free", 1, Load(1, 1, 8, 0, 0, 6), false, 87},
      {"empty 8-GPU node for 1 GPU", 1, Load(1, 1, 8), false, 12},
      {"does not fit", 4, Load(1, 1, 8, 0, 0, 6), false, 0},
      {"node without GPUs", 1, Load(1, 1, 0), false, 0},
      // 2 GPUs stranded either way: the same score on a 16- and an 8-GPU node.
      {"16-GPU node left with 2", 2, Load(1, 1, 16, 0, 0, 12), false, 75},
      {"8-GPU node left with 2", 2, Load(1, 1, 8, 0, 0, 4), false, 75},
      {"more free than the scale", 1, Load(1, 1, 16), false, 0},
      {"spread: empty node is best", 1, Load(1, 1, 8), true, 87},
      {"spread: exact fit is worst", 2, Load(1, 1, 8, 0, 0, 6), true, 0},
      {"spread: does not fit", 4, Load(1, 1, 8, 0, 0, 6), true, 0},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    CHECK(GpuFitScore(c.pod_gpus, c.node, c.spread, 8) == c.want);
  }
  // Best-fit ranks fewer free GPUs after placement higher, for every pod size.
  for (int64_t pod = 1; pod <= 8; ++pod) {
    int last = 101;
    for (int64_t used = 8 - pod; used >= 0; --used) {  // free after placement grows
      int s = GpuFitScore(pod, Load(1, 1, 8, 0, 0, used), false, 8);
      CHECK(s < last);
      last = s;
    }
  }
}

TEST_CASE("scoring: CPU-only pods off GPU nodes (score and filter)") {
  CHECK(CpuOffGpuScore(0, 8) == 0);
  CHECK(CpuOffGpuScore(0, 0) == 100);
  CHECK(CpuOffGpuScore(1, 8) == kNA);
  struct Case {
    const char* name;
    bool on;
    int64_t pod_gpus, node_gpus;
    bool cpu_node_fits;
    bool want;
  } cases[] = {
      {"filter off", false, 0, 8, true, true},
      {"CPU pod, GPU node, CPU node fits", true, 0, 8, true, false},
      {"CPU pod, GPU node, no CPU node fits", true, 0, 8, false, true},
      {"CPU pod, CPU node", true, 0, 0, true, true},
      {"GPU pod, GPU node", true, 1, 8, true, true},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    std::string why;
    CHECK(PassesCpuOffGpuFilter(c.on, c.pod_gpus, c.node_gpus, c.cpu_node_fits, &why) == c.want);
    CHECK(why.empty() == c.want);
  }
  CHECK_FALSE(PassesCpuOffGpuFilter(true, 0, 8, true, nullptr));  // null reason is fine
}

TEST_CASE("scoring: image normalisation follows the scheduler") {
  struct Case {
    const char* in;
    const char* want;
  } cases[] = {
      {"nginx", "nginx:latest"},
      {"nginx:1.25", "nginx:1.25"},
      {"host:5000/team/trainer", "host:5000/team/trainer:latest"},
      {"host:5000/team/trainer:v2", "host:5000/team/trainer:v2"},
      {"repo/img@sha256:abcd", "repo/img@sha256:abcd"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.in);
    CHECK(ImageIndex::Normalize(c.in) == c.want);
  }
}

TEST_CASE("scoring: image locality as kube-scheduler's ImageLocality") {
  Node big = MakeNode("big", {});
  big.images = {{{"nvcr.io/nvidia/pytorch:24.05", "nvcr.io/nvidia/pytorch@sha256:1"}, 20 * kGi},
                {{"busybox:latest"}, 4 * kMi}};
  Node half = MakeNode("half", {});
  half.images = {{{"trainer:v1"}, 500 * kMi}, {{"busybox"}, 4 * kMi}};
  Node none = MakeNode("none", {});
  std::vector<const Node*> nodes = {&big, &half, &none, nullptr};
  ImageIndex idx = ImageIndex::Build(nodes);
  CHECK(idx.NumNodes() == 4);
  struct Case {
    const char* name;
    std::vector<std::string> images;
    uint32_t node;
    int want;
  } cases[] = {
      // 20 GiB x 1/3 of the nodes, far above 1000 MiB: saturates.
      {"huge image present", {"nvcr.io/nvidia/pytorch:24.05"}, 0, 100},
      // 500 MiB x 1/3 = 166.7 MiB: 100 x (166.7 - 23) / 977 = 14.
      {"500 MiB image on a third of the nodes", {"trainer:v1"}, 1, 14},
      // Two containers: the ceiling doubles: 100 x (166.7 - 23) / 1977 = 7.
      {"two containers raise the ceiling", {"trainer:v1", "other:v9"}, 1, 7},
      {"tiny image stays below 23 MiB", {"busybox"}, 1, 0},
      {"absent", {"trainer:v1"}, 2, 0},
      {"empty slot", {"trainer:v1"}, 3, 0},
      {"out of range node", {"trainer:v1"}, 99, 0},
      {"no images", {}, 0, 0},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    ImageIndex::PodImages p = idx.Resolve(c.images);
    CHECK(idx.Score(p, c.node) == c.want);
  }
  ImageIndex::PodImages p = idx.Resolve({"busybox", "trainer:v1", "nope"});
  CHECK(idx.CountPresent(p, 0) == 1);
  CHECK(idx.CountPresent(p, 1) == 2);
  CHECK(idx.CountPresent(p, 2) == 0);
  CHECK(idx.CountPresent(p, 3) == 0);
  CHECK(ImageIndex().Score(p, 0) == 0);  // an empty index is harmless
}

// Four levels plus the node; rack r1 = n0..n1, r2 = n2..n3 (block b1); r3 = n4 (block b2);
// zone z2 holds n5; n6 has no labels; n0, n1 and n5 share an NVLink clique (which spans racks).
std::vector<Node> ClusterNodes() {
  auto make = [](const char* name, const char* zone, const char* block, const char* rack) {
    return MakeNode(name, {{"topology.kubernetes.io/region", "eu"},
                           {"topology.kubernetes.io/zone", zone},
                           {"mlsched.io/block", block},
                           {"mlsched.io/rack", rack}});
  };
  std::vector<Node> nodes = {
      make("n0", "z1", "b1", "r1"), make("n1", "z1", "b1", "r1"), make("n2", "z1", "b1", "r2"),
      make("n3", "z1", "b1", "r2"), make("n4", "z1", "b2", "r3"), make("n5", "z2", "b9", "r9"),
      MakeNode("n6", {}),
  };
  for (int i : {0, 1, 5}) nodes[i].labels.Set("nvidia.com/gpu.clique", "c1");
  return nodes;
}

TEST_CASE("scoring: topology closeness table") {
  Topology t = Topology::Build(Options{}, ClusterNodes());
  ClosenessTable table = TopologyClosenessTable(t);
  CHECK(table.level_points == std::vector<int>{20, 40, 60, 80, 100});
  CHECK(table.nvlink_points == 90);
  struct Case {
    const char* name;
    std::vector<uint32_t> anchors;
    uint32_t node;
    int want;
  } cases[] = {
      {"same node", {2}, 2, 100},
      {"same NVLink domain", {0}, 1, 90},
      {"same NVLink domain across zones", {5}, 0, 90},
      {"same rack", {2}, 3, 80},
      {"same block", {0}, 2, 60},
      {"same zone", {0}, 4, 40},
      {"same region only", {2}, 5, 20},
      {"unlabeled node shares nothing", {0}, 6, 0},
      {"unlabeled anchor on itself", {6}, 6, 100},
      {"mean over anchors", {2, 4}, 3, 60},    // (80 + 40) / 2
      {"repeats weigh", {3, 3, 3, 4}, 3, 85},  // (300 + 40) / 4
      // n1 same clique 90, n2 same block 60, n5 same clique in another zone 90.
      {"mixed clique and levels", {1, 2, 5}, 0, 80},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    Anchors a(t, c.anchors);
    CHECK(a.Score(t, table, c.node) == c.want);
  }
}

TEST_CASE("scoring: anchors skip deleted nodes; empty anchors score 0") {
  std::vector<Node> nodes = ClusterNodes();
  std::vector<const Node*> ptrs;
  for (const Node& n : nodes) ptrs.push_back(&n);
  ptrs[2] = nullptr;  // n2 was deleted
  Topology t = Topology::Build(Options{}, ptrs);
  ClosenessTable table = TopologyClosenessTable(t);
  std::vector<uint32_t> only_gone = {2, 1000};
  Anchors gone(t, only_gone);
  CHECK(gone.empty());
  CHECK(gone.Score(t, table, 3) == 0);
  std::vector<uint32_t> mixed = {2, 3};
  Anchors some(t, mixed);
  CHECK(some.size() == 1);
  CHECK(some.Score(t, table, 3) == 100);
  CHECK(some.Score(t, table, 2) == 0);  // scoring the deleted node itself
}

// Reference: per-anchor points, the obvious O(anchors) way.
int BruteForce(const Topology& t, const ClosenessTable& table, const std::vector<uint32_t>& anchors,
               uint32_t node) {
  int64_t sum = 0, n = 0;
  for (uint32_t a : anchors) {
    if (!t.HasNode(a)) continue;
    ++n;
    int shared = t.SharedLevels(a, node);
    int pts = shared == 0 ? 0 : table.level_points[shared - 1];
    if (table.nvlink_points > 0 && t.SameNvlink(a, node) && shared < t.NumLevels()) {
      pts = std::max(pts, table.nvlink_points);
    }
    sum += pts;
  }
  return n == 0 ? 0 : static_cast<int>((sum + n / 2) / n);
}

TEST_CASE("scoring: counted anchors equal the per-anchor reference on random clusters") {
  std::mt19937 rng(12345);  // seeded: the same clusters every run
  for (int round = 0; round < 30; ++round) {
    CAPTURE(round);
    std::vector<Node> nodes;
    const int n = 40;
    for (int i = 0; i < n; ++i) {
      Node node = MakeNode("n" + std::to_string(i), {});
      const char* keys[] = {"topology.kubernetes.io/region", "topology.kubernetes.io/zone",
                            "mlsched.io/block", "mlsched.io/rack"};
      for (const char* k : keys) {
        if (rng() % 10 == 0) continue;  // some labels missing
        node.labels.Set(k, "v" + std::to_string(rng() % 3));
      }
      if (rng() % 3 == 0) node.labels.Set("nvidia.com/gpu.clique", "c" + std::to_string(rng() % 3));
      nodes.push_back(std::move(node));
    }
    Topology t = Topology::Build(Options{}, nodes);
    std::vector<uint32_t> anchors;
    for (int k = 0, m = 1 + rng() % 12; k < m; ++k) anchors.push_back(rng() % (n + 2));
    Anchors a(t, anchors);
    for (int level = 0; level < t.NumLevels(); ++level) {
      ClosenessTable data = DataLocalityTable(t, level);
      for (uint32_t node = 0; node < t.NumNodes(); ++node) {
        CHECK(a.Score(t, data, node) == BruteForce(t, data, anchors, node));
      }
    }
    ClosenessTable close = TopologyClosenessTable(t);
    for (uint32_t node = 0; node < t.NumNodes(); ++node) {
      CAPTURE(node);
      CHECK(a.Score(t, close, node) == BruteForce(t, close, anchors, node));
    }
  }
}

TEST_CASE("scoring: data locality tables by locality level") {
  Topology t = Topology::Build(Options{}, ClusterNodes());
  struct Case {
    int level;
    std::vector<int> want;
  } cases[] = {
      {4, {16, 32, 48, 64, 100}},     // node: predecessor's node, then rack, block, ...
      {3, {20, 40, 60, 100, 100}},    // rack: anywhere in the rack is as good
      {1, {40, 100, 100, 100, 100}},  // zone
      {99, {16, 32, 48, 64, 100}},    // out of range clamps to the node level
  };
  for (const Case& c : cases) {
    CAPTURE(c.level);
    ClosenessTable table = DataLocalityTable(t, c.level);
    CHECK(table.level_points == c.want);
    CHECK(table.nvlink_points == 0);
  }
  // No NVLink bonus for data: n1 shares n0's clique but only its rack's score counts.
  std::vector<uint32_t> pred = {0};
  Anchors a(t, pred);
  CHECK(a.Score(t, DataLocalityTable(t, 4), 1) == 64);
  CHECK(a.Score(t, DataLocalityTable(t, 4), 0) == 100);
  CHECK(a.Score(t, DataLocalityTable(t, 3), 1) == 100);
}

TEST_CASE("scoring: function warmth") {
  struct Case {
    const char* name;
    int64_t age, warm;
    int present, images;
    int want;
  } cases[] = {
      {"just ran here", 0, 1000, 0, 1, 100},
      {"ran at the end of the window", 1000, 1000, 0, 1, 70},
      {"half way", 500, 1000, 0, 1, 85},
      {"too long ago, image present", 1001, 1000, 1, 1, 50},
      {"never, half the images", -1, 1000, 1, 2, 25},
      {"never, no images", -1, 1000, 0, 0, 0},
      {"zero window", 0, 0, 0, 1, 0},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    CHECK(FunctionWarmScore(c.age, c.warm, c.present, c.images) == c.want);
  }
}

TEST_CASE("scoring: combiner is a weighted mean of applicable rules on 0..10") {
  // least 1, plan 10, topology 3, gpu 4 (set here), cpu_off 3, image 1, pipe 4, func 3
  ScoreWeights w;
  w.gpu_fit = 4;
  RuleScores all_na;
  all_na.fill(kNA);
  struct Case {
    const char* name;
    ScoreWeights weights;
    RuleScores scores;
    int64_t want;
  } cases[] = {
      {"nothing applies", w, all_na, 0},
      {"one rule at 100", w, {100, kNA, kNA, kNA, kNA, kNA, kNA, kNA, kNA}, 10},
      {"one rule at 44 rounds down", w, {44, kNA, kNA, kNA, kNA, kNA, kNA, kNA, kNA}, 4},
      {"one rule at 45 rounds up", w, {45, kNA, kNA, kNA, kNA, kNA, kNA, kNA, kNA}, 5},
      // (1*0 + 4*100) / 5 = 80
      {"weights count", w, {0, kNA, kNA, 100, kNA, kNA, kNA, kNA, kNA}, 8},
      // cpu_off 0 with weight 3 and least 100 with weight 1: 25
      {"CPU pod on a GPU node", w, {100, kNA, kNA, kNA, kNA, 0, kNA, kNA, kNA}, 3},
      {"out of range scores clamp", w, {250, kNA, kNA, kNA, kNA, kNA, kNA, kNA, kNA}, 10},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    CHECK(CombineScores(c.weights, c.scores) == c.want);
  }
  ScoreWeights off = w;
  off.gpu_fit = 0;
  CHECK(CombineScores(off, {0, kNA, kNA, 100, kNA, kNA, kNA, kNA, kNA}) == 0);  // weight 0: off

  ScoreExplanation e = ExplainScores("n1", w, {60, kNA, kNA, 100, kNA, kNA, kNA, kNA, kNA});
  CHECK(e.node == "n1");
  REQUIRE(e.rules.size() == 2);
  CHECK(e.rules[0].rule == "least_allocated");
  CHECK(e.rules[0].weight == 1);
  CHECK(e.rules[0].score == 60);
  CHECK(e.rules[1].rule == "gpu_fit");
  CHECK(e.total == 9);  // (60 + 400) / 5 = 92
}

TEST_CASE("scoring: PodScorer ties the rules together") {
  std::vector<Node> nodes = ClusterNodes();
  nodes[4].images = {{{"trainer:v1"}, 5 * kGi}};
  Topology t = Topology::Build(Options{}, nodes);
  ImageIndex images = ImageIndex::Build(nodes);
  Options o;

  SUBCASE("CPU-only pod prefers a CPU node") {
    Pod pod;
    pod.requests.milli_cpu = 1000;
    pod.requests.memory = kGi;
    PodScorer s(o, t, images, pod);
    RuleScores gpu = s.ScoreNode(0, Load(8000, 64 * kGi, 8));
    RuleScores cpu = s.ScoreNode(1, Load(8000, 64 * kGi, 0));
    CHECK(gpu[size_t(Rule::kGpuFit)] == kNA);
    CHECK(gpu[size_t(Rule::kCpuOffGpu)] == 0);
    CHECK(cpu[size_t(Rule::kCpuOffGpu)] == 100);
    CHECK(gpu[size_t(Rule::kTopology)] == kNA);
    CHECK(gpu[size_t(Rule::kImageLocality)] == kNA);
    CHECK(s.Combine(cpu) > s.Combine(gpu));
  }
  SUBCASE("GPU pod: best fit, topology anchors, plan, pipeline, function, images") {
    Pod pod;
    pod.requests.SetScalar("nvidia.com/gpu", 2);
    pod.images = {"trainer:v1"};
    PodScorer s(o, t, images, pod);
    std::vector<uint32_t> gang = {0, 1};
    s.SetTopologyAnchors(gang);
    s.SetPlannedNode(3);
    std::vector<uint32_t> preds = {2, 2};
    s.SetPipelinePredecessors(preds, 4);
    s.SetFunctionWarmth({{4, 900}, {4, 500}, {3, 0}}, 1000);
    RuleScores r3 = s.ScoreNode(3, Load(1, 1, 8, 0, 0, 6));
    CHECK(r3[size_t(Rule::kGpuFit)] == 100);
    CHECK(r3[size_t(Rule::kGangPlan)] == 100);
    CHECK(r3[size_t(Rule::kTopology)] == 60);
    CHECK(r3[size_t(Rule::kPipelineLocality)] == 64);
    CHECK(r3[size_t(Rule::kCpuOffGpu)] == kNA);
    CHECK(r3[size_t(Rule::kImageLocality)] == 0);
    RuleScores r4 = s.ScoreNode(4, Load(1, 1, 8));
    CHECK(r4[size_t(Rule::kGangPlan)] == 0);
    CHECK(r4[size_t(Rule::kImageLocality)] > 0);
    // Ran 100 ms ago (the later record wins) in a 30-minute window: 100.
    CHECK(r4[size_t(Rule::kFunctionWarm)] == 100);
    CHECK(s.Combine(r3) > s.Combine(r4));
    // n0 never ran the function but holds no image either: 0.
    CHECK(s.ScoreNode(0, Load(1, 1, 8))[size_t(Rule::kFunctionWarm)] == 0);
  }
  SUBCASE("predecessor on a deleted node: the rule steps aside") {
    std::vector<const Node*> ptrs;
    for (const Node& n : nodes) ptrs.push_back(&n);
    ptrs[2] = nullptr;
    Topology t2 = Topology::Build(Options{}, ptrs);
    Pod pod;
    PodScorer s(o, t2, images, pod);
    std::vector<uint32_t> preds = {2};
    s.SetPipelinePredecessors(preds, 4);
    CHECK(s.ScoreNode(3, Load(1, 1, 0))[size_t(Rule::kPipelineLocality)] == kNA);
  }
}

// Every ScoreWeights field, in Rule order (as scoring.cc's table).
constexpr int ScoreWeights::*kWeightsInRuleOrder[kNumRules] = {
    &ScoreWeights::least_allocated,   &ScoreWeights::gang_plan,     &ScoreWeights::topology,
    &ScoreWeights::gpu_fit,           &ScoreWeights::gpu_fragmentation,
    &ScoreWeights::cpu_off_gpu,       &ScoreWeights::image_locality,
    &ScoreWeights::pipeline_locality, &ScoreWeights::function_warm,
};

// The combiner's definition with the division written out: the weighted mean of the
// applicable rules on 0..100, to 0..10 rounded to nearest.
int64_t DividedMean(const ScoreWeights& weights, const RuleScores& scores) {
  int64_t weighted = 0, total_weight = 0;
  for (size_t i = 0; i < kNumRules; ++i) {
    const int w = weights.*kWeightsInRuleOrder[i];
    if (w <= 0 || scores[i] == kNotApplicable) continue;
    weighted += int64_t{w} * std::clamp(scores[i], 0, kMaxRuleScore);
    total_weight += w;
  }
  if (total_weight == 0) return 0;
  const int64_t denom = total_weight * kMaxRuleScore;
  return std::clamp<int64_t>((weighted * kMaxExtenderScore + denom / 2) / denom, 0,
                             kMaxExtenderScore);
}

TEST_CASE("scoring: ScoreCombiner equals the divided mean") {
  std::mt19937 rng(5);
  for (int round = 0; round < 400; ++round) {
    ScoreWeights w;
    for (size_t i = 0; i < kNumRules; ++i) {
      // Mostly small weights, some zero or negative (off), some huge (the exact-division path).
      const int pick = static_cast<int>(rng() % 10);
      const int v = pick == 0 ? 0 : pick == 1 ? -3 : pick == 2 ? 100000000 : static_cast<int>(rng() % 20);
      w.*kWeightsInRuleOrder[i] = v;
    }
    ScoreCombiner combine(w);
    for (int k = 0; k < 200; ++k) {
      RuleScores r;
      for (int& v : r) {
        const int pick = static_cast<int>(rng() % 8);
        v = pick == 0 ? kNotApplicable : pick == 1 ? 150 : pick == 2 ? -20 : static_cast<int>(rng() % 101);
      }
      CAPTURE(round);
      CAPTURE(k);
      CHECK(combine(r) == DividedMean(w, r));
    }
  }
  // Every mean on 0..100 with weights of 1: the rounding boundaries (x.5) included.
  ScoreWeights ones;
  for (size_t i = 0; i < kNumRules; ++i) ones.*kWeightsInRuleOrder[i] = 1;
  ScoreCombiner combine(ones);
  for (int a = 0; a <= 100; ++a) {
    for (int b = 0; b <= 100; ++b) {
      RuleScores r;
      r.fill(kNotApplicable);
      r[0] = a;
      r[1] = b;
      CHECK(combine(r) == DividedMean(ones, r));
    }
  }
}

TEST_CASE("scoring: the per-call table of load scores changes no score") {
  // One scorer sees thousands of loads, many repeated and many colliding in the table; every
  // answer must equal a fresh scorer's, which has nothing in its table.
  std::vector<Node> nodes = ClusterNodes();
  Topology t = Topology::Build(Options{}, nodes);
  ImageIndex images = ImageIndex::Build(nodes);
  Options o;
  const std::vector<FragmentationProfile::Shape> shapes = {
      {8000, 64 * kGi, 1, 3}, {32000, 256 * kGi, 4, 2}, {64000, 512 * kGi, 8, 1}};
  const FragmentationProfile profile =
      FragmentationProfile::FromShapes(shapes.data(), shapes.size(), 16);
  std::mt19937 rng(11);
  for (int64_t pod_gpus : {0, 1, 4}) {
    Pod pod;
    pod.requests.milli_cpu = 4000;
    pod.requests.memory = 16 * kGi;
    if (pod_gpus > 0) pod.requests.SetScalar("nvidia.com/gpu", pod_gpus);
    PodScorer shared(o, t, images, pod);
    shared.SetFragmentationProfile(&profile);
    for (int k = 0; k < 3000; ++k) {
      const int64_t gpus = (rng() % 3) * 4;
      NodeLoad load = Load(96000, 1024 * kGi, gpus, (rng() % 12) * 8000,
                           static_cast<int64_t>(rng() % 12) * 64 * kGi,
                           gpus > 0 ? static_cast<int64_t>(rng() % (gpus + 1)) : 0);
      PodScorer fresh(o, t, images, pod);
      fresh.SetFragmentationProfile(&profile);
      const uint32_t node = static_cast<uint32_t>(rng() % nodes.size());
      CAPTURE(k);
      CHECK(shared.ScoreNode(node, load) == fresh.ScoreNode(node, load));
    }
  }
}

TEST_CASE("scoring: PodScorer::Total is Combine(ScoreNode) for every mix of rules") {
  // Total keeps the load rules' part of the mean in the load table and adds the node rules;
  // it must give what combining the full per-rule scores gives, whichever rules apply, with
  // random weights (some off) and loads that repeat and collide in the table.
  std::vector<Node> nodes = ClusterNodes();
  nodes[4].images = {{{"trainer:v1"}, 5 * kGi}};
  nodes[2].images = {{{"trainer:v1"}, 5 * kGi}, {{"sidecar:v2"}, 300 * kMi}};
  Topology t = Topology::Build(Options{}, nodes);
  ImageIndex images = ImageIndex::Build(nodes);
  const std::vector<FragmentationProfile::Shape> shapes = {{8000, 64 * kGi, 1, 3},
                                                           {32000, 256 * kGi, 4, 2}};
  const FragmentationProfile profile =
      FragmentationProfile::FromShapes(shapes.data(), shapes.size(), 16);
  std::mt19937 rng(23);
  for (int round = 0; round < 64; ++round) {
    Options o;
    for (size_t i = 0; i < kNumRules; ++i) {
      const int pick = static_cast<int>(rng() % 6);
      o.weights.*kWeightsInRuleOrder[i] = pick == 0 ? 0 : static_cast<int>(rng() % 7) + 1;
    }
    Pod pod;
    pod.requests.milli_cpu = 2000;
    pod.requests.memory = 8 * kGi;
    if (rng() % 2) pod.requests.SetScalar("nvidia.com/gpu", 1 + rng() % 4);
    if (round & 1) pod.images = {"trainer:v1", "sidecar:v2"};
    PodScorer s(o, t, images, pod);
    s.SetFragmentationProfile(&profile);
    // Each node rule on in some rounds, off in others (bits of the round number).
    if (round & 2) s.SetPlannedNode(static_cast<uint32_t>(rng() % nodes.size()));
    std::vector<uint32_t> anchors = {0, 3};
    if (round & 4) s.SetTopologyAnchors(anchors);
    std::vector<uint32_t> preds = {2};
    if (round & 8) s.SetPipelinePredecessors(preds, 4);
    if (round & 16) s.SetFunctionWarmth({{4, 900}, {1, 100}}, 1000);
    for (int k = 0; k < 300; ++k) {
      const int64_t gpus = (rng() % 3) * 4;
      NodeLoad load = Load(64000, 512 * kGi, gpus, (rng() % 8) * 8000,
                           static_cast<int64_t>(rng() % 8) * 64 * kGi,
                           gpus > 0 ? static_cast<int64_t>(rng() % (gpus + 1)) : 0);
      const uint32_t node = static_cast<uint32_t>(rng() % nodes.size());
      CAPTURE(round);
      CAPTURE(k);
      CHECK(s.Total(node, load) == s.Combine(s.ScoreNode(node, load)));
      CHECK(s.Total(node, load) == CombineScores(o.weights, s.ScoreNode(node, load)));
    }
  }
}

}  // namespace
}  // namespace mlsched::policy
