#pragma once

// Helpers shared by the scenario tests: small clusters, jobs built by hand, and one call that
// runs the same jobs with mlsched (in-process engine) and without (no extender) and prints
// the figures side by side.

#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "bench/driver/driver.h"
#include "bench/driver/inprocess.h"
#include "bench/driver/metrics.h"
#include "bench/driver/types.h"

namespace mlsched::bench::scenario {

inline constexpr TimeMs kSecond = 1000;
inline constexpr TimeMs kMinute = 60 * kSecond;
inline constexpr TimeMs kHour = 60 * kMinute;

inline std::vector<policy::Node> Cluster(int zones, int blocks, int racks, int nodes_per_rack,
                                         int gpus, int64_t milli_cpu = 64'000,
                                         int64_t memory = 512LL << 30) {
  ClusterShape s;
  s.zones = zones;
  s.blocks_per_zone = blocks;
  s.racks_per_block = racks;
  s.nodes_per_rack = nodes_per_rack;
  s.gpus_per_node = gpus;
  s.milli_cpu = milli_cpu;
  s.memory = memory;
  return MakeCluster(s);
}

inline PodSpec MakePod(const std::string& name, int64_t gpus, TimeMs duration,
                       int64_t milli_cpu = 2'000, int64_t memory = 8LL << 30) {
  PodSpec p;
  p.pod.ns = "ml";
  p.pod.name = name;
  p.pod.requests = Request(milli_cpu, memory, gpus);
  p.duration_ms = duration;
  return p;
}

// A gang of `members` pods of `gpus_each` GPUs, declared with mlsched's annotations. Member k
// is created `stagger*k + offset` ms after the job arrives.
inline JobSpec Gang(const std::string& name, int members, int64_t gpus_each, TimeMs duration,
                    TimeMs arrival = 0, TimeMs stagger = 0, TimeMs offset = 0) {
  JobSpec j;
  j.name = name;
  j.kind = JobKind::kTraining;
  j.arrival_ms = arrival;
  j.gang_size = members;
  for (int k = 0; k < members; ++k) {
    PodSpec p = MakePod(name + "-worker-" + std::to_string(k), gpus_each, duration,
                        4'000 * gpus_each, (16LL << 30) * gpus_each);
    p.pod.annotations.Set(kGangAnnotation, name);
    p.pod.annotations.Set(kGangSizeAnnotation, std::to_string(members));
    p.create_delay_ms = stagger * k + offset;
    j.pods.push_back(std::move(p));
  }
  return j;
}

inline JobSpec Single(const std::string& name, int64_t gpus, TimeMs duration, TimeMs arrival = 0) {
  JobSpec j;
  j.name = name;
  j.kind = gpus > 0 ? JobKind::kGpu : JobKind::kCpu;
  j.arrival_ms = arrival;
  j.pods.push_back(MakePod(name, gpus, duration, 2'000 * std::max<int64_t>(1, gpus),
                           (8LL << 30) * std::max<int64_t>(1, gpus)));
  return j;
}

// One run of a scenario: a driver plus (optionally) its in-process extender.
struct Run {
  std::unique_ptr<Driver> driver;
  std::unique_ptr<InProcessExtender> extender;
  bool with_mlsched = false;

  Run(bool mlsched, std::vector<policy::Node> nodes, DriverOptions options = {},
      policy::Options policy_options = {})
      : with_mlsched(mlsched) {
    options.label = mlsched ? "with mlsched" : "without";
    driver = std::make_unique<Driver>(options, nodes, nullptr);
    if (mlsched) {
      extender = std::make_unique<InProcessExtender>(policy_options, driver.get());
      driver->SetExtender(extender.get());
    }
  }
  // An extender restart: a new engine rebuilt from the cluster state.
  void RestartExtender(policy::Options policy_options = {}) {
    auto fresh = std::make_unique<InProcessExtender>(policy_options, driver.get());
    driver->SetExtender(fresh.get());
    extender = std::move(fresh);
  }
  Summary Summarize() const { return bench::Summarize(driver->Result()); }
};

inline void PrintSideBySide(const char* title, const Summary& with, const Summary& without) {
  std::printf("\n=== %s ===\n%s", title, FormatTable(SideBySide(with, without)).c_str());
}

}  // namespace mlsched::bench::scenario
