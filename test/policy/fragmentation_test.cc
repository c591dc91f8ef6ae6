#include "policy/fragmentation.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "policy/engine.h"
#include "policy/options.h"
#include "policy/scoring.h"
#include "test/policy/test_cluster.h"

namespace mlsched::policy {
namespace {

constexpr int64_t kGi = 1024LL * 1024 * 1024;
constexpr int kNA = kNotApplicable;
constexpr int64_t kScale = FragmentationProfile::kWeightScale;

using Shape = FragmentationProfile::Shape;

FragmentationProfile Profile(std::vector<Shape> shapes, size_t max_shapes = 16) {
  return FragmentationProfile::FromShapes(shapes.data(), shapes.size(), max_shapes);
}

NodeLoad Load(int64_t cpu, int64_t mem, int64_t gpus, int64_t used_cpu = 0, int64_t used_mem = 0,
              int64_t used_gpus = 0) {
  return NodeLoad{{cpu, mem, gpus}, {used_cpu, used_mem, used_gpus}};
}

TEST_CASE("fragmentation: a profile keeps the heaviest GPU shapes, weights rescaled") {
  FragmentationProfile p = Profile({
      {4000, 8 * kGi, 0, 50},   // CPU-only: measures no GPU fragmentation, dropped
      {11000, 48 * kGi, 1, 30},
      {3000, 5 * kGi, 1, 10},
      {96000, 384 * kGi, 8, 0},  // weight 0: dropped
      {24000, 96 * kGi, 2, 10},
  });
  REQUIRE(p.size() == 3);
  CHECK(p.shape(0).milli_cpu == 11000);
  CHECK(p.shape(0).weight == 614);  // 30 of 50 on the 1024 scale
  // Equal weights: fewer GPUs first, so the order does not depend on the input's.
  CHECK(p.shape(1).gpus == 1);
  CHECK(p.shape(2).gpus == 2);
  CHECK(p.shape(1).weight + p.shape(2).weight == 410);
  CHECK(p.shape(3).weight == 0);  // out of range: an empty shape

  FragmentationProfile top1 = Profile({{1000, kGi, 1, 1}, {2000, kGi, 2, 5}}, 1);
  REQUIRE(top1.size() == 1);
  CHECK(top1.shape(0).gpus == 2);
  CHECK(top1.shape(0).weight == kScale);
  CHECK(Profile({}).empty());
  CHECK(Profile({{1000, kGi, 0, 5}}).empty());
  // A max above the capacity is clamped, not an overflow.
  std::vector<Shape> many(40, Shape{1000, kGi, 1, 1});
  for (size_t i = 0; i < many.size(); ++i) many[i].milli_cpu += static_cast<int64_t>(i);
  CHECK(Profile(many, 100).size() == FragmentationProfile::kMaxShapes);
}

TEST_CASE("fragmentation: a node's free GPUs are fragments for the shapes that cannot use them") {
  // Half the GPU demand in 1-GPU pods with 11 cores and 48 GiB, half in 8-GPU pods.
  FragmentationProfile p = Profile({{11000, 48 * kGi, 1, 1}, {64000, 256 * kGi, 8, 1}});
  struct Case {
    const char* name;
    int64_t cpu, mem, gpus;  // free
    int64_t want;            // GPUs x kWeightScale
  } cases[] = {
      {"empty 8-GPU node: both shapes use every GPU", 96000, 384 * kGi, 8, 0},
      {"7 GPUs free: the 8-GPU shape uses none", 96000, 384 * kGi, 7, 7 * 512},
      // 44 cores feed four 1-GPU pods: the other four GPUs are stranded for them, and the
      // 8-GPU shape cannot start at all.
      {"CPU for half the GPUs", 44000, 384 * kGi, 8, 4 * 512 + 8 * 512},
      {"GPUs free but 5 cores: stranded for both", 5000, 384 * kGi, 2, 2 * kScale},
      {"GPUs free but 40 GiB: stranded", 96000, 40 * kGi, 1, kScale},
      {"no GPU free: nothing to fragment", 96000, 384 * kGi, 0, 0},
      {"overcommitted node", -1000, 384 * kGi, -1, 0},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    CHECK(p.ExpectedFragment(c.cpu, c.mem, c.gpus) == c.want);
  }
  // Exact multiples count whole copies despite float reciprocals (88 cores = 8 x 11).
  CHECK(p.ExpectedFragment(88000, 384 * kGi, 8) == 0);
  CHECK(p.ExpectedFragment(87999, 384 * kGi, 8) == 512);  // seven copies: one GPU stranded
}

TEST_CASE("fragmentation: the rule scores the growth of expected fragmentation") {
  // The Alibaba case: most GPU pods want 1 GPU with about 11 cores.
  FragmentationProfile alibaba = Profile({{11000, 48 * kGi, 1, 3}, {3000, 5 * kGi, 1, 1}});
  // Whole-node jobs matter too.
  FragmentationProfile mixed = Profile({{4000, 16 * kGi, 1, 1}, {32000, 128 * kGi, 8, 1}});
  const ResourceView one_gpu{11000, 48 * kGi, 1};
  const ResourceView cpu_heavy_gpu{16000, 32 * kGi, 1};
  const ResourceView memory_heavy_gpu{8000, 60 * kGi, 1};
  const ResourceView small_gpu{1000, 4 * kGi, 1};
  const ResourceView cpu_only{16000, 32 * kGi, 0};
  struct Case {
    const char* name;
    const FragmentationProfile* profile;
    ResourceView pod;
    NodeLoad node;
    int want;
  } cases[] = {
      {"no workload known yet", nullptr, one_gpu, Load(96000, 384 * kGi, 8), kNA},
      // Stranded GPUs: after the pod, the node's other GPU has 8 cores (or 40 GiB) left, too
      // few for the common shape (3/4 of the demand): 0.75 GPU of new fragmentation -> 50 - 37.
      {"stranded GPU behind CPU", &alibaba, cpu_heavy_gpu, Load(24000, 120 * kGi, 2), 13},
      {"stranded GPU behind memory", &alibaba, memory_heavy_gpu, Load(96000, 100 * kGi, 2), 13},
      {"the same pod on a CPU-rich node", &alibaba, cpu_heavy_gpu, Load(104000, 512 * kGi, 2),
       50},
      // The Alibaba failure: CPU-only pods eat an 8-GPU node's CPU bit by bit. 80 cores left
      // feed only seven 11-core GPU pods: one GPU stranded.
      {"CPU-only pod starves a GPU", &alibaba, cpu_only, Load(96000, 384 * kGi, 8), 13},
      {"CPU-only pod on a node whose GPUs are taken", &alibaba, cpu_only,
       Load(96000, 384 * kGi, 8, 40000, 64 * kGi, 8), 50},
      {"CPU-only pod where CPU is plenty", &alibaba, cpu_only, Load(104000, 512 * kGi, 2), 50},
      {"CPU-only pod strands two GPUs", &alibaba, cpu_only, Load(24000, 384 * kGi, 2), 0},
      {"CPU-only pod on a CPU node", &alibaba, cpu_only, Load(64000, 256 * kGi, 0), 50},
      // 1 GPU left with 2 cores: no shape can use it; a pod that can fills it.
      {"filling a stranded GPU", &alibaba, small_gpu, Load(16000, 120 * kGi, 2, 14000, 0, 1), 100},
      {"the last GPU of a node that fits the pods", &alibaba, one_gpu,
       Load(104000, 512 * kGi, 2, 11000, 48 * kGi, 1), 50},
      {"does not fit: GPUs", &alibaba, one_gpu, Load(96000, 384 * kGi, 1, 0, 0, 1), 0},
      {"does not fit: CPU", &alibaba, one_gpu, Load(8000, 384 * kGi, 1), 0},
      {"GPU pod on a CPU node", &alibaba, one_gpu, Load(96000, 384 * kGi, 0), 0},
      // Opening a whole 8-GPU node strands 7 GPUs for the 8-GPU shape (half the demand).
      {"opening a whole node", &mixed, small_gpu, Load(96000, 384 * kGi, 8), 0},
      // A node with 1 GPU free was already fragmented for the 8-GPU shape: filling it helps.
      {"topping up a partly used node", &mixed, small_gpu,
       Load(96000, 384 * kGi, 8, 8000, 32 * kGi, 7), 75},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    FragmentationProfile none;
    CHECK(GpuFragmentationScore(c.pod, c.node, c.profile ? *c.profile : none) == c.want);
  }
}

TEST_CASE("fragmentation: the mix learns GPU pod shapes with decay") {
  SUBCASE("CPU-only pods are ignored; nothing seen is an empty profile") {
    WorkloadMix mix(16, 100);
    CHECK(mix.profile().empty());
    mix.Observe({4000, 8 * kGi, 0});
    CHECK(mix.profile().empty());
    CHECK(mix.observed() == 0);
  }
  SUBCASE("close shapes share a bucket, represented by their mean; shapes weigh by GPUs") {
    WorkloadMix mix(16, 1'000'000);  // practically no decay
    mix.Observe({11000, 48 * kGi, 1});
    mix.Observe({11500, 48 * kGi, 1});
    mix.Observe({11200, 48 * kGi, 1});
    mix.Observe({3000, 48 * kGi, 1});   // another CPU bucket
    mix.Observe({11000, 48 * kGi, 2});  // another GPU count: one pod, two GPUs of demand
    const FragmentationProfile& p = mix.profile();
    REQUIRE(p.size() == 3);
    CHECK(p.shape(0).gpus == 1);
    CHECK(p.shape(0).milli_cpu == 11233);
    CHECK(p.shape(0).memory == 48 * kGi);
    CHECK(p.shape(0).weight == 512);  // 3 of 6 GPUs
    CHECK(p.shape(1).gpus == 2);
    CHECK(p.shape(1).weight == 341);  // 2 of 6
    CHECK(p.shape(2).milli_cpu == 3000);
    CHECK(p.shape(2).weight == 171);  // 1 of 6
  }
  SUBCASE("a shape seen half_life pods ago weighs half") {
    WorkloadMix mix(16, 10);
    for (int i = 0; i < 10; ++i) mix.Observe({1000, kGi, 1});
    for (int i = 0; i < 10; ++i) mix.Observe({2000, kGi, 1});
    const FragmentationProfile& p = mix.profile();
    REQUIRE(p.size() == 2);
    CHECK(p.shape(0).milli_cpu == 2000);
    CHECK(p.shape(0).weight == 683);  // 2/3
    CHECK(p.shape(1).weight == 341);  // 1/3
  }
  SUBCASE("the profile holds at most max_shapes, the commonest") {
    WorkloadMix mix(2, 1'000'000);
    for (int g = 1; g <= 4; ++g) {
      for (int i = 0; i < g; ++i) mix.Observe({1000, kGi, g});
    }
    const FragmentationProfile& p = mix.profile();
    REQUIRE(p.size() == 2);
    CHECK(p.shape(0).gpus == 4);
    CHECK(p.shape(1).gpus == 3);
  }
  SUBCASE("many distinct shapes stay bounded and recent ones win") {
    WorkloadMix mix(4, 50);
    for (int i = 0; i < 2000; ++i) mix.Observe({1000 + 997LL * i, kGi, 1 + i % 8});
    for (int i = 0; i < 500; ++i) mix.Observe({6000, 24 * kGi, 1});
    const FragmentationProfile& p = mix.profile();
    REQUIRE(p.size() == 4);
    CHECK(p.shape(0).milli_cpu == 6000);
    CHECK(p.shape(0).weight > 900);
  }
}

TEST_CASE("fragmentation: options are validated") {
  struct Case {
    const char* name;
    int shapes, half_life, weight;
    bool valid;
  } cases[] = {
      {"defaults", Options{}.fragmentation_shapes, Options{}.fragmentation_half_life,
       Options{}.weights.gpu_fragmentation, true},
      {"one shape", 1, 1, 0, true},
      {"no shapes", 0, 100, 5, false},
      {"too many shapes", 33, 100, 5, false},
      {"zero half-life", 16, 0, 5, false},
      {"weight out of range", 16, 100, 101, false},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    Options o;
    o.fragmentation_shapes = c.shapes;
    o.fragmentation_half_life = c.half_life;
    o.weights.gpu_fragmentation = c.weight;
    CHECK(Validate(o).empty() == c.valid);
  }
}

TEST_CASE("fragmentation: the engine learns the mix and keeps GPUs from being stranded") {
  using testing::AllNodes;
  using testing::MakeNode;
  using testing::MakePod;
  // The Alibaba failure in small: a CPU-only pod, two 8-GPU nodes with 96 cores. On "fresh"
  // every GPU is free; on "busy" every GPU is taken and 19 cores are left. Least-allocated
  // prefers fresh, but there the pod would leave 86 cores for 8 GPUs: too few for eight
  // 11-core GPU pods.
  std::vector<Node> nodes = {MakeNode("fresh", 8, "z1", "b1", "r1", 96),
                             MakeNode("busy", 8, "z1", "b1", "r1", 96)};
  Pod cpu_pod = MakePod("cpu-pod", 0, 10);
  auto run = [&](const Options& o, Scores* scores, std::vector<ScoreExplanation>* before,
                 std::vector<ScoreExplanation>* after) {
    Engine e{o};
    for (const Node& n : nodes) e.UpsertNode(n);
    *before = e.ExplainScores(cpu_pod, AllNodes(nodes), 0);
    for (int i = 0; i < 7; ++i) {
      Pod p = MakePod("gpu-" + std::to_string(i), i == 6 ? 2 : 1, 11);
      p.node_name = "busy";
      e.UpsertPod(p, 0);
    }
    *scores = e.Prioritize(cpu_pod, AllNodes(nodes), 0);
    *after = e.ExplainScores(cpu_pod, AllNodes(nodes), 0);
  };
  auto rule = [](const ScoreExplanation& e) {
    for (const RuleScore& r : e.rules) {
      if (r.rule == "gpu_fragmentation") return static_cast<int>(r.score);
    }
    return kNA;
  };
  Scores s;
  std::vector<ScoreExplanation> before, after;
  // A weight that lets the rule decide this two-node case on its own (the default is set by
  // the placement simulations, where it shares the call with the stock scores).
  Options on;
  on.weights.gpu_fragmentation = 6;
  run(on, &s, &before, &after);
  REQUIRE(before.size() == 2);
  REQUIRE(after.size() == 2);
  REQUIRE(s.size() == 2);
  // No GPU pod seen yet: the rule does not take part.
  CHECK(rule(before[0]) == kNA);
  // The GPU pods taught it the workload: 6 of 8 GPUs of demand in 1-GPU pods with 11 cores.
  CHECK(rule(after[0]) == 13);  // fresh: one GPU stranded for 3/4 of the demand
  CHECK(rule(after[1]) == 50);  // busy: no free GPU to strand
  CHECK(s[1] > s[0]);

  // Without the rule, least-allocated sends the pod to the fresh node (the old behaviour).
  Options off;
  off.weights.gpu_fragmentation = 0;
  run(off, &s, &before, &after);
  CHECK(rule(after[0]) == kNA);
  CHECK(s[0] > s[1]);
}

}  // namespace
}  // namespace mlsched::policy
