#include "bench/sim/report.h"

#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace mlsched::bench {
namespace {

std::string Slug(const std::string& label) {
  std::string s;
  for (char c : label) s += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  return s;
}

std::string Html(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string Json(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

Status WriteFile(const std::filesystem::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary);
  out << text;
  out.close();
  if (!out) return Status::Unavailable("cannot write " + p.string());
  return Status::Ok();
}

std::string DistJson(const Distribution& d) {
  char buf[256];
  std::snprintf(buf, sizeof buf,
                "{\"count\": %lld, \"mean_s\": %.3f, \"p50_s\": %.3f, \"p95_s\": %.3f, "
                "\"max_s\": %.3f}",
                static_cast<long long>(d.count), d.mean, d.p50, d.p95, d.max);
  return buf;
}

std::string SummaryJson(const Summary& s) {
  std::ostringstream o;
  o << "{\"label\": " << Json(s.label) << ", \"extender\": " << Json(s.extender)
    << ", \"jobs_arrived\": " << s.jobs_arrived << ", \"jobs_completed\": " << s.jobs_completed
    << ", \"jobs_running_at_end\": " << s.jobs_running
    << ", \"jobs_waiting_at_end\": " << s.jobs_waiting << ", \"gangs\": " << s.gangs
    << ", \"gangs_completed\": " << s.gangs_completed
    << ", \"gangs_partly_placed_at_end\": " << s.gangs_partly_placed
    << ", \"gangs_started\": " << s.gangs_started
    << ", \"gangs_multi_rack\": " << s.gangs_multi_rack
    << ", \"gpu_hours_held_by_incomplete_gangs\": " << s.gpu_hours_held_by_incomplete_gangs
    << ", \"max_gpus_held_by_incomplete_gangs\": " << s.max_gpus_held_by_incomplete_gangs
    << ", \"mean_gpu_allocated\": " << s.mean_gpu_allocated
    << ", \"mean_gpu_busy\": " << s.mean_gpu_busy
    << ", \"mean_partly_used_nodes\": " << s.mean_partly_used_nodes
    << ", \"mean_gpus_free_on_partly_used\": " << s.mean_gpus_free_on_partly_used
    << ", \"mean_full_node_jobs_fit\": " << s.mean_full_node_jobs_fit
    << ", \"queue_delay\": " << DistJson(s.queue_delay) << ", \"jct\": " << DistJson(s.jct)
    << ", \"gang_queue_delay\": " << DistJson(s.gang_queue_delay)
    << ", \"pipeline_steps_with_pred\": " << s.pipeline_steps_with_pred
    << ", \"steps_on_pred_node\": " << s.steps_on_pred_node
    << ", \"steps_on_pred_rack\": " << s.steps_on_pred_rack
    << ", \"function_pods\": " << s.function_pods
    << ", \"function_pods_warm\": " << s.function_pods_warm << ", \"cycles\": " << s.cycles
    << ", \"bind_failures\": " << s.bind_failures << ", \"extender_errors\": " << s.extender_errors
    << ", \"wall_seconds\": " << s.wall_seconds << ", \"simulated_hours\": " << s.simulated_hours
    << "}";
  return o.str();
}

}  // namespace

MachineInfo DescribeMachine() {
  MachineInfo m;
  struct utsname u;
  if (uname(&u) == 0) {
    m.uname = std::string(u.sysname) + " " + u.nodename + " " + u.release + " " + u.version + " " +
              u.machine;
  }
  m.cpus = std::thread::hardware_concurrency();
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpuinfo, line)) {
    if (line.rfind("model name", 0) == 0) {
      size_t colon = line.find(':');
      if (colon != std::string::npos) m.cpu_model = line.substr(colon + 2);
      break;
    }
  }
  return m;
}

