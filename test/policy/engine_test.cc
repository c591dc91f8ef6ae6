#include "policy/engine.h"

#include <doctest/doctest.h>

#include "test/policy/test_cluster.h"

namespace mlsched::policy {
namespace {

using testing::AllNodes;
using testing::MakeNode;
using testing::MakePod;

TEST_CASE("filter of an ordinary pod: resources after the pods on each node, with reasons") {
  struct Case {
    const char* name;
    int64_t gpus;
    int64_t cpus;
    std::string want_passed;
    std::vector<std::string> want_failed;        // "node: reason"
    std::vector<std::string> want_unresolvable;  // "node: reason"
  };
  std::vector<Case> cases = {
      {"small CPU pod fits everywhere", 0, 2, "gpu-a,gpu-b,cpu", {}, {}},
      {"4 GPUs: only the node with 6 free", 4, 2, "gpu-a", {"gpu-b: Insufficient nvidia.com/gpu"},
       {"cpu: Insufficient nvidia.com/gpu"}},
      {"more cpu than any node has", 0, 100, "", {},
       {"gpu-a: Insufficient cpu", "gpu-b: Insufficient cpu", "cpu: Insufficient cpu"}},
      {"cpu taken on the cpu node", 0, 60, "gpu-a,gpu-b", {"cpu: Insufficient cpu"}, {}},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    Engine e{Options{}};
    std::vector<Node> nodes = {MakeNode("gpu-a", 8), MakeNode("gpu-b", 8), MakeNode("cpu", 0)};
    for (const Node& n : nodes) e.UpsertNode(n);
    Pod a = MakePod("a", 2, 2), b = MakePod("b", 6, 2), c1 = MakePod("c", 0, 10);
    a.node_name = "gpu-a";
    b.node_name = "gpu-b";
    c1.node_name = "cpu";
    for (const Pod& p : {a, b, c1}) e.UpsertPod(p, 0);
    FilterResult r = e.Filter(MakePod("new", c.gpus, c.cpus), AllNodes(nodes), 0);
    std::string passed;
    for (uint32_t i : r.passed) passed += (passed.empty() ? "" : ",") + nodes[i].name;
    CHECK(passed == c.want_passed);
    std::vector<std::string> failed, unresolvable;
    for (const auto& f : r.failed) failed.push_back(nodes[f.index].name + ": " + f.reason.str());
    for (const auto& f : r.unresolvable) {
      unresolvable.push_back(nodes[f.index].name + ": " + f.reason.str());
    }
    CHECK(failed == c.want_failed);
    CHECK(unresolvable == c.want_unresolvable);
    CHECK(r.error.empty());
  }
}

TEST_CASE("filter: an unknown node fails with a reason, never passes") {
  Engine e{Options{}};
  e.UpsertNode(MakeNode("n1", 8));
  std::vector<Candidate> c = {{"n1", nullptr}, {"ghost", nullptr}};
  FilterResult r = e.Filter(MakePod("p", 1), c, 0);
  CHECK(r.passed == std::vector<uint32_t>{0});
  REQUIRE(r.failed.size() == 1);
  CHECK(r.failed[0].index == 1);
  CHECK(r.failed[0].reason == "node ghost is not known to mlsched yet");
}

TEST_CASE("filter with full Node objects: the request's allocatable wins over the model") {
  Engine e{Options{}};
  e.UpsertNode(MakeNode("n1", 8));
  Node bigger = MakeNode("n1", 16);
  Node unknown = MakeNode("n2", 4);
  std::vector<Candidate> c = {{"n1", &bigger}, {"n2", &unknown}};
  FilterResult r = e.Filter(MakePod("p", 12), c, 0);
  CHECK(r.passed == std::vector<uint32_t>{0});
  REQUIRE(r.unresolvable.size() == 1);
  CHECK(r.unresolvable[0].index == 1);
}

TEST_CASE("pods pending in the model do not hold capacity; pod count is checked") {
  Engine e{Options{}};
  Node n = MakeNode("n1", 8);
  n.allocatable.pods = 1;
  e.UpsertNode(n);
  e.UpsertPod(MakePod("pending", 8), 0);
  CHECK(e.Filter(MakePod("p", 8), {{"n1", nullptr}}, 0).passed.size() == 1);
  Pod bound = MakePod("bound", 0);
  bound.node_name = "n1";
  e.UpsertPod(bound, 0);
  FilterResult r = e.Filter(MakePod("p2", 0), {{"n1", nullptr}}, 0);
  REQUIRE(r.failed.size() == 1);
  CHECK(r.failed[0].reason == "Too many pods");
}

TEST_CASE("prioritize: GPU pods best-fit, CPU-only pods stay off GPU nodes, scores in 0..10") {
  Engine e{Options{}};
  std::vector<Node> nodes = {MakeNode("empty8", 8), MakeNode("half8", 8), MakeNode("cpu", 0)};
  for (const Node& n : nodes) e.UpsertNode(n);
  Pod used = MakePod("used", 6);
  used.node_name = "half8";
  e.UpsertPod(used, 0);

  Scores gpu = e.Prioritize(MakePod("two-gpus", 2), AllNodes(nodes), 0);
  REQUIRE(gpu.size() == 3);
  CHECK(gpu[1] > gpu[0]);  // exact fit on half8 beats opening a whole node
  Scores cpu = e.Prioritize(MakePod("cpu-only", 0, 2), AllNodes(nodes), 0);
  CHECK(cpu[2] > cpu[0]);
  CHECK(cpu[2] > cpu[1]);
  for (const Scores* s : {&gpu, &cpu}) {
    for (int64_t v : *s) CHECK((v >= 0 && v <= 10));
  }
  // The explain view names every rule that took part.
  auto ex = e.ExplainScores(MakePod("two-gpus", 2), AllNodes(nodes), 0);
  REQUIRE(ex.size() == 3);
  bool has_gpu_fit = false;
  for (const RuleScore& r : ex[1].rules) has_gpu_fit |= r.rule == "gpu_fit";
  CHECK(has_gpu_fit);
  CHECK(ex[1].total == gpu[1]);
}

TEST_CASE("gpu_spread flips best-fit for inference fleets") {
  Options o;
  o.gpu_spread = true;
  Engine e{o};
  std::vector<Node> nodes = {MakeNode("empty8", 8), MakeNode("half8", 8)};
  for (const Node& n : nodes) e.UpsertNode(n);
  Pod used = MakePod("used", 6);
  used.node_name = "half8";
  e.UpsertPod(used, 0);
  Scores s = e.Prioritize(MakePod("two-gpus", 2), AllNodes(nodes), 0);
  CHECK(s[0] > s[1]);
}

TEST_CASE("stats and node views follow the model") {
  Engine e{Options{}};
  e.UpsertNode(MakeNode("n1", 8));
  e.UpsertNode(MakeNode("n2", 8));
  Pod p = MakePod("p", 2);
  p.node_name = "n1";
  e.UpsertPod(p, 0);
  ModelStats s = e.Stats();
  CHECK(s.nodes == 2);
  CHECK(s.pods == 1);
  CHECK(s.bound_pods == 1);
  auto views = e.Nodes(1, 10);
  REQUIRE(views.size() == 1);
  CHECK(views[0].name == "n2");
  e.DeleteNode("n2");
  CHECK(e.Stats().nodes == 1);
  p.phase = PodPhase::kFailed;
  e.UpsertPod(p, 1);
  CHECK(e.Stats().pods == 0);
}

}  // namespace
}  // namespace mlsched::policy

