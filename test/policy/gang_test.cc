#include "policy/gang.h"

#include <doctest/doctest.h>

#include <thread>

#include "policy/engine.h"
#include "test/policy/test_cluster.h"

namespace mlsched::policy {
namespace {

using testing::AllNodes;
using testing::MakeGangPod;
using testing::MakeNode;
using testing::MakePod;

// ---- recognition ----

TEST_CASE("gang recognition: conventions and their precedence") {
  struct Case {
    const char* name;
    Labels labels;
    Labels annotations;
    std::vector<PodGroup> groups;
    std::string native;
    bool want_gang;
    std::string want_name;
    std::string want_source;
    int32_t want_size;
    bool want_conflict = false;
  };
  std::vector<Case> cases = {
      {"ordinary pod", {}, {}, {}, "", false, "", "", 0},
      {"mlsched annotations", {}, {{"mlsched.io/gang", "g"}, {"mlsched.io/gang-size", "4"}}, {},
       "", true, "g", "mlsched", 4},
      {"mlsched without size is no gang", {}, {{"mlsched.io/gang", "g"}}, {}, "", false, "", "",
       0},
      {"bad size is no gang", {}, {{"mlsched.io/gang", "g"}, {"mlsched.io/gang-size", "x4"}}, {},
       "", false, "", "", 0},
      {"pod-group label with its PodGroup",
       {{"scheduling.x-k8s.io/pod-group", "pg"}},
       {},
       {PodGroup{"ml", "pg", 6, {}, 30}},
       "",
       true,
       "pg",
       "pod-group",
       6},
      {"pod-group label without PodGroup falls back to gang-size",
       {{"scheduling.x-k8s.io/pod-group", "pg"}},
       {{"mlsched.io/gang-size", "3"}},
       {},
       "",
       true,
       "pg",
       "pod-group",
       3},
      {"pod-group beats mlsched; sizes disagree -> conflict reported",
       {{"scheduling.x-k8s.io/pod-group", "pg"}},
       {{"mlsched.io/gang", "other"}, {"mlsched.io/gang-size", "2"}},
       {PodGroup{"ml", "pg", 5, {}, 0}},
       "",
       true,
       "pg",
       "pod-group",
       5,
       true},
      {"volcano annotation with PodGroup",
       {},
       {{"scheduling.k8s.io/group-name", "vg"}},
       {PodGroup{"ml", "vg", 2, {}, 0}},
       "",
       true,
       "vg",
       "volcano",
       2},
      {"kueue pod group",
       {{"kueue.x-k8s.io/pod-group-name", "kq"}},
       {{"kueue.x-k8s.io/pod-group-total-count", "8"}},
       {},
       "",
       true,
       "kq",
       "kueue",
       8},
      {"kubeflow job with size annotation",
       {{"training.kubeflow.org/job-name", "llama"}},
       {{"mlsched.io/gang-size", "4"}},
       {},
       "",
       true,
       "llama",
       "kubeflow",
       4},
      {"kubeflow job with its PodGroup",
       {{"training.kubeflow.org/job-name", "llama"}},
       {},
       {PodGroup{"ml", "llama", 4, {}, 0}},
       "",
       true,
       "llama",
       "kubeflow",
       4},
      {"kubeflow job of unknown size is no gang",
       {{"training.kubeflow.org/job-name", "llama"}},
       {},
       {},
       "",
       false,
       "",
       "",
       0},
      {"native workloadRef: never fight the scheduler",
       {},
       {{"mlsched.io/gang", "g"}, {"mlsched.io/gang-size", "4"}},
       {},
       "workload/x",
       false,
       "",
       "",
       0},
  };
  Options options;
  for (const Case& c : cases) {
    CAPTURE(c.name);
    ClusterModel model;
    for (const PodGroup& g : c.groups) model.UpsertPodGroup(g);
    Pod p = MakePod("p", 1);
    p.labels = c.labels;
    p.annotations = c.annotations;
    p.native_gang = c.native;
    auto spec = RecognizeGang(p, model, options);
    REQUIRE(spec.has_value() == c.want_gang);
    if (!spec) continue;
    CHECK(spec->name == c.want_name);
    CHECK(spec->source == c.want_source);
    CHECK(spec->min_member == c.want_size);
    CHECK(spec->conflict.empty() != c.want_conflict);
  }
}

TEST_CASE("a PodGroup's scheduleTimeoutSeconds sets the gang timeout") {
  ClusterModel model;
  model.UpsertPodGroup(PodGroup{"ml", "pg", 2, {}, 30});
  Pod p = MakePod("p", 1);
  p.labels.Set("scheduling.x-k8s.io/pod-group", "pg");
  auto spec = RecognizeGang(p, model, Options{});
  REQUIRE(spec);
  CHECK(spec->timeout_ms == 30'000);
}

// ---- admission, plan, reservation ----

struct Fixture {
  Options options;
  std::unique_ptr<Engine> engine;
  std::vector<Node> nodes;
  explicit Fixture(std::vector<Node> n, Options o = Options{}) : options(o), nodes(std::move(n)) {
    engine = std::make_unique<Engine>(options);
    for (const Node& node : nodes) engine->UpsertNode(node);
  }
  FilterResult Filter(const Pod& p, TimeMs now = 1000) {
    return engine->Filter(p, AllNodes(nodes), now);
  }
  std::string Passed(const FilterResult& r) {
    std::string s;
    for (uint32_t i : r.passed) s += (s.empty() ? "" : ",") + nodes[i].name;
    return s;
  }
};

TEST_CASE("a gang with missing members waits everywhere, unresolvable, and holds nothing") {
  Fixture f({MakeNode("n1", 8), MakeNode("n2", 8)});
  Pod a = MakeGangPod("llama", 3, 0, 8);
  f.engine->UpsertPod(a, 0);
  f.engine->UpsertPod(MakeGangPod("llama", 3, 1, 8), 0);
  FilterResult r = f.Filter(a);
  CHECK(r.passed.empty());
  REQUIRE(r.unresolvable.size() == 2);
  CHECK(r.unresolvable[0].reason == "gang ml/llama: 2 of 3 members created; waiting for the rest");
  CHECK(f.engine->Stats().reservations == 0);
}

TEST_CASE("a gang that does not fit waits with a reason in GPUs and holds nothing") {
  // 12 free GPUs, gang of 2 x 8.
  Fixture f({MakeNode("n1", 8), MakeNode("n2", 4)});
  Pod a = MakeGangPod("big", 2, 0, 8), b = MakeGangPod("big", 2, 1, 8);
  f.engine->UpsertPod(a, 0);
  f.engine->UpsertPod(b, 0);
  FilterResult r = f.Filter(a);
  CHECK(r.passed.empty());
  REQUIRE(r.unresolvable.size() == 2);  // larger than the cluster: preemption cannot help
  CHECK(r.unresolvable[0].reason.find("gang ml/big: 1 of 2 members fit, waiting for 8 GPUs") == 0);
  CHECK(f.engine->Stats().reservations == 0);
}

TEST_CASE("capacity taken by others: the gang waits, and preemption may help") {
  Fixture f({MakeNode("n1", 8), MakeNode("n2", 8)});
  Pod other = MakePod("other", 8);
  other.node_name = "n1";
  f.engine->UpsertPod(other, 0);
  Pod a = MakeGangPod("g", 2, 0, 8), b = MakeGangPod("g", 2, 1, 8);
  f.engine->UpsertPod(a, 0);
  f.engine->UpsertPod(b, 0);
  FilterResult r = f.Filter(a);
  CHECK(r.passed.empty());
  CHECK(r.unresolvable.empty());
  REQUIRE(r.failed.size() == 2);
  CHECK(r.failed[0].reason == "gang ml/g: 1 of 2 members fit, waiting for 8 GPUs");
}

TEST_CASE("once the gang fits it is planned whole, reserved, and each member passes one node") {
  Fixture f({MakeNode("n1", 8, "z1", "b1", "r1"), MakeNode("n2", 8, "z1", "b1", "r1"),
             MakeNode("n3", 8, "z1", "b2", "r2"), MakeNode("n4", 8, "z2", "b3", "r3")});
  std::vector<Pod> g;
  for (int i = 0; i < 2; ++i) {
    g.push_back(MakeGangPod("g", 2, i, 8));
    f.engine->UpsertPod(g.back(), 0);
  }
  FilterResult r0 = f.Filter(g[0]);
  REQUIRE(r0.passed.size() == 1);
  CHECK(f.engine->Stats().reservations == 2);
  FilterResult r1 = f.Filter(g[1]);
  REQUIRE(r1.passed.size() == 1);
  // Both in rack r1, the only rack that holds the whole gang.
  CHECK(f.Passed(r0) != f.Passed(r1));
  for (const auto& r : {r0, r1}) {
    std::string n = f.Passed(r);
    CHECK((n == "n1" || n == "n2"));
  }
  // Idempotent: asking again gives the same plan and no new reservations.
  CHECK(f.Passed(f.Filter(g[0])) == f.Passed(r0));
  CHECK(f.engine->Stats().reservations == 2);

  // The reservation keeps an ordinary pod off the planned nodes.
  Pod other = MakePod("other", 8);
  FilterResult ro = f.Filter(other);
  CHECK(f.Passed(ro) == "n3,n4");
  for (const auto& fail : ro.failed) {
    CHECK(fail.reason == "Insufficient nvidia.com/gpu (capacity reserved for a gang)");
  }
  // Prioritize ranks the planned node first.
  Scores s = f.engine->Prioritize(g[0], AllNodes(f.nodes), 1000);
  CHECK(s[r0.passed[0]] == 10);
  for (size_t i = 0; i < s.size(); ++i) {
    if (i != r0.passed[0]) CHECK(s[i] == 0);
  }
}

TEST_CASE("heterogeneous gang: a launcher plus workers each get a node for their own size") {
  Fixture f({MakeNode("n1", 8), MakeNode("n2", 8), MakeNode("cpu1", 0)});
  Pod launcher = MakeGangPod("mpi", 3, 0, 0);
  Pod w1 = MakeGangPod("mpi", 3, 1, 8), w2 = MakeGangPod("mpi", 3, 2, 8);
  for (const Pod& p : {launcher, w1, w2}) f.engine->UpsertPod(p, 0);
  CHECK(f.Filter(launcher).passed.size() == 1);
  CHECK(f.Passed(f.Filter(w1)) != f.Passed(f.Filter(w2)));
}

TEST_CASE("a required topology that no domain satisfies waits and holds nothing") {
  Fixture f({MakeNode("n1", 8, "z1", "b1", "r1"), MakeNode("n2", 8, "z1", "b1", "r2")});
  std::vector<Pod> g;
  for (int i = 0; i < 2; ++i) {
    Pod p = MakeGangPod("tight", 2, i, 8);
    p.annotations.Set("mlsched.io/topology-required", "mlsched.io/rack");
    g.push_back(p);
    f.engine->UpsertPod(p, 0);
  }
  FilterResult r = f.Filter(g[0]);
  CHECK(r.passed.empty());
  REQUIRE(!r.unresolvable.empty());
  CHECK(r.unresolvable[0].reason.find("in one mlsched.io/rack") != std::string::npos);
  CHECK(f.engine->Stats().reservations == 0);
}

TEST_CASE("a plan whose node is taken by a pod mlsched never saw is re-planned") {
  Fixture f({MakeNode("n1", 8, "z1", "b1", "r1"), MakeNode("n2", 8, "z1", "b1", "r1"),
             MakeNode("n3", 8, "z1", "b1", "r1")});
  Pod a = MakeGangPod("g", 1, 0, 8);
  f.engine->UpsertPod(a, 0);
  std::string first = f.Passed(f.Filter(a));
  REQUIRE(!first.empty());
  Pod intruder = MakePod("intruder", 8);
  intruder.node_name = first;
  f.engine->UpsertPod(intruder, 0);
  std::string second = f.Passed(f.Filter(a));
  REQUIRE(!second.empty());
  CHECK(second != first);
}

TEST_CASE("planning is safe when many filter calls for one gang arrive at once") {
  std::vector<Node> nodes;
  for (int i = 0; i < 8; ++i) nodes.push_back(MakeNode("n" + std::to_string(i), 8));
  Fixture f(nodes);
  std::vector<Pod> g;
  for (int i = 0; i < 8; ++i) {
    g.push_back(MakeGangPod("g", 8, i, 8));
    f.engine->UpsertPod(g.back(), 0);
  }
  std::vector<std::string> got(8);
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] { got[i] = f.Passed(f.Filter(g[i])); });
  }
  for (auto& t : threads) t.join();
  std::set<std::string> distinct(got.begin(), got.end());
  CHECK(distinct.size() == 8);
  CHECK(f.engine->Stats().reservations == 8);
}

