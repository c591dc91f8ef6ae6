#pragma once

// ML cluster workloads for the driver: a seeded generator shaped on published trace
// statistics, a plain CSV format to replay any trace, and readers for the two shared traces
// (Microsoft Philly jobs; Alibaba PAI pods on the Alibaba GPU node list).

#include <cstdint>
#include <string>
#include <vector>

#include "bench/driver/types.h"
#include "policy/status.h"

namespace mlsched::bench {

struct GeneratorOptions {
  uint64_t seed = 1;
  TimeMs span_ms = 24LL * 3600 * 1000;  // arrivals over this long (default: a day)
  int64_t cluster_gpus = 4096;          // the arrival rate is set for this capacity ...
  double load = 0.75;                   // ... to offer this share of it in GPU-time
  int gpus_per_node = 8;                // gang rule: ceil(gpus / gpus_per_node) workers
  // CPU-only pods per GPU job: Alibaba PAI 13.35% CPU-only pods -> 0.154 per GPU pod.
  double cpu_pods_per_gpu_job = 0.154;
  double pipelines_per_hour = 6;        // 5-step pipeline runs
  double function_bursts_per_hour = 3;  // bursts of 16..48 pods of one of `functions`
  int functions = 6;
  double pod_group_share = 0.3;                 // gangs declared by a scheduler-plugins PodGroup
  TimeMs max_duration_ms = 24LL * 3600 * 1000;  // cap on one job's run time
  TimeMs controller_stagger_ms = 20;            // gang members are created this far apart
};

// Generates a workload; the same options give the same workload.
Workload Generate(const GeneratorOptions& options);

// The GPU-count and duration samplers of the generator (Philly figures), exposed for tests.
int SamplePhillyGpus(double u);
double SamplePhillyDurationSeconds(double u);

// Builds the job for `gpus` GPUs by the gang rule: one pod for <= gpus_per_node GPUs, else
// ceil(gpus/gpus_per_node) workers of gpus_per_node GPUs (the last gets the remainder).
JobSpec MakeGpuJob(const std::string& name, TimeMs arrival, int64_t gpus, TimeMs duration,
                   int64_t milli_cpu_per_gpu, int64_t memory_per_gpu, int gpus_per_node,
                   bool use_pod_group, TimeMs stagger_ms);

// ---- The replay format: CSV with a header line. ----
//
//   submit_s,duration_s,num_gpus,cpu_milli,memory_mib,kind,name,priority,group,step,after
//
// Required: submit_s, duration_s, num_gpus; any column order; unknown columns are ignored;
// empty cells take the default. kind: "gpu" (default; the gang rule splits jobs larger than a
// node), "cpu", "pipeline" (one row per step: `group` names the run, `step` the step, `after`
// its predecessor steps separated by ';'; a step is created when they finish) or "function"
// (`group` names the function). cpu_milli and memory_mib are per pod (defaults: 4 cores and
// 16 GiB per GPU, 2 cores and 4 GiB for CPU pods). Lines starting with '#' are comments.
Status ReadWorkloadCsv(const std::string& path, int gpus_per_node, Workload* out);
Status ParseWorkloadCsv(const std::string& text, int gpus_per_node, Workload* out);
std::string FormatWorkloadCsv(const Workload& workload);

// ---- Microsoft Philly (philly-adaptdl-simulator.csv). ----
struct PhillyOptions {
  double start_day = 30;  // offset from the first submission (the trace starts sparse)
  double hours = 24;      // window of submissions to replay
  int gpus_per_node = 8;
  TimeMs max_duration_ms = 24LL * 3600 * 1000;
  std::string cluster;  // only this virtual cluster (empty: all)
  double pod_group_share = 0.3;
};
Status ReadPhilly(const std::string& path, const PhillyOptions& options, Workload* out);

// ---- Alibaba PAI GPU v2023 (FGD paper). ----
// Nodes of openb_node_list_gpu_node.csv, placed in racks of 16 in file order (the trace has no
// topology) with their GPU model as nvidia.com/gpu.product.
Status ReadAlibabaNodes(const std::string& path, std::vector<policy::Node>* out);
struct AlibabaOptions {
  bool include_pending = false;  // pods that never ran in the trace
  // Fractional GPU requests (GPU sharing, 37.8% of the pods) ask a whole GPU: the stock
  // scheduler cannot share one without a device plugin extension.
  bool keep_timing = true;  // false: every pod arrives 1 s after the previous, never ends
  size_t max_pods = 0;      // 0: all
};
Status ReadAlibabaPods(const std::string& path, const AlibabaOptions& options, Workload* out);

}  // namespace mlsched::bench
