#pragma once

// What mlsched-bench-service replays and the model it replays against: synthetic GPU nodes (as
// model objects and as the few-KB v1 Node JSON the scheduler sends with nodeCacheCapable:
// false), the pods of the requests (a one-GPU training pod, a pipeline step, an ML function),
// ExtenderArgs and ExtenderBindingArgs bodies, and a model with running pods, pending pods to
// bind and pipeline/function history.

#include <string>

#include "policy/engine.h"

namespace mlsched::bench {

std::string NodeName(int i);

// The pod of each replayed body.
// kNoFit: a 16-GPU training pod, more than any node has: filter fails every node (a pod
// waiting for capacity, as much of a busy GPU cluster's queue is).
enum class PodKind { kGpu, kStep, kFunction, kNoFit };
const char* PodKindName(PodKind kind);
// The pod as JSON (a v1 Pod as the scheduler sends it).
std::string PodJson(PodKind kind);

// ExtenderArgs with node names (nodeCacheCapable: true) or with full Node objects.
// `rotate` starts the list at node `rotate`: the same nodes in another order, so other bytes
// (the server's node-names cache does not know it).
std::string NamesBody(PodKind kind, int nodes, int rotate = 0);
std::string FullBody(PodKind kind, int nodes);

// Pending pods the model knows and bind requests can name, cycled by the bind runs.
inline constexpr int kPendingPods = 1000;
// ExtenderBindingArgs for pending pod `k` (mod kPendingPods) to a node of a `nodes`-node cluster.
std::string BindBody(int k, int nodes);

// Fills `engine` with `nodes` GPU nodes, two running pods per node, kPendingPods pending pods,
// and the history of 200 pipeline runs (finished steps; the replayed step's run among them)
// and 50 ML functions (warm nodes; the replayed function among them), recorded at about `now`.
void FillModel(policy::Engine& engine, int nodes, policy::TimeMs now);

// Checks that the replayed step and function pods really meet their history in `engine`
// (filled by FillModel, pipeline rules on): the step's predecessor nodes score 100 on
// pipeline_locality, the function's warm nodes score on function_warm. Returns "" or what is
// wrong, so that the pipeline-rules figures cannot silently measure rules that do nothing.
std::string CheckHistory(const policy::Engine& engine, int nodes, policy::TimeMs now);

}  // namespace mlsched::bench
