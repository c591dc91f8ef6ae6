// Tests of the workload generator, the replay CSV and the shared-trace readers.

#include "bench/workload/workload.h"

#include <doctest/doctest.h>

#include <map>

namespace mlsched::bench {
namespace {

const std::string kTraces = std::string(MLSCHED_SHARED_DIR) + "/traces/";

TEST_CASE("the generator is seeded and reproducible, and follows the Philly GPU mix") {
  GeneratorOptions o;
  o.span_ms = 6LL * 3600 * 1000;
  o.cluster_gpus = 1024;
  Workload a = Generate(o), b = Generate(o);
  REQUIRE(a.jobs.size() == b.jobs.size());
  CHECK((FormatWorkloadCsv(a) == FormatWorkloadCsv(b)));
  o.seed = 2;
  CHECK_FALSE(FormatWorkloadCsv(Generate(o)) == FormatWorkloadCsv(a));
  std::map<JobKind, int> kinds;
  for (const JobSpec& j : a.jobs) {
    ++kinds[j.kind];
    if (j.kind == JobKind::kTraining) {
      CHECK(j.gang_size == static_cast<int>(j.pods.size()));
      CHECK(j.gang_size == (j.Gpus() + 7) / 8);
    }
  }
  MESSAGE(a.description);
  CHECK(kinds[JobKind::kGpu] > 0);
  CHECK(kinds[JobKind::kCpu] > 0);
  CHECK(kinds[JobKind::kPipeline] > 0);
  CHECK(kinds[JobKind::kFunction] > 0);
  // The sampler reproduces the table's shares.
  std::map<int, int> counts;
  const int n = 100'000;
  for (int k = 0; k < n; ++k) ++counts[SamplePhillyGpus((k + 0.5) / n)];
  CHECK(counts[1] == doctest::Approx(0.9317 * n).epsilon(0.01));
  CHECK(counts[8] == doctest::Approx(0.0200 * n).epsilon(0.02));
  CHECK(SamplePhillyDurationSeconds(0.5) == doctest::Approx(1144));
}

TEST_CASE("the replay CSV round-trips and rejects bad input with the line number") {
  GeneratorOptions o;
  o.span_ms = 3LL * 3600 * 1000;
  o.cluster_gpus = 512;
  Workload a = Generate(o);
  std::string csv = FormatWorkloadCsv(a);
  Workload b;
  Status s = ParseWorkloadCsv(csv, 8, &b);
  REQUIRE_MESSAGE(s.ok(), s.message());
  REQUIRE(b.jobs.size() == a.jobs.size());
  int64_t ga = 0, gb = 0;
  for (const JobSpec& j : a.jobs) ga += j.Gpus();
  for (const JobSpec& j : b.jobs) gb += j.Gpus();
  CHECK(ga == gb);
  CHECK((FormatWorkloadCsv(b) == csv));

  struct Case {
    const char* text;
    const char* want;
  };
  const Case cases[] = {
      {"", "no header"},
      {"submit_s,num_gpus\n1,1\n", "missing column duration_s"},
      {"submit_s,duration_s,num_gpus\n1,2,x\n", "line 2"},
      {"submit_s,duration_s,num_gpus\n-1,2,1\n", "submit_s"},
      {"submit_s,duration_s,num_gpus\n1,2,1.5\n", "num_gpus"},
      {"submit_s,duration_s,num_gpus,kind\n1,2,1,weird\n", "unknown kind"},
      {"submit_s,duration_s,num_gpus,kind,group,step,after\n1,2,0,pipeline,r,b,a\n",
       "unknown step"},
      {"submit_s,duration_s,num_gpus\n1,2,1,9\n", "cells"},
  };
  for (const Case& c : cases) {
    Workload w;
    Status e = ParseWorkloadCsv(c.text, 8, &w);
    CHECK_MESSAGE(!e.ok(), c.text);
    CHECK_MESSAGE(e.message().find(c.want) != std::string::npos, e.message());
  }
  Workload w;
  CHECK(ReadWorkloadCsv("/nonexistent/file.csv", 8, &w).code() == Status::Code::kNotFound);
}

TEST_CASE("the shared Philly and Alibaba traces load") {
  Workload philly;
  PhillyOptions po;
  po.hours = 6;
  Status s = ReadPhilly(kTraces + "philly-adaptdl-simulator.csv", po, &philly);
  REQUIRE_MESSAGE(s.ok(), s.message());
  MESSAGE(philly.description);
  CHECK(philly.jobs.size() > 50);
  for (size_t k = 1; k < philly.jobs.size(); ++k) {
    CHECK(philly.jobs[k - 1].arrival_ms <= philly.jobs[k].arrival_ms);
  }
  std::vector<policy::Node> nodes;
  s = ReadAlibabaNodes(kTraces + "alibaba-gpu-v2023-openb-node-list-gpu-node.csv", &nodes);
  REQUIRE_MESSAGE(s.ok(), s.message());
  CHECK(nodes.size() == 1213);
  Workload ali;
  s = ReadAlibabaPods(kTraces + "alibaba-gpu-v2023-openb-pod-list-default.csv", {}, &ali);
  REQUIRE_MESSAGE(s.ok(), s.message());
  CHECK(ali.jobs.size() == 8152 - 897);  // without the pods that never ran
}

}  // namespace
}  // namespace mlsched::bench
