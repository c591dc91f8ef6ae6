// The extender server over real HTTP on 127.0.0.1: verbs, bad input, operations, parked gang
// binds, shutdown, the explain view.

#include <doctest/doctest.h>
#include <rapidjson/document.h>

#include <algorithm>
#include <chrono>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "test/extender/http_test_util.h"

namespace mlsched::extender {
namespace {

using testing::FakeClock;
using testing::ConnectTo;
using testing::Exchange;
using testing::HeaderLines;
using testing::RawAnswer;
using testing::RawPost;
using testing::ReadAnswer;
using testing::SendAll;
using testing::TestServer;

policy::Node GpuNode(const std::string& name, const std::string& rack) {
  policy::Node n;
  n.name = name;
  n.labels.Set("kubernetes.io/hostname", name);
  n.labels.Set("topology.kubernetes.io/zone", "zone-a");
  n.labels.Set("mlsched.io/rack", rack);
  n.allocatable.milli_cpu = 64'000;
  n.allocatable.memory = int64_t{512} << 30;
  n.allocatable.pods = 110;
  n.allocatable.SetScalar("nvidia.com/gpu", 8);
  return n;
}

void AddNodes(policy::Engine* engine) {
  engine->ReplaceNodes({GpuNode("n1", "r1"), GpuNode("n2", "r1"), GpuNode("n3", "r2")});
}

// A pod as the scheduler sends it (the parts the decoder reads).
std::string PodJson(const std::string& name, const std::string& uid, int gpus,
                    const std::string& gang = "", int gang_size = 0) {
  std::string annotations;
  if (!gang.empty()) {
    annotations = R"(,"annotations":{"mlsched.io/gang":")" + gang +
                  R"(","mlsched.io/gang-size":")" + std::to_string(gang_size) + R"("})";
  }
  std::string tolerations =
      gpus > 0 ? R"(,"tolerations":[{"key":"nvidia.com/gpu","operator":"Exists","effect":"NoSchedule"}])"
               : "";
  return R"({"metadata":{"name":")" + name + R"(","namespace":"ml","uid":")" + uid + "\"" +
         annotations + R"(},"spec":{"schedulerName":"mlsched","containers":[{"name":"main",)"
         R"("resources":{"requests":{"cpu":"4","memory":"16Gi","nvidia.com/gpu":")" +
         std::to_string(gpus) + "\"}}}]" + tolerations + R"(},"status":{"phase":"Pending"}})";
}

std::string FilterBody(const std::string& pod, const std::vector<std::string>& names) {
  std::string b = R"({"Pod":)" + pod + R"(,"Nodes":null,"NodeNames":[)";
  for (size_t i = 0; i < names.size(); ++i) b += (i ? ",\"" : "\"") + names[i] + "\"";
  return b + "]}";
}

std::string BindBody(const std::string& name, const std::string& uid, const std::string& node) {
  return R"({"PodName":")" + name + R"(","PodNamespace":"ml","PodUID":")" + uid +
         R"(","Node":")" + node + R"("})";
}

rapidjson::Document Json(const std::string& s) {
  rapidjson::Document d;
  d.Parse(s.data(), s.size());
  REQUIRE_FALSE(d.HasParseError());
  return d;
}

