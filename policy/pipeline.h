#pragma once

// Pipelines and ML functions: recognising a pipeline step or a function pod from its labels and
// annotations, remembering where steps and functions ran, and the hard data-locality filter.
//
// Recognised conventions (keys are all kept by IsPolicyKey):
//   run   mlsched.io/pipeline (annotation or label)
//         > pipeline/runid (label; Kubeflow Pipelines v1 and v2 put it on every step pod)
//         > workflows.argoproj.io/workflow (label; Argo Workflows, also under KFP)
//   step  mlsched.io/step (annotation or label)
//         > pipelines.kubeflow.org/task_display_name (annotation; KFP, when the author set a
//           display name)
//         > workflows.argoproj.io/node-name (annotation; Argo: "wf.prep", "wf[0].train(1)",
//           "wf.dag.eval")
//         > the pod name.
//         Besides the full name a step has a short name (the last '.'-separated part of an Argo
//         node name, without "[i]" and "(n)" suffixes: "wf[0].train(1)" -> "train"), so that
//         `mlsched.io/after: train` matches Argo steps and all the items of a fan-out.
//         KFP v2 driver pods (pod names with -system-container-driver- or -system-dag-driver-,
//         the Argo templates KFP v2 compiles to) are not steps: they write no data.
//   mlsched.io/after: comma-separated predecessor steps (full or short names).
//   mlsched.io/data-locality: node | rack | zone | none, or a topology level's label key;
//         default node. rack and zone mean Options::data_locality_{rack,zone}_level.
//   mlsched.io/data-locality-required: "true" (enforce the data-locality level), a level word
//         or key as above (enforce that level), or "false".
//   function  mlsched.io/function (annotation or label)
//         > faas_function (label; OpenFaaS puts it on every function pod)
//         > serving.knative.dev/service > serving.knative.dev/configuration >
//           serving.knative.dev/revision (labels; Knative Serving, and KServe on Knative).
// Runs and functions are keyed by namespace: "ns/name".
//
// Thread-safety: recognition functions are pure. PipelineHistory is a plain value: the engine
// guards it with its model lock (const queries may run concurrently with each other, not with
// Observe/Expire).

#include <cstdint>
#include <list>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "policy/objects.h"
#include "policy/options.h"
#include "policy/topology.h"

namespace mlsched::policy {

struct StepInfo {
  std::string run;                 // "ns/run"; empty: the pod is not a pipeline step
  std::string step;                // full step name
  std::string short_step;          // see above
  std::vector<std::string> after;  // explicit predecessors, trimmed, no empties
  // Label key of the data-locality level: kHostnameLabel for "node"; empty for "none".
  std::string locality_key = std::string(kHostnameLabel);
  bool locality_required = false;
  std::string source;  // "mlsched", "kubeflow-pipelines", "argo-workflows"
  // Values that were not understood, in plain words; the defaults were used instead.
  std::vector<std::string> problems;
};

// Recognises a pipeline step. False (and `*out` reset) when the pod belongs to no run.
bool RecognizeStep(const Pod& pod, const Options& options, StepInfo* out);

// The short form of a step name (see the header comment).
std::string ShortStepName(std::string_view step);

// The Topology level of a step's data locality; -1 for none. A key the topology does not
// have means the node level (strictest reading).
int LocalityLevel(const StepInfo& step, const Topology& topology);

struct FunctionInfo {
  std::string key;     // "ns/name"; empty: not a function
  std::string source;  // "mlsched", "openfaas", "knative"
};
bool RecognizeFunction(const Pod& pod, FunctionInfo* out);

// Caps on what PipelineHistory keeps, so memory stays bounded whatever the cluster does. When a
// cap is hit, the least recently updated entry is dropped first.
struct HistoryLimits {
  size_t max_runs = 10'000;            // pipeline runs tracked
  size_t max_steps_per_run = 512;      // step records per run (a run's oldest step goes first)
  size_t max_step_records = 200'000;   // step records over all runs (whole runs go, LRU)
  size_t max_functions = 10'000;       // functions tracked
  size_t max_nodes_per_function = 32;  // warm nodes per function (the oldest goes first)
};
// With the defaults and names of about 60 bytes a step record takes about 200 bytes and a warm
// node about 80: at most about 200,000 x 200 B = 40 MB of steps and 10,000 x 32 x 80 B = 26 MB
// of functions, whatever the cluster does; real use is a small fraction of that.

// Without `after`, the predecessors of a step are the most recently recorded step of its run
// and every other step recorded within this window before it (parallel branches finishing
// together), at most kMaxImplicitPredecessors of them.
inline constexpr int64_t kRecentWindowMs = 10'000;
inline constexpr size_t kMaxImplicitPredecessors = 8;

class PipelineHistory {
 public:
  explicit PipelineHistory(const Options& options, HistoryLimits limits = {});
  // The maps view keys inside the lists: moving keeps them valid, copying would not.
  PipelineHistory(const PipelineHistory&) = delete;
  PipelineHistory& operator=(const PipelineHistory&) = delete;
  PipelineHistory(PipelineHistory&&) = default;
  PipelineHistory& operator=(PipelineHistory&&) = default;