namespace mlsched::policy {
namespace {

Pod Step(const std::string& run, const std::string& step, const std::string& after = "") {
  Pod p = MakePod(run + "-" + step, 0, 2);
  p.annotations.Set("mlsched.io/pipeline", run);
  p.annotations.Set("mlsched.io/step", step);
  if (!after.empty()) p.annotations.Set("mlsched.io/after", after);
  return p;
}

TEST_CASE("pipeline: a step prefers the node where its predecessor ran, even after it finished") {
  Engine e{Options{}};
  std::vector<Node> nodes = {MakeNode("a", 0, "z1", "b1", "r1"), MakeNode("b", 0, "z1", "b1", "r1"),
                             MakeNode("c", 0, "z2", "b2", "r2")};
  for (const Node& n : nodes) e.UpsertNode(n);
  Pod prep = Step("run1", "prep");
  prep.node_name = "c";
  prep.phase = PodPhase::kRunning;
  e.UpsertPod(prep, 1000);
  prep.phase = PodPhase::kSucceeded;  // it completes and leaves the model
  e.UpsertPod(prep, 2000);
  CHECK(e.Stats().pods == 0);
  CHECK(e.Stats().pipeline_runs == 1);
  Scores s = e.Prioritize(Step("run1", "train", "prep"), AllNodes(nodes), 3000);
  CHECK(s[2] > s[0]);
  CHECK(s[2] > s[1]);
}

TEST_CASE("pipeline: data-locality-required filters, and falls back when the node is gone") {
  Engine e{Options{}};
  std::vector<Node> nodes = {MakeNode("a", 0), MakeNode("b", 0)};
  for (const Node& n : nodes) e.UpsertNode(n);
  Pod prep = Step("run1", "prep");
  prep.node_name = "b";
  e.UpsertPod(prep, 1000);
  Pod train = Step("run1", "train", "prep");
  train.annotations.Set("mlsched.io/data-locality-required", "true");
  FilterResult r = e.Filter(train, AllNodes(nodes), 2000);
  REQUIRE(r.passed == std::vector<uint32_t>{1});
  REQUIRE(r.failed.size() == 1);
  CHECK(r.failed[0].reason.find("prep") != std::string::npos);

  e.DeleteNode("b");  // the predecessor's node is gone: do not strand the step
  std::vector<Node> left = {MakeNode("a", 0)};
  FilterResult r2 = e.Filter(train, AllNodes(left), 3000);
  CHECK(r2.passed == std::vector<uint32_t>{0});
}

TEST_CASE("functions: a function pod prefers nodes where it ran recently") {
  Engine e{Options{}};
  std::vector<Node> nodes = {MakeNode("a", 1), MakeNode("b", 1)};
  for (const Node& n : nodes) e.UpsertNode(n);
  Pod f1 = MakePod("fn-1", 0, 1);
  f1.annotations.Set("mlsched.io/function", "embed");
  f1.node_name = "b";
  e.UpsertPod(f1, 1000);
  e.DeletePod(f1, 2000);
  Pod f2 = MakePod("fn-2", 0, 1);
  f2.annotations.Set("mlsched.io/function", "embed");
  Scores s = e.Prioritize(f2, AllNodes(nodes), 3000);
  CHECK(s[1] > s[0]);
}

}  // namespace
}  // namespace mlsched::policy