TEST_CASE("HTTP/1.1 connections persist: no Connection: close unless the caller asked for it") {
  // kube-scheduler's Go client sends no Connection header and drops a connection whose answer
  // says close; then every call would pay a new connection (and a TLS handshake).
  policy::Engine engine{policy::Options()};
  AddNodes(&engine);
  TestServer t(&engine);
  const std::string body = FilterBody(PodJson("p", "u1", 1), {"n1", "n2"});
  auto request = [&](const std::string& version, const std::string& extra) {
    return RawPost("/filter", body, version, extra);
  };
  int fd = ConnectTo(t.server.port());
  for (int call = 0; call < 3; ++call) {  // one socket, three calls: the connection persists
    CAPTURE(call);
    RawAnswer a = Exchange(fd, request("HTTP/1.1", ""));
    REQUIRE(a.head.rfind("http/1.1 200", 0) == 0);
    CHECK(a.head.find("connection: close") == std::string::npos);
    CHECK(Json(a.body)["NodeNames"].Size() == 2);
  }
  // The caller's own choice is answered as given.
  RawAnswer closing = Exchange(fd, request("HTTP/1.1", "Connection: close\r\n"));
  CHECK(closing.head.find("connection: close") != std::string::npos);
  ::close(fd);
  fd = ConnectTo(t.server.port());
  RawAnswer kept = Exchange(fd, request("HTTP/1.1", "Connection: keep-alive\r\n"));
  CHECK(kept.head.find("connection: keep-alive") != std::string::npos);
  // HTTP/1.0 without keep-alive does not persist.
  RawAnswer old = Exchange(fd, request("HTTP/1.0", ""));
  CHECK(old.head.find("connection: close") != std::string::npos);
  ::close(fd);
}

TEST_CASE("direct answers are the answers Pistache's writer gives, headers and body") {
  // Filter, prioritize and preempt answers skip Pistache's ResponseWriter (direct_answer.h):
  // the same requests to a server with direct answers off must get the same status line,
  // the same headers and the same bytes, whatever the request's version and Connection.
  policy::Engine direct_engine{policy::Options()}, queued_engine{policy::Options()};
  AddNodes(&direct_engine);
  AddNodes(&queued_engine);
  ServerOptions off;
  off.direct_answers = false;
  TestServer direct(&direct_engine), queued(&queued_engine, off);
  const std::string pod = PodJson("p", "u1", 1);
  const std::vector<std::pair<std::string, std::string>> calls = {
      {"/filter", FilterBody(pod, {"n1", "n2", "nope"})},
      {"/prioritize", FilterBody(pod, {"n3", "n1"})},
      {"/preempt", R"({"Pod":)" + PodJson("hi", "uh", 8) +
                       R"(,"NodeNameToVictims":null,"NodeNameToMetaVictims":{)"
                       R"("n2":{"Pods":[{"UID":"v2"}],"NumPDBViolations":0}}})"},
      {"/filter", "not json"},
  };
  for (const auto& [version, extra] :
       std::vector<std::pair<std::string, std::string>>{{"HTTP/1.1", ""},
                                                        {"HTTP/1.1", "Connection: close\r\n"},
                                                        {"HTTP/1.1", "Connection: keep-alive\r\n"},
                                                        {"HTTP/1.0", ""}}) {
    for (const auto& [path, body] : calls) {
      CAPTURE(version);
      CAPTURE(extra);
      CAPTURE(path);
      int a = ConnectTo(direct.server.port()), b = ConnectTo(queued.server.port());
      RawAnswer x = Exchange(a, RawPost(path, body, version, extra));
      RawAnswer y = Exchange(b, RawPost(path, body, version, extra));
      ::close(a);
      ::close(b);
      REQUIRE_FALSE(x.head.empty());
      CHECK(x.head.substr(0, x.head.find("\r\n")) == y.head.substr(0, y.head.find("\r\n")));
      CHECK(HeaderLines(x.head) == HeaderLines(y.head));
      CHECK(x.body == y.body);
    }
  }
}

