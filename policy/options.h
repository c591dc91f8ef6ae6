#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace mlsched::policy {

// Weights of the scoring rules. Each rule scores a node 0..100; prioritize combines them as a
// weighted mean and scales to the extender range 0..10. A weight of 0 turns a rule off.
struct ScoreWeights {
  int least_allocated = 1;   // free share of cpu/memory/GPUs after placement (the stock rule)
  int gang_plan = 10;        // planned node of a gang member (always wins when set)
  int topology = 3;          // closeness to where the pod's gang/pipeline already is
  int gpu_fit = 4;           // GPU best-fit (or spread, see gpu_spread)
  // Least growth of expected GPU fragmentation (FGD, policy/fragmentation.h): no GPUs left
  // behind too little CPU or memory for the workload's pods. 2 by measurement (mlsched-sim,
  // README): it takes the Alibaba replay below the stock scheduler's unallocated GPUs (1.7 %
  // against 2.7 %); 3 or 4 reach 0.6 % there but cost pipeline and function locality in the
  // default quality run (steps on their predecessor's node 83 % and 75 % against 94 %).
  int gpu_fragmentation = 2;
  int cpu_off_gpu = 3;       // CPU-only pods away from GPU nodes
  int image_locality = 1;    // images already on the node, weighted by size
  int pipeline_locality = 4; // pipeline step next to its predecessors' data
  int function_warm = 3;     // ML function on a node where it ran recently
};

// Every policy knob, with its default. Loaded by extender/ from --config (YAML), passed by
// const& to the engine; nothing else configures the policy.
struct Options {
  // Topology levels from the widest to the narrowest; the node itself is the level below the
  // last one. A node without a label at some level forms its own domain there.
  std::vector<std::string> topology_levels = {
      "topology.kubernetes.io/region", "topology.kubernetes.io/zone", "mlsched.io/block",
      "mlsched.io/rack"};
  // NVLink domain label (nodes sharing a value are one NVLink/NVSwitch fabric).
  std::string nvlink_label = "nvidia.com/gpu.clique";
  // Extended resource names counted as GPUs.
  std::vector<std::string> gpu_resources = {"nvidia.com/gpu"};

  // Gangs.
  // How long a gang member's bind waits at the barrier for the rest of its gang. Must stay
  // inside the scheduler's httpTimeout for bind (deploy/ ships httpTimeout: 30s).
  int64_t barrier_timeout_ms = 20'000;
  // How long a gang's reservation lives without progress when its PodGroup gives no
  // scheduleTimeoutSeconds.
  int64_t gang_timeout_ms = 120'000;

  // Placement.
  bool gpu_spread = false;           // spread GPU pods instead of best-fit (inference fleets)
  bool cpu_off_gpu_filter = false;   // also filter GPU nodes for CPU-only pods when CPU nodes fit
  ScoreWeights weights;
  // GPU fragmentation: how many of the most common GPU pod shapes it measures against (1..32;
  // the per-node cost grows with it), and after how many more GPU pods a shape seen before
  // weighs half (how fast it follows a changing workload).
  int fragmentation_shapes = 16;
  int fragmentation_half_life = 2000;

  // Pipelines: forget where a run's steps ran after this long without a new step.
  int64_t pipeline_ttl_ms = 6 * 3600 * 1000;
  // The topology levels the words of `mlsched.io/data-locality: rack|zone` mean (label keys;
  // "node" is always the node itself). A key that is not one of topology_levels makes that
  // word mean the node, the strictest reading, rather than a guess.
  std::string data_locality_rack_level = "mlsched.io/rack";
  std::string data_locality_zone_level = "topology.kubernetes.io/zone";
  // Functions: a node stays warm for a function this long after it last ran there.
  int64_t function_warm_ms = 30 * 60 * 1000;

  // Only pods with one of these scheduler names are gang-planned (empty: every pod).
  std::vector<std::string> scheduler_names;
};

// Checks an Options value; returns every problem found (empty when valid).
std::vector<std::string> Validate(const Options& options);

}  // namespace mlsched::policy
