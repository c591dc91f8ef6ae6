#pragma once

// Small builders for policy tests: nodes with topology labels and GPUs, pods with requests,
// gang annotations. Everything deterministic.

#include <string>

#include "policy/engine.h"
#include "policy/objects.h"

namespace mlsched::policy::testing {

inline constexpr int64_t kGi = 1024LL * 1024 * 1024;

inline Node MakeNode(const std::string& name, int64_t gpus, const std::string& zone = "z1",
                     const std::string& block = "b1", const std::string& rack = "r1",
                     int64_t cpus = 64) {
  Node n;
  n.name = name;
  n.allocatable.milli_cpu = cpus * 1000;
  n.allocatable.memory = 512 * kGi;
  n.allocatable.pods = 110;
  if (gpus > 0) n.allocatable.SetScalar("nvidia.com/gpu", gpus);
  n.labels.Set("kubernetes.io/hostname", name);
  n.labels.Set("topology.kubernetes.io/region", "region-1");
  if (!zone.empty()) n.labels.Set("topology.kubernetes.io/zone", zone);
  if (!block.empty()) n.labels.Set("mlsched.io/block", block);
  if (!rack.empty()) n.labels.Set("mlsched.io/rack", rack);
  return n;
}

inline Pod MakePod(const std::string& name, int64_t gpus, int64_t cpus = 4,
                   const std::string& ns = "ml") {
  Pod p;
  p.ns = ns;
  p.name = name;
  p.uid = "uid-" + ns + "-" + name;
  p.requests.milli_cpu = cpus * 1000;
  p.requests.memory = 8 * kGi;
  p.requests.pods = 1;
  if (gpus > 0) p.requests.SetScalar("nvidia.com/gpu", gpus);
  return p;
}

inline Pod MakeGangPod(const std::string& gang, int size, int index, int64_t gpus,
                       const std::string& ns = "ml") {
  Pod p = MakePod(gang + "-" + std::to_string(index), gpus, 8, ns);
  p.annotations.Set("mlsched.io/gang", gang);
  p.annotations.Set("mlsched.io/gang-size", std::to_string(size));
  return p;
}

inline std::vector<Candidate> AllNodes(const std::vector<Node>& nodes) {
  std::vector<Candidate> c;
  for (const Node& n : nodes) c.push_back({n.name, nullptr});
  return c;
}

}  // namespace mlsched::policy::testing