// ---- bind barrier ----

TEST_CASE("bind barrier: members wait until minMember have nodes, then all bind together") {
  Fixture f({MakeNode("n1", 8), MakeNode("n2", 8), MakeNode("n3", 8)});
  std::vector<Pod> g;
  for (int i = 0; i < 3; ++i) {
    g.push_back(MakeGangPod("g", 3, i, 8));
    f.engine->UpsertPod(g.back(), 0);
  }
  std::vector<std::string> node(3);
  for (int i = 0; i < 3; ++i) node[i] = f.Passed(f.Filter(g[i]));
  auto bind = [&](int i, TimeMs now) {
    return f.engine->Bind(PodBinding{"ml", g[i].name, g[i].uid, node[i]}, now);
  };
  CHECK(bind(0, 1000).kind == BindDecision::Kind::kWait);
  CHECK(bind(1, 1100).kind == BindDecision::Kind::kWait);
  CHECK(f.engine->Stats().waiting_binds == 2);
  BindDecision d = bind(2, 1200);
  REQUIRE(d.kind == BindDecision::Kind::kBindNow);
  REQUIRE(d.bindings.size() == 3);
  CHECK(d.bindings[0].uid == g[2].uid);  // this call's pod first
  CHECK(f.engine->Stats().waiting_binds == 0);
  CHECK(f.engine->Stats().assumed_pods == 3);
  CHECK(f.engine->Stats().reservations == 0);  // reservations became assumed usage
  for (const PodBinding& b : d.bindings) f.engine->BindDone(b, true, "", 1300);
  auto view = f.engine->GangOf("ml", g[0].name);
  REQUIRE(view);
  CHECK(view->state == "running");
  CHECK(view->bound == 3);
}

