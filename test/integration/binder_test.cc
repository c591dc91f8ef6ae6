// ApiBinder against the fake API server: success, 409 on the same node (success), 409 on
// another node, a replaced pod, 404, 500 and an unreachable server; concurrent binds.

#include <doctest/doctest.h>

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <thread>

#include "k8s/binder.h"
#include "test/integration/sync_helpers.h"

namespace mlsched::testing {
namespace {

using fakes::FakeApiServer;
using fakes::Kind;

std::string NodeOf(const FakeApiServer& s, const std::string& ns, const std::string& name) {
  auto json = s.Get(Kind::kPod, ns, name);
  REQUIRE(json);
  rapidjson::Document d;
  d.Parse(json->c_str());
  policy::Pod p;
  REQUIRE(k8s::DecodePod(d, &p).ok());
  return p.node_name;
}

TEST_CASE("ApiBinder: outcomes") {
  FakeApiServer server;
  REQUIRE(server.Start().ok());
  REQUIRE(server.Upsert(Kind::kPod, PodJson("ml", "a", "", 100, 0, "Pending", "", "uid-a")).ok());
  REQUIRE(server.Upsert(Kind::kPod, PodJson("ml", "b", "", 100, 0, "Pending", "", "uid-b")).ok());
  k8s::ClientConfig cfg;
  cfg.server = server.url();
  k8s::ApiBinder binder(cfg);

  struct Case {
    std::string name;
    policy::PodBinding binding;
    Status::Code want;
    std::string want_msg;
    std::function<void()> before;
  };
  const Case cases[] = {
      {"success", {"ml", "a", "uid-a", "node-1"}, Status::Code::kOk, "", nullptr},
      {"409, already bound to the same node: success", {"ml", "a", "uid-a", "node-1"},
       Status::Code::kOk, "", nullptr},
      {"409, bound to another node", {"ml", "a", "uid-a", "node-2"}, Status::Code::kConflict,
       "already bound to node node-1", nullptr},
      {"409, the pod was replaced (uid differs)", {"ml", "b", "uid-old", "node-1"},
       Status::Code::kConflict, "replaced", nullptr},
      {"404, no such pod", {"ml", "zzz", "", "node-1"}, Status::Code::kNotFound, "not found",
       nullptr},
      {"500 from the server", {"ml", "b", "uid-b", "node-1"}, Status::Code::kUnavailable,
       "HTTP 500", [&] { server.FailRequests(1, 500, "/api/v1/namespaces/ml/pods/b/binding"); }},
      {"bad names never reach the server", {"ml", "../x", "", "node-1"},
       Status::Code::kInvalidArgument, "invalid", nullptr},
      {"success after the failure", {"ml", "b", "uid-b", "node-3"}, Status::Code::kOk, "",
       nullptr},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    if (c.before) c.before();
    Status s = binder.Bind(c.binding);
    CHECK_MESSAGE(s.code() == c.want, s.message());
    if (!c.want_msg.empty()) CHECK_MESSAGE(s.message().find(c.want_msg) != std::string::npos, s.message());
    if (!s.ok()) CHECK(s.message().find(c.binding.name) != std::string::npos);
  }
  CHECK(NodeOf(server, "ml", "a") == "node-1");
  CHECK(NodeOf(server, "ml", "b") == "node-3");
  CHECK(server.counters().binds == 2);

  server.Stop();
  Status s = binder.Bind({"ml", "a", "uid-a", "node-1"});
  CHECK(s.code() == Status::Code::kUnavailable);
}

TEST_CASE("ApiBinder: concurrent binds") {
  FakeApiServer server;
  REQUIRE(server.Start().ok());
  const int kThreads = 8, kPerThread = 40;
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kPerThread; ++i) {
      std::string name = "p-" + std::to_string(t) + "-" + std::to_string(i);
      REQUIRE(server.Upsert(Kind::kPod, PodJson("ns", name, "", 100, 0, "Pending")).ok());
    }
  }
  k8s::ClientConfig cfg;
  cfg.server = server.url();
  k8s::ApiBinder binder(cfg);
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        std::string name = "p-" + std::to_string(t) + "-" + std::to_string(i);
        if (binder.Bind({"ns", name, "", "node-" + std::to_string(i % 5)}).ok()) ++ok;
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(ok == kThreads * kPerThread);
  CHECK(server.counters().binds == kThreads * kPerThread);
  CHECK(NodeOf(server, "ns", "p-3-7") == "node-2");
}

TEST_CASE("ApiClient: bearer token from a file, re-read when it rotates") {
  FakeApiServer server;
  REQUIRE(server.Start().ok());
  REQUIRE(server.Upsert(Kind::kPod, PodJson("ml", "a", "", 100, 0, "Pending")).ok());
  char tmpl[] = "/tmp/mlsched_token_XXXXXX";
  int fd = mkstemp(tmpl);
  REQUIRE(fd >= 0);
  close(fd);
  std::string token_file = tmpl;
  std::ofstream(token_file) << "first-token\n";
  server.RequireBearerToken("first-token");
  k8s::ClientConfig cfg;
  cfg.server = server.url();
  cfg.token_file = token_file;
  k8s::ApiClient client(cfg);
  CHECK(client.Get("/api/v1/namespaces/ml/pods/a").status == 200);
  // The kubelet rotates the projected token: a new file content (and mtime).
  server.RequireBearerToken("second-token");
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  std::ofstream(token_file) << "second-token\n";
  // The client looks at the file at most once a second; within a bounded wait it must switch.
  CHECK(WaitFor([&] { return client.Get("/api/v1/namespaces/ml/pods/a").status == 200; },
                std::chrono::seconds(10)));
  CHECK(server.counters().unauthorized > 0);
  // A token given inline wins and is never re-read.
  k8s::ClientConfig fixed = cfg;
  fixed.token = "wrong";
  CHECK(k8s::ApiClient(fixed).Get("/api/v1/namespaces/ml/pods/a").status == 401);
  std::remove(token_file.c_str());
}

}  // namespace
}  // namespace mlsched::testing
