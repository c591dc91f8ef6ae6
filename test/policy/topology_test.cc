#include "policy/topology.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace mlsched::policy {
namespace {

Node MakeNode(std::string name, std::initializer_list<std::pair<std::string, std::string>> kv) {
  Node n;
  n.name = std::move(name);
  n.labels = Labels(kv);
  return n;
}

constexpr const char* kRegion = "topology.kubernetes.io/region";
constexpr const char* kZone = "topology.kubernetes.io/zone";
constexpr const char* kBlock = "mlsched.io/block";
constexpr const char* kRack = "mlsched.io/rack";
constexpr const char* kClique = "nvidia.com/gpu.clique";

// Two zones; zone a has racks r1 (n0, n1) and r2 (n2); zone b reuses the rack name r1 (n3);
// n4 has no rack label; n5 has no labels at all.
std::vector<Node> SampleNodes() {
  return {
      MakeNode("n0",
               {{kRegion, "eu"}, {kZone, "a"}, {kBlock, "b1"}, {kRack, "r1"}, {kClique, "c1"}}),
      MakeNode("n1",
               {{kRegion, "eu"}, {kZone, "a"}, {kBlock, "b1"}, {kRack, "r1"}, {kClique, "c1"}}),
      MakeNode("n2", {{kRegion, "eu"}, {kZone, "a"}, {kBlock, "b1"}, {kRack, "r2"}}),
      MakeNode("n3", {{kRegion, "eu"}, {kZone, "b"}, {kBlock, "b1"}, {kRack, "r1"}}),
      MakeNode("n4", {{kRegion, "eu"}, {kZone, "a"}, {kBlock, "b1"}}),
      MakeNode("n5", {}),
  };
}

TEST_CASE("topology: levels and LevelIndex") {
  Topology t = Topology::Build(Options{}, SampleNodes());
  CHECK(t.NumLevels() == 5);
  CHECK(t.NodeLevel() == 4);
  struct Case {
    const char* key;
    int want;
  } cases[] = {
      {kRegion, 0},
      {kZone, 1},
      {kBlock, 2},
      {kRack, 3},
      {"kubernetes.io/hostname", 4},
      {"mlsched.io/nothing", -1},
      {"", -1},
  };
  for (const Case& c : cases) {
    CAPTURE(c.key);
    CHECK(t.LevelIndex(c.key) == c.want);
  }
}

TEST_CASE("topology: Kueue-style level list with hostname, empty and repeated keys") {
  Options o;
  // why: Kueue topologies end with the hostname level; it must not become a level of its own.
  o.topology_levels = {"topology.k8s.aws/network-node-layer-1", "",
                       "topology.k8s.aws/network-node-layer-2",
                       "topology.k8s.aws/network-node-layer-1", "kubernetes.io/hostname"};
  Topology t = Topology::Build(o, std::vector<Node>{MakeNode("x", {})});
  REQUIRE(t.NumLevels() == 3);
  CHECK(t.LevelKey(0) == "topology.k8s.aws/network-node-layer-1");
  CHECK(t.LevelKey(1) == "topology.k8s.aws/network-node-layer-2");
  CHECK(t.LevelKey(2) == "kubernetes.io/hostname");
}

TEST_CASE("topology: shared levels, including same-named racks in different zones") {
  Topology t = Topology::Build(Options{}, SampleNodes());
  struct Case {
    uint32_t a, b;
    int want;
  } cases[] = {
      {0, 0, 5},  // the same node
      {0, 1, 4},  // same rack
      {0, 2, 3},  // same block, other rack
      {0, 3, 1},  // same region; "r1" in zone b is another rack
      {0, 4, 3},  // n4 has no rack: shares up to the block only
      {4, 4, 5},  // a node missing a label is still itself
      {0, 5, 0},  // n5 has no labels: shares nothing
      {5, 5, 5},
  };
  for (const Case& c : cases) {
    CAPTURE(c.a);
    CAPTURE(c.b);
    CHECK(t.SharedLevels(c.a, c.b) == c.want);
    CHECK(t.SharedLevels(c.b, c.a) == c.want);
  }
  CHECK(t.DomainOf(0, 3) != t.DomainOf(3, 3));
  CHECK(t.DomainName(3, t.DomainOf(0, 3)) == "r1");
  CHECK(t.DomainName(3, t.DomainOf(3, 3)) == "r1");
  CHECK(t.DomainPath(3, t.DomainOf(3, 3)) == "eu/b/b1/r1");
}

TEST_CASE("topology: nodes missing labels form their own domains, never crash") {
  Topology t = Topology::Build(Options{}, SampleNodes());
  // n4 lacks the rack: its rack domain is its own and unlabeled.
  uint32_t r4 = t.DomainOf(4, 3);
  CHECK_FALSE(t.IsLabeled(3, r4));
  CHECK(t.DomainName(3, r4) == "(unlabeled:n4)");
  REQUIRE(t.DomainNodes(3, r4).size() == 1);
  CHECK(t.DomainNodes(3, r4)[0] == 4);
  // n5 lacks everything: its own domain at every level, each nested in the one above.
  for (int l = 0; l < t.NumLevels(); ++l) {
    CAPTURE(l);
    uint32_t d = t.DomainOf(5, l);
    CHECK(t.DomainNodes(l, d).size() == 1);
    if (l > 0) CHECK(t.ParentDomain(l, d) == t.DomainOf(5, l - 1));
  }
  CHECK(t.ParentDomain(0, t.DomainOf(5, 0)) == kNoDomain);
  // Empty label value counts as missing.
  Topology e = Topology::Build(
      Options{}, std::vector<Node>{MakeNode("a", {{kRegion, ""}}), MakeNode("b", {{kRegion, ""}})});
  CHECK(e.SharedLevels(0, 1) == 0);
}

TEST_CASE("topology: domain enumeration lists every node once per level") {
  std::vector<Node> nodes = SampleNodes();
  Topology t = Topology::Build(Options{}, nodes);
  for (int l = 0; l < t.NumLevels(); ++l) {
    CAPTURE(l);
    std::vector<int> seen(nodes.size(), 0);
    for (uint32_t d = 0; d < t.NumDomains(l); ++d) {
      for (uint32_t n : t.DomainNodes(l, d)) {
        ++seen[n];
        CHECK(t.DomainOf(n, l) == d);
        if (l > 0) CHECK(t.ParentDomain(l, d) == t.DomainOf(n, l - 1));
      }
    }
    for (int s : seen) CHECK(s == 1);
  }
  CHECK(t.NumDomains(0) == 2);  // eu and n5's own
  CHECK(t.NumDomains(3) == 5);  // a/r1, a/r2, b/r1, n4's own, n5's own
  auto r1 = t.DomainNodes(3, t.DomainOf(0, 3));
  CHECK(std::vector<uint32_t>(r1.begin(), r1.end()) == std::vector<uint32_t>{0, 1});
}

TEST_CASE("topology: NVLink domains") {
  Topology t = Topology::Build(Options{}, SampleNodes());
  CHECK(t.NumNvlinkDomains() == 1);
  CHECK(t.SameNvlink(0, 1));
  CHECK_FALSE(t.SameNvlink(0, 2));
  CHECK_FALSE(t.SameNvlink(2, 3));  // neither has the label: not the same domain
  CHECK(t.NvlinkOf(2) == kNoDomain);
  CHECK(t.NvlinkName(t.NvlinkOf(0)) == "c1");
  CHECK(t.NvlinkNodes(t.NvlinkOf(0)).size() == 2);
  Options o;
  o.nvlink_label = "";
  Topology off = Topology::Build(o, SampleNodes());
  CHECK(off.NumNvlinkDomains() == 0);
  CHECK_FALSE(off.SameNvlink(0, 1));
}

TEST_CASE("topology: empty slots, duplicates and names") {
  std::vector<Node> nodes = SampleNodes();
  Node dup = MakeNode("n0", {{kRegion, "us"}});
  std::vector<const Node*> ptrs = {&nodes[0], nullptr, &nodes[1], &dup};
  Topology t = Topology::Build(Options{}, ptrs);
  CHECK(t.NumNodes() == 4);
  CHECK(t.HasNode(0));
  CHECK_FALSE(t.HasNode(1));
  CHECK_FALSE(t.HasNode(3));  // a duplicate name stays an empty slot
  CHECK_FALSE(t.HasNode(99));
  CHECK(t.DomainOf(1, 0) == kNoDomain);
  CHECK(t.SharedLevels(0, 1) == 0);
  CHECK(t.SharedLevels(0, 2) == 5 - 1);
  CHECK(t.SharedLevels(0, 99) == 0);  // out of range: nothing shared, no crash
  CHECK_FALSE(t.SameNvlink(0, 99));
  CHECK(t.IndexOf("n1") == 2);
  CHECK(t.IndexOf("n0") == 0);
  CHECK(t.IndexOf("nope") == kNoDomain);
  CHECK(t.NumDomains(0) == 1);
  // The default topology is usable and empty.
  Topology empty;
  CHECK(empty.NumNodes() == 0);
  CHECK(empty.NumLevels() == 5);
  // Copies stay valid (name lookups do not point into the source).
  Topology copy = t;
  t = Topology();
  CHECK(copy.IndexOf("n1") == 2);
}

TEST_CASE("topology: rebuild over 5,000 nodes in 4 levels is consistent") {
  std::vector<Node> nodes;
  for (int i = 0; i < 5000; ++i) {
    nodes.push_back(
        MakeNode("node-" + std::to_string(i), {{kRegion, "r" + std::to_string(i / 2500)},
                                               {kZone, "z" + std::to_string(i / 1250)},
                                               {kBlock, "b" + std::to_string(i / 160)},
                                               {kRack, "k" + std::to_string(i / 16)}}));
  }
  Topology t = Topology::Build(Options{}, nodes);
  // why: 313 rack labels and 32 block labels, but the zone boundaries (every 1,250 nodes) cut
  // three racks and three blocks in two: a domain is a path in the tree, not a label value.
  CHECK(t.NumDomains(3) == 316);
  CHECK(t.NumDomains(2) == 35);
  CHECK(t.SharedLevels(0, 15) == 4);
  CHECK(t.SharedLevels(0, 16) == 3);
  CHECK(t.SharedLevels(0, 4999) == 0);
}

TEST_CASE("topology: ParseTopologyRequest precedence and errors") {
  Topology t = Topology::Build(Options{}, SampleNodes());
  struct Case {
    const char* name;
    Labels annotations;
    bool ok;
    int required;
    int preferred;
    const char* required_source;
  } cases[] = {
      {"none", {}, true, -1, -1, ""},
      {"mlsched required",
       {{"mlsched.io/topology-required", kRack}},
       true,
       3,
       -1,
       "mlsched.io/topology-required"},
      {"kueue preferred", {{"kueue.x-k8s.io/podset-preferred-topology", kBlock}}, true, -1, 2, ""},
      {"kai required",
       {{"kai.scheduler/topology-required-placement", kZone}},
       true,
       1,
       -1,
       "kai.scheduler/topology-required-placement"},
      {"mlsched beats kueue beats kai",
       {{"mlsched.io/topology-required", kBlock},
        {"kueue.x-k8s.io/podset-required-topology", kRack},
        {"kai.scheduler/topology-required-placement", kZone}},
       true,
       2,
       -1,
       "mlsched.io/topology-required"},
      {"kueue beats kai",
       {{"kueue.x-k8s.io/podset-required-topology", kRack},
        {"kai.scheduler/topology-required-placement", kZone}},
       true,
       3,
       -1,
       "kueue.x-k8s.io/podset-required-topology"},
      {"required zone, preferred rack: both kept",
       {{"mlsched.io/topology-required", kZone}, {"mlsched.io/topology-preferred", kRack}},
       true,
       1,
       3,
       "mlsched.io/topology-required"},
      {"preferred wider than required is dropped",
       {{"mlsched.io/topology-required", kRack}, {"mlsched.io/topology-preferred", kZone}},
       true,
       3,
       -1,
       "mlsched.io/topology-required"},
      {"hostname: one node",
       {{"mlsched.io/topology-required", " kubernetes.io/hostname "}},
       true,
       4,
       -1,
       "mlsched.io/topology-required"},
      {"unknown level", {{"mlsched.io/topology-required", "example.com/pod"}}, false, 0, 0, ""},
      {"empty value", {{"kueue.x-k8s.io/podset-preferred-topology", "  "}}, false, 0, 0, ""},
      {"a bad lower-precedence key is not read",
       {{"mlsched.io/topology-required", kRack},
        {"kai.scheduler/topology-required-placement", "bogus"}},
       true,
       3,
       -1,
       "mlsched.io/topology-required"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    TopologyRequest sentinel;
    sentinel.required_level = 42;
    TopologyRequest got = sentinel;
    Status s = ParseTopologyRequest(c.annotations, t, &got);
    CHECK(s.ok() == c.ok);
    if (!c.ok) {
      CHECK(s.code() == Status::Code::kInvalidArgument);
      CHECK(got == sentinel);  // unchanged on error
      CHECK_FALSE(s.message().empty());
      continue;
    }
    CHECK(got.required_level == c.required);
    CHECK(got.preferred_level == c.preferred);
    CHECK(got.required_source == c.required_source);
  }
}

}  // namespace
}  // namespace mlsched::policy
