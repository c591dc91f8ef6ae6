// Pipeline and function scenarios of issue 6.

#include <doctest/doctest.h>

#include <random>

#include "test/scenarios/scenario_util.h"

namespace mlsched::bench::scenario {
namespace {

// A 5-step pipeline run: prep -> features -> train -> eval -> push, each after the previous.
JobSpec Pipeline(const std::string& run, TimeMs arrival) {
  static const char* kSteps[] = {"prep", "features", "train", "eval", "push"};
  static const int64_t kGpus[] = {0, 0, 4, 1, 0};
  JobSpec j;
  j.name = run;
  j.kind = JobKind::kPipeline;
  j.arrival_ms = arrival;
  for (int k = 0; k < 5; ++k) {
    PodSpec p = MakePod(run + "-" + kSteps[k], kGpus[k], (5 + 3 * k) * kMinute, 4'000, 16LL << 30);
    p.pod.annotations.Set(kPipelineAnnotation, run);
    p.pod.annotations.Set(kStepAnnotation, kSteps[k]);
    if (k > 0) {
      p.pod.annotations.Set(kAfterAnnotation, kSteps[k - 1]);
      p.after.push_back(run + "-" + kSteps[k - 1]);
    }
    j.pods.push_back(std::move(p));
  }
  return j;
}

TEST_CASE("a 5-step pipeline on 16 nodes with background load keeps steps with their data") {
  Summary s[2];
  for (bool mlsched : {true, false}) {
    Run run(mlsched, Cluster(1, 2, 2, 4, 8));  // 16 nodes, 4 racks
    std::mt19937_64 rng(11);
    std::uniform_int_distribution<int> gpus(0, 2), minutes(5, 40);
    // Background: a steady stream of small pods over 3 hours (about half the cluster).
    for (int k = 0; k < 240; ++k) {
      REQUIRE(run.driver
                  ->Submit(Single("bg-" + std::to_string(k), gpus(rng), minutes(rng) * kMinute,
                                  k * 45 * kSecond))
                  .ok());
    }
    for (int r = 0; r < 12; ++r) {
      REQUIRE(run.driver->Submit(Pipeline("run-" + std::to_string(r), r * 15 * kMinute)).ok());
    }
    run.driver->RunUntil(12 * kHour);
    s[mlsched ? 0 : 1] = run.Summarize();
  }
  PrintSideBySide("5-step pipelines with background load", s[0], s[1]);
  MESSAGE("steps on predecessor's node: with "
          << Percent(s[0].steps_on_pred_node, s[0].pipeline_steps_with_pred) << ", without "
          << Percent(s[1].steps_on_pred_node, s[1].pipeline_steps_with_pred));
  CHECK(s[0].pipeline_steps_with_pred == 48);
  CHECK(s[0].steps_on_pred_node > s[1].steps_on_pred_node);
  CHECK(s[0].steps_on_pred_node * 10 >= s[0].pipeline_steps_with_pred * 7);  // >= 70%
  CHECK(s[0].steps_on_pred_rack >= s[1].steps_on_pred_rack);
}

TEST_CASE("a function burst starts on warm nodes") {
  Summary s[2];
  for (bool mlsched : {true, false}) {
    Run run(mlsched, Cluster(1, 2, 2, 4, 8));  // 16 nodes
    // Three functions; every 5 minutes a burst of 12 pods of one of them, 2 minutes each.
    int n = 0;
    for (int b = 0; b < 12; ++b) {
      std::string fn = "fn-" + std::to_string(b % 3);
      for (int k = 0; k < 12; ++k) {
        JobSpec j =
            Single(fn + "-" + std::to_string(n++), 1, 2 * kMinute, b * 5 * kMinute + k * 100);
        j.kind = JobKind::kFunction;
        j.pods[0].pod.annotations.Set(kFunctionAnnotation, fn);
        j.pods[0].pod.images.push_back("registry.example/" + fn + ":v1");
        REQUIRE(run.driver->Submit(std::move(j)).ok());
      }
    }
    run.driver->RunUntil(4 * kHour);
    s[mlsched ? 0 : 1] = run.Summarize();
  }
  PrintSideBySide("function bursts", s[0], s[1]);
  CHECK(s[0].function_pods == 144);
  CHECK(s[0].function_pods_warm > s[1].function_pods_warm);
}

}  // namespace
}  // namespace mlsched::bench::scenario
