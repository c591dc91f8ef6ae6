// Golden wire tests: replays every request a real kube-scheduler v1.24.3 sent (both
// nodeCacheCapable modes) to the real server over HTTP, with the model in the state the
// cluster was in at that moment, and checks our answer field by field against the recorded one.
//
// The state at request `seq`: the nodes of api-nodes.json; the pods of api-pods.json created
// by then (creationTimestamp), on their node when their bind request came before `seq`, else
// pending. The one pod preemption deleted is not in api-pods.json: it is rebuilt from its own
// filter request and bind, and is gone after the preempt call. In that state the recorder (which
// passed every node) was right, so we must pass the same nodes in the same order.

#include <doctest/doctest.h>
#include <rapidjson/document.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "test/test_files.h"
#include "extender/wire.h"
#include "k8s/cluster_file.h"
#include "test/extender/http_test_util.h"

#ifndef MLSCHED_FIXTURES_DIR
#error "MLSCHED_FIXTURES_DIR must name shared/fixtures/kube-scheduler-v1.24.3"
#endif

namespace mlsched::extender {
namespace {

using testing::TestServer;

using test_files::ParseJson;
using test_files::ReadFile;


struct Call {
  int seq = 0;
  std::string verb;
  std::string ns, name;  // the pod
  double time = 0;       // Unix seconds
  std::string request, response;
  // The request's headers as recorded (Go's client: Host, User-Agent, Content-Length,
  // Content-Type, Accept-Encoding; no Connection header).
  std::vector<std::pair<std::string, std::string>> headers;
};

struct Bound {
  int seq = 0;
  std::string uid, node;
};

struct Fixture {
  std::string dir;
  std::vector<Call> calls;  // by seq
  std::vector<policy::Node> nodes;
  std::vector<policy::Pod> pods;             // api-pods.json plus rebuilt deleted pods
  std::map<std::string, Bound> binds;        // by ns/name
  std::map<std::string, int> deleted_after;  // ns/name -> seq of the preempt that evicted it
};

Fixture Load(const std::string& mode) {
  Fixture f;
  f.dir = std::string(MLSCHED_FIXTURES_DIR) + "/" + mode;
  std::istringstream index(ReadFile(f.dir + "/recorded/index.jsonl"));
  std::string line;
  while (std::getline(index, line)) {
    if (line.empty()) continue;
    auto d = ParseJson(line);
    Call c;
    c.seq = d["seq"].GetInt();
    c.verb = d["verb"].GetString();
    std::string pod = d["pod"].GetString();
    c.ns = pod.substr(0, pod.find('/'));
    c.name = pod.substr(pod.find('/') + 1);
    c.time = d["time"].GetDouble();
    for (auto it = d["headers"].MemberBegin(); it != d["headers"].MemberEnd(); ++it) {
      c.headers.emplace_back(it->name.GetString(), it->value.GetString());
    }
    char prefix[16];
    std::snprintf(prefix, sizeof prefix, "%06d", c.seq);
    std::string base = f.dir + "/recorded/" + c.verb + "/" + prefix + "-" + c.ns + "-" + c.name;
    c.request = ReadFile(base + ".request.json");
    c.response = ReadFile(base + ".response.json");
    f.calls.push_back(std::move(c));
  }
  std::sort(f.calls.begin(), f.calls.end(), [](auto& a, auto& b) { return a.seq < b.seq; });

  k8s::ClusterObjects objects;
  Status s = k8s::LoadClusterFile(f.dir + "/api-nodes.json", &objects);
  REQUIRE_MESSAGE(s.ok(), s.message());
  s = k8s::LoadClusterFile(f.dir + "/api-pods.json", &objects);
  REQUIRE_MESSAGE(s.ok(), s.message());
  f.nodes = objects.nodes;
  f.pods = objects.pods;

  int preempt_seq = 0;
  for (const auto& c : f.calls) {
    if (c.verb == "preempt") preempt_seq = c.seq;
    if (c.verb != "bind") continue;
    auto d = ParseJson(c.request);
    f.binds[c.ns + "/" + c.name] = Bound{c.seq, d["PodUID"].GetString(), d["Node"].GetString()};
  }
  // Bound pods missing at the end were evicted by the preemption: rebuild them from the last
  // filter request that carried them.
  for (const auto& [key, b] : f.binds) {
    bool present = std::any_of(f.pods.begin(), f.pods.end(),
                               [&](const policy::Pod& p) { return p.Key() == key; });
    if (present) continue;
    std::optional<policy::Pod> pod;
    for (const auto& c : f.calls) {
      if (c.verb != "filter" || c.ns + "/" + c.name != key || c.seq > b.seq) continue;
      ExtenderArgs args;
      REQUIRE(DecodeExtenderArgs(c.request, DecodeLimits(), &args).ok());
      pod = args.pod;
    }
    REQUIRE_MESSAGE(pod.has_value(), "no filter request for deleted pod " << key);
    REQUIRE(preempt_seq > b.seq);
    f.pods.push_back(*pod);
    f.deleted_after[key] = preempt_seq;
  }
  return f;
}

// The model as it was when call `c` arrived.
void LoadState(const Fixture& f, const Call& c, policy::Engine* engine) {
  const auto now = static_cast<policy::TimeMs>(c.time * 1000);
  engine->SetPodGroupsKnown(false);  // the fixture cluster has no PodGroup CRD
  engine->ReplaceNodes(f.nodes);
  std::vector<policy::Pod> pods;
  for (policy::Pod p : f.pods) {
    // creationTimestamp has whole seconds.
    if (p.creation_ms > static_cast<policy::TimeMs>(std::floor(c.time)) * 1000) continue;
    auto del = f.deleted_after.find(p.Key());
    if (del != f.deleted_after.end() && c.seq > del->second) continue;
    auto b = f.binds.find(p.Key());
    if (b != f.binds.end() && b->second.seq < c.seq) {
      p.node_name = b->second.node;
      p.phase = policy::PodPhase::kRunning;
    } else {
      p.node_name.clear();
      p.nominated_node_name.clear();
      p.phase = policy::PodPhase::kPending;
    }
    pods.push_back(std::move(p));
  }
  engine->ReplacePods(std::move(pods), now);
}

std::vector<std::string> Names(const rapidjson::Value& v) {
  std::vector<std::string> out;
  if (!v.IsArray()) return out;
  for (const auto& n : v.GetArray()) out.push_back(n.GetString());
  return out;
}

void CheckFilter(const Call& c, const std::string& ours, bool full) {
  auto want = ParseJson(c.response);
  auto got = ParseJson(ours);
  REQUIRE(got.IsObject());
  // Every field Go writes is there.
  for (const char* k : {"Nodes", "NodeNames", "FailedNodes", "FailedAndUnresolvableNodes", "Error"}) {
    CHECK_MESSAGE(got.HasMember(k), k);
  }
  CHECK(std::string(got["Error"].GetString()).empty());
  CHECK_MESSAGE(got["FailedNodes"].ObjectEmpty(), ours.substr(ours.find("\"FailedNodes\"")));
  CHECK(got["FailedAndUnresolvableNodes"].ObjectEmpty());
  if (full) {
    REQUIRE(got["Nodes"].IsObject());
    CHECK(got["NodeNames"].IsNull());
    // The passing Node objects are the request's own, equal to what the recorder echoed.
    CHECK(got["Nodes"]["items"] == want["Nodes"]["items"]);
    CHECK(got["Nodes"]["items"].Size() == want["Nodes"]["items"].Size());
  } else {
    CHECK(got["Nodes"].IsNull());
    CHECK(Names(got["NodeNames"]) == Names(want["NodeNames"]));
  }
}

void CheckPrioritize(const Call& c, const std::string& ours) {
  auto want = ParseJson(c.response);
  auto got = ParseJson(ours);
  REQUIRE(got.IsArray());
  REQUIRE(got.Size() == want.Size());
  for (rapidjson::SizeType i = 0; i < got.Size(); ++i) {
    REQUIRE(got[i].IsObject());
    CHECK(got[i].MemberCount() == 2);
    CHECK(std::string(got[i]["Host"].GetString()) == want[i]["Host"].GetString());
    REQUIRE(got[i]["Score"].IsInt64());
    CHECK(got[i]["Score"].GetInt64() >= 0);
    CHECK(got[i]["Score"].GetInt64() <= 10);
  }
}

void CheckPreempt(const Call& c, const std::string& ours) {
  auto want = ParseJson(c.response);
  auto got = ParseJson(ours);
  REQUIRE(got.IsObject());
  CHECK(got.MemberCount() == 1);
  CHECK(got["NodeNameToMetaVictims"] == want["NodeNameToMetaVictims"]);
}

void Replay(const std::string& mode) {
  Fixture f = Load(mode);
  REQUIRE(f.calls.size() == 29);
  const bool full = mode == "nodecache-false";
  int checked = 0;
  for (const Call& c : f.calls) {
    CAPTURE(mode);
    CAPTURE(c.seq);
    CAPTURE(c.verb);
    CAPTURE(c.name);
    policy::Engine engine{policy::Options()};
    LoadState(f, c, &engine);
    ServerOptions o;
    o.url_prefix = "/scheduler";
    TestServer t(&engine, o);
    // The request as kube-scheduler wrote it: its headers, byte for byte, and the body.
    std::string wire = "POST /scheduler/" + c.verb + " HTTP/1.1\r\n";
    for (const auto& [name, value] : c.headers) {
      if (name == "Content-Length") REQUIRE(value == std::to_string(c.request.size()));
      wire += name + ": " + value + "\r\n";
    }
    REQUIRE(c.headers.size() == 5);
    wire += "\r\n" + c.request;
    const int fd = testing::ConnectTo(t.server.port());
    testing::RawAnswer r = testing::Exchange(fd, wire);
    REQUIRE_FALSE(r.head.empty());
    REQUIRE_MESSAGE(r.head.rfind("http/1.1 200 ok\r\n", 0) == 0, r.head << r.body);
    std::vector<std::string> headers = testing::HeaderLines(r.head);
    CHECK(std::count(headers.begin(), headers.end(), "content-type: application/json") == 1);
    // Go's client keeps the connection for the next call unless the answer says close, and
    // reads the body as sent: no close, no content coding.
    for (const std::string& h : headers) {
      CHECK(h.rfind("connection:", 0) == std::string::npos);
      CHECK(h.rfind("content-encoding:", 0) == std::string::npos);
      CHECK(h.rfind("transfer-encoding:", 0) == std::string::npos);
    }
    // The same connection serves the next call.
    CHECK(testing::Exchange(fd, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").body == "ok");
    ::close(fd);
    if (c.verb == "filter") {
      CheckFilter(c, r.body, full);
    } else if (c.verb == "prioritize") {
      CheckPrioritize(c, r.body);
    } else if (c.verb == "bind") {
      CHECK(r.body == R"({"Error":""})");
      auto req = ParseJson(c.request);
      REQUIRE(t.binder.count() == 1);
      const policy::PodBinding& b = t.binder.bound[0];
      CHECK(b.name == req["PodName"].GetString());
      CHECK(b.ns == req["PodNamespace"].GetString());
      CHECK(b.uid == req["PodUID"].GetString());
      CHECK(b.node == req["Node"].GetString());
    } else if (c.verb == "preempt") {
      CheckPreempt(c, r.body);
    } else {
      FAIL("unknown verb " << c.verb);
    }
    ++checked;
  }
  CHECK(checked == 29);
}

TEST_CASE("replay nodecache-true (NodeNames, NodeNameToMetaVictims)") { Replay("nodecache-true"); }
TEST_CASE("replay nodecache-false (full Nodes, NodeNameToVictims)") { Replay("nodecache-false"); }

}  // namespace
}  // namespace mlsched::extender
