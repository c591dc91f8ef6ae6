// Filter decides a names-mode candidate on plain integers (SlotTotals) when the pod asks for
// nothing but cpu, memory, ephemeral storage, pods and the GPU resource; every other candidate
// takes the named path (FitsOnNode, Resources::Fits). Both must give the same verdicts and the
// same reasons: here the same cluster is asked in names mode and, with the model's own Node
// objects, in full-Nodes mode (always the named path).

#include <doctest/doctest.h>

#include <random>
#include <string>
#include <vector>

#include "policy/engine.h"
#include "test/policy/test_cluster.h"

namespace mlsched::policy::testing {
namespace {

std::string Describe(const FilterResult& r) {
  std::string s = "passed:";
  for (uint32_t i : r.passed) s += " " + std::to_string(i);
  for (const auto& f : r.failed) s += "\nfailed " + std::to_string(f.index) + ": " + f.reason.str();
  for (const auto& f : r.unresolvable) {
    s += "\nunresolvable " + std::to_string(f.index) + ": " + f.reason.str();
  }
  return s;
}

TEST_CASE("the integer filter path gives the named path's verdicts and reasons") {
  std::mt19937 rng(7);
  std::vector<Node> nodes;
  for (int i = 0; i < 40; ++i) {
    Node n = MakeNode("n" + std::to_string(i), (i % 3) * 4, "z1", "b1", "r" + std::to_string(i / 8),
                      8 + (i % 5) * 8);
    n.allocatable.pods = 3 + i % 4;  // some nodes run out of pod slots
    n.allocatable.ephemeral_storage = (i % 2) * 100 * kGi;
    nodes.push_back(n);
  }
  Engine engine{Options{}};
  for (const Node& n : nodes) engine.UpsertNode(n);
  // Running pods of assorted sizes, some nodes overcommitted.
  for (int k = 0; k < 90; ++k) {
    Pod p = MakePod("run-" + std::to_string(k), rng() % 3, 1 + rng() % 16);
    p.requests.memory = static_cast<int64_t>(rng() % 200) * kGi;
    p.node_name = nodes[rng() % nodes.size()].name;
    p.phase = PodPhase::kRunning;
    engine.UpsertPod(p, 0);
  }
  // A gang planned and holding reservations, so that "(capacity reserved for a gang)" shows.
  for (int i = 0; i < 2; ++i) engine.UpsertPod(MakeGangPod("g", 2, i, 4), 0);
  std::vector<Candidate> names = AllNodes(nodes);
  engine.Filter(MakeGangPod("g", 2, 0, 4), names, 1000);
  CHECK(engine.Stats().reservations == 2);

  std::string seen;  // every verdict, to check that the probes reach each kind of reason
  std::vector<Candidate> full;
  for (const Node& n : nodes) full.push_back({n.name, &n});
  for (int k = 0; k < 200; ++k) {
    Pod p = MakePod("probe-" + std::to_string(k), rng() % 5, rng() % 40);
    p.requests.memory = static_cast<int64_t>(rng() % 300) * kGi;
    if (k % 7 == 0) p.requests.ephemeral_storage = static_cast<int64_t>(rng() % 150) * kGi;
    if (k % 11 == 0) p.requests.milli_cpu = 0;
    if (k % 13 == 0) p.requests.pods = 0;
    CAPTURE(k);
    FilterResult a = engine.Filter(p, names, 2000);
    FilterResult b = engine.Filter(p, full, 2000);
    CHECK(Describe(a) == Describe(b));
    seen += Describe(a);
  }
  for (const char* reason : {"failed", "unresolvable", "Too many pods", "Insufficient cpu",
                             "Insufficient memory", "Insufficient ephemeral-storage",
                             "Insufficient nvidia.com/gpu", "(capacity reserved for a gang)"}) {
    CAPTURE(reason);
    CHECK(seen.find(reason) != std::string::npos);
  }
}

TEST_CASE("candidate lists that alternate resolve to the right nodes") {
  // The engine remembers the last two lists it resolved; three lists in turn (all nodes, every
  // other node, all reversed) must each be read as themselves every time.
  std::vector<Node> nodes;
  for (int i = 0; i < 12; ++i) nodes.push_back(MakeNode("n" + std::to_string(i), i % 2 ? 8 : 0));
  Engine engine{Options{}};
  for (const Node& n : nodes) engine.UpsertNode(n);
  std::vector<std::vector<Node>> lists(3);
  for (size_t i = 0; i < nodes.size(); ++i) {
    lists[0].push_back(nodes[i]);
    if (i % 2 == 0) lists[1].push_back(nodes[i]);
    lists[2].insert(lists[2].begin(), nodes[i]);
  }
  Pod gpu_pod = MakePod("gpu", 4);
  for (int k = 0; k < 12; ++k) {
    const std::vector<Node>& list = lists[k % 3];
    std::vector<Candidate> names = AllNodes(list);
    std::vector<Candidate> full;
    for (const Node& n : list) full.push_back({n.name, &n});
    CAPTURE(k);
    CHECK(Describe(engine.Filter(gpu_pod, names, 1000)) ==
          Describe(engine.Filter(gpu_pod, full, 1000)));
    Scores by_name = engine.Prioritize(gpu_pod, names, 1000);
    Scores by_node = engine.Prioritize(gpu_pod, full, 1000);
    CHECK(by_name == by_node);
  }
}

}  // namespace
}  // namespace mlsched::policy::testing
