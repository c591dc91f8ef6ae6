#include "policy/cluster_model.h"

#include <doctest/doctest.h>

#include "test/policy/test_cluster.h"

namespace mlsched::policy {
namespace {

using testing::MakeNode;
using testing::MakePod;

TEST_CASE("a pod is counted on its node once: assumed, then confirmed by the watch") {
  ClusterModel m;
  m.UpsertNode(MakeNode("n1", 8));
  Pod p = MakePod("a", 2);
  m.UpsertPod(p, /*from_watch=*/true);
  CHECK(m.node(0).requested.Scalar("nvidia.com/gpu") == 0);

  REQUIRE(m.Assume(p.uid, p.ns, p.name, "n1"));
  CHECK(m.node(0).requested.Scalar("nvidia.com/gpu") == 2);
  CHECK(m.node(0).pod_count == 1);

  p.node_name = "n1";  // the watch confirms the binding
  m.UpsertPod(p, true);
  CHECK(m.node(0).requested.Scalar("nvidia.com/gpu") == 2);
  CHECK(m.node(0).pod_count == 1);
  CHECK(m.FindPod(p.uid)->assumed_node.empty());

  p.phase = PodPhase::kSucceeded;  // terminal pods free their node
  m.UpsertPod(p, true);
  CHECK(m.node(0).requested.Scalar("nvidia.com/gpu") == 0);
  CHECK(m.node(0).pod_count == 0);
}

TEST_CASE("Forget undoes an assumption; deleting a pod frees its node") {
  ClusterModel m;
  m.UpsertNode(MakeNode("n1", 8));
  Pod p = MakePod("a", 4);
  m.UpsertPod(p, true);
  REQUIRE(m.Assume(p.uid, p.ns, p.name, "n1"));
  m.Forget(p.uid);
  CHECK(m.node(0).requested.Scalar("nvidia.com/gpu") == 0);
  REQUIRE(m.Assume(p.uid, p.ns, p.name, "n1"));
  CHECK(m.DeletePod(p.uid));
  CHECK(m.node(0).requested.IsZero());
  CHECK_FALSE(m.DeletePod(p.uid));
}

TEST_CASE("Assume on an unknown node fails and changes nothing") {
  ClusterModel m;
  m.UpsertNode(MakeNode("n1", 8));
  CHECK_FALSE(m.Assume("u", "ml", "x", "nope"));
  CHECK(m.FindPod("u") == nullptr);
}

TEST_CASE("relist replaces: pods and nodes missing from the new list are deleted") {
  ClusterModel m;
  m.ReplaceNodes({MakeNode("n1", 8), MakeNode("n2", 8)});
  Pod a = MakePod("a", 1), b = MakePod("b", 1);
  a.node_name = "n1";
  b.node_name = "n2";
  m.ReplacePods({a, b});
  CHECK(m.pods().size() == 2);
  m.ReplacePods({a});
  CHECK(m.pods().size() == 1);
  CHECK(m.node(1).requested.IsZero());
  m.ReplaceNodes({MakeNode("n1", 8)});
  CHECK(m.present_nodes() == 1);
  CHECK(m.NodeIndex("n2") >= 0);  // the slot stays; the node object is gone
  CHECK_FALSE(m.node(m.NodeIndex("n2")).present);
}

TEST_CASE("a pod recreated under the same name replaces the old one") {
  ClusterModel m;
  m.UpsertNode(MakeNode("n1", 8));
  Pod a = MakePod("a", 2);
  a.node_name = "n1";
  m.UpsertPod(a, true);
  Pod a2 = a;
  a2.uid = "other-uid";
  m.UpsertPod(a2, true);
  CHECK(m.pods().size() == 1);
  CHECK(m.node(0).requested.Scalar("nvidia.com/gpu") == 2);
  CHECK(m.FindPodByName("ml", "a")->pod.uid == "other-uid");
}

TEST_CASE("a request-only pod never overrides what the watch said") {
  ClusterModel m;
  m.UpsertNode(MakeNode("n1", 8));
  Pod a = MakePod("a", 2);
  a.node_name = "n1";
  m.UpsertPod(a, true);
  Pod stale = MakePod("a", 2);
  m.UpsertPod(stale, false);
  CHECK(m.FindPod(a.uid)->pod.node_name == "n1");
}

}  // namespace
}  // namespace mlsched::policy

namespace mlsched::policy {
namespace {

TEST_CASE("an in-place resize of a bound pod moves its node's usage by the difference") {
  ClusterModel m;
  m.UpsertNode(testing::MakeNode("n1", 8));
  Pod p = testing::MakePod("a", 2, 4);
  p.node_name = "n1";
  m.UpsertPod(p, true);
  p.requests.milli_cpu = 10'000;
  p.requests.SetScalar("nvidia.com/gpu", 3);
  m.UpsertPod(p, true);
  CHECK(m.node(0).requested.milli_cpu == 10'000);
  CHECK(m.node(0).requested.Scalar("nvidia.com/gpu") == 3);
  m.DeletePod(p.uid);
  CHECK(m.node(0).requested.IsZero());
}

}  // namespace
}  // namespace mlsched::policy