  // Called for every pod add, update and delete (with the last state), and when the pod is
  // bound: records where a step or function pod is (or was) as soon as it has a node. Failed
  // pods are not recorded (a failed step left no data worth following; its retry will be
  // recorded). Also forgets runs idle longer than Options::pipeline_ttl_ms and function nodes
  // older than Options::function_warm_ms. Pods that are neither steps nor functions cost one
  // label lookup each.
  void Observe(const Pod& pod, TimeMs now);
  // The same for a pod bound to `node` before the watch shows it there.
  void ObserveBind(const Pod& pod, std::string_view node, TimeMs now);
  // Forgets what is older than the TTLs.
  void Expire(TimeMs now);

  struct Predecessor {
    std::string step;
    std::string node;
    TimeMs at = 0;  // last time it was seen there
  };
  // Where the data of `step` comes from: every recorded step named in `after` (full or short
  // name; a fan-out matches all its items); without `after`, the most recent steps of the run
  // (see kRecentWindowMs). The step itself (by full name) is never its own predecessor.
  // Empty when the run or the predecessors are unknown.
  std::vector<Predecessor> Predecessors(const StepInfo& step) const;

  // Nodes where the function ran within Options::function_warm_ms of `now`, with the time.
  std::vector<std::pair<std::string, TimeMs>> WarmNodes(std::string_view function_key,
                                                        TimeMs now) const;

  size_t NumRuns() const { return runs_.size(); }
  size_t NumFunctions() const { return functions_.size(); }
  size_t NumStepRecords() const { return step_records_; }

  // One run as the cluster view shows it: its steps in the order they were recorded.
  struct RunRecord {
    std::string key;  // "ns/run"
    TimeMs last = 0;
    std::vector<Predecessor> steps;  // step (full name), node, time
  };
  // The `limit` most recently updated runs, most recent first (copies; read-only).
  std::vector<RunRecord> RecentRuns(size_t limit) const;

 private:
  struct StepRecord {
    std::string step;
    std::string short_step;
    std::string node;
    TimeMs at = 0;
  };
  struct Run {
    std::string key;
    TimeMs last = 0;
    std::vector<StepRecord> steps;
  };
  struct Function {
    std::string key;
    TimeMs last = 0;
    std::vector<std::pair<std::string, TimeMs>> nodes;
  };
  void RecordStep(const StepInfo& step, std::string_view node, TimeMs now);
  void RecordFunction(const FunctionInfo& fn, std::string_view node, TimeMs now);
  void ObserveAt(const Pod& pod, std::string_view node, TimeMs now);

  void DropRun(std::list<Run>::iterator it);

  HistoryLimits limits_;
  Options options_;
  size_t step_records_ = 0;
  // LRU order: front is the least recently updated. Maps point into the lists.
  std::list<Run> run_lru_;
  std::unordered_map<std::string_view, std::list<Run>::iterator> runs_;
  std::list<Function> function_lru_;
  std::unordered_map<std::string_view, std::list<Function>::iterator> functions_;
};

// The hard variant of data locality (mlsched.io/data-locality-required) over one filter call.
struct LocalityDecision {
  // Per candidate: may it take the pod? All true when locality is not enforced.
  std::vector<uint8_t> pass;
  // Why failing candidates fail ("data-locality-required: not on the node of step prep
  // (node-a)").
  std::string reason;
  // Non-empty when the requirement could not be met and every candidate passes: the
  // predecessors' nodes are gone, or none of the local nodes can take the pod. Kept for the
  // explain view.
  std::string fallback;
};

// Decides the hard data-locality filter. `candidates` are node indices in `topology`
// (kNoDomain for a node the model does not know: never local); `fits[i]` says whether
// candidate i can take the pod on capacity (and every other filter), so that a full local node
// makes the rule fall back instead of leaving the pod pending forever. `level` is the
// step's LocalityLevel; -1 passes everything.
LocalityDecision DecideDataLocality(const Topology& topology,
                                    std::span<const PipelineHistory::Predecessor> predecessors,
                                    int level, std::span<const uint32_t> candidates,
                                    std::span<const uint8_t> fits);

}  // namespace mlsched::policy
