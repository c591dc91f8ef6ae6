#include "policy/pipeline.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

namespace mlsched::policy {
namespace {

using KV = std::initializer_list<std::pair<std::string, std::string>>;

Pod MakePod(std::string name, KV labels, KV annotations, std::string node = "",
            PodPhase phase = PodPhase::kRunning) {
  Pod p;
  p.ns = "ml";
  p.name = std::move(name);
  p.labels = Labels(labels);
  p.annotations = Labels(annotations);
  p.node_name = std::move(node);
  p.phase = phase;
  return p;
}

Pod Step(std::string name, std::string run, std::string step, std::string node,
         std::string after = "") {
  Pod p = MakePod(std::move(name), {}, {{"mlsched.io/pipeline", run}, {"mlsched.io/step", step}},
                  std::move(node));
  if (!after.empty()) p.annotations.Set("mlsched.io/after", after);
  return p;
}

Node MakeNode(std::string name, KV kv) {
  Node n;
  n.name = std::move(name);
  n.labels = Labels(kv);
  return n;
}

TEST_CASE("pipeline: recognising steps across conventions") {
  Options o;
  struct Case {
    const char* name;
    Pod pod;
    bool want;
    const char* run;
    const char* step;
    const char* short_step;
    const char* source;
  } cases[] = {
      {"not a step", MakePod("p", {{"app", "x"}}, {}), false, "", "", "", ""},
      {"mlsched annotations",
       MakePod("p", {}, {{"mlsched.io/pipeline", "r1"}, {"mlsched.io/step", "train"}}), true,
       "ml/r1", "train", "train", "mlsched"},
      {"mlsched labels",
       MakePod("p", {{"mlsched.io/pipeline", "r1"}, {"mlsched.io/step", "prep"}}, {}), true,
       "ml/r1", "prep", "prep", "mlsched"},
      {"Argo step",
       MakePod("wf-1-123", {{"workflows.argoproj.io/workflow", "wf-1"}},
               {{"workflows.argoproj.io/node-name", "wf-1[0].prep(1)"}}),
       true, "ml/wf-1", "wf-1[0].prep(1)", "prep", "argo-workflows"},
      // KFP v1 on Argo: run id label, display name annotation, Argo labels too.
      {"KFP v1",
       MakePod("p", {{"pipeline/runid", "uuid-1"}, {"workflows.argoproj.io/workflow", "wf"}},
               {{"pipelines.kubeflow.org/task_display_name", "Train model"},
                {"workflows.argoproj.io/node-name", "wf.train"}}),
       true, "ml/uuid-1", "Train model", "Train model", "kubeflow-pipelines"},
      // KFP v2: run id label and the Argo node name.
      {"KFP v2",
       MakePod("p",
               {{"pipeline/runid", "uuid-2"},
                {"pipelines.kubeflow.org/v2_component", "true"},
                {"workflows.argoproj.io/workflow", "wf2"}},
               {{"workflows.argoproj.io/node-name", "wf2.root.comp-eval"}}),
       true, "ml/uuid-2", "wf2.root.comp-eval", "comp-eval", "kubeflow-pipelines"},
      {"KFP v2 driver pods are not steps",
       MakePod("run-x-system-container-driver-1793831555", {{"pipeline/runid", "uuid-2"}},
               {{"workflows.argoproj.io/node-name", "run-x.root.train-driver"}}),
       false, "", "", "", ""},
      {"KFP v2 executor pods are",
       MakePod("run-x-system-container-impl-1257429848", {{"pipeline/runid", "uuid-2"}}, {}), true,
       "ml/uuid-2", "run-x-system-container-impl-1257429848",
       "run-x-system-container-impl-1257429848", "kubeflow-pipelines"},
      {"mlsched wins over KFP and Argo",
       MakePod("p", {{"pipeline/runid", "uuid"}, {"workflows.argoproj.io/workflow", "wf"}},
               {{"mlsched.io/pipeline", "mine"}}),
       true, "ml/mine", "p", "p", "mlsched"},
      {"empty run value is no run", MakePod("p", {}, {{"mlsched.io/pipeline", "  "}}), false, "",
       "", "", ""},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    StepInfo s;
    s.run = "stale";
    CHECK(RecognizeStep(c.pod, o, &s) == c.want);
    CHECK(s.run == c.run);
    if (!c.want) continue;
    CHECK(s.step == c.step);
    CHECK(s.short_step == c.short_step);
    CHECK(s.source == c.source);
    CHECK(s.locality_key == "kubernetes.io/hostname");  // default: node
    CHECK_FALSE(s.locality_required);
    CHECK(s.problems.empty());
  }
}

TEST_CASE("pipeline: after, data-locality and data-locality-required") {
  Options o;
  o.data_locality_rack_level = "example.com/rack";
  struct Case {
    const char* name;
    KV annotations;
    std::vector<std::string> after;
    const char* key;
    bool required;
    size_t problems;
  } cases[] = {
      {"after list",
       {{"mlsched.io/after", " prep, ,feat ,prep,"}},
       {"prep", "feat"},
       "kubernetes.io/hostname",
       false,
       0},
      {"rack maps to the option",
       {{"mlsched.io/data-locality", "rack"}},
       {},
       "example.com/rack",
       false,
       0},
      {"zone, any case",
       {{"mlsched.io/data-locality", "Zone"}},
       {},
       "topology.kubernetes.io/zone",
       false,
       0},
      {"none", {{"mlsched.io/data-locality", "none"}}, {}, "", false, 0},
      {"a label key",
       {{"mlsched.io/data-locality", "mlsched.io/block"}},
       {},
       "mlsched.io/block",
       false,
       0},
      {"nonsense keeps node",
       {{"mlsched.io/data-locality", "nearby"}},
       {},
       "kubernetes.io/hostname",
       false,
       1},
      {"required true",
       {{"mlsched.io/data-locality-required", "true"}},
       {},
       "kubernetes.io/hostname",
       true,
       0},
      {"required rack sets the level",
       {{"mlsched.io/data-locality", "zone"}, {"mlsched.io/data-locality-required", "rack"}},
       {},
       "example.com/rack",
       true,
       0},
      {"required false",
       {{"mlsched.io/data-locality-required", "false"}},
       {},
       "kubernetes.io/hostname",
       false,
       0},
      {"required with locality none",
       {{"mlsched.io/data-locality", "none"}, {"mlsched.io/data-locality-required", "true"}},
       {},
       "",
       false,
       1},
      {"required nonsense",
       {{"mlsched.io/data-locality-required", "maybe"}},
       {},
       "kubernetes.io/hostname",
       false,
       1},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    Pod p = MakePod("p", {{"mlsched.io/pipeline", "r"}}, c.annotations);
    StepInfo s;
    REQUIRE(RecognizeStep(p, o, &s));
    CHECK(s.after == c.after);
    CHECK(s.locality_key == c.key);
    CHECK(s.locality_required == c.required);
    CHECK(s.problems.size() == c.problems);
  }
}

TEST_CASE("pipeline: short step names") {
  struct Case {
    const char* in;
    const char* want;
  } cases[] = {
      {"train", "train"},
      {"wf.train", "train"},
      {"wf[0].prep", "prep"},
      {"wf[0].prep(1)", "prep"},
      {"wf.dag.proc(0:a.b)", "proc"},
      {"wf.loop[2]", "loop"},
      {"wf.(", "("},
      {"a(b", "a(b"},
      {"x)", "x)"},
      {".", "."},
      {"", ""},
  };
  for (const Case& c : cases) {
    CAPTURE(c.in);
    CHECK(ShortStepName(c.in) == c.want);
  }
}

TEST_CASE("pipeline: locality level against the topology") {
  Topology t = Topology::Build(Options{}, std::vector<Node>{});
  StepInfo s;
  CHECK(LocalityLevel(s, t) == t.NodeLevel());
  s.locality_key = "mlsched.io/rack";
  CHECK(LocalityLevel(s, t) == 3);
  s.locality_key = "example.com/unknown";  // strictest reading
  CHECK(LocalityLevel(s, t) == t.NodeLevel());
  s.locality_key = "";
  CHECK(LocalityLevel(s, t) == -1);
}

TEST_CASE("pipeline: recognising functions") {
  struct Case {
    const char* name;
    Pod pod;
    const char* key;
    const char* source;
  } cases[] = {
      {"none", MakePod("p", {}, {}), "", ""},
      {"mlsched", MakePod("p", {}, {{"mlsched.io/function", "embed"}}), "ml/embed", "mlsched"},
      {"OpenFaaS", MakePod("p", {{"faas_function", "resize"}}, {}), "ml/resize", "openfaas"},
      {"OpenFaaS key in annotations is not a label", MakePod("p", {}, {{"faas_function", "x"}}), "",
       ""},
      {"Knative service",
       MakePod("p",
               {{"serving.knative.dev/service", "svc"},
                {"serving.knative.dev/configuration", "cfg"},
                {"serving.knative.dev/revision", "svc-00001"}},
               {}),
       "ml/svc", "knative"},
      {"Knative configuration only",
       MakePod("p",
               {{"serving.knative.dev/configuration", "cfg"},
                {"serving.knative.dev/revision", "cfg-00002"}},
               {}),
       "ml/cfg", "knative"},
      {"mlsched wins",
       MakePod("p", {{"faas_function", "resize"}}, {{"mlsched.io/function", "mine"}}), "ml/mine",
       "mlsched"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    FunctionInfo f;
    CHECK(RecognizeFunction(c.pod, &f) == (c.key[0] != '\0'));
    CHECK(f.key == c.key);
    CHECK(f.source == c.source);
  }
}

std::vector<std::string> Nodes(const std::vector<PipelineHistory::Predecessor>& preds) {
  std::vector<std::string> out;
  for (const auto& p : preds) out.push_back(p.step + "@" + p.node);
  return out;
}

TEST_CASE("pipeline: history records where steps ran, including finished ones") {
  Options o;
  PipelineHistory h(o);
  h.Observe(Step("a", "r", "prep", ""), 0);  // pending: nothing to record
  CHECK(h.NumRuns() == 0);
  h.ObserveBind(Step("a", "r", "prep", ""), "n1", 10);
  CHECK(h.NumRuns() == 1);
  Pod done = Step("a", "r", "prep", "n1");
  done.phase = PodPhase::kSucceeded;
  h.Observe(done, 100);
  h.Observe(Step("b", "r", "feat", "n2"), 200);
  Pod failed = Step("c", "r", "train", "n3");
  failed.phase = PodPhase::kFailed;
  h.Observe(failed, 300);                                    // failed: not recorded
  h.Observe(MakePod("x", {{"app", "web"}}, {}, "n9"), 300);  // not a step
  CHECK(h.NumStepRecords() == 2);

  StepInfo train;
  REQUIRE(RecognizeStep(Step("c2", "r", "train", "", "prep,feat"), o, &train));
  CHECK(Nodes(h.Predecessors(train)) == std::vector<std::string>{"prep@n1", "feat@n2"});

  // Without after: the most recent step and those within 10 s before it (prep ended 100 ms
  // before feat: parallel branches both count), most recent first.
  StepInfo implicit;
  REQUIRE(RecognizeStep(Step("c3", "r", "train", ""), o, &implicit));
  CHECK(Nodes(h.Predecessors(implicit)) == std::vector<std::string>{"feat@n2", "prep@n1"});
  h.Observe(Step("d", "r", "eval", "n4"), 60'000);
  CHECK(Nodes(h.Predecessors(implicit)) == std::vector<std::string>{"eval@n4"});

  // A step is never its own predecessor; a retry moves the record.
  StepInfo eval;
  REQUIRE(RecognizeStep(Step("d2", "r", "eval", ""), o, &eval));
  CHECK(Nodes(h.Predecessors(eval)) == std::vector<std::string>{"feat@n2", "prep@n1"});
  h.Observe(Step("b-retry", "r", "feat", "n5"), 61'000);
  CHECK(Nodes(h.Predecessors(train)) == std::vector<std::string>{"prep@n1", "feat@n5"});

  // Unknown runs and unknown predecessors give nothing.
  StepInfo other;
  REQUIRE(RecognizeStep(Step("z", "other-run", "train", "", "prep"), o, &other));
  CHECK(h.Predecessors(other).empty());
  REQUIRE(RecognizeStep(Step("z", "r", "push", "", "nope"), o, &other));
  CHECK(h.Predecessors(other).empty());
}

TEST_CASE("pipeline: after matches Argo short names and whole fan-outs") {
  Options o;
  PipelineHistory h(o);
  for (int i = 0; i < 3; ++i) {
    Pod p =
        MakePod("w-" + std::to_string(i), {{"workflows.argoproj.io/workflow", "wf"}},
                {{"workflows.argoproj.io/node-name", "wf[0].shard(" + std::to_string(i) + ":x)"}},
                "n" + std::to_string(i));
    h.Observe(p, 100 + i);
  }
  Pod merge =
      MakePod("w-m", {{"workflows.argoproj.io/workflow", "wf"}},
              {{"workflows.argoproj.io/node-name", "wf[1].merge"}, {"mlsched.io/after", "shard"}});
  StepInfo s;
  REQUIRE(RecognizeStep(merge, o, &s));
  CHECK(Nodes(h.Predecessors(s)).size() == 3);
}

TEST_CASE("pipeline: runs are forgotten after the TTL") {
  Options o;
  o.pipeline_ttl_ms = 1000;
  PipelineHistory h(o);
  h.Observe(Step("a", "r1", "prep", "n1"), 0);
  h.Observe(Step("b", "r2", "prep", "n1"), 500);
  h.Expire(1000);
  CHECK(h.NumRuns() == 2);
  h.Expire(1001);
  CHECK(h.NumRuns() == 1);                         // r1 idle for more than the TTL
  h.Observe(Step("b", "r2", "feat", "n1"), 1400);  // r2 is refreshed
  h.Expire(2000);
  CHECK(h.NumRuns() == 1);
  h.Expire(2401);
  CHECK(h.NumRuns() == 0);
  CHECK(h.NumStepRecords() == 0);
}

TEST_CASE("pipeline: memory caps drop the least recently updated") {
  Options o;
  HistoryLimits limits;
  limits.max_runs = 2;
  limits.max_steps_per_run = 3;
  limits.max_step_records = 5;
  PipelineHistory h(o, limits);
  h.Observe(Step("a", "r1", "s1", "n1"), 1);
  h.Observe(Step("a", "r2", "s1", "n1"), 2);
  h.Observe(Step("a", "r1", "s2", "n1"), 3);  // r1 is now the most recent
  h.Observe(Step("a", "r3", "s1", "n1"), 4);  // evicts r2
  CHECK(h.NumRuns() == 2);
  StepInfo q;
  REQUIRE(RecognizeStep(Step("q", "r2", "s9", ""), o, &q));
  CHECK(h.Predecessors(q).empty());
  REQUIRE(RecognizeStep(Step("q", "r1", "s9", "", "s1,s2"), o, &q));
  CHECK(h.Predecessors(q).size() == 2);
  // Per-run cap: the oldest step of the run goes.
  for (int i = 3; i <= 5; ++i) h.Observe(Step("a", "r1", "s" + std::to_string(i), "n1"), 10 + i);
  REQUIRE(RecognizeStep(Step("q", "r1", "s9", "", "s1,s2,s3,s4,s5"), o, &q));
  std::vector<std::string> left = Nodes(h.Predecessors(q));
  CHECK(left == std::vector<std::string>{"s3@n1", "s4@n1", "s5@n1"});
  CHECK(h.NumStepRecords() == 4);  // r1: 3, r3: 1
  // Global cap: r3 (least recently updated) goes when r1 grows past 5 records in all.
  limits.max_steps_per_run = 10;
  PipelineHistory g(o, limits);
  g.Observe(Step("a", "old", "s", "n"), 1);
  for (int i = 0; i < 5; ++i) g.Observe(Step("a", "new", "s" + std::to_string(i), "n"), 2 + i);
  CHECK(g.NumRuns() == 1);
  CHECK(g.NumStepRecords() == 5);
  // A single run larger than the global cap keeps itself (never evicts the run just updated).
  g.Observe(Step("a", "new", "s9", "n"), 20);
  CHECK(g.NumRuns() == 1);
  CHECK(g.NumStepRecords() == 6);
  // Zero caps are raised to one, not a crash.
  PipelineHistory z(o, HistoryLimits{0, 0, 0, 0, 0});
  z.Observe(Step("a", "r", "s", "n"), 1);
  z.Observe(Step("a", "r", "t", "n"), 2);
  CHECK(z.NumStepRecords() == 1);
}

TEST_CASE("pipeline: function warm nodes") {
  Options o;
  o.function_warm_ms = 1000;
  HistoryLimits limits;
  limits.max_nodes_per_function = 2;
  limits.max_functions = 2;
  PipelineHistory h(o, limits);
  Pod f = MakePod("f-1", {{"faas_function", "resize"}}, {}, "n1");
  h.Observe(f, 0);
  f.node_name = "n2";
  h.Observe(f, 100);
  f.node_name = "n3";
  h.Observe(f, 200);  // cap 2: n1 (oldest) goes
  auto warm = h.WarmNodes("ml/resize", 300);
  REQUIRE(warm.size() == 2);
  CHECK(warm[0].first == "n2");
  CHECK(warm[1].first == "n3");
  CHECK(h.WarmNodes("ml/resize", 1150).size() == 1);  // n2 went cold
  CHECK(h.WarmNodes("ml/other", 300).empty());
  h.Observe(MakePod("g", {{"faas_function", "g"}}, {}, "n1"), 300);
  h.Observe(MakePod("k", {{"serving.knative.dev/service", "k"}}, {}, "n1"), 400);
  CHECK(h.NumFunctions() == 2);  // resize went (least recently updated)
  CHECK(h.WarmNodes("ml/resize", 400).empty());
  h.Expire(1401);
  CHECK(h.NumFunctions() == 0);
}

// rack r1 = n0, n1; rack r2 = n2, n3; all one zone.
Topology FilterTopology(std::vector<Node>* storage) {
  *storage = {
      MakeNode("n0", {{"topology.kubernetes.io/zone", "z"}, {"mlsched.io/rack", "r1"}}),
      MakeNode("n1", {{"topology.kubernetes.io/zone", "z"}, {"mlsched.io/rack", "r1"}}),
      MakeNode("n2", {{"topology.kubernetes.io/zone", "z"}, {"mlsched.io/rack", "r2"}}),
      MakeNode("n3", {{"topology.kubernetes.io/zone", "z"}, {"mlsched.io/rack", "r2"}}),
  };
  Options o;
  o.topology_levels = {"topology.kubernetes.io/zone", "mlsched.io/rack"};
  return Topology::Build(o, *storage);
}

TEST_CASE("pipeline: hard data locality filter") {
  std::vector<Node> storage;
  Topology t = FilterTopology(&storage);
  const int node = t.NodeLevel(), rack = 1;
  using Preds = std::vector<PipelineHistory::Predecessor>;
  const std::vector<uint32_t> all = {0, 1, 2, 3, kNoDomain};
  const std::vector<uint8_t> fit_all = {1, 1, 1, 1, 1};
  struct Case {
    const char* name;
    Preds preds;
    int level;
    std::vector<uint8_t> fits;
    std::vector<uint8_t> want;
    bool fallback;
  } cases[] = {
      {"not required", {{"prep", "n0", 0}}, -1, fit_all, {1, 1, 1, 1, 1}, false},
      {"node level", {{"prep", "n0", 0}}, node, fit_all, {1, 0, 0, 0, 0}, false},
      {"rack level", {{"prep", "n0", 0}}, rack, fit_all, {1, 1, 0, 0, 0}, false},
      {"any of several predecessors",
       {{"a", "n0", 0}, {"b", "n3", 0}},
       node,
       fit_all,
       {1, 0, 0, 1, 0},
       false},
      {"predecessor's node deleted", {{"prep", "gone", 0}}, node, fit_all, {1, 1, 1, 1, 1}, true},
      {"one of two deleted",
       {{"a", "gone", 0}, {"b", "n2", 0}},
       node,
       fit_all,
       {0, 0, 1, 0, 0},
       false},
      {"predecessor's node full",
       {{"prep", "n0", 0}},
       node,
       {0, 1, 1, 1, 1},
       {1, 1, 1, 1, 1},
       true},
      {"rack full but one node fits",
       {{"prep", "n0", 0}},
       rack,
       {0, 1, 1, 1, 1},
       {1, 1, 0, 0, 0},
       false},
      {"no predecessor recorded", {}, node, fit_all, {1, 1, 1, 1, 1}, true},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    LocalityDecision d = DecideDataLocality(t, c.preds, c.level, all, c.fits);
    CHECK(d.pass == c.want);
    CHECK(d.fallback.empty() != c.fallback);
    bool some_fail = std::count(d.pass.begin(), d.pass.end(), 0) > 0;
    CHECK(d.reason.empty() != some_fail);
  }
  LocalityDecision d = DecideDataLocality(t, Preds{{"prep", "n0", 0}}, node, all, fit_all);
  CHECK(d.reason == "data-locality-required: not in the node of step prep (n0)");
  d = DecideDataLocality(t, Preds{{"prep", "gone", 0}}, node, all, fit_all);
  CHECK(d.fallback == "data-locality-required: the node of step prep (gone) is gone; not enforced");
  d = DecideDataLocality(t, Preds{{"prep", "n0", 0}}, rack, all,
                         std::vector<uint8_t>{0, 0, 1, 1, 1});
  CHECK(d.fallback ==
        "data-locality-required: no node in the mlsched.io/rack domain of step prep (n0) can "
        "take the pod; not enforced");
  // fits shorter than the candidate list: missing entries do not fit.
  d = DecideDataLocality(t, Preds{{"prep", "n0", 0}}, node, all, std::vector<uint8_t>{});
  CHECK_FALSE(d.fallback.empty());
}

TEST_CASE("pipeline: end to end, a predecessor whose node was deleted") {
  std::vector<Node> storage;
  Topology before = FilterTopology(&storage);
  Options o;
  PipelineHistory h(o);
  h.Observe(Step("a", "r", "prep", "n1"), 0);
  StepInfo train;
  Pod p = Step("b", "r", "train", "", "prep");
  p.annotations.Set("mlsched.io/data-locality-required", "true");
  REQUIRE(RecognizeStep(p, o, &train));
  auto preds = h.Predecessors(train);
  REQUIRE(preds.size() == 1);
  std::vector<uint32_t> cands = {0, 1, 2, 3};
  std::vector<uint8_t> fits = {1, 1, 1, 1};
  LocalityDecision d = DecideDataLocality(before, preds, LocalityLevel(train, before), cands, fits);
  CHECK(d.pass == std::vector<uint8_t>{0, 1, 0, 0});
  // n1 is deleted: the topology is rebuilt without it; the step falls back with a reason.
  storage.erase(storage.begin() + 1);
  Options to;
  to.topology_levels = {"topology.kubernetes.io/zone", "mlsched.io/rack"};
  Topology after = Topology::Build(to, storage);
  std::vector<uint32_t> cands2 = {0, 1, 2};
  d = DecideDataLocality(after, preds, LocalityLevel(train, after), cands2,
                         std::vector<uint8_t>{1, 1, 1});
  CHECK(d.pass == std::vector<uint8_t>{1, 1, 1});
  CHECK(d.fallback.find("gone") != std::string::npos);
}

}  // namespace
}  // namespace mlsched::policy