Status WriteReport(const std::string& dir_name, const ReportInput& in) {
  namespace fs = std::filesystem;
  fs::path dir(dir_name);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Status::Unavailable("cannot create " + dir_name + ": " + ec.message());
  MachineInfo machine = DescribeMachine();

  // Raw numbers.
  std::vector<std::string> slugs;
  for (size_t r = 0; r < in.runs.size(); ++r) {
    const RunResult& run = *in.runs[r];
    std::string slug = Slug(run.label);
    slugs.push_back(slug);
    std::ostringstream samples;
    samples << "t_hours,gpus_total,gpus_used,gpus_busy,gpus_held_incomplete,pending_pods,"
               "whole_free_nodes,full_node_jobs_fit,partly_used_nodes,gpus_free_on_partly_used\n";
    for (const Sample& x : run.samples) {
      samples << static_cast<double>(x.t) / 3.6e6 << ',' << x.gpus_total << ',' << x.gpus_used
              << ',' << x.gpus_busy << ',' << x.gpus_held_incomplete << ',' << x.pending_pods << ','
              << x.whole_free_nodes << ',' << x.full_node_jobs_fit << ',' << x.partly_used_nodes
              << ',' << x.gpus_free_on_partly_used << '\n';
    }
    Status s = WriteFile(dir / ("samples_" + slug + ".csv"), samples.str());
    if (!s.ok()) return s;
    std::ostringstream jobs;
    jobs << "name,kind,gpus,pods,gang_size,arrival_s,started_s,finished_s,queue_delay_s,racks,"
            "nodes,bound_members\n";
    std::vector<double> delays, gang_delays;
    for (const JobRecord& j : run.jobs) {
      if (j.gang_size > 1 && j.queue_delay_ms >= 0)
        gang_delays.push_back(j.queue_delay_ms / 1000.0);
      jobs << j.name << ',' << JobKindName(j.kind) << ',' << j.gpus << ',' << j.pods << ','
           << j.gang_size << ',' << j.arrival / 1000.0 << ','
           << (j.started >= 0 ? std::to_string(j.started / 1000.0) : "") << ','
           << (j.finished >= 0 ? std::to_string(j.finished / 1000.0) : "") << ','
           << (j.queue_delay_ms >= 0 ? std::to_string(j.queue_delay_ms / 1000.0) : "") << ','
           << j.racks << ',' << j.nodes << ',' << j.bound_members << '\n';
      if (j.queue_delay_ms >= 0) delays.push_back(j.queue_delay_ms / 1000.0);
    }
    s = WriteFile(dir / ("jobs_" + slug + ".csv"), jobs.str());
    if (!s.ok()) return s;
    // Pods never bound, with the scheduler's last reason (what `kubectl describe` would say).
    std::ostringstream waiting;
    waiting << "namespace,name,job,gpus,created_s,attempts,last_reason\n";
    for (const PodRecord& p : run.pods) {
      if (p.bound >= 0 || p.deleted >= 0) continue;
      std::string reason = p.last_reason;
      std::replace(reason.begin(), reason.end(), '"', '\'');
      waiting << p.ns << ',' << p.name << ',' << p.job << ',' << p.gpus << ',' << p.created / 1000.0
              << ',' << p.attempts << ",\"" << reason << "\"\n";
    }
    s = WriteFile(dir / ("unscheduled_" + slug + ".csv"), waiting.str());
    if (!s.ok()) return s;
    // Delay distributions: (delay, share with at most that delay, share waiting longer).
    auto write_cdf = [&](std::vector<double> v, const std::string& file) {
      std::sort(v.begin(), v.end());
      std::ostringstream cdf;
      cdf << "delay_s,cdf,ccdf\n";
      size_t step = std::max<size_t>(1, v.size() / 4000);
      for (size_t k = 0; k < v.size(); k += step) {
        double c = static_cast<double>(k + 1) / v.size();
        cdf << std::max(v[k], 0.001) << ',' << c << ',' << std::max(1 - c, 1e-6) << '\n';
      }
      if (!v.empty()) cdf << std::max(v.back(), 0.001) << ",1,1e-6\n";
      return WriteFile(dir / file, cdf.str());
    };
    s = write_cdf(delays, "delays_" + slug + ".csv");
    if (!s.ok()) return s;
    s = write_cdf(gang_delays, "gang_delays_" + slug + ".csv");
    if (!s.ok()) return s;
  }
  for (size_t r = 0; r < in.curves.size(); ++r) {
    std::ostringstream c;
    c << "x,y\n";
    for (const auto& [x, y] : in.curves[r]) c << x << ',' << y << '\n';
    Status s = WriteFile(
        dir / ("curve_" + (r < slugs.size() ? slugs[r] : std::to_string(r)) + ".csv"), c.str());
    if (!s.ok()) return s;
  }
  {
    std::ostringstream j;
    j << "{\n  \"title\": " << Json(in.title) << ",\n  \"command\": " << Json(in.command)
      << ",\n  \"workload\": " << Json(in.workload) << ",\n  \"cluster\": " << Json(in.cluster)
      << ",\n  \"machine\": {\"uname\": " << Json(machine.uname) << ", \"nproc\": " << machine.cpus
      << ", \"cpu_model\": " << Json(machine.cpu_model) << "},\n  \"runs\": [";
    for (size_t k = 0; k < in.summaries.size(); ++k) {
      j << (k ? ",\n    " : "\n    ") << SummaryJson(in.summaries[k]);
    }
    j << "\n  ]\n}\n";
    Status s = WriteFile(dir / "summary.json", j.str());
    if (!s.ok()) return s;
  }

  // Plots.
  std::vector<std::string> images;
  std::ostringstream gp;
  gp << "# Made by mlsched-sim; run `gnuplot plots.gp` in this folder to redraw.\n"
        "set terminal svg size 900,420 dynamic font 'sans,11'\nset datafile separator ','\n"
        "set key outside right\nset grid\n";
  auto plot_runs = [&](const std::string& file, const std::string& title, const std::string& xlabel,
                       const std::string& ylabel, const std::string& prefix,
                       const std::string& using_expr, const std::string& extra) {
    gp << "set output '" << file << "'\nset title '" << title << "'\nset xlabel '" << xlabel
       << "'\nset ylabel '" << ylabel << "'\n"
       << extra << "plot ";
    for (size_t r = 0; r < slugs.size(); ++r) {
      gp << (r ? ", " : "") << "'" << prefix << slugs[r] << ".csv' skip 1 using " << using_expr
         << " with lines lw 2 title '" << in.runs[r]->label << "'";
    }
    gp << "\nunset logscale\n";
    images.push_back(file);
  };
  if (!in.runs.empty() && !in.runs[0]->samples.empty()) {
    plot_runs("utilisation.svg", "GPUs allocated over time", "hours", "% of GPUs", "samples_",
              "1:(100*$3/$2)", "set yrange [0:100]\n");
    plot_runs("busy.svg", "GPUs doing useful work (not held by a waiting gang)", "hours",
              "% of GPUs", "samples_", "1:(100*$4/$2)", "set yrange [0:100]\n");
    plot_runs("held.svg", "GPUs held by gangs that have not started", "hours", "GPUs", "samples_",
              "1:5", "set yrange [0:*]\n");
    plot_runs("fragmentation.svg", "Node-sized (8-GPU) jobs that could start now", "hours", "jobs",
              "samples_", "1:8", "set yrange [0:*]\n");
    plot_runs("stranded.svg", "GPUs free on partly used nodes", "hours", "GPUs", "samples_", "1:10",
              "set yrange [0:*]\n");
    plot_runs("delay_ccdf.svg", "Queueing delay of all jobs: share waiting longer than x",
              "delay (s, log)", "share of jobs (log)", "delays_", "1:3",
              "set logscale xy\nset yrange [1e-4:1]\n");
    bool any_gang = false;
    for (const RunResult* r : in.runs) {
      for (const JobRecord& j : r->jobs) {
        any_gang = any_gang || (j.gang_size > 1 && j.queue_delay_ms >= 0);
      }
    }
    if (any_gang) {
      plot_runs("gang_delay_cdf.svg", "Queueing delay of gangs (CDF)", "delay (s, log)",
                "share of gangs", "gang_delays_", "1:2", "set logscale x\nset yrange [0:1]\n");
    }
  }
  if (!in.curves.empty()) {
    plot_runs("curve.svg", in.curve_title, in.curve_x, in.curve_y, "curve_", "1:2",
              "set yrange [0:*]\nset autoscale x\n");
  }
  Status s = WriteFile(dir / "plots.gp", gp.str());
  if (!s.ok()) return s;
  bool plotted = false;
  if (std::system("command -v gnuplot >/dev/null 2>&1") == 0) {
    std::string cmd = "cd '" + dir.string() + "' && gnuplot plots.gp 2>gnuplot.log";
    plotted = std::system(cmd.c_str()) == 0;
  }

  // The page.
  std::ostringstream h;
  h << "<!doctype html>\n<html><head><meta charset='utf-8'><title>" << Html(in.title)
    << "</title>\n<style>body{font-family:sans-serif;max-width:1000px;margin:2em auto}"
       "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:"
       "right}td:first-child,th:first-child{text-align:left}code{background:#f4f4f4}</style>"
       "</head><body>\n<h1>"
    << Html(in.title) << "</h1>\n<p><b>Workload:</b> " << Html(in.workload)
    << "<br><b>Cluster:</b> " << Html(in.cluster) << "</p>\n<table>\n";
  if (in.summaries.size() >= 2) {
    auto rows = SideBySide(in.summaries[0], in.summaries[1]);
    for (size_t k = 0; k < rows.size(); ++k) {
      h << "<tr>";
      for (const std::string& c : rows[k]) {
        h << (k == 0 ? "<th>" : "<td>") << Html(c) << (k == 0 ? "</th>" : "</td>");
      }
      h << "</tr>\n";
    }
  }
  h << "</table>\n";
  for (const std::string& n : in.notes) h << "<p>" << Html(n) << "</p>\n";
  if (plotted) {
    for (const std::string& img : images)
      h << "<p><img src='" << img << "' alt='" << img << "'></p>\n";
  } else {
    h << "<p><i>gnuplot was not found or failed (see gnuplot.log): no plots. The data are in the "
         "CSV files; plots.gp draws them.</i></p>\n";
  }
  h << "<h2>Raw numbers</h2><ul><li><a href='summary.json'>summary.json</a></li>";
  for (const std::string& sl : slugs) {
    h << "<li><a href='samples_" << sl << ".csv'>samples_" << sl << ".csv</a>, <a href='jobs_" << sl
      << ".csv'>jobs_" << sl << ".csv</a>, <a href='delays_" << sl << ".csv'>delays_" << sl
      << ".csv</a>, <a href='unscheduled_" << sl << ".csv'>unscheduled_" << sl
      << ".csv</a>, <a href='gang_delays_" << sl << ".csv'>gang_delays_" << sl << ".csv</a></li>";
  }
  h << "</ul>\n<h2>Made by</h2><p><code>" << Html(in.command) << "</code></p>\n<p>"
    << Html(machine.uname) << "<br>nproc " << machine.cpus << ", " << Html(machine.cpu_model)
    << "</p>\n</body></html>\n";
  return WriteFile(dir / "index.html", h.str());
}

}  // namespace mlsched::bench
