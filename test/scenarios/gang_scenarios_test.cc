// Gang scenarios of issue 4, driven through the scheduler driver with mlsched (in-process
// engine) and without (the same driver, no extender).

#include <doctest/doctest.h>

#include "test/scenarios/scenario_util.h"

namespace mlsched::bench::scenario {
namespace {

// Two 8-member gangs of one GPU each whose pods are created interleaved (as two jobs
// submitted together are), on 3 nodes of 4 GPUs: 12 free GPUs for 16 GPUs of demand.
std::vector<JobSpec> TwoGangsOnTwelveGpus() {
  return {Gang("gang-a", 8, 1, 10 * kMinute, 0, 2, 0), Gang("gang-b", 8, 1, 10 * kMinute, 0, 2, 1)};
}

TEST_CASE("two 8-GPU gangs on 12 free GPUs: one completes, the other waits holding nothing") {
  Summary s[2];
  for (bool mlsched : {true, false}) {
    Run run(mlsched, Cluster(1, 1, 1, 3, 4));
    for (JobSpec& j : TwoGangsOnTwelveGpus()) REQUIRE(run.driver->Submit(std::move(j)).ok());

    // While the first gang runs (5 minutes in), look at who holds what.
    run.driver->RunUntil(5 * kMinute);
    Sample mid = run.driver->SampleNow();
    auto a = run.driver->Job("gang-a"), b = run.driver->Job("gang-b");
    REQUIRE(a);
    REQUIRE(b);
    MESSAGE(std::string(mlsched ? "with" : "without")
            << " mlsched at 5 min: gang-a bound " << a->bound_members << ", gang-b bound "
            << b->bound_members << ", GPUs used " << mid.gpus_used << ", held by incomplete gangs "
            << mid.gpus_held_incomplete);
    if (mlsched) {
      CHECK(a->started + b->started >= 0);  // exactly one of them runs
      CHECK(((a->started >= 0) != (b->started >= 0)));
      CHECK(mid.gpus_held_incomplete == 0);  // the waiting gang holds nothing
      CHECK(mid.gpus_used == 8);
    } else {
      CHECK(a->started < 0);  // the deadlock: neither can start
      CHECK(b->started < 0);
      CHECK(mid.gpus_held_incomplete == 12);
    }

    run.driver->RunUntil(2 * kHour);
    s[mlsched ? 0 : 1] = run.Summarize();
    if (mlsched) {
      CHECK(s[0].gangs_completed == 2);  // the second completes when the first ends
      CHECK(s[0].gpu_hours_held_by_incomplete_gangs == doctest::Approx(0));
      CHECK(s[0].max_gpus_held_by_incomplete_gangs == 0);
    } else {
      CHECK(s[1].gangs_completed == 0);
      CHECK(s[1].gangs_partly_placed == 2);
      CHECK(s[1].max_gpus_held_by_incomplete_gangs == 12);
    }
  }
  PrintSideBySide("two 8-GPU gangs on 12 free GPUs", s[0], s[1]);
}

TEST_CASE("gangs mixed with ordinary pods: every gang completes, none holds GPUs while waiting") {
  Summary s[2];
  for (bool mlsched : {true, false}) {
    Run run(mlsched, Cluster(1, 1, 2, 2, 8));  // 4 nodes, 32 GPUs
    // Three gangs of 3 x 4 GPUs and 12 two-GPU pods, arriving interleaved over a minute.
    for (int g = 0; g < 3; ++g) {
      REQUIRE(run.driver
                  ->Submit(
                      Gang("gang-" + std::to_string(g), 3, 4, 20 * kMinute, g * 10 * kSecond, 3, g))
                  .ok());
    }
    for (int k = 0; k < 12; ++k) {
      REQUIRE(
          run.driver
              ->Submit(Single("pod-" + std::to_string(k), 2, (5 + k) * kMinute, k * 5 * kSecond))
              .ok());
    }
    run.driver->RunUntil(6 * kHour);
    s[mlsched ? 0 : 1] = run.Summarize();
  }
  PrintSideBySide("gangs mixed with ordinary pods", s[0], s[1]);
  CHECK(s[0].gangs_completed == 3);
  CHECK(s[0].jobs_completed == s[0].jobs_arrived);
  CHECK(s[0].gpu_hours_held_by_incomplete_gangs == doctest::Approx(0));
  CHECK(s[1].gpu_hours_held_by_incomplete_gangs > 0);  // the stock scheduler holds half-gangs
}

TEST_CASE("a gang larger than the cluster waits and holds nothing") {
  Summary s[2];
  for (bool mlsched : {true, false}) {
    Run run(mlsched, Cluster(1, 1, 1, 3, 4));                            // 12 GPUs
    REQUIRE(run.driver->Submit(Gang("huge", 4, 4, 30 * kMinute)).ok());  // 16 GPUs
    for (int k = 0; k < 4; ++k) {
      REQUIRE(
          run.driver
              ->Submit(Single("small-" + std::to_string(k), 1, 10 * kMinute, kMinute + k * kSecond))
              .ok());
    }
    run.driver->RunUntil(3 * kHour);
    s[mlsched ? 0 : 1] = run.Summarize();
    const PodRecord* member = run.driver->Pod("ml", "huge-worker-0");
    REQUIRE(member);
    MESSAGE(std::string(mlsched ? "with" : "without")
            << " mlsched, why huge-worker-0 waits: " << member->last_reason);
    if (mlsched) {
      CHECK(member->bound < 0);
      CHECK(member->last_reason.find("gang") != std::string::npos);
    }
  }
  PrintSideBySide("a gang larger than the cluster", s[0], s[1]);
  CHECK(s[0].max_gpus_held_by_incomplete_gangs == 0);
  CHECK(s[0].gangs_partly_placed == 0);
  CHECK(s[0].jobs_completed == 4);  // the small pods are not blocked by the gang
  CHECK(s[1].max_gpus_held_by_incomplete_gangs == 12);  // without: 3 of 4 members hold it all
  CHECK(s[1].jobs_completed == 0);
}

// Runs a 4 x 4-GPU gang on 2 nodes of 8 GPUs with one scheduling cycle per 10 ms, stops the
// run after two members went through their cycle, applies `disrupt`, then runs to the end.
Summary MidGang(bool mlsched, const std::function<void(Run&)>& disrupt) {
  DriverOptions o;
  o.cycle_ms = 10;
  Run run(mlsched, Cluster(1, 1, 1, 2, 8), o);
  REQUIRE(run.driver->Submit(Gang("llama", 4, 4, 15 * kMinute, 0, 0, 0)).ok());
  run.driver->RunUntil(25);
  const PodRecord* w0 = run.driver->Pod("ml", "llama-worker-0");
  const PodRecord* w3 = run.driver->Pod("ml", "llama-worker-3");
  REQUIRE(w0);
  REQUIRE(w3);
  CHECK(w0->attempts == 1);  // mid-gang: the first members went through a cycle ...
  CHECK(w3->attempts == 0);  // ... the last one not yet
  disrupt(run);
  run.driver->RunUntil(2 * kHour);
  Sample end = run.driver->SampleNow();
  CHECK(end.gpus_used == 0);  // nothing leaked once the gang is done
  return run.Summarize();
}

TEST_CASE("a member deleted mid-gang: the gang still completes and nothing leaks") {
  auto del = [](Run& run) { REQUIRE(run.driver->DeletePod("ml", "llama-worker-1", true).ok()); };
  Summary with = MidGang(true, del), without = MidGang(false, del);
  PrintSideBySide("a member deleted mid-gang", with, without);
  CHECK(with.gangs_completed == 1);
  CHECK(with.max_gpus_held_by_incomplete_gangs == 0);
  CHECK(without.gangs_completed == 1);
}

TEST_CASE("an extender restart mid-gang: a new engine rebuilt from the cluster completes it") {
  Summary with = MidGang(true, [](Run& run) { run.RestartExtender(); });
  Summary without = MidGang(false, [](Run&) {});
  PrintSideBySide("an extender restart mid-gang", with, without);
  CHECK(with.gangs_completed == 1);
  CHECK(with.max_gpus_held_by_incomplete_gangs == 0);
}

}  // namespace
}  // namespace mlsched::bench::scenario
