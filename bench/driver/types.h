#pragma once

// What the scheduler driver simulates: jobs made of pods, and the cluster they run on. The
// workload generator and the trace readers (bench/workload/) produce these; the driver
// (driver.h) replays them; the scenario tests (test/scenarios/) build them by hand.

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "policy/objects.h"

namespace mlsched::bench {

using policy::TimeMs;

// Annotation and label keys the workloads put on pods (the policy reads them).
inline constexpr char kGangAnnotation[] = "mlsched.io/gang";
inline constexpr char kGangSizeAnnotation[] = "mlsched.io/gang-size";
inline constexpr char kPodGroupLabel[] = "scheduling.x-k8s.io/pod-group";
inline constexpr char kPipelineAnnotation[] = "mlsched.io/pipeline";
inline constexpr char kStepAnnotation[] = "mlsched.io/step";
inline constexpr char kAfterAnnotation[] = "mlsched.io/after";
inline constexpr char kFunctionAnnotation[] = "mlsched.io/function";
inline constexpr char kTopologyRequiredAnnotation[] = "mlsched.io/topology-required";
inline constexpr char kTopologyPreferredAnnotation[] = "mlsched.io/topology-preferred";
inline constexpr char kGpuResource[] = "nvidia.com/gpu";

// Node labels of the simulated topology (zone > block > rack > node).
inline constexpr char kZoneLabel[] = "topology.kubernetes.io/zone";
inline constexpr char kBlockLabel[] = "mlsched.io/block";
inline constexpr char kRackLabel[] = "mlsched.io/rack";
inline constexpr char kHostnameLabel[] = "kubernetes.io/hostname";

enum class JobKind : uint8_t {
  kTraining,  // a multi-node gang (or one pod of up to 8 GPUs)
  kGpu,       // a single pod with GPUs
  kCpu,       // a CPU-only pod
  kPipeline,  // a chain of steps, each a pod created when its predecessors finish
  kFunction,  // one pod of a function burst
};
const char* JobKindName(JobKind kind);

struct PodSpec {
  // ns, name, requests, labels, annotations, priority, node selector, tolerations and images.
  // uid, creation_ms, node_name and phase are set by the driver.
  policy::Pod pod;
  // Run time once started. For gang members the gang starts when all its members run and
  // every member then runs for the longest member duration.
  TimeMs duration_ms = 0;
  // Names of pods of the same job that must finish before this pod is created (pipelines).
  std::vector<std::string> after;
  // Created this long after the job arrives (controllers create a job's pods one by one).
  TimeMs create_delay_ms = 0;
};

struct JobSpec {
  std::string name;  // unique in the workload; used in reports
  JobKind kind = JobKind::kGpu;
  TimeMs arrival_ms = 0;
  std::vector<PodSpec> pods;
  // > 0: the pods are one gang of this minMember; the job runs only once that many run.
  int32_t gang_size = 0;
  // Set when the gang is declared through a scheduler-plugins PodGroup.
  std::optional<policy::PodGroup> pod_group;

  int64_t Gpus() const;  // total GPUs requested by all pods
};

struct Workload {
  std::string description;  // what made it (generator parameters, trace file)
  std::vector<JobSpec> jobs;
};

// A regular cluster: zones > blocks > racks > nodes, every node alike.
struct ClusterShape {
  int zones = 2;
  int blocks_per_zone = 4;
  int racks_per_block = 4;
  int nodes_per_rack = 16;
  int gpus_per_node = 8;
  int64_t milli_cpu = 96'000;  // the common Alibaba 8-GPU node: 96 cores, 384 GiB
  int64_t memory = 384LL << 30;
  int64_t max_pods = 110;
  int cpu_only_nodes = 0;  // extra CPU-only nodes, spread over the racks
  int max_nodes = 0;       // > 0: at most this many GPU nodes (the last rack is cut)

  int Nodes() const {
    int n = zones * blocks_per_zone * racks_per_block * nodes_per_rack;
    return max_nodes > 0 ? std::min(n, max_nodes) : n;
  }
};

// Names nodes "node-NNNN" and labels them with zone/block/rack/hostname and the GPU count.
std::vector<policy::Node> MakeCluster(const ClusterShape& shape);

// A shape of about `nodes` GPU nodes: 4 levels, racks of 16 (or fewer for tiny clusters).
ClusterShape ShapeForNodes(int nodes, int gpus_per_node = 8);

// A pod request in the driver's units.
policy::Resources Request(int64_t milli_cpu, int64_t memory_bytes, int64_t gpus);

}  // namespace mlsched::bench
