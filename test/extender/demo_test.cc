// The embedded demo end to end: deploy/demo/cluster.yaml loaded as --cluster-file loads it, the
// DemoBinder recording binds in the model, and the request bodies of deploy/demo/requests/
// sent over HTTP: a single-GPU notebook, then the 4-pod llama-pretrain gang bound all together.

#include <doctest/doctest.h>
#include <rapidjson/document.h>

#include <fstream>
#include <future>
#include <sstream>
#include <string>
#include <vector>

#include "test/test_files.h"
#include "extender/demo_binder.h"
#include "k8s/cluster_file.h"
#include "test/extender/http_test_util.h"

#ifndef MLSCHED_SOURCE_DIR
#error "MLSCHED_SOURCE_DIR must name the repository root"
#endif

namespace mlsched::extender {
namespace {

const std::string kDemo = std::string(MLSCHED_SOURCE_DIR) + "/deploy/demo";

using test_files::ParseJson;
using test_files::ReadFile;


TEST_CASE("the demo cluster serves the demo requests, gang bind included") {
  k8s::ClusterObjects cluster;
  Status s = k8s::LoadClusterFile(kDemo + "/cluster.yaml", &cluster);
  REQUIRE_MESSAGE(s.ok(), s.message());
  policy::Engine engine{policy::Options()};
  engine.ReplaceNodes(cluster.nodes);
  engine.ReplacePods(cluster.pods, SystemClockMs());
  engine.ReplacePodGroups(cluster.pod_groups);
  engine.SetPodGroupsKnown(true);
  const int64_t bound_before = engine.Stats().bound_pods + engine.Stats().assumed_pods;

  std::unique_ptr<Server> server;
  DemoBinder binder(&engine, cluster.pods,
                    [&](std::string_view uid) { return server->RecentPod(uid); }, nullptr);
  ServerOptions o;
  o.port = 0;
  o.url_prefix = "/scheduler";
  o.debug_port = 0;
  server = std::make_unique<Server>(o, &engine,
                                    [&](const policy::PodBinding& b) { return binder.Bind(b); });
  REQUIRE(server->Start().ok());
  httplib::Client c("127.0.0.1", server->port());
  c.set_read_timeout(30, 0);
  auto post = [&](const std::string& verb, const std::string& body) {
    auto r = c.Post("/scheduler/" + verb, body, "application/json");
    REQUIRE(r);
    REQUIRE_MESSAGE(r->status == 200, r->body);
    return r->body;
  };

  // The notebook (1 GPU): GPU nodes with room pass; CPU-only nodes fail with a reason.
  std::string nb = ReadFile(kDemo + "/requests/filter-notebook-alice.json");
  auto d = ParseJson(post("filter", nb));
  CHECK(d["NodeNames"].Size() > 0);
  CHECK(d["NodeNames"].Size() + d["FailedNodes"].MemberCount() +
            d["FailedAndUnresolvableNodes"].MemberCount() ==
        16);
  d = ParseJson(post("prioritize", nb));
  CHECK(d.Size() == 16);
  d = ParseJson(post("preempt", ReadFile(kDemo + "/requests/preempt-notebook-alice.json")));
  CHECK(d["NodeNameToMetaVictims"].IsObject());

  // The gang: each member's filter passes exactly its planned node.
  const std::vector<std::string> members = {"llama-pretrain-master-0", "llama-pretrain-worker-0",
                                            "llama-pretrain-worker-1", "llama-pretrain-worker-2"};
  std::vector<std::string> bodies, planned, uids;
  for (int round = 0; round < 2; ++round) {
    planned.clear();
    for (const auto& m : members) {
      if (round == 0) bodies.push_back(ReadFile(kDemo + "/requests/filter-" + m + ".json"));
      d = ParseJson(post("filter", bodies[planned.size()]));
      planned.push_back(d["NodeNames"].Size() == 1 ? d["NodeNames"][0].GetString() : "");
    }
  }
  for (size_t i = 0; i < members.size(); ++i) {
    CAPTURE(members[i]);
    REQUIRE(!planned[i].empty());
    uids.push_back(ParseJson(bodies[i])["Pod"]["metadata"]["uid"].GetString());
  }
  auto bind_body = [&](size_t i) {
    return R"({"PodName":")" + members[i] + R"(","PodNamespace":"ml","PodUID":")" + uids[i] +
           R"(","Node":")" + planned[i] + R"("})";
  };
  // Three binds wait at the barrier; the fourth releases them all.
  std::vector<std::future<std::string>> waiting;
  for (size_t i = 0; i < 3; ++i) {
    waiting.push_back(std::async(std::launch::async, [&, i] {
      httplib::Client wc("127.0.0.1", server->port());
      wc.set_read_timeout(30, 0);
      auto r = wc.Post("/scheduler/bind", bind_body(i), "application/json");
      return r ? r->body : std::string("no answer");
    }));
  }
  for (int i = 0; i < 1000 && server->ParkedBinds() < 3; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  CHECK(server->ParkedBinds() == 3);
  CHECK(post("bind", bind_body(3)) == R"({"Error":""})");
  for (auto& w : waiting) CHECK(w.get() == R"({"Error":""})");

  const policy::ModelStats after = engine.Stats();
  CHECK(after.bound_pods + after.assumed_pods == bound_before + 4);
  httplib::Client dbg("127.0.0.1", server->debug_port());
  auto r = dbg.Get("/debug/gangs");
  REQUIRE(r);
  CHECK(r->body.find("llama-pretrain") != std::string::npos);
  server->Shutdown();
}

}  // namespace
}  // namespace mlsched::extender
