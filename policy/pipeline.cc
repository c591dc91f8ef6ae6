#include "policy/pipeline.h"

#include <algorithm>

namespace mlsched::policy {
namespace {

constexpr std::string_view kPipelineKey = "mlsched.io/pipeline";
constexpr std::string_view kStepKey = "mlsched.io/step";
constexpr std::string_view kAfterKey = "mlsched.io/after";
constexpr std::string_view kLocalityKey = "mlsched.io/data-locality";
constexpr std::string_view kLocalityRequiredKey = "mlsched.io/data-locality-required";
constexpr std::string_view kKfpRunLabel = "pipeline/runid";
constexpr std::string_view kKfpTaskName = "pipelines.kubeflow.org/task_display_name";
constexpr std::string_view kArgoWorkflowLabel = "workflows.argoproj.io/workflow";
constexpr std::string_view kArgoNodeName = "workflows.argoproj.io/node-name";
constexpr std::string_view kFunctionKey = "mlsched.io/function";
constexpr std::string_view kOpenFaasLabel = "faas_function";
constexpr std::string_view kKnativeKeys[] = {"serving.knative.dev/service",
                                             "serving.knative.dev/configuration",
                                             "serving.knative.dev/revision"};

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// A non-empty value of `key`, from the annotations first, then the labels.
std::string_view Lookup(const Pod& pod, std::string_view key) {
  if (const std::string* v = pod.annotations.Find(key); v != nullptr && !Trim(*v).empty()) {
    return Trim(*v);
  }
  if (const std::string* v = pod.labels.Find(key); v != nullptr && !Trim(*v).empty()) {
    return Trim(*v);
  }
  return {};
}

std::string Keyed(std::string_view ns, std::string_view name) {
  std::string k(ns);
  k.push_back('/');
  k.append(name);
  return k;
}

// Maps a data-locality word or key to a level label key; false when not understood.
bool LocalityWordToKey(std::string_view raw, const Options& options, std::string* key) {
  std::string v = Lower(Trim(raw));
  if (v == "node" || v == kHostnameLabel) {
    *key = std::string(kHostnameLabel);
  } else if (v == "rack") {
    *key = options.data_locality_rack_level;
  } else if (v == "zone") {
    *key = options.data_locality_zone_level;
  } else if (v == "none") {
    key->clear();
  } else if (Trim(raw).find('/') != std::string_view::npos) {
    *key = std::string(Trim(raw));  // a label key; case kept, keys are case-sensitive
  } else {
    return false;
  }
  return true;
}

std::string JoinPredecessors(std::span<const PipelineHistory::Predecessor> preds) {
  std::string s;
  size_t shown = 0;
  for (const auto& p : preds) {
    if (shown == 3) {
      s += ", ... (" + std::to_string(preds.size()) + " in all)";
      break;
    }
    if (!s.empty()) s += ", ";
    s += p.step + " (" + p.node + ")";
    ++shown;
  }
  return s;
}

}  // namespace

std::string ShortStepName(std::string_view step) {
  std::string_view s = step;
  // why: Argo appends retry and loop suffixes in parentheses ("train(1)", "proc(0:a.b)"),
  // which may themselves contain dots; drop them before splitting on '.'.
  while (!s.empty() && s.back() == ')') {
    int depth = 0;
    size_t i = s.size();
    while (i > 0) {
      --i;
      if (s[i] == ')') ++depth;
      if (s[i] == '(' && --depth == 0) break;
    }
    if (depth != 0) break;  // unbalanced: keep as is
    s = s.substr(0, i);
  }
  if (size_t dot = s.rfind('.'); dot != std::string_view::npos) s = s.substr(dot + 1);
  while (!s.empty() && s.back() == ']') {
    size_t open = s.rfind('[');
    if (open == std::string_view::npos) break;
    s = s.substr(0, open);
  }
  return s.empty() ? std::string(step) : std::string(s);
}

bool RecognizeStep(const Pod& pod, const Options& options, StepInfo* out) {
  StepInfo info;
  std::string_view run = Lookup(pod, kPipelineKey);
  if (!run.empty()) {
    info.source = "mlsched";
  } else if (run = Lookup(pod, kKfpRunLabel); !run.empty()) {
    info.source = "kubeflow-pipelines";
  } else if (run = Lookup(pod, kArgoWorkflowLabel); !run.empty()) {
    info.source = "argo-workflows";
  } else {
    *out = StepInfo();
    return false;
  }
  // why: KFP v2 runs a short "driver" pod before each step (Argo templates
  // system-container-driver and system-dag-driver; Argo names pods <workflow>-<template>-<id>).
  // Drivers write no data; recording them would make a step's own driver its most recent
  // predecessor.
  if (info.source != "mlsched" &&
      (pod.name.find("-system-container-driver-") != std::string::npos ||
       pod.name.find("-system-dag-driver-") != std::string::npos)) {
    *out = StepInfo();
    return false;
  }
  info.run = Keyed(pod.ns, run);

  std::string_view step = Lookup(pod, kStepKey);
  if (step.empty()) step = Lookup(pod, kKfpTaskName);
  if (step.empty()) step = Lookup(pod, kArgoNodeName);
  if (step.empty()) step = pod.name;
  info.step = std::string(step);
  info.short_step = ShortStepName(step);

  std::string_view after = Lookup(pod, kAfterKey);
  while (!after.empty()) {
    size_t comma = after.find(',');
    std::string_view item = Trim(after.substr(0, comma));
    if (!item.empty() &&
        std::find(info.after.begin(), info.after.end(), item) == info.after.end()) {
      info.after.emplace_back(item);
    }
    if (comma == std::string_view::npos) break;
    after.remove_prefix(comma + 1);
  }

  if (std::string_view v = Lookup(pod, kLocalityKey); !v.empty()) {
    if (!LocalityWordToKey(v, options, &info.locality_key)) {
      info.problems.push_back(std::string(kLocalityKey) + ": \"" + std::string(v) +
                              "\" is not node, rack, zone, none or a label key; using node");
    }
  }
  if (std::string_view v = Lookup(pod, kLocalityRequiredKey); !v.empty()) {
    std::string lower = Lower(v);
    std::string key;
    if (lower == "true" || lower == "yes" || lower == "1") {
      info.locality_required = true;
    } else if (lower == "false" || lower == "no" || lower == "0") {
      info.locality_required = false;
    } else if (LocalityWordToKey(v, options, &key)) {
      info.locality_key = key;
      info.locality_required = !key.empty();
    } else {
      info.problems.push_back(std::string(kLocalityRequiredKey) + ": \"" + std::string(v) +
                              "\" is not true, false or a locality; not enforced");
    }
    if (info.locality_required && info.locality_key.empty()) {
      info.locality_required = false;
      info.problems.push_back(std::string(kLocalityRequiredKey) +
                              ": data-locality is none; nothing to enforce");
    }
  }
  *out = std::move(info);
  return true;
}

int LocalityLevel(const StepInfo& step, const Topology& topology) {
  if (step.locality_key.empty()) return -1;
  int level = topology.LevelIndex(step.locality_key);
  return level >= 0 ? level : topology.NodeLevel();
}

bool RecognizeFunction(const Pod& pod, FunctionInfo* out) {
  *out = FunctionInfo();
  if (std::string_view v = Lookup(pod, kFunctionKey); !v.empty()) {
    *out = {Keyed(pod.ns, v), "mlsched"};
    return true;
  }
  // why: platform labels live in labels, not annotations; do not take them from annotations.
  if (const std::string* v = pod.labels.Find(kOpenFaasLabel); v != nullptr && !v->empty()) {
    *out = {Keyed(pod.ns, *v), "openfaas"};
    return true;
  }
  for (std::string_view key : kKnativeKeys) {
    if (const std::string* v = pod.labels.Find(key); v != nullptr && !v->empty()) {
      *out = {Keyed(pod.ns, *v), "knative"};
      return true;
    }
  }
  return false;
}

// ---- PipelineHistory ----

PipelineHistory::PipelineHistory(const Options& options, HistoryLimits limits)
    : limits_(limits), options_(options) {
  // why: a zero cap would make every insert evict itself; one entry is the least that works.
  limits_.max_runs = std::max<size_t>(limits_.max_runs, 1);
  limits_.max_steps_per_run = std::max<size_t>(limits_.max_steps_per_run, 1);
  limits_.max_step_records = std::max<size_t>(limits_.max_step_records, 1);
  limits_.max_functions = std::max<size_t>(limits_.max_functions, 1);
  limits_.max_nodes_per_function = std::max<size_t>(limits_.max_nodes_per_function, 1);
}

void PipelineHistory::Observe(const Pod& pod, TimeMs now) { ObserveAt(pod, pod.node_name, now); }

void PipelineHistory::ObserveBind(const Pod& pod, std::string_view node, TimeMs now) {
  ObserveAt(pod, node, now);
}

void PipelineHistory::ObserveAt(const Pod& pod, std::string_view node, TimeMs now) {
  Expire(now);
  if (node.empty() || pod.phase == PodPhase::kFailed) return;
  StepInfo step;
  if (RecognizeStep(pod, options_, &step)) RecordStep(step, node, now);
  FunctionInfo fn;
  if (RecognizeFunction(pod, &fn)) RecordFunction(fn, node, now);
}

void PipelineHistory::DropRun(std::list<Run>::iterator it) {
  step_records_ -= it->steps.size();
  runs_.erase(it->key);
  run_lru_.erase(it);
}

void PipelineHistory::Expire(TimeMs now) {
  // LRU order is update order, so the expired entries are at the front.
  while (!run_lru_.empty() && now - run_lru_.front().last > options_.pipeline_ttl_ms) {
    DropRun(run_lru_.begin());
  }
  while (!function_lru_.empty() && now - function_lru_.front().last > options_.function_warm_ms) {
    functions_.erase(function_lru_.front().key);
    function_lru_.pop_front();
  }
}

void PipelineHistory::RecordStep(const StepInfo& step, std::string_view node, TimeMs now) {
  auto found = runs_.find(step.run);
  std::list<Run>::iterator run;
  if (found == runs_.end()) {
    if (runs_.size() >= limits_.max_runs) DropRun(run_lru_.begin());
    run_lru_.push_back(Run{step.run, now, {}});
    run = std::prev(run_lru_.end());
    runs_.emplace(run->key, run);
  } else {
    run = found->second;
    run_lru_.splice(run_lru_.end(), run_lru_, run);  // most recently updated goes last
  }
  run->last = std::max(run->last, now);
  auto rec = std::find_if(run->steps.begin(), run->steps.end(),
                          [&](const StepRecord& r) { return r.step == step.step; });
  if (rec != run->steps.end()) {
    rec->node = std::string(node);  // a retry or a rebind: the data is where it ran last
    rec->at = std::max(rec->at, now);
    return;
  }
  if (run->steps.size() >= limits_.max_steps_per_run) {
    auto oldest =
        std::min_element(run->steps.begin(), run->steps.end(),
                         [](const StepRecord& a, const StepRecord& b) { return a.at < b.at; });
    run->steps.erase(oldest);
    --step_records_;
  }
  run->steps.push_back({step.step, step.short_step, std::string(node), now});
  ++step_records_;
  // Whole least-recently-updated runs go when all runs together hold too much; never the run
  // just updated (it is last in the LRU).
  while (step_records_ > limits_.max_step_records && run_lru_.begin() != run) {
    DropRun(run_lru_.begin());
  }
}

void PipelineHistory::RecordFunction(const FunctionInfo& fn, std::string_view node, TimeMs now) {
  auto found = functions_.find(fn.key);
  std::list<Function>::iterator f;
  if (found == functions_.end()) {
    if (functions_.size() >= limits_.max_functions) {
      functions_.erase(function_lru_.front().key);
      function_lru_.pop_front();
    }
    function_lru_.push_back(Function{fn.key, now, {}});
    f = std::prev(function_lru_.end());
    functions_.emplace(f->key, f);
  } else {
    f = found->second;
    function_lru_.splice(function_lru_.end(), function_lru_, f);
  }
  f->last = std::max(f->last, now);
  auto& nodes = f->nodes;
  // why: drop cold nodes on the way so the list holds warm ones only.
  std::erase_if(nodes, [&](const auto& e) { return now - e.second > options_.function_warm_ms; });
  auto it =
      std::find_if(nodes.begin(), nodes.end(), [&](const auto& e) { return e.first == node; });
  if (it != nodes.end()) {
    it->second = std::max(it->second, now);
    return;
  }
  if (nodes.size() >= limits_.max_nodes_per_function) {
    nodes.erase(std::min_element(nodes.begin(), nodes.end(),
                                 [](const auto& a, const auto& b) { return a.second < b.second; }));
  }
  nodes.emplace_back(std::string(node), now);
}

std::vector<PipelineHistory::Predecessor> PipelineHistory::Predecessors(
    const StepInfo& step) const {
  std::vector<Predecessor> out;
  auto found = runs_.find(step.run);
  if (step.run.empty() || found == runs_.end()) return out;
  const Run& run = *found->second;
  if (!step.after.empty()) {
    for (const StepRecord& r : run.steps) {
      if (r.step == step.step) continue;
      bool named =
          std::find(step.after.begin(), step.after.end(), r.step) != step.after.end() ||
          std::find(step.after.begin(), step.after.end(), r.short_step) != step.after.end();
      if (named) out.push_back({r.step, r.node, r.at});
    }
    return out;
  }
  TimeMs latest = INT64_MIN;
  for (const StepRecord& r : run.steps) {
    if (r.step != step.step) latest = std::max(latest, r.at);
  }
  if (latest == INT64_MIN) return out;
  for (const StepRecord& r : run.steps) {
    if (r.step != step.step && r.at >= latest - kRecentWindowMs) {
      out.push_back({r.step, r.node, r.at});
    }
  }
  std::sort(out.begin(), out.end(), [](const Predecessor& a, const Predecessor& b) {
    return a.at != b.at ? a.at > b.at : a.step < b.step;
  });
  if (out.size() > kMaxImplicitPredecessors) out.resize(kMaxImplicitPredecessors);
  return out;
}

std::vector<std::pair<std::string, TimeMs>> PipelineHistory::WarmNodes(
    std::string_view function_key, TimeMs now) const {
  std::vector<std::pair<std::string, TimeMs>> out;
  auto found = functions_.find(function_key);
  if (found == functions_.end()) return out;
  for (const auto& [node, at] : found->second->nodes) {
    if (now - at <= options_.function_warm_ms) out.emplace_back(node, at);
  }
  return out;
}

// ---- The hard filter ----

LocalityDecision DecideDataLocality(const Topology& topology,
                                    std::span<const PipelineHistory::Predecessor> predecessors,
                                    int level, std::span<const uint32_t> candidates,
                                    std::span<const uint8_t> fits) {
  LocalityDecision d;
  d.pass.assign(candidates.size(), 1);
  if (level < 0) return d;
  level = std::min(level, topology.NodeLevel());
  if (predecessors.empty()) {
    d.fallback = "data-locality-required: no predecessor step recorded; not enforced";
    return d;
  }
  std::vector<uint32_t> present;
  for (const auto& p : predecessors) {
    uint32_t idx = topology.IndexOf(p.node);
    if (idx != kNoDomain && topology.HasNode(idx)) present.push_back(idx);
  }
  const std::string preds = JoinPredecessors(predecessors);
  if (present.empty()) {
    d.fallback = "data-locality-required: the node of step " + preds + " is gone; not enforced";
    return d;
  }
  const int need = level + 1;  // shared levels from the top
  bool any_local_fits = false;
  for (size_t i = 0; i < candidates.size(); ++i) {
    const uint32_t c = candidates[i];
    bool local = false;
    if (c != kNoDomain && topology.HasNode(c)) {
      for (uint32_t p : present) {
        if (topology.SharedLevels(c, p) >= need) {
          local = true;
          break;
        }
      }
    }
    d.pass[i] = local ? 1 : 0;
    if (local && i < fits.size() && fits[i]) any_local_fits = true;
  }
  const bool node_level = level == topology.NodeLevel();
  const std::string where = node_level ? "the node" : "the " + topology.LevelKey(level) + " domain";
  if (!any_local_fits) {
    // why: the data's node is full or unschedulable; waiting forever for it would be worse
    // than reading the data remotely, so every candidate passes and the reason is kept.
    std::fill(d.pass.begin(), d.pass.end(), 1);
    d.fallback = "data-locality-required: no node in " + where + " of step " + preds +
                 " can take the pod; not enforced";
    return d;
  }
  d.reason = "data-locality-required: not in " + where + " of step " + preds;
  return d;
}

std::vector<PipelineHistory::RunRecord> PipelineHistory::RecentRuns(size_t limit) const {
  std::vector<RunRecord> out;
  for (auto it = run_lru_.rbegin(); it != run_lru_.rend() && out.size() < limit; ++it) {
    RunRecord r;
    r.key = it->key;
    r.last = it->last;
    r.steps.reserve(it->steps.size());
    for (const StepRecord& s : it->steps) r.steps.push_back({s.step, s.node, s.at});
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace mlsched::policy
