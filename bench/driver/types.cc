#include "bench/driver/types.h"

#include <algorithm>
#include <cstdio>

namespace mlsched::bench {

const char* JobKindName(JobKind kind) {
  switch (kind) {
    case JobKind::kTraining:
      return "training";
    case JobKind::kGpu:
      return "gpu";
    case JobKind::kCpu:
      return "cpu";
    case JobKind::kPipeline:
      return "pipeline";
    case JobKind::kFunction:
      return "function";
  }
  return "unknown";
}

int64_t JobSpec::Gpus() const {
  int64_t g = 0;
  for (const PodSpec& p : pods) g += p.pod.requests.Scalar(kGpuResource);
  return g;
}

policy::Resources Request(int64_t milli_cpu, int64_t memory_bytes, int64_t gpus) {
  policy::Resources r;
  r.milli_cpu = milli_cpu;
  r.memory = memory_bytes;
  r.pods = 1;
  if (gpus > 0) r.SetScalar(kGpuResource, gpus);
  return r;
}

std::vector<policy::Node> MakeCluster(const ClusterShape& s) {
  std::vector<policy::Node> nodes;
  int racks = s.zones * s.blocks_per_zone * s.racks_per_block;
  nodes.reserve(static_cast<size_t>(std::max(0, s.Nodes() + s.cpu_only_nodes)));
  char buf[64];
  int index = 0;
  auto add = [&](int zone, int block, int rack, int gpus, int64_t cpu, int64_t mem) {
    policy::Node n;
    std::snprintf(buf, sizeof buf, "node-%04d", index++);
    n.name = buf;
    n.labels.Set(kHostnameLabel, n.name);
    n.labels.Set(kZoneLabel, "zone-" + std::to_string(zone));
    n.labels.Set(kBlockLabel, "block-" + std::to_string(zone) + "-" + std::to_string(block));
    n.labels.Set(kRackLabel, "rack-" + std::to_string(zone) + "-" + std::to_string(block) + "-" +
                                 std::to_string(rack));
    if (gpus > 0) {
      n.labels.Set("nvidia.com/gpu.present", "true");
      n.labels.Set("nvidia.com/gpu.count", std::to_string(gpus));
    }
    n.allocatable.milli_cpu = cpu;
    n.allocatable.memory = mem;
    n.allocatable.pods = s.max_pods;
    n.allocatable.ephemeral_storage = 1LL << 40;
    if (gpus > 0) n.allocatable.SetScalar(kGpuResource, gpus);
    nodes.push_back(std::move(n));
  };
  for (int z = 0; z < s.zones; ++z) {
    for (int b = 0; b < s.blocks_per_zone; ++b) {
      for (int r = 0; r < s.racks_per_block; ++r) {
        for (int k = 0; k < s.nodes_per_rack; ++k) {
          if (s.max_nodes > 0 && index >= s.max_nodes) break;
          add(z, b, r, s.gpus_per_node, s.milli_cpu, s.memory);
        }
      }
    }
  }
  // CPU-only nodes, round-robin over the racks.
  for (int k = 0; k < s.cpu_only_nodes && racks > 0; ++k) {
    int rack = k % racks;
    int z = rack / (s.blocks_per_zone * s.racks_per_block);
    int b = (rack / s.racks_per_block) % s.blocks_per_zone;
    add(z, b, rack % s.racks_per_block, 0, s.milli_cpu, s.memory);
  }
  return nodes;
}

ClusterShape ShapeForNodes(int nodes, int gpus_per_node) {
  ClusterShape s;
  s.gpus_per_node = gpus_per_node;
  nodes = std::max(1, nodes);
  // 2 zones of 4 blocks and racks of 16 when the cluster is large enough; smaller clusters
  // get fewer levels' fan-out. The last rack may be partly filled (max_nodes cuts it).
  if (nodes >= 128) {
    s.zones = 2;
    s.blocks_per_zone = 4;
    s.nodes_per_rack = 16;
  } else {
    s.zones = nodes >= 8 ? 2 : 1;
    s.blocks_per_zone = nodes >= 16 ? 2 : 1;
    s.nodes_per_rack = nodes >= 16 ? 4 : 1;
  }
  int per_rack_block = s.zones * s.blocks_per_zone * s.nodes_per_rack;
  s.racks_per_block = std::max(1, (nodes + per_rack_block - 1) / per_rack_block);
  s.max_nodes = nodes;
  return s;
}

}  // namespace mlsched::bench
