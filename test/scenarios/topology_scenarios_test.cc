// Topology and GPU-packing scenarios of issue 5.

#include <doctest/doctest.h>

#include <random>

#include "test/scenarios/scenario_util.h"

namespace mlsched::bench::scenario {
namespace {

TEST_CASE("gangs land in one rack when one rack can hold them") {
  Summary s[2];
  for (bool mlsched : {true, false}) {
    // 2 zones x 2 blocks x 2 racks x 4 nodes x 8 GPUs = 32 nodes, 256 GPUs; a rack is 32 GPUs.
    Run run(mlsched, Cluster(2, 2, 2, 4, 8));
    // Background: 16 long two-GPU pods first, then six gangs of 4 x 4 GPUs (16 GPUs each).
    for (int k = 0; k < 16; ++k) {
      REQUIRE(run.driver->Submit(Single("bg-" + std::to_string(k), 2, 4 * kHour)).ok());
    }
    for (int g = 0; g < 6; ++g) {
      REQUIRE(
          run.driver
              ->Submit(Gang("gang-" + std::to_string(g), 4, 4, 30 * kMinute, kMinute + g * kSecond))
              .ok());
    }
    run.driver->RunUntil(8 * kHour);
    s[mlsched ? 0 : 1] = run.Summarize();
  }
  PrintSideBySide("gangs in one rack", s[0], s[1]);
  CHECK(s[0].gangs_completed == 6);
  CHECK(s[0].gangs_multi_rack == 0);
  CHECK(s[1].gangs_multi_rack > 0);  // the stock spread scatters them
}

TEST_CASE("a rack-required gang that cannot fit in one rack waits and holds nothing") {
  Summary s[2];
  std::string why;
  for (bool mlsched : {true, false}) {
    Run run(mlsched, Cluster(1, 2, 2, 2, 8));  // 4 racks of 2 nodes: 16 GPUs per rack, 64 free
    JobSpec gang = Gang("wide", 3, 8, 30 * kMinute);  // 24 GPUs: more than a rack
    for (PodSpec& p : gang.pods) p.pod.annotations.Set(kTopologyRequiredAnnotation, kRackLabel);
    REQUIRE(run.driver->Submit(std::move(gang)).ok());
    for (int k = 0; k < 4; ++k) {
      REQUIRE(run.driver
                  ->Submit(Single("other-" + std::to_string(k), 2, 10 * kMinute, kSecond * (k + 1)))
                  .ok());
    }
    run.driver->RunUntil(2 * kHour);
    s[mlsched ? 0 : 1] = run.Summarize();
    if (mlsched) why = run.driver->Pod("ml", "wide-worker-0")->last_reason;
  }
  PrintSideBySide("rack-required gang larger than a rack", s[0], s[1]);
  MESSAGE("why wide-worker-0 waits: " << why);
  CHECK(s[0].gangs_started == 0);
  CHECK(s[0].max_gpus_held_by_incomplete_gangs == 0);
  CHECK(s[0].jobs_completed == 4);    // the other pods run meanwhile
  CHECK(s[1].gangs_multi_rack == 1);  // without: it runs across racks, ignoring the request
}

// A stream of 1-, 2-, 4- and 8-GPU jobs at about 85% load on 32 nodes.
std::vector<JobSpec> MixedStream(uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::discrete_distribution<int> size({40, 25, 20, 15});  // 1, 2, 4, 8 GPUs
  std::uniform_int_distribution<int> minutes(10, 60);
  std::exponential_distribution<double> gap(1.0 / 25.0);  // seconds between arrivals
  std::vector<JobSpec> jobs;
  double t = 0;
  for (int k = 0; k < 400; ++k) {
    int gpus = 1 << size(rng);
    t += gap(rng);
    jobs.push_back(Single("job-" + std::to_string(k), gpus, minutes(rng) * kMinute,
                          static_cast<TimeMs>(t * 1000)));
  }
  return jobs;
}

TEST_CASE("a mixed 1/2/4/8-GPU stream leaves fewer partly used nodes than without mlsched") {
  Summary s[2];
  for (bool mlsched : {true, false}) {
    Run run(mlsched, Cluster(2, 2, 2, 4, 8));
    for (JobSpec& j : MixedStream(7)) REQUIRE(run.driver->Submit(std::move(j)).ok());
    run.driver->RunUntil(12 * kHour);
    s[mlsched ? 0 : 1] = run.Summarize();
  }
  PrintSideBySide("mixed 1/2/4/8-GPU stream (fragmentation)", s[0], s[1]);
  CHECK(s[0].jobs_completed == s[0].jobs_arrived);
  CHECK(s[0].mean_partly_used_nodes < s[1].mean_partly_used_nodes);
  CHECK(s[0].mean_full_node_jobs_fit > s[1].mean_full_node_jobs_fit);
}

}  // namespace
}  // namespace mlsched::bench::scenario
