// mlsched-bench-view: what the cluster view's JSON costs to build, and how big it is, on a
// 5,000-node cluster in 4 topology levels (200 racks of 25 nodes, 20,000 pods, a planned and a
// waiting gang, a pipeline run). In process: engine snapshot + JSON, the work a debug request
// does besides HTTP. Each view is compared with two baselines from the same run: the whole node
// list as /debug/view/nodes?limit=5000 writes it (what a page would fetch without summaries) and
// one filter call of a GPU pod over every node (what kube-scheduler asks for each pod).
// Medians of 15 rounds. `--quick`: 500 nodes, 3 rounds (for the test suite).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "bench/machine.h"
#include "extender/cluster_view.h"
#include "policy/engine.h"
#include "test/policy/test_cluster.h"

using namespace mlsched;
using namespace mlsched::policy::testing;

namespace {

int kNodes = 5000;
int kRounds = 15;

void Fill(policy::Engine& e, std::vector<policy::Node>& nodes) {
  for (int i = 0; i < kNodes; ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "node-%05d", i);
    int rack = i / 25, block = rack / 10, zone = block / 5;
    policy::Node n = MakeNode(name, i % 10 == 9 ? 0 : 8, "zone-" + std::to_string(zone),
                              "block-" + std::to_string(block), "rack-" + std::to_string(rack));
    if (i % 10 != 9) n.labels.Set("nvidia.com/gpu.product", i % 3 ? "H100" : "A100");
    if (i % 97 == 0) n.unschedulable = true;
    nodes.push_back(n);
    e.UpsertNode(n);
  }
  for (int i = 0; i < kNodes * 4; ++i) {
    policy::Pod p = MakePod("p" + std::to_string(i), i % 9 == 0 ? 1 : 0, 1);
    p.node_name = nodes[i % kNodes].name;
    p.phase = policy::PodPhase::kRunning;
    e.UpsertPod(p, 0);
  }
  for (int s = 0; s < 3; ++s) {
    policy::Pod st = MakePod("step" + std::to_string(s), 0, 1);
    st.annotations.Set("mlsched.io/pipeline", "run1");
    st.annotations.Set("mlsched.io/step", "s" + std::to_string(s));
    st.node_name = nodes[100 + s].name;
    e.UpsertPod(st, 1000);
  }
  std::vector<policy::Candidate> all = AllNodes(nodes);
  for (int m = 0; m < 16; ++m) e.UpsertPod(MakeGangPod("planned", 16, m, 8), 0);
  e.Filter(MakeGangPod("planned", 16, 0, 8), all, 1000);
  for (int m = 0; m < 3; ++m) e.Filter(MakeGangPod("waiting", 4, m, 8), all, 1000);
}

struct Result {
  double us;
  size_t bytes;
};

Result Measure(const std::function<std::string()>& f) {
  std::vector<double> t;
  size_t bytes = 0;
  for (int r = 0; r < kRounds; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    bytes = f().size();
    t.push_back(
        std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(t.begin(), t.end());
  return {t[t.size() / 2], bytes};
}

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) {
      kNodes = 500;
      kRounds = 3;
    } else {
      std::fprintf(stderr, "usage: mlsched-bench-view [--quick]\n");
      return 2;
    }
  }
  std::printf("command: %s\nmachine: %s\nload average: %s\n",
              mlsched::bench::CommandLine(argc, argv).c_str(), mlsched::bench::MachineLine().c_str(),
              mlsched::bench::LoadAverage().c_str());
  policy::Engine engine{policy::Options()};
  std::vector<policy::Node> nodes;
  Fill(engine, nodes);
  extender::ServiceHistory history;
  for (int i = 0; i < 3000; ++i) history.Record("filter", false, 0.0006, i * 100);
  extender::ClusterView view(&engine, &history, nullptr);
  auto serve = [&](const char* path, extender::Params p) {
    return [&view, path, p] {
      extender::ViewAnswer a = view.Serve(path, p, 10'000, 300'000);
      if (a.code != 200) {
        std::fprintf(stderr, "%s: %d %s\n", path, a.code, a.body.c_str());
        std::exit(1);
      }
      return a.body;
    };
  };
  const Result full = Measure(serve("/debug/view/nodes", {{"limit", "5000"}}));
  std::vector<policy::Candidate> all = AllNodes(nodes);
  policy::Pod pod = MakePod("probe", 1, 2);
  const Result filter = Measure([&] {
    policy::FilterResult r = engine.Filter(pod, all, 2000);
    return std::to_string(r.passed.size());
  });
  std::printf("%d nodes, baselines: whole node list %.0f us (%zu bytes); one filter call %.0f us\n",
              kNodes, full.us, full.bytes, filter.us);
  const extender::ViewLayout layout = extender::LayoutFor(engine.options());
  const Result rows_only =
      Measure([&] { return std::to_string(engine.GpuRows(layout.RowKeys()).size()); });
  const Result stats_only = Measure([&] { return std::to_string(engine.Stats().pods); });
  std::printf("%d nodes, parts: Engine::GpuRows %.0f us, Engine::Stats %.0f us\n", kNodes,
              rows_only.us, stats_only.us);
  struct Row {
    const char* what;
    std::function<std::string()> f;
  };
  const Row rows[] = {
      {"/debug/view/summary", serve("/debug/view/summary", {})},
      {"/debug/view/summary?zone=zone-1", serve("/debug/view/summary", {{"zone", "zone-1"}})},
      {"/debug/view/nodes?domains=<1 rack>",
       serve("/debug/view/nodes", {{"domains", "region-1/zone-0/block-0/rack-7"}})},
      {"/debug/view/nodes?domains=<10 racks>",
       serve("/debug/view/nodes", {{"block", "block-3"}, {"limit", "5000"}})},
      {"/debug/view/gangs", serve("/debug/view/gangs", {})},
      {"/debug/view/pipelines", serve("/debug/view/pipelines", {})},
      {"/debug/view/service", serve("/debug/view/service", {})},
  };
  double poll_us = 0;
  size_t poll_bytes = 0;
  for (const Row& r : rows) {
    Result x = Measure(r.f);
    std::printf(
        "%d nodes, %-38s %8.0f us %9zu bytes  (%.2fx the whole list's time, %.3fx its "
        "size; %.1f filter calls)\n",
        kNodes, r.what, x.us, x.bytes, x.us / full.us,
        static_cast<double>(x.bytes) / static_cast<double>(full.bytes), x.us / filter.us);
    if (r.what == rows[0].what || r.what == rows[2].what || r.what == rows[4].what ||
        r.what == rows[5].what || r.what == rows[6].what) {
      poll_us += x.us;
      poll_bytes += x.bytes;
    }
  }
  std::printf(
      "%d nodes, one page poll (summary + 1 open rack + gangs + pipelines + service): "
      "%.0f us, %zu bytes (%.2fx the whole list's time, %.3fx its size)\n",
      kNodes, poll_us, poll_bytes, poll_us / full.us,
      static_cast<double>(poll_bytes) / static_cast<double>(full.bytes));
  return 0;
}
