#pragma once

// The figures of a run, as the quality report and the scenario tests print them.

#include <cstdint>
#include <string>
#include <vector>

#include "bench/driver/driver.h"

namespace mlsched::bench {

struct Distribution {
  int64_t count = 0;
  double mean = 0, p50 = 0, p95 = 0, max = 0;  // seconds
};

// Linear-interpolated percentiles of `values` (seconds); an empty input gives zeros.
Distribution Distribute(std::vector<double> values);

struct Summary {
  std::string label;
  std::string extender;
  int64_t jobs_arrived = 0, jobs_completed = 0, jobs_running = 0, jobs_waiting = 0;
  int64_t pods_created = 0, pods_bound = 0;
  // Gangs.
  int64_t gangs = 0, gangs_completed = 0;
  int64_t gangs_partly_placed = 0;  // at the end: some but not all members bound
  int64_t gangs_multi_rack = 0;     // started gangs spanning more than one rack
  int64_t gangs_started = 0;
  double gpu_hours_held_by_incomplete_gangs = 0;  // integrated over the samples
  int64_t max_gpus_held_by_incomplete_gangs = 0;
  // Utilisation (sample means).
  double mean_gpu_allocated = 0;  // share of GPUs requested by bound or assumed pods
  double mean_gpu_busy = 0;       // share doing useful work (not held by a waiting gang)
  // Fragmentation (sample means over samples where pods were pending).
  double mean_partly_used_nodes = 0;
  double mean_gpus_free_on_partly_used = 0;
  double mean_full_node_jobs_fit = 0;
  // Delays (seconds).
  Distribution queue_delay;  // jobs that started
  Distribution jct;          // jobs that completed
  Distribution gang_queue_delay;
  // Pipelines and functions.
  int64_t pipeline_steps_with_pred = 0, steps_on_pred_node = 0, steps_on_pred_rack = 0;
  int64_t function_pods = 0, function_pods_warm = 0;
  // Driver counters.
  int64_t cycles = 0, bind_failures = 0, extender_errors = 0;
  double wall_seconds = 0;
  double simulated_hours = 0;
};

Summary Summarize(const RunResult& run);

// Per-kind completion counts as "kind: completed/arrived" (for the table).
std::vector<std::pair<std::string, std::string>> CompletionByKind(const RunResult& run);

// The Summary as rows of (metric, value) for tables; `a` and `b` side by side.
std::vector<std::vector<std::string>> SideBySide(const Summary& a, const Summary& b);

// A plain-text table with aligned columns.
std::string FormatTable(const std::vector<std::vector<std::string>>& rows);

// Share as a percentage string, "n/a" when the denominator is 0.
std::string Percent(int64_t num, int64_t den);

}  // namespace mlsched::bench
