#include "bench/driver/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>

namespace mlsched::bench {
namespace {

double Quantile(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) return 0;
  double pos = q * static_cast<double>(sorted.size() - 1);
  size_t lo = static_cast<size_t>(std::floor(pos));
  size_t hi = std::min(lo + 1, sorted.size() - 1);
  double frac = pos - static_cast<double>(lo);
  return sorted[lo] * (1 - frac) + sorted[hi] * frac;
}

std::string Fixed(double v, int digits = 1) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

}  // namespace

Distribution Distribute(std::vector<double> values) {
  Distribution d;
  if (values.empty()) return d;
  std::sort(values.begin(), values.end());
  d.count = static_cast<int64_t>(values.size());
  double sum = 0;
  for (double v : values) sum += v;
  d.mean = sum / static_cast<double>(values.size());
  d.p50 = Quantile(values, 0.5);
  d.p95 = Quantile(values, 0.95);
  d.max = values.back();
  return d;
}

std::string Percent(int64_t num, int64_t den) {
  if (den <= 0) return "n/a";
  return Fixed(100.0 * static_cast<double>(num) / static_cast<double>(den)) + "%";
}

Summary Summarize(const RunResult& run) {
  Summary s;
  s.label = run.label;
  s.extender = run.extender;
  std::vector<double> delays, jcts, gang_delays;
  for (const JobRecord& j : run.jobs) {
    ++s.jobs_arrived;
    if (j.finished >= 0) {
      ++s.jobs_completed;
      jcts.push_back(static_cast<double>(j.finished - j.arrival) / 1000.0);
    } else if (j.started >= 0) {
      ++s.jobs_running;
    } else {
      ++s.jobs_waiting;
    }
    if (j.queue_delay_ms >= 0) delays.push_back(static_cast<double>(j.queue_delay_ms) / 1000.0);
    if (j.gang_size > 1) {
      ++s.gangs;
      if (j.finished >= 0) ++s.gangs_completed;
      if (j.started >= 0) {
        ++s.gangs_started;
        if (j.racks > 1) ++s.gangs_multi_rack;
        gang_delays.push_back(static_cast<double>(j.started - j.arrival) / 1000.0);
      } else if (j.bound_members > 0) {
        ++s.gangs_partly_placed;
      }
    }
  }
  for (const PodRecord& p : run.pods) {
    ++s.pods_created;
    if (p.bound >= 0) ++s.pods_bound;
    if (p.has_predecessors && p.bound >= 0) {
      ++s.pipeline_steps_with_pred;
      if (p.on_pred_node) ++s.steps_on_pred_node;
      if (p.on_pred_rack) ++s.steps_on_pred_rack;
    }
    if (p.is_function && p.bound >= 0) {
      ++s.function_pods;
      if (p.warm) ++s.function_pods_warm;
    }
  }
  s.queue_delay = Distribute(std::move(delays));
  s.jct = Distribute(std::move(jcts));
  s.gang_queue_delay = Distribute(std::move(gang_delays));

  double alloc = 0, busy = 0, partly = 0, stranded = 0, fit = 0;
  int64_t n = 0, frag_n = 0;
  for (size_t k = 0; k < run.samples.size(); ++k) {
    const Sample& x = run.samples[k];
    if (x.gpus_total <= 0) continue;
    ++n;
    alloc += static_cast<double>(x.gpus_used) / static_cast<double>(x.gpus_total);
    busy += static_cast<double>(x.gpus_busy) / static_cast<double>(x.gpus_total);
    if (k + 1 < run.samples.size()) {
      double hours = static_cast<double>(run.samples[k + 1].t - x.t) / 3.6e6;
      s.gpu_hours_held_by_incomplete_gangs += hours * static_cast<double>(x.gpus_held_incomplete);
    }
    s.max_gpus_held_by_incomplete_gangs =
        std::max(s.max_gpus_held_by_incomplete_gangs, x.gpus_held_incomplete);
    partly += static_cast<double>(x.partly_used_nodes);
    stranded += static_cast<double>(x.gpus_free_on_partly_used);
    fit += static_cast<double>(x.full_node_jobs_fit);
    ++frag_n;
  }
  if (n > 0) {
    s.mean_gpu_allocated = alloc / static_cast<double>(n);
    s.mean_gpu_busy = busy / static_cast<double>(n);
  }
  if (frag_n > 0) {
    s.mean_partly_used_nodes = partly / static_cast<double>(frag_n);
    s.mean_gpus_free_on_partly_used = stranded / static_cast<double>(frag_n);
    s.mean_full_node_jobs_fit = fit / static_cast<double>(frag_n);
  }
  // The exact figures from the driver beat the sampled ones.
  s.gpu_hours_held_by_incomplete_gangs = run.gpu_seconds_held_incomplete / 3600.0;
  s.max_gpus_held_by_incomplete_gangs = run.max_gpus_held_incomplete;
  s.cycles = run.cycles;
  s.bind_failures = run.bind_failures;
  s.extender_errors = run.extender_errors;
  s.wall_seconds = run.wall_seconds;
  s.simulated_hours = static_cast<double>(run.end_ms) / 3.6e6;
  return s;
}