TEST_CASE("an answer the socket cannot take at once arrives whole, and the next waits for it") {
  // A reader that stalls: the direct write fills the socket and the rest waits in Pistache's
  // queue. A second request sent meanwhile must be answered after all of the first answer,
  // not in the middle of it.
  policy::Engine engine{policy::Options()};
  AddNodes(&engine);
  ServerOptions o;
  o.empty_route = true;
  TestServer t(&engine, o);
  const double spilled_before = t.Metric("mlsched_extender_answers_spilled_total");
  int fd = ConnectTo(t.server.port());
  const size_t big = size_t{32} << 20;  // far beyond what loopback socket buffers hold
  SendAll(fd, RawPost("/empty?answer_bytes=" + std::to_string(big), "{}"));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // not reading
  // Read a little of the first answer, then ask again while its rest is still queued.
  std::string carry(4096, '\0');
  ssize_t n = ::recv(fd, carry.data(), carry.size(), 0);
  REQUIRE(n > 0);
  carry.resize(size_t(n));
  const std::string filter = FilterBody(PodJson("p", "u1", 1), {"n1", "n2"});
  SendAll(fd, RawPost("/filter", filter));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // handled while queued
  RawAnswer first = ReadAnswer(fd, &carry);
  RawAnswer second = ReadAnswer(fd, &carry);
  ::close(fd);
  REQUIRE(first.head.rfind("http/1.1 200", 0) == 0);
  REQUIRE(first.body.size() == big);
  CHECK(first.body.find_first_not_of(' ') == std::string::npos);
  REQUIRE(second.head.rfind("http/1.1 200", 0) == 0);
  CHECK(Json(second.body)["NodeNames"].Size() == 2);
  CHECK(t.Metric("mlsched_extender_answers_spilled_total") == spilled_before + 1);
}

TEST_CASE("health, readiness, metrics and unknown paths") {
  policy::Engine engine{policy::Options()};
  AddNodes(&engine);
  TestServer t(&engine);
  std::atomic<bool> synced{false};
  // The probe is read per request, so it may be swapped in after Start in this test only
  // through the atomic.
  t.server.SetSyncedProbe([&] { return synced.load(); });

  auto r = t.Get("/healthz");
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(r->body == "ok");
  CHECK(t.Get("/livez")->status == 200);
  CHECK(t.Get("/readyz")->status == 503);
  synced = true;
  CHECK(t.Get("/readyz")->status == 200);

  r = t.Get("/nope");
  CHECK(r->status == 404);
  CHECK(Json(r->body)["error"].IsString());
  CHECK(t.Get("/filter")->status == 405);
  CHECK(t.Post("/healthz", "")->status == 405);

  r = t.Get("/metrics");
  REQUIRE(r->status == 200);
  CHECK(r->get_header_value("Content-Type").find("text/plain") == 0);
  CHECK(r->body.find("mlsched_model_objects{kind=\"nodes\"} 3") != std::string::npos);
  CHECK(r->body.find("mlsched_extender_request_duration_seconds_bucket{verb=\"filter\",le=\"1e-05\"}") !=
        std::string::npos);
  CHECK(t.Metric("mlsched_extender_requests_total{code=\"200\",verb=\"healthz\"}") == 2);
  CHECK(t.Metric("mlsched_extender_requests_total{code=\"404\",verb=\"other\"}") == 1);
}

TEST_CASE("filter and prioritize on node names, unknown nodes failed with a reason") {
  policy::Engine engine{policy::Options()};
  AddNodes(&engine);
  ServerOptions o;
  o.url_prefix = "/scheduler";
  TestServer t(&engine, o);

  std::string body = FilterBody(PodJson("p1", "u1", 4), {"n3", "n9", "n1"});
  auto r = t.Post("/scheduler/filter", body);
  REQUIRE(r);
  REQUIRE(r->status == 200);
  CHECK(r->get_header_value("Content-Type") == "application/json");
  auto d = Json(r->body);
  REQUIRE(d["NodeNames"].IsArray());
  REQUIRE(d["NodeNames"].Size() == 2);
  CHECK(std::string(d["NodeNames"][0].GetString()) == "n3");
  CHECK(std::string(d["NodeNames"][1].GetString()) == "n1");
  CHECK(d["Nodes"].IsNull());
  REQUIRE(d["FailedNodes"].HasMember("n9"));
  CHECK(std::string(d["FailedNodes"]["n9"].GetString()).find("not known") != std::string::npos);
  CHECK(std::string(d["Error"].GetString()).empty());

  r = t.Post("/scheduler/prioritize", body);
  REQUIRE(r->status == 200);
  d = Json(r->body);
  REQUIRE(d.IsArray());
  REQUIRE(d.Size() == 3);
  const char* want[] = {"n3", "n9", "n1"};
  for (rapidjson::SizeType i = 0; i < 3; ++i) {
    CHECK(std::string(d[i]["Host"].GetString()) == want[i]);
    CHECK(d[i]["Score"].GetInt64() >= 0);
    CHECK(d[i]["Score"].GetInt64() <= 10);
  }
  // Without the prefix the verbs are not there.
  CHECK(t.Post("/filter", body)->status == 404);
}

