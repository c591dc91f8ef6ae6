#include "policy/options.h"

namespace mlsched::policy {

std::vector<std::string> Validate(const Options& o) {
  std::vector<std::string> errors;
  for (size_t i = 0; i < o.topology_levels.size(); ++i) {
    if (o.topology_levels[i].empty()) {
      errors.push_back("topologyLevels[" + std::to_string(i) + "] is empty");
    }
  }
  if (o.gpu_resources.empty()) errors.push_back("gpuResources must name at least one resource");
  if (o.barrier_timeout_ms <= 0) errors.push_back("barrierTimeout must be positive");
  if (o.gang_timeout_ms <= 0) errors.push_back("gangTimeout must be positive");
  if (o.gang_timeout_ms < o.barrier_timeout_ms) {
    errors.push_back("gangTimeout must not be shorter than barrierTimeout");
  }
  if (o.pipeline_ttl_ms <= 0) errors.push_back("pipelineTTL must be positive");
  if (o.function_warm_ms <= 0) errors.push_back("functionWarm must be positive");
  if (o.fragmentation_shapes < 1 || o.fragmentation_shapes > 32) {
    errors.push_back("fragmentationShapes must be between 1 and 32");
  }
  if (o.fragmentation_half_life < 1) errors.push_back("fragmentationHalfLife must be positive");
  const ScoreWeights& w = o.weights;
  for (int v : {w.least_allocated, w.gang_plan, w.topology, w.gpu_fit, w.gpu_fragmentation,
                w.cpu_off_gpu, w.image_locality, w.pipeline_locality, w.function_warm}) {
    if (v < 0 || v > 100) {
      errors.push_back("score weights must be between 0 and 100");
      break;
    }
  }
  return errors;
}

}  // namespace mlsched::policy