std::vector<std::pair<std::string, std::string>> CompletionByKind(const RunResult& run) {
  std::map<std::string, std::pair<int64_t, int64_t>> by;
  for (const JobRecord& j : run.jobs) {
    auto& c = by[JobKindName(j.kind)];
    ++c.second;
    if (j.finished >= 0) ++c.first;
  }
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [k, c] : by) {
    out.emplace_back(k, std::to_string(c.first) + "/" + std::to_string(c.second));
  }
  return out;
}

std::vector<std::vector<std::string>> SideBySide(const Summary& a, const Summary& b) {
  std::vector<std::vector<std::string>> rows;
  rows.push_back({"metric", a.label, b.label});
  auto add = [&rows](std::string m, std::string x, std::string y) {
    rows.push_back({std::move(m), std::move(x), std::move(y)});
  };
  auto i = [](int64_t v) { return std::to_string(v); };
  auto dist = [](const Distribution& d) {
    if (d.count == 0) return std::string("-");
    return Fixed(d.mean, 0) + " / " + Fixed(d.p50, 0) + " / " + Fixed(d.p95, 0);
  };
  add("jobs arrived", i(a.jobs_arrived), i(b.jobs_arrived));
  add("jobs completed",
      i(a.jobs_completed) + " (" + Percent(a.jobs_completed, a.jobs_arrived) + ")",
      i(b.jobs_completed) + " (" + Percent(b.jobs_completed, b.jobs_arrived) + ")");
  add("jobs running / waiting at end", i(a.jobs_running) + " / " + i(a.jobs_waiting),
      i(b.jobs_running) + " / " + i(b.jobs_waiting));
  add("gangs completed / arrived", i(a.gangs_completed) + "/" + i(a.gangs),
      i(b.gangs_completed) + "/" + i(b.gangs));
  add("gangs partly placed at end (deadlock)", i(a.gangs_partly_placed), i(b.gangs_partly_placed));
  add("GPU-hours held by incomplete gangs", Fixed(a.gpu_hours_held_by_incomplete_gangs),
      Fixed(b.gpu_hours_held_by_incomplete_gangs));
  add("max GPUs held by incomplete gangs", i(a.max_gpus_held_by_incomplete_gangs),
      i(b.max_gpus_held_by_incomplete_gangs));
  add("gangs spanning >1 rack", i(a.gangs_multi_rack) + "/" + i(a.gangs_started),
      i(b.gangs_multi_rack) + "/" + i(b.gangs_started));
  add("GPU allocated (mean)", Fixed(100 * a.mean_gpu_allocated) + "%",
      Fixed(100 * b.mean_gpu_allocated) + "%");
  add("GPU busy (mean)", Fixed(100 * a.mean_gpu_busy) + "%", Fixed(100 * b.mean_gpu_busy) + "%");
  add("queueing delay s (mean/p50/p95)", dist(a.queue_delay), dist(b.queue_delay));
  add("gang queueing delay s (mean/p50/p95)", dist(a.gang_queue_delay), dist(b.gang_queue_delay));
  add("job completion time s (mean/p50/p95)", dist(a.jct), dist(b.jct));
  add("partly used GPU nodes (mean)", Fixed(a.mean_partly_used_nodes),
      Fixed(b.mean_partly_used_nodes));
  add("GPUs free on partly used nodes (mean)", Fixed(a.mean_gpus_free_on_partly_used),
      Fixed(b.mean_gpus_free_on_partly_used));
  add("8-GPU jobs that could start (mean)", Fixed(a.mean_full_node_jobs_fit),
      Fixed(b.mean_full_node_jobs_fit));
  add("pipeline steps on predecessor's node",
      Percent(a.steps_on_pred_node, a.pipeline_steps_with_pred),
      Percent(b.steps_on_pred_node, b.pipeline_steps_with_pred));
  add("pipeline steps in predecessor's rack",
      Percent(a.steps_on_pred_rack, a.pipeline_steps_with_pred),
      Percent(b.steps_on_pred_rack, b.pipeline_steps_with_pred));
  add("function pods on warm nodes", Percent(a.function_pods_warm, a.function_pods),
      Percent(b.function_pods_warm, b.function_pods));
  add("scheduling cycles", i(a.cycles), i(b.cycles));
  add("bind failures / extender errors", i(a.bind_failures) + " / " + i(a.extender_errors),
      i(b.bind_failures) + " / " + i(b.extender_errors));
  add("simulated hours / wall seconds", Fixed(a.simulated_hours) + " / " + Fixed(a.wall_seconds),
      Fixed(b.simulated_hours) + " / " + Fixed(b.wall_seconds));
  return rows;
}

std::string FormatTable(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width;
  for (const auto& r : rows) {
    if (width.size() < r.size()) width.resize(r.size(), 0);
    for (size_t c = 0; c < r.size(); ++c) width[c] = std::max(width[c], r[c].size());
  }
  std::string out;
  for (size_t k = 0; k < rows.size(); ++k) {
    for (size_t c = 0; c < rows[k].size(); ++c) {
      out += rows[k][c];
      if (c + 1 < rows[k].size()) out += std::string(width[c] - rows[k][c].size() + 2, ' ');
    }
    out += '\n';
    if (k == 0) {
      size_t total = 0;
      for (size_t w : width) total += w + 2;
      out += std::string(total > 2 ? total - 2 : 0, '-') + '\n';
    }
  }
  return out;
}

}  // namespace mlsched::bench