TEST_CASE("bad bodies: 400 with a JSON error, a metric, no model change, server alive") {
  policy::Engine engine{policy::Options()};
  AddNodes(&engine);
  ServerOptions o;
  o.limits.max_body_bytes = 256 << 10;
  TestServer t(&engine, o);
  const policy::ModelStats before = engine.Stats();

  std::string pod = PodJson("p1", "u1", 1);
  struct Case {
    std::string name, path, body, want;
  };
  std::vector<Case> cases = {
      {"not json", "/filter", "{nope", "malformed JSON"},
      {"wrong type", "/filter", R"({"Pod":)" + pod + R"(,"NodeNames":"n1"})", "NodeNames: expected an array"},
      {"missing Pod", "/prioritize", R"({"NodeNames":["n1"]})", "Pod: missing"},
      {"too large", "/filter", FilterBody(pod, std::vector<std::string>(60000, "n1")), "exceeds the limit"},
      {"nested", "/filter", std::string(100000, '['), "nested deeper"},
      {"bind wrong type", "/bind", R"({"PodName":["x"],"Node":"n1"})", "PodName: expected a string"},
      {"bind no node", "/bind", R"({"PodName":"x","PodUID":"u"})", "Node: missing"},
      {"preempt wrong type", "/preempt", R"({"Pod":)" + pod + R"(,"NodeNameToMetaVictims":[]})",
       "NodeNameToMetaVictims: expected an object"},
  };
  double bad_before = 0;
  for (const char* verb : {"filter", "prioritize", "bind", "preempt"}) {
    bad_before += t.Metric(std::string("mlsched_extender_bad_requests_total{verb=\"") + verb + "\"}");
  }
  for (const auto& c : cases) {
    CAPTURE(c.name);
    auto r = t.Post(c.path, c.body);
    REQUIRE(r);
    CHECK(r->status == 400);
    auto d = Json(r->body);
    REQUIRE(d.IsObject());
    REQUIRE(d["error"].IsString());
    CHECK_MESSAGE(std::string(d["error"].GetString()).find(c.want) != std::string::npos,
                  d["error"].GetString());
    CHECK(t.Get("/healthz")->status == 200);
  }
  double bad_after = 0;
  for (const char* verb : {"filter", "prioritize", "bind", "preempt"}) {
    bad_after += t.Metric(std::string("mlsched_extender_bad_requests_total{verb=\"") + verb + "\"}");
  }
  CHECK(bad_after - bad_before == cases.size());
  const policy::ModelStats after = engine.Stats();
  CHECK(after.nodes == before.nodes);
  CHECK(after.pods == before.pods);
  CHECK(after.assumed_pods == before.assumed_pods);
  CHECK(t.binder.count() == 0);
}

TEST_CASE("bind: an ordinary pod is bound through the binder; a binder error is the answer") {
  policy::Engine engine{policy::Options()};
  AddNodes(&engine);
  TestServer t(&engine);
  t.binder.fail = {"p2"};
  REQUIRE(t.Post("/filter", FilterBody(PodJson("p1", "u1", 2), {"n1"}))->status == 200);

  auto r = t.Post("/bind", BindBody("p1", "u1", "n1"));
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(r->body == R"({"Error":""})");
  REQUIRE(t.binder.count() == 1);
  CHECK(t.binder.bound[0].ns == "ml");
  CHECK(t.binder.bound[0].name == "p1");
  CHECK(t.binder.bound[0].uid == "u1");
  CHECK(t.binder.bound[0].node == "n1");

  r = t.Post("/bind", BindBody("p2", "u2", "n2"));
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(std::string(Json(r->body)["Error"].GetString()).find("already bound elsewhere") !=
        std::string::npos);
  r = t.Post("/bind", BindBody("p3", "u3", "nowhere"));
  CHECK(std::string(Json(r->body)["Error"].GetString()).find("not known") != std::string::npos);
  CHECK(t.Metric("mlsched_extender_bindings_total{result=\"ok\"}") == 1);
  CHECK(t.Metric("mlsched_extender_bindings_total{result=\"error\"}") == 1);
}