namespace mlsched::policy {
namespace {

TEST_CASE("cpu_off_gpu_filter keeps CPU-only pods off GPU nodes while a CPU node fits") {
  Options o;
  o.cpu_off_gpu_filter = true;
  Engine e{o};
  std::vector<Node> nodes = {MakeNode("gpu", 8), MakeNode("cpu", 0, "z1", "b1", "r1", 8)};
  for (const Node& n : nodes) e.UpsertNode(n);
  FilterResult small = e.Filter(MakePod("small", 0, 2), AllNodes(nodes), 0);
  CHECK(small.passed == std::vector<uint32_t>{1});
  REQUIRE(small.failed.size() == 1);
  CHECK(small.failed[0].reason.find("GPU node kept for GPU pods") == 0);
  // Too big for the CPU node: the GPU node may take it.
  FilterResult big = e.Filter(MakePod("big", 0, 16), AllNodes(nodes), 0);
  CHECK(big.passed == std::vector<uint32_t>{0});
  // GPU pods are not affected.
  CHECK(e.Filter(MakePod("g", 1, 2), AllNodes(nodes), 0).passed == std::vector<uint32_t>{0});
}

TEST_CASE("a node list that changes between calls is resolved afresh") {
  Engine e{Options{}};
  std::vector<Node> nodes = {MakeNode("a", 8), MakeNode("b", 8)};
  for (const Node& n : nodes) e.UpsertNode(n);
  CHECK(e.Filter(MakePod("p", 1), AllNodes(nodes), 0).passed.size() == 2);
  std::vector<Candidate> later = {{"b", nullptr}, {"c", nullptr}};
  FilterResult r = e.Filter(MakePod("p", 1), later, 0);
  CHECK(r.passed == std::vector<uint32_t>{0});
  e.UpsertNode(MakeNode("c", 8));  // a name unknown before becomes known
  CHECK(e.Filter(MakePod("p", 1), later, 0).passed.size() == 2);
}

}  // namespace
}  // namespace mlsched::policy