TEST_CASE("bind barrier timeout fails waiting binds clearly; the reservation outlives it") {
  Options o;
  o.barrier_timeout_ms = 5'000;
  o.gang_timeout_ms = 60'000;
  Fixture f({MakeNode("n1", 8), MakeNode("n2", 8)}, o);
  Pod a = MakeGangPod("g", 2, 0, 8), b = MakeGangPod("g", 2, 1, 8);
  f.engine->UpsertPod(a, 0);
  f.engine->UpsertPod(b, 0);
  std::string na = f.Passed(f.Filter(a, 1000));
  REQUIRE(f.engine->Bind(PodBinding{"ml", a.name, a.uid, na}, 1000).kind ==
          BindDecision::Kind::kWait);
  CHECK(f.engine->NextBindDeadline() == 6000);
  CHECK(f.engine->ExpireBinds(5999).empty());
  auto expired = f.engine->ExpireBinds(6000);
  REQUIRE(expired.size() == 1);
  CHECK(expired[0].uid == a.uid);
  CHECK(expired[0].error ==
        "gang ml/g: only 1 of 2 members reached bind within 5s; the scheduler will retry");
  CHECK(f.engine->Stats().reservations == 2);
  // The gang timeout gives the reservation back.
  CHECK(f.engine->ExpireBinds(6000 + 60'000).empty());
  CHECK(f.engine->Stats().reservations == 0);
}

TEST_CASE("a member deleted while others wait at the barrier fails them") {
  Fixture f({MakeNode("n1", 8), MakeNode("n2", 8)});
  Pod a = MakeGangPod("g", 2, 0, 8), b = MakeGangPod("g", 2, 1, 8);
  f.engine->UpsertPod(a, 0);
  f.engine->UpsertPod(b, 0);
  std::string na = f.Passed(f.Filter(a));
  REQUIRE(f.engine->Bind(PodBinding{"ml", a.name, a.uid, na}, 1000).kind ==
          BindDecision::Kind::kWait);
  f.engine->DeletePod(b, 1500);
  auto expired = f.engine->ExpireBinds(1600);
  REQUIRE(expired.size() == 1);
  CHECK(expired[0].error.find("only 1 of 2 members exist now") != std::string::npos);
}

TEST_CASE("a refused binding un-assumes the pod and is reported on the gang") {
  Fixture f({MakeNode("n1", 8)});
  Pod a = MakeGangPod("g", 1, 0, 8);
  f.engine->UpsertPod(a, 0);
  std::string na = f.Passed(f.Filter(a));
  BindDecision d = f.engine->Bind(PodBinding{"ml", a.name, a.uid, na}, 1000);
  REQUIRE(d.kind == BindDecision::Kind::kBindNow);
  f.engine->BindDone(d.bindings[0], false, "pods \"g-0\" not found", 1001);
  CHECK(f.engine->Stats().assumed_pods == 0);
  auto view = f.engine->GangOf("ml", a.name);
  REQUIRE(view);
  CHECK(view->reason.find("failed: pods \"g-0\" not found") != std::string::npos);
}

TEST_CASE("ordinary pods bind at once; an unknown node fails the bind") {
  Fixture f({MakeNode("n1", 8)});
  Pod p = MakePod("p", 1);
  f.engine->UpsertPod(p, 0);
  BindDecision d = f.engine->Bind(PodBinding{"ml", "p", p.uid, "n1"}, 0);
  CHECK(d.kind == BindDecision::Kind::kBindNow);
  CHECK(d.bindings.size() == 1);
  BindDecision bad = f.engine->Bind(PodBinding{"ml", "q", "uid-q", "nowhere"}, 0);
  CHECK(bad.kind == BindDecision::Kind::kFail);
  CHECK(bad.error == "node nowhere is not known to mlsched");
}

// ---- restart ----

TEST_CASE("restart: gang state is rebuilt from the API's pods, bound members count") {
  std::vector<Node> nodes = {MakeNode("n1", 8), MakeNode("n2", 8), MakeNode("n3", 8)};
  Fixture f(nodes);
  // Before the restart two members were bound; the third is pending.
  std::vector<Pod> g;
  for (int i = 0; i < 3; ++i) g.push_back(MakeGangPod("g", 3, i, 8));
  g[0].node_name = "n1";
  g[1].node_name = "n2";
  f.engine->ReplacePods(g, 0);
  auto view = f.engine->GangOf("ml", g[2].name);
  REQUIRE(view);
  CHECK(view->bound == 2);
  CHECK(f.Passed(f.Filter(g[2])) == "n3");
  BindDecision d = f.engine->Bind(PodBinding{"ml", g[2].name, g[2].uid, "n3"}, 2000);
  CHECK(d.kind == BindDecision::Kind::kBindNow);
}

// ---- preempt ----

TEST_CASE("preempt never leaves a gang partly evicted") {
  Fixture f({MakeNode("n1", 8), MakeNode("n2", 8), MakeNode("n3", 8)});
  Pod a = MakeGangPod("victims", 2, 0, 8), b = MakeGangPod("victims", 2, 1, 8);
  a.node_name = "n1";
  b.node_name = "n2";
  Pod lone = MakePod("lone", 8);
  lone.node_name = "n3";
  for (const Pod& p : {a, b, lone}) f.engine->UpsertPod(p, 0);
  Pod urgent = MakePod("urgent", 8);
  std::vector<NodeVictims> in = {{"n1", {a.uid}, 0}, {"n2", {b.uid}, 0}, {"n3", {lone.uid}, 0}};
  auto out = f.engine->Preempt(urgent, in, 0);
  REQUIRE(out.size() == 1);
  CHECK(out[0].node == "n3");
  CHECK(out[0].victim_uids == std::vector<std::string>{lone.uid});
}

TEST_CASE("preempt takes a whole gang that sits on one node") {
  Fixture f({MakeNode("n1", 8)});
  Pod a = MakeGangPod("small", 2, 0, 4), b = MakeGangPod("small", 2, 1, 4);
  a.node_name = b.node_name = "n1";
  f.engine->UpsertPod(a, 0);
  f.engine->UpsertPod(b, 0);
  auto out = f.engine->Preempt(MakePod("urgent", 4), {{"n1", {a.uid}, 0}}, 0);
  REQUIRE(out.size() == 1);
  CHECK(out[0].victim_uids.size() == 2);
}

TEST_CASE("never preempt for a gang member unless the whole gang then fits") {
  Fixture f({MakeNode("n1", 8), MakeNode("n2", 8)});
  Pod lone = MakePod("lone", 8);
  lone.node_name = "n1";
  Pod other = MakePod("other", 8);
  other.node_name = "n2";
  f.engine->UpsertPod(lone, 0);
  f.engine->UpsertPod(other, 0);
  Pod a = MakeGangPod("g", 2, 0, 8), b = MakeGangPod("g", 2, 1, 8);
  f.engine->UpsertPod(a, 0);
  f.engine->UpsertPod(b, 0);
  // Evicting one 8-GPU pod frees 8 GPUs; the gang needs 16.
  CHECK(f.engine->Preempt(a, {{"n1", {lone.uid}, 0}}, 0).empty());
}

}  // namespace
}  // namespace mlsched::policy

