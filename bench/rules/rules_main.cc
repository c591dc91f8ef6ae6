// mlsched-bench-rules: what the topology, GPU, image, pipeline and function rules cost in
// prioritize. Two engines over the same cluster (5,000 nodes in 4 topology levels, 20,000 pods,
// a pipeline run, a 17-member gang): one with every rule, one with least-allocated alone (the
// "without topology rules" baseline of issues 5 and 6). Same process, alternating, medians of
// 15 rounds. In process, so the ratio is stricter than over HTTP, where decoding and encoding
// add the same cost to both. `--quick`: 500 nodes, 3 rounds (for the test suite).
#include <chrono>
#include <cstring>
#include <cstdio>
#include <algorithm>
#include "bench/machine.h"
#include "policy/engine.h"
#include "test/policy/test_cluster.h"
using namespace mlsched::policy;
using namespace mlsched::policy::testing;
using mlsched::bench::CommandLine;
using mlsched::bench::LoadAverage;
using mlsched::bench::MachineLine;
static int kNodes = 5000;
static int kRounds = 15;

static void Fill(Engine& e, std::vector<Node>& nodes) {
  for (int i = 0; i < kNodes; ++i) {
    char name[32]; snprintf(name, sizeof name, "node-%05d", i);
    Node n = MakeNode(name, i % 5 == 0 ? 0 : 8, "z" + std::to_string(i / 1000), "b" + std::to_string(i / 250), "r" + std::to_string(i / 16));
    NodeImage img; img.names = {"registry.example.com/ml/pytorch-train:2.3.0"}; img.size_bytes = 12LL << 30;
    if (i % 3 == 0) n.images.push_back(img);
    nodes.push_back(n); e.UpsertNode(n);
  }
  for (int i = 0; i < kNodes * 4; ++i) {
    Pod p = MakePod("p" + std::to_string(i), i % 9 == 0 ? 1 : 0, 1);
    p.node_name = nodes[i % kNodes].name; e.UpsertPod(p, 0);
  }
  // A pipeline run with two finished steps and a gang with 16 running members.
  for (int s = 0; s < 2; ++s) {
    Pod st = MakePod("step" + std::to_string(s), 0, 1);
    st.annotations.Set("mlsched.io/pipeline", "run1"); st.annotations.Set("mlsched.io/step", "s" + std::to_string(s));
    st.node_name = nodes[100 + s].name; e.UpsertPod(st, 1000);
  }
  for (int m = 0; m < 16; ++m) {
    Pod g = MakeGangPod("big", 17, m, 8); g.node_name = nodes[1 + m * 3].name; e.UpsertPod(g, 0);
  }
}
int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) {
      kNodes = 500;
      kRounds = 3;
    } else {
      std::fprintf(stderr, "usage: mlsched-bench-rules [--quick]\n");
      return 2;
    }
  }
  std::printf("command: %s\nmachine: %s\nload average: %s\n", CommandLine(argc, argv).c_str(),
              MachineLine().c_str(), LoadAverage().c_str());
  Options all;
  Options plain;
  plain.weights = ScoreWeights{1, 0, 0, 0, 0, 0, 0, 0};
  std::vector<Node> n1, n2;
  Engine a{all}, b{plain};
  Fill(a, n1); Fill(b, n2);
  std::vector<Candidate> c1 = AllNodes(n1), c2 = AllNodes(n2);
  Pod step = MakePod("new", 1, 2); step.images = {"registry.example.com/ml/pytorch-train:2.3.0"};
  step.annotations.Set("mlsched.io/pipeline", "run1"); step.annotations.Set("mlsched.io/step", "s2");
  step.annotations.Set("mlsched.io/after", "s0,s1");
  Pod gang = MakeGangPod("big", 17, 16, 8);
  Pod imaged = MakePod("imaged", 2, 8);  // topology/GPU/image rules only (issue 5)
  imaged.images = {"registry.example.com/ml/pytorch-train:2.3.0"};
  for (const Pod* p : {&imaged, &gang, &step}) {
    std::vector<double> ta, tb;
    for (int rep = 0; rep < kRounds; ++rep) {
      for (int which = 0; which < 2; ++which) {
        Engine& e = which ? b : a; auto& c = which ? c2 : c1;
        auto t0 = std::chrono::steady_clock::now();
        int64_t sink = 0;
        for (int i = 0; i < 40; ++i) sink += e.Prioritize(*p, c, 2000)[7];
        double us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count() / 40;
        if (sink < 0) std::printf("impossible\n");  // keeps the calls from being optimised away
        (which ? tb : ta).push_back(us);
      }
    }
    std::sort(ta.begin(), ta.end()); std::sort(tb.begin(), tb.end());
    double ma = ta[ta.size() / 2], mb = tb[tb.size() / 2];
    std::printf("%d nodes, %s: every rule %.0f us, least-allocated only %.0f us (medians), "
                "ratio %.2f (target <= 1.5)\n",
                kNodes,
                p == &step     ? "pipeline step with image (issue 6)"
                : p == &gang   ? "gang member, 16 anchors (issue 5)"
                               : "GPU pod with image (issue 5)",
                ma,
                mb, ma / mb);
  }
}
