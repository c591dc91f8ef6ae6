// The cluster view's JSON (extender/cluster_view.h): filters, the summary tree, node pages, gangs,
// pipelines, the service history, and the page and views over HTTP on the debug port.
#include "extender/cluster_view.h"

#include <doctest/doctest.h>

#include <set>
#include <string>

#include "extender/server.h"
#include "test/extender/http_test_util.h"
#include "test/policy/test_cluster.h"
#include "test/test_files.h"

namespace mlsched::extender {
namespace {

using policy::testing::MakeGangPod;
using policy::testing::MakeNode;
using policy::testing::MakePod;
using test_files::ParseJson;

std::string Str(const rapidjson::Value& v) {
  return std::string(v.GetString(), v.GetStringLength());
}

// Five nodes in two zones: n3 is cordoned, n4 has no GPU; a pod uses 2 GPUs of n1; gang
// ml/train (2 x 8 GPUs) is planned and holds 16 GPUs; gang ml/big (4 x 8 GPUs) waits.
struct Cluster {
  policy::Engine engine{policy::Options()};
  std::vector<policy::Node> nodes;
  Cluster() {
    auto add = [&](policy::Node n, const char* model) {
      if (model) n.labels.Set("nvidia.com/gpu.product", model);
      nodes.push_back(n);
      engine.UpsertNode(n);
    };
    add(MakeNode("n1", 8, "z1", "b1", "r1"), "H100");
    add(MakeNode("n2", 8, "z1", "b1", "r1"), "H100");
    policy::Node n3 = MakeNode("n3", 8, "z1", "b2", "r2");
    n3.unschedulable = true;
    add(n3, "A100");
    add(MakeNode("n4", 0, "z2", "b3", "r3"), nullptr);
    add(MakeNode("n5", 8, "z2", "b3", "r3"), "H100");
    policy::Pod running = MakePod("inference", 2);
    running.node_name = "n1";
    running.phase = policy::PodPhase::kRunning;
    engine.UpsertPod(running, 0);
    std::vector<policy::Candidate> all = policy::testing::AllNodes(nodes);
    for (int i = 0; i < 2; ++i) engine.UpsertPod(MakeGangPod("train", 2, i, 8), 0);
    engine.Filter(MakeGangPod("train", 2, 0, 8), all, 1000);
    for (int i = 0; i < 4; ++i) engine.Filter(MakeGangPod("big", 4, i, 8), all, 1000);
  }
  ViewLayout layout = LayoutFor(engine.options());
  std::vector<policy::NodeGpuRow> Rows() const { return engine.GpuRows(layout.RowKeys()); }
};

NodeFilter Filter(const ViewLayout& layout, const Params& params, bool paged = true) {
  NodeFilter f;
  Status s = ParseNodeFilter(layout, params, paged, &f);
  REQUIRE_MESSAGE(s.ok(), s.message());
  return f;
}

const rapidjson::Value* Find(const rapidjson::Value& array, const char* key,
                             std::string_view name) {
  for (const auto& v : array.GetArray()) {
    if (Str(v[key]) == name) return &v;
  }
  return nullptr;
}

TEST_CASE("the layout follows the engine's topology levels") {
  policy::Options o;
  o.topology_levels = {"topology.kubernetes.io/zone", "kubernetes.io/hostname", "",
                       "mlsched.io/rack", "topology.kubernetes.io/zone"};
  ViewLayout l = LayoutFor(o);
  CHECK(l.level_keys == std::vector<std::string>{"topology.kubernetes.io/zone", "mlsched.io/rack"});
  CHECK(l.level_names == std::vector<std::string>{"zone", "rack"});
  CHECK(l.RowKeys().size() == 2 + l.model_keys.size());
}

TEST_CASE("filter parameters: each is read, anything else is refused by name") {
  ViewLayout l = LayoutFor(policy::Options());
  struct Case {
    const char* name;
    Params params;
    bool paged;
    bool ok;
    const char* error_has;
  };
  const Case cases[] = {
      {"empty", {}, true, true, ""},
      {"levels and model", {{"zone", "z1"}, {"rack", "r1"}, {"model", "H100"}}, true, true, ""},
      {"an empty level value is no filter", {{"zone", ""}}, true, true, ""},
      {"paging", {{"offset", "10"}, {"limit", "99999"}}, true, true, ""},
      {"paging on the summary", {{"offset", "1"}}, false, false, "unknown parameter \"offset\""},
      {"negative offset", {{"offset", "-1"}}, true, false, "offset must be a non-negative integer"},
      {"limit not a number", {{"limit", "ten"}}, true, false, "limit must be"},
      {"unknown", {{"color", "red"}}, true, false, "unknown parameter \"color\""},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    NodeFilter f;
    f.offset = 77;  // left alone on failure
    Status s = ParseNodeFilter(l, c.params, c.paged, &f);
    CHECK(s.ok() == c.ok);
    if (!c.ok) {
      CHECK(s.message().find(c.error_has) != std::string::npos);
      CHECK(f.offset == 77);
    }
  }
  NodeFilter f =
      Filter(l, {{"zone", "z1"}, {"rack", "r1"}, {"domains", "a/b,,c"}, {"limit", "99999"}});
  CHECK(f.levels.size() == 2);
  CHECK(f.domains == std::vector<std::string>{"a/b", "c"});
  CHECK(f.limit == 5000);
  CHECK(Filter(l, {{"zone", ""}}).levels.empty());
}

TEST_CASE("summary: GPU counts per domain, free/used/reserved/unavailable, per gang") {
  Cluster c;
  auto d = ParseJson(SummaryJson(c.layout, c.Rows(), c.engine.Gangs(), NodeFilter()));
  const auto& all = d["cluster"];
  CHECK(all["nodes"].GetInt() == 5);
  CHECK(all["gpus"].GetInt() == 32);
  CHECK(all["used"].GetInt() == 2);
  CHECK(all["reserved"].GetInt() == 16);
  CHECK(all["unavailable"].GetInt() == 8);  // the cordoned n3
  CHECK(all["free"].GetInt() == 6);
  CHECK(d["gangs"]["waiting"].GetInt() == 1);
  CHECK(d["gangs"]["planned"].GetInt() == 1);

  // region-1 > z1, z2 > blocks > racks, naturally ordered; leaves have no children.
  REQUIRE(d["tree"].Size() == 1);
  const auto& region = d["tree"][0];
  CHECK(Str(region["name"]) == "region-1");
  CHECK(region["reserved_by_gang"]["ml/train"].GetInt() == 16);
  REQUIRE(region["children"].Size() == 2);
  const auto& z1 = region["children"][0];
  CHECK(Str(z1["name"]) == "z1");
  CHECK(z1["nodes"].GetInt() == 3);
  const auto& r1 = z1["children"][0]["children"][0];
  CHECK(Str(r1["path"]) == "region-1/z1/b1/r1");
  CHECK(r1["level"].GetInt() == 3);
  CHECK(!r1.HasMember("children"));
  CHECK(r1["used"].GetInt() == 2);

  // The filter choices list every value; models count their nodes.
  CHECK(Str(d["levels"][1]["name"]) == "zone");
  CHECK(d["levels"][1]["values"].Size() == 2);
  const auto* h100 = Find(d["models"], "model", "H100");
  REQUIRE(h100);
  CHECK((*h100)["nodes"].GetInt() == 3);
  CHECK(Find(d["models"], "model", "(no GPU)"));

  // Filtered: only z2 is counted in `selected` and drawn; `cluster` stays whole.
  auto f = ParseJson(
      SummaryJson(c.layout, c.Rows(), c.engine.Gangs(), Filter(c.layout, {{"zone", "z2"}}, false)));
  CHECK(f["selected"]["nodes"].GetInt() == 2);
  CHECK(f["cluster"]["nodes"].GetInt() == 5);
  REQUIRE(f["tree"][0]["children"].Size() == 1);
  CHECK(Str(f["tree"][0]["children"][0]["name"]) == "z2");
  auto m = ParseJson(SummaryJson(c.layout, c.Rows(), c.engine.Gangs(),
                                 Filter(c.layout, {{"model", "A100"}}, false)));
  CHECK(m["selected"]["nodes"].GetInt() == 1);
  CHECK(m["selected"]["unavailable"].GetInt() == 8);
}

TEST_CASE("nodes: paged detail for the domains asked for, or for a gang's plan") {
  Cluster c;
  auto rows = c.Rows();
  auto gangs = c.engine.Gangs();
  auto d = ParseJson(
      NodesJson(c.layout, rows, gangs, Filter(c.layout, {{"domains", "region-1/z1/b1/r1"}})));
  CHECK(d["total"].GetInt() == 2);
  REQUIRE(d["nodes"].Size() == 2);
  const auto& n1 = d["nodes"][0];
  CHECK(Str(n1["name"]) == "n1");
  CHECK(Str(n1["model"]) == "H100");
  CHECK(n1["used"].GetInt() == 2);
  CHECK(n1["free"].GetInt() == 6);

  // A prefix only matches whole path parts: "region-1/z" is no domain.
  d = ParseJson(NodesJson(c.layout, rows, gangs, Filter(c.layout, {{"domains", "region-1/z"}})));
  CHECK(d["total"].GetInt() == 0);
  d = ParseJson(NodesJson(c.layout, rows, gangs,
                          Filter(c.layout, {{"domains", "region-1/z2,region-1/z1/b2"}})));
  CHECK(d["total"].GetInt() == 3);

  d = ParseJson(
      NodesJson(c.layout, rows, gangs, Filter(c.layout, {{"offset", "1"}, {"limit", "2"}})));
  CHECK(d["total"].GetInt() == 5);
  REQUIRE(d["nodes"].Size() == 2);
  CHECK(Str(d["nodes"][0]["name"]) == "n2");

  // The cordoned node: nothing free, its GPUs unavailable.
  d = ParseJson(NodesJson(c.layout, rows, gangs, Filter(c.layout, {{"block", "b2"}})));
  REQUIRE(d["nodes"].Size() == 1);
  CHECK(!d["nodes"][0]["schedulable"].GetBool());
  CHECK(d["nodes"][0]["free"].GetInt() == 0);
  CHECK(d["nodes"][0]["unavailable"].GetInt() == 8);

  // The planned gang's nodes, with its reserved GPUs.
  d = ParseJson(NodesJson(c.layout, rows, gangs, Filter(c.layout, {{"gang", "ml/train"}})));
  REQUIRE(d["nodes"].Size() == 2);
  int64_t reserved = 0;
  for (const auto& n : d["nodes"].GetArray()) {
    REQUIRE(n["reserved_by_gang"].Size() == 1);
    CHECK(Str(n["reserved_by_gang"][0]["gang"]) == "ml/train");
    reserved += n["reserved"].GetInt();
  }
  CHECK(reserved == 16);
}

TEST_CASE("gangs: waiting first, with the reason, the GPUs reserved and where the plan is") {
  Cluster c;
  auto d = ParseJson(GangsJson(c.layout, c.Rows(), c.engine.Gangs(), 200));
  CHECK(d["total"].GetInt() == 2);
  REQUIRE(d["gangs"].Size() == 2);
  const auto& big = d["gangs"][0];
  CHECK(Str(big["gang"]) == "ml/big");
  CHECK(Str(big["state"]) == "waiting");
  CHECK(Str(big["reason"]).find("GPU") != std::string::npos);
  CHECK(big["reserved_gpus"].GetInt() == 0);
  CHECK(big["min_member"].GetInt() == 4);
  const auto& train = d["gangs"][1];
  CHECK(Str(train["state"]) == "planned");
  CHECK(train["reserved_gpus"].GetInt() == 16);
  REQUIRE(train["plan"].Size() == 2);
  for (const auto& m : train["plan"].GetArray()) {
    std::string node = Str(m["node"]);
    CHECK(!node.empty());
    CHECK(Str(m["path"]).rfind("region-1/", 0) == 0);
  }
  // The limit keeps the most urgent ones.
  d = ParseJson(GangsJson(c.layout, c.Rows(), c.engine.Gangs(), 1));
  REQUIRE(d["gangs"].Size() == 1);
  CHECK(Str(d["gangs"][0]["gang"]) == "ml/big");
  CHECK(d["total"].GetInt() == 2);
}

TEST_CASE("pipelines: where steps ran and where the next one is steered") {
  Cluster c;
  policy::Pod prep = MakePod("prep-pod", 0);
  prep.annotations.Set("mlsched.io/pipeline", "nightly");
  prep.annotations.Set("mlsched.io/step", "prep");
  prep.node_name = "n4";
  prep.phase = policy::PodPhase::kRunning;
  c.engine.UpsertPod(prep, 10'000);
  policy::Pod train = MakePod("train-pod", 1);
  train.annotations.Set("mlsched.io/pipeline", "nightly");
  train.annotations.Set("mlsched.io/step", "train");
  train.annotations.Set("mlsched.io/after", "prep");
  train.annotations.Set("mlsched.io/data-locality", "rack");
  c.engine.UpsertPod(train, 11'000);
  // A run whose first step has not run anywhere yet.
  policy::Pod first = MakePod("first-pod", 0);
  first.annotations.Set("mlsched.io/pipeline", "fresh");
  first.annotations.Set("mlsched.io/step", "load");
  c.engine.UpsertPod(first, 11'000);

  auto d = ParseJson(PipelinesJson(c.engine.PipelineRuns(50), 70'000));
  REQUIRE(d["runs"].Size() == 2);
  const auto& nightly = d["runs"][0];
  CHECK(Str(nightly["run"]) == "ml/nightly");
  CHECK(nightly["idle_seconds"].GetInt() == 60);
  REQUIRE(nightly["steps"].Size() == 1);
  CHECK(Str(nightly["steps"][0]["step"]) == "prep");
  CHECK(Str(nightly["steps"][0]["node"]) == "n4");
  REQUIRE(nightly["pending"].Size() == 1);
  const auto& next = nightly["pending"][0];
  CHECK(Str(next["pod"]) == "ml/train-pod");
  CHECK(Str(next["step"]) == "train");
  CHECK(Str(next["locality"]) == "mlsched.io/rack");
  REQUIRE(next["steered_to"].Size() == 1);
  CHECK(Str(next["steered_to"][0]) == "n4");
  CHECK(Str(next["after"][0]) == "prep");
  const auto& fresh = d["runs"][1];
  CHECK(Str(fresh["run"]) == "ml/fresh");
  CHECK(fresh["idle_seconds"].IsNull());
  CHECK(fresh["steps"].Size() == 0);
  REQUIRE(fresh["pending"].Size() == 1);
  CHECK(fresh["pending"][0]["steered_to"].Size() == 0);

  // The limit bounds the runs returned.
  CHECK(c.engine.PipelineRuns(1).size() <= 2);
  CHECK(c.engine.PipelineRuns(1)[0].run == "ml/nightly");
}

TEST_CASE("service history: per-verb rate and latency in slots over the last minutes") {
  ServiceHistory h;
  const int64_t t0 = 1'000'000;
  for (int i = 0; i < 99; ++i) h.Record("filter", false, 0.0005, t0);  // 0.5 ms
  h.Record("filter", true, 0.2, t0 + 1);                               // one slow error
  h.Record("prioritize", false, 0.001, t0 + ServiceHistory::kSlotMs);
  h.Record("healthz", false, 0.001, t0);  // not a verb: ignored
  auto s = h.Snapshot(t0 + ServiceHistory::kSlotMs);
  REQUIRE(s.size() == ServiceHistory::kVerbs.size());
  const auto& filter = s[0];
  CHECK(filter.verb == "filter");
  REQUIRE(filter.slots.size() == ServiceHistory::kSlots);
  CHECK(filter.slots.back().count == 0);  // the current slot
  const auto& prev = filter.slots[ServiceHistory::kSlots - 2];
  CHECK(prev.count == 100);
  CHECK(prev.errors == 1);
  // p50 within a factor of two of 0.5 ms; p99 and max see the slow one (bounded by the max).
  CHECK(prev.p50_ms >= 0.5);
  CHECK(prev.p50_ms <= 1.0);
  CHECK(prev.max_ms == doctest::Approx(200));
  CHECK(prev.p99_ms <= prev.max_ms);
  CHECK(filter.window.count == 100);
  CHECK(s[1].window.count == 1);
  CHECK(s[1].slots.back().count == 1);

  // After the window has passed, old slots no longer count, even where the ring reuses them.
  auto later = h.Snapshot(t0 + ServiceHistory::kSlots * ServiceHistory::kSlotMs + 1);
  CHECK(later[0].window.count == 0);
  h.Record("filter", false, 0.001, t0 + ServiceHistory::kSlots * ServiceHistory::kSlotMs);
  later = h.Snapshot(t0 + ServiceHistory::kSlots * ServiceHistory::kSlotMs);
  CHECK(later[0].window.count == 1);
}

TEST_CASE("service JSON: verbs, the model's sizes and the API watch state") {
  ServiceHistory h;
  h.Record("bind", false, 0.002, 5000);
  ApiWatchState api;
  api.source = "api-server";
  api.detail = "https://10.0.0.1:6443";
  api.synced = true;
  api.relists = 3;
  policy::ModelStats st;
  st.nodes = 12;
  auto d = ParseJson(ServiceJson(h.Snapshot(5000), st, api));
  CHECK(d["slot_seconds"].GetInt() == 10);
  const auto* bind = Find(d["verbs"], "verb", "bind");
  REQUIRE(bind);
  CHECK((*bind)["window"]["count"].GetInt() == 1);
  CHECK((*bind)["slots"].Size() == ServiceHistory::kSlots);
  CHECK(d["model"]["nodes"].GetInt() == 12);
  CHECK(Str(d["api"]["source"]) == "api-server");
  CHECK(d["api"]["synced"].GetBool());
  CHECK(!d["api"]["connected"].GetBool());
  CHECK(d["api"]["relists"].GetInt() == 3);
}

TEST_CASE("ClusterView::Serve: the five views, bad parameters and unknown views") {
  Cluster c;
  ServiceHistory h;
  ClusterView v(&c.engine, &h, [] {
    ApiWatchState a;
    a.source = "cluster-file";
    return a;
  });
  for (const char* path : {"/debug/view/summary", "/debug/view/nodes", "/debug/view/gangs",
                           "/debug/view/pipelines", "/debug/view/service"}) {
    CAPTURE(path);
    ViewAnswer a = v.Serve(path, {}, 1000, 1000);
    CHECK(a.code == 200);
    ParseJson(a.body);
  }
  CHECK(Str(ParseJson(v.Serve("/debug/view/service", {}, 0, 0).body)["api"]["source"]) ==
        "cluster-file");
  struct Bad {
    const char* path;
    Params params;
    int code;
  };
  const Bad bad[] = {
      {"/debug/view/nodes", {{"limit", "x"}}, 400},
      {"/debug/view/summary", {{"limit", "1"}}, 400},
      {"/debug/view/gangs", {{"zone", "z1"}}, 400},
      {"/debug/view/pipelines", {{"limit", "-3"}}, 400},
      {"/debug/view/service", {{"x", "1"}}, 400},
      {"/debug/view/everything", {}, 404},
  };
  for (const Bad& b : bad) {
    CAPTURE(b.path);
    ViewAnswer a = v.Serve(b.path, b.params, 0, 0);
    CHECK(a.code == b.code);
    CHECK(ParseJson(a.body)["error"].IsString());
  }
}

TEST_CASE("the page and the views over HTTP on the debug port only") {
  Cluster c;
  ServerOptions o;
  o.debug_port = 0;
  testing::TestServer t(&c.engine, o);
  httplib::Client dbg("127.0.0.1", t.server.debug_port());
  for (const char* path : {"/", "/ui/", "/ui"}) {
    CAPTURE(path);
    auto r = dbg.Get(path);
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->get_header_value("Content-Type").rfind("text/html", 0) == 0);
    CHECK(r->get_header_value("Content-Security-Policy").find("default-src 'none'") !=
          std::string::npos);
    CHECK(r->get_header_value("X-Content-Type-Options") == "nosniff");
    CHECK(r->body.find("/ui/app.js") != std::string::npos);
  }
  auto js = dbg.Get("/ui/app.js");
  REQUIRE(js);
  CHECK(js->status == 200);
  CHECK(js->get_header_value("Content-Type").rfind("text/javascript", 0) == 0);
  CHECK(js->body.find("/debug/view/summary") != std::string::npos);
  CHECK(dbg.Get("/ui/style.css")->status == 200);
  CHECK(dbg.Get("/ui/../server.cc")->status == 404);
  CHECK(dbg.Get("/ui/nothing.js")->status == 404);
  CHECK(dbg.Post("/", "", "text/plain")->status == 405);

  // A filter on the main port shows in the service view; percent-encoded filters are read.
  std::string body = R"({"Pod":{"metadata":{"name":"p","namespace":"ml","uid":"u-p"},)"
                     R"("spec":{"containers":[]}},"NodeNames":["n1","n2"]})";
  REQUIRE(t.Post("/filter", body)->status == 200);
  auto s = ParseJson(dbg.Get("/debug/view/service")->body);
  CHECK((*Find(s["verbs"], "verb", "filter"))["window"]["count"].GetInt() == 1);
  auto n = dbg.Get("/debug/view/nodes?domains=region-1%2Fz1%2Fb1%2Fr1");
  REQUIRE(n->status == 200);
  CHECK(n->get_header_value("Cache-Control") == "no-store");
  CHECK(ParseJson(n->body)["total"].GetInt() == 2);
  auto bad = dbg.Get("/debug/view/nodes?offset=x");
  CHECK(bad->status == 400);
  CHECK(Str(ParseJson(bad->body)["error"]).find("offset") != std::string::npos);
  // Not on the main port.
  CHECK(t.Get("/")->status == 404);
  CHECK(t.Get("/debug/view/summary")->status == 404);
}

}  // namespace
}  // namespace mlsched::extender
