// ClusterSync feeding the real policy::Engine: after quiescence the engine's model (its pods,
// node usage and counts) equals the server's state, through churn and faults.

#include <doctest/doctest.h>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <fstream>
#include <random>
#include <sstream>
#include <set>
#include <tuple>

#include "k8s/binder.h"
#include "k8s/cluster_sync.h"
#include "policy/engine.h"
#include "test/integration/sync_helpers.h"

namespace mlsched::testing {
namespace {

using fakes::FakeApiServer;
using fakes::Kind;

// What the engine must hold: non-terminal pods (terminal ones free their node and leave), the
// node usage they add up to, and the counts.
struct EngineView {
  std::set<std::tuple<std::string, std::string, std::string, int>> pods;  // uid, key, node, phase
  std::map<std::string, policy::Resources> requested;                     // by node
  int64_t nodes = 0;
  int64_t pod_groups = 0;
  bool operator==(const EngineView&) const = default;
};

EngineView Want(const FakeApiServer& server) {
  ModelState s = ServerState(server);
  EngineView v;
  v.nodes = static_cast<int64_t>(s.nodes.size());
  v.pod_groups = static_cast<int64_t>(s.groups.size());
  for (const auto& [name, n] : s.nodes) v.requested[name] = policy::Resources();
  for (const auto& [key, p] : s.pods) {
    if (p.IsTerminal()) continue;
    v.pods.insert({p.uid, key, p.node_name, static_cast<int>(p.phase)});
    auto it = v.requested.find(p.node_name);
    if (it != v.requested.end()) it->second += p.requests;
  }
  return v;
}

EngineView Have(const policy::Engine& engine) {
  EngineView v;
  policy::ModelStats st = engine.Stats();
  v.nodes = st.nodes;
  v.pod_groups = st.pod_groups;
  for (const policy::NodeView& n : engine.Nodes(0, 1'000'000)) v.requested[n.name] = n.requested;
  for (const policy::Pod& p : engine.Pods()) {
    v.pods.insert({p.uid, p.Key(), p.node_name, static_cast<int>(p.phase)});
  }
  return v;
}

TEST_CASE("ClusterSync + Engine: the engine's model equals the server after churn and faults") {
  fakes::FakeApiServerOptions so;
  so.bookmark_interval_ms = 100;
  so.retained_events = 300;
  FakeApiServer server(so);
  REQUIRE(server.Start().ok());
  // The real fixture cluster first.
  for (const char* file : {"api-nodes.json", "api-pods.json"}) {
    std::ifstream in(std::string(MLSCHED_SHARED_DIR) +
                     "/fixtures/kube-scheduler-v1.24.3/nodecache-false/" + file);
    std::stringstream ss;
    ss << in.rdbuf();
    rapidjson::Document d;
    d.Parse(ss.str().c_str());
    REQUIRE(d.IsObject());
    for (const auto& item : d["items"].GetArray()) {
      rapidjson::StringBuffer sb;
      rapidjson::Writer<rapidjson::StringBuffer> w(sb);
      item.Accept(w);
      REQUIRE(server.Upsert(file[4] == 'n' ? Kind::kNode : Kind::kPod, sb.GetString()).ok());
    }
  }
  REQUIRE(server.Upsert(Kind::kPodGroup, PodGroupJson("ml", "llama-ft", 4)).ok());

  policy::Engine engine{policy::Options()};
  k8s::SyncOptions opts;
  opts.reflector.page_size = 5;
  opts.reflector.min_watch_timeout_s = 2;
  opts.reflector.backoff_initial_ms = 10;
  opts.reflector.backoff_max_ms = 200;
  opts.reflector.watch_idle_timeout_ms = 1000;
  opts.seed = 5;
  opts.clock = [] { return policy::TimeMs{1'800'000'000'000}; };
  k8s::ClientConfig cfg;
  cfg.server = server.url();
  k8s::ClusterSync sync(cfg, engine, opts);
  sync.Start();
  REQUIRE(WaitFor([&] { return sync.Synced(); }));
  REQUIRE(WaitFor([&] { return Have(engine) == Want(server); }));
  CHECK(engine.Stats().nodes == 8);
  CHECK(engine.Stats().pods == 9);
  CHECK(engine.Stats().pod_groups == 1);

  // Churn: pods bound, finished, deleted and re-created; nodes changed; faults in between.
  std::mt19937_64 rng(17);
  auto pick = [&rng](int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng); };
  static const char* kPhases[] = {"Pending", "Running", "Succeeded", "Failed"};
  for (int i = 0; i < 1500; ++i) {
    std::string name = "w-" + std::to_string(pick(200));
    int op = pick(10);
    if (op == 0) {
      server.Delete(Kind::kPod, "ml", name);
    } else if (op == 1) {
      std::string node = "node-00" + std::to_string(pick(8));
      REQUIRE(server.Upsert(Kind::kNode, NodeJson(node, 64, 8, pick(2) ? "zone-a" : "zone-b")).ok());
    } else {
      // Requests are immutable for a given pod (uid), as in Kubernetes without in-place
      // resize; resizes have their own test below.
      int id = std::stoi(name.substr(2));
      std::string node = pick(3) ? "node-00" + std::to_string(pick(8)) : "";
      REQUIRE(server.Upsert(Kind::kPod, PodJson("ml", name, node, 100 * (1 + id % 30),
                                                id % 4 == 0 ? 8 : 0, kPhases[pick(4)]))
                  .ok());
    }
    if (i % 300 == 150) {
      switch (pick(3)) {
        case 0: server.DropWatches(); break;
        case 1: server.ExpireVersions(); break;
        case 2: server.SendWatchError(410); break;
      }
    }
  }
  bool same = WaitFor([&] { return Have(engine) == Want(server); });
  CHECK(same);
  EngineView have = Have(engine), want = Want(server);
  CHECK(have.pods.size() == want.pods.size());
  CHECK(have.nodes == want.nodes);
  for (const auto& [node, r] : want.requested) {
    CAPTURE(node);
    CHECK(have.requested[node].milli_cpu == r.milli_cpu);
    CHECK(have.requested[node].Scalar("nvidia.com/gpu") == r.Scalar("nvidia.com/gpu"));
  }
  sync.Stop();
}

// The bind path end to end: the engine counts a pod on its node from Bind on (assumed), the
// binder creates the binding, the watch confirms it, and the pod is counted exactly once.
TEST_CASE("Engine + ApiBinder + ClusterSync: a bound pod is counted once, before and after "
          "the watch confirms it") {
  FakeApiServer server;
  REQUIRE(server.Start().ok());
  REQUIRE(server.Upsert(Kind::kNode, NodeJson("n1", 64, 8, "a")).ok());
  REQUIRE(server.Upsert(Kind::kPod, PodJson("ml", "p", "", 1500, 0, "Pending", "", "uid-p")).ok());
  policy::Engine engine{policy::Options()};
  k8s::SyncOptions opts;
  opts.seed = 8;
  k8s::ClientConfig cfg;
  cfg.server = server.url();
  k8s::ClusterSync sync(cfg, engine, opts);
  sync.Start();
  REQUIRE(WaitFor([&] { return Have(engine) == Want(server); }));
  auto used = [&] { return Have(engine).requested["n1"].milli_cpu; };
  CHECK(used() == 0);

  const policy::TimeMs now = 1'800'000'000'000;
  policy::PodBinding b{"ml", "p", "uid-p", "n1"};
  policy::BindDecision d = engine.Bind(b, now);
  REQUIRE(d.kind == policy::BindDecision::Kind::kBindNow);
  CHECK(used() == 1500);  // assumed: counted before the API knows
  k8s::ApiBinder binder(cfg);
  Status s = binder.Bind(d.bindings[0]);
  REQUIRE_MESSAGE(s.ok(), s.message());
  engine.BindDone(d.bindings[0], true, "", now);
  // The watch brings spec.nodeName; the assumption gives way to it, never adding a second time.
  REQUIRE(WaitFor([&] {
    auto pods = engine.Pods();
    return pods.size() == 1 && pods[0].node_name == "n1";
  }));
  CHECK(used() == 1500);
  CHECK(engine.Stats().assumed_pods == 0);
  CHECK(Have(engine) == Want(server));
}

// In-place pod resize (InPlacePodVerticalScaling, beta and on by default since 1.33) changes a
// running pod's requests under the same uid; the node's usage must follow (the model once
// uncounted a pod with its new requests).
TEST_CASE("ClusterSync + Engine: a pod resized in place moves its node's usage") {
  FakeApiServer server;
  REQUIRE(server.Start().ok());
  REQUIRE(server.Upsert(Kind::kNode, NodeJson("n1", 64, 8, "a")).ok());
  REQUIRE(server.Upsert(Kind::kPod, PodJson("ml", "p", "n1", 1000, 0, "Running")).ok());
  policy::Engine engine{policy::Options()};
  k8s::SyncOptions opts;
  opts.seed = 6;
  k8s::ClientConfig cfg;
  cfg.server = server.url();
  k8s::ClusterSync sync(cfg, engine, opts);
  sync.Start();
  REQUIRE(WaitFor([&] { return Have(engine) == Want(server); }));
  REQUIRE(server.Upsert(Kind::kPod, PodJson("ml", "p", "n1", 3000, 0, "Running")).ok());
  CHECK(WaitFor([&] { return Have(engine) == Want(server); }, std::chrono::seconds(5)));
  CHECK(Have(engine).requested["n1"].milli_cpu == 3000);
}

}  // namespace
}  // namespace mlsched::testing