// Filters both members of a 2-pod gang until each has its planned node; returns the nodes.
std::vector<std::string> PlanGang(TestServer& t) {
  std::vector<std::string> nodes;
  const std::vector<std::string> all = {"n1", "n2", "n3"};
  // The first member alone: the gang is incomplete, every node fails with the gang's reason.
  auto r = t.Post("/filter", FilterBody(PodJson("g-0", "g0", 8, "train", 2), all));
  auto d = Json(r->body);
  CHECK(d["NodeNames"].Size() == 0);
  CHECK(d["FailedNodes"].MemberCount() + d["FailedAndUnresolvableNodes"].MemberCount() == 3);
  for (int i : {1, 0}) {
    std::string name = "g-" + std::to_string(i);
    r = t.Post("/filter", FilterBody(PodJson(name, "g" + std::to_string(i), 8, "train", 2), all));
    d = Json(r->body);
    REQUIRE_MESSAGE(d["NodeNames"].Size() == 1, r->body);
    nodes.insert(nodes.begin() + (i == 1 ? 0 : 0), d["NodeNames"][0].GetString());
  }
  // nodes[0] is g-0's, nodes[1] g-1's.
  return nodes;
}

TEST_CASE("gang binds park without a thread and are all answered when the barrier fills") {
  policy::Engine engine{policy::Options()};
  AddNodes(&engine);
  TestServer t(&engine);
  auto nodes = PlanGang(t);
  REQUIRE(nodes.size() == 2);

  auto first = std::async(std::launch::async, [&] {
    httplib::Client c("127.0.0.1", t.server.port());
    c.set_read_timeout(30, 0);
    auto r = c.Post("/bind", BindBody("g-0", "g0", nodes[0]), "application/json");
    return r ? r->body : std::string("no answer");
  });
  for (int i = 0; i < 500 && t.server.ParkedBinds() == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  REQUIRE(t.server.ParkedBinds() == 1);
  CHECK(t.binder.count() == 0);
  CHECK(t.Metric("mlsched_extender_parked_binds") == 1);

  auto r = t.Post("/bind", BindBody("g-1", "g1", nodes[1]));
  REQUIRE(r);
  CHECK(r->body == R"({"Error":""})");
  CHECK(first.get() == R"({"Error":""})");
  CHECK(t.server.ParkedBinds() == 0);
  REQUIRE(t.binder.count() == 2);
}

TEST_CASE("a parked bind whose barrier times out is answered with the engine's error") {
  policy::Options options;
  options.barrier_timeout_ms = 5'000;
  policy::Engine engine{options};
  AddNodes(&engine);
  FakeClock clock;
  TestServer t(&engine, ServerOptions(), &clock);
  auto nodes = PlanGang(t);

  auto parked = std::async(std::launch::async, [&] {
    httplib::Client c("127.0.0.1", t.server.port());
    c.set_read_timeout(30, 0);
    auto r = c.Post("/bind", BindBody("g-0", "g0", nodes[0]), "application/json");
    return r ? r->body : std::string("no answer");
  });
  for (int i = 0; i < 500 && t.server.ParkedBinds() == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  REQUIRE(t.server.ParkedBinds() == 1);
  clock.now += 6'000;
  t.server.PokeBindTimer();
  std::string body = parked.get();
  auto d = Json(body);
  REQUIRE(d["Error"].IsString());
  CHECK_MESSAGE(std::string(d["Error"].GetString()).size() > 0, body);
  CHECK(t.binder.count() == 0);
  CHECK(t.Metric("mlsched_extender_bind_expiries_total") == 1);
}

TEST_CASE("shutdown answers every parked bind and turns readiness off") {
  policy::Engine engine{policy::Options()};
  AddNodes(&engine);
  TestServer t(&engine);
  auto nodes = PlanGang(t);
  auto parked = std::async(std::launch::async, [&] {
    httplib::Client c("127.0.0.1", t.server.port());
    c.set_read_timeout(30, 0);
    auto r = c.Post("/bind", BindBody("g-0", "g0", nodes[0]), "application/json");
    return r ? r->body : std::string("no answer");
  });
  for (int i = 0; i < 500 && t.server.ParkedBinds() == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  REQUIRE(t.server.ParkedBinds() == 1);
  t.server.Shutdown();
  std::string body = parked.get();
  CHECK(body.find("shutting down") != std::string::npos);
  CHECK(t.server.shutting_down());
  CHECK(t.binder.count() == 0);
}

TEST_CASE("preempt keeps only proposed nodes and victims, answered as NodeNameToMetaVictims") {
  policy::Engine engine{policy::Options()};
  AddNodes(&engine);
  TestServer t(&engine);
  std::string body = R"({"Pod":)" + PodJson("hi", "uh", 8) +
                     R"(,"NodeNameToVictims":null,"NodeNameToMetaVictims":{)"
                     R"("n2":{"Pods":[{"UID":"v2"}],"NumPDBViolations":0},)"
                     R"("n1":{"Pods":[{"UID":"v1"}],"NumPDBViolations":1}}})";
  auto r = t.Post("/preempt", body);
  REQUIRE(r->status == 200);
  auto d = Json(r->body);
  REQUIRE(d["NodeNameToMetaVictims"].IsObject());
  for (auto it = d["NodeNameToMetaVictims"].MemberBegin(); it != d["NodeNameToMetaVictims"].MemberEnd(); ++it) {
    std::string node = it->name.GetString();
    CHECK((node == "n1" || node == "n2"));
    REQUIRE(it->value["Pods"].Size() >= 1);
    std::string uid = it->value["Pods"][0]["UID"].GetString();
    CHECK(uid == (node == "n1" ? "v1" : "v2"));
  }
}

TEST_CASE("the explain view on the debug port") {
  policy::Engine engine{policy::Options()};
  AddNodes(&engine);
  ServerOptions o;
  o.debug_port = 0;
  TestServer t(&engine, o);
  REQUIRE(t.server.debug_port() != 0);
  CHECK(t.server.debug_port() != t.server.port());
  PlanGang(t);
  httplib::Client dbg("127.0.0.1", t.server.debug_port());
  auto r = dbg.Get("/debug/gangs");
  REQUIRE(r);
  REQUIRE(r->status == 200);
  auto d = Json(r->body);
  REQUIRE(d.IsArray());
  REQUIRE(d.Size() == 1);
  CHECK(std::string(d[0]["gang"].GetString()) == "ml/train");

  r = dbg.Get("/debug/nodes?offset=1&limit=1");
  d = Json(r->body);
  REQUIRE(d.Size() == 1);
  CHECK(std::string(d[0]["name"].GetString()) == "n2");
  CHECK(dbg.Get("/debug/nodes?limit=x")->status == 400);

  r = dbg.Get("/debug/pod?namespace=ml&name=g-1");
  REQUIRE(r->status == 200);
  d = Json(r->body);
  CHECK(d["gang"].IsObject());
  REQUIRE(d["scores"].IsArray());
  CHECK(d["scores"].Size() == 3);
  r = dbg.Get("/debug/pod?namespace=ml&name=never-seen");
  d = Json(r->body);
  CHECK(d["scores"].IsNull());
  CHECK(dbg.Get("/debug/other")->status == 404);
  // The explain view is not on the main port.
  CHECK(t.Get("/debug/gangs")->status == 404);
}

}  // namespace
}  // namespace mlsched::extender