namespace mlsched::policy {
namespace {

TEST_CASE("a PodGroup that arrives after its pods turns them into a gang") {
  Engine e{Options{}};
  e.UpsertNode(testing::MakeNode("n1", 8));
  Pod p = testing::MakePod("w-0", 8);
  p.labels.Set("scheduling.x-k8s.io/pod-group", "late");
  e.UpsertPod(p, 0);
  CHECK(e.Gangs().empty());
  e.UpsertPodGroup(PodGroup{"ml", "late", 2, {}, 0});
  REQUIRE(e.Gangs().size() == 1);
  CHECK(e.Gangs()[0].members == 1);
  CHECK(e.Gangs()[0].min_member == 2);
  e.DeletePodGroup("ml", "late");
  CHECK(e.Gangs().empty());
}

}  // namespace
}  // namespace mlsched::policy

namespace mlsched::policy {
namespace {

TEST_CASE("bind refuses a UID that is not the pod's, and a pod bound elsewhere") {
  Engine e{Options{}};
  e.UpsertNode(testing::MakeNode("n1", 8));
  e.UpsertNode(testing::MakeNode("n2", 8));
  Pod p = testing::MakePod("p", 1);
  e.UpsertPod(p, 0);
  BindDecision wrong = e.Bind(PodBinding{"ml", "p", "someone-else", "n1"}, 0);
  CHECK(wrong.kind == BindDecision::Kind::kFail);
  CHECK(wrong.error == "pod ml/p has uid uid-ml-p, not someone-else");
  CHECK(e.PodByUid(p.uid).has_value());
  p.node_name = "n2";
  e.UpsertPod(p, 0);
  BindDecision elsewhere = e.Bind(PodBinding{"ml", "p", p.uid, "n1"}, 0);
  CHECK(elsewhere.kind == BindDecision::Kind::kFail);
  CHECK(elsewhere.error == "pod ml/p is already bound to n2");
}

}  // namespace
}  // namespace mlsched::policy
