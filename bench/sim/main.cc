// mlsched-sim: placement quality with and without mlsched, on a simulated cluster and a day of
// ML jobs (or a replayed trace), through the scheduler driver on a virtual clock.
//
//   mlsched-sim                       512 nodes x 8 GPUs, a generated day, report in
//                                     bench/reports/quality/
//   mlsched-sim --quick               64 nodes, 4 hours (what the test suite runs)
//   mlsched-sim --workload FILE.csv   replay a trace in the CSV format (bench/workload)
//   mlsched-sim --philly [--start-day D --hours H]   replay a Philly window
//   mlsched-sim --alibaba             Alibaba pods on the Alibaba node list (FGD-style:
//                                     unallocated GPUs against arriving workload)
//   mlsched-sim --dump-workload FILE  write the workload as CSV and exit
//   mlsched-sim --throughput          pods/s of the HTTP driver against a real mlsched-extender
//                                     (fed by the fake API server) vs no extender, on 1,000
//                                     and 5,000 nodes (--quick: 100 nodes)

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "bench/driver/driver.h"
#include "bench/driver/inprocess.h"
#include "bench/driver/metrics.h"
#include "bench/sim/report.h"
#include "bench/sim/throughput.h"
#include "bench/workload/workload.h"

#ifndef MLSCHED_EXTENDER_BIN
#define MLSCHED_EXTENDER_BIN ""
#endif
#ifndef MLSCHED_SHARED_DIR
#define MLSCHED_SHARED_DIR "../shared"
#endif

namespace mlsched::bench {
namespace {

struct Flags {
  bool quick = false, philly = false, alibaba = false, help = false, throughput = false;
  std::string extender_bin = MLSCHED_EXTENDER_BIN;
  int pods = 2000;
  bool nodes_given = false;
  int nodes = 512, gpus_per_node = 8;
  double hours = 24, drain_hours = 12, load = 0.75, start_day = 30;
  uint64_t seed = 1;
  int extender_weight = 5;
  std::string out = "bench/reports/quality";
  std::string workload, dump, traces = std::string(MLSCHED_SHARED_DIR) + "/traces";
  size_t max_pods = 0;
};

const char kUsage[] =
    "usage: mlsched-sim [--quick] [--nodes N] [--gpus-per-node G] [--hours H] [--load L]\n"
    "                   [--drain-hours H] [--seed S] [--extender-weight W] [--out DIR]\n"
    "                   [--workload FILE.csv | --philly [--start-day D] | --alibaba [--max-pods "
    "N]]\n"
    "                   [--traces DIR] [--dump-workload FILE]\n"
    "       mlsched-sim --throughput [--quick] [--pods N] [--extender-bin PATH] [--out DIR]\n";

std::vector<std::string> ParseFlags(int argc, char** argv, Flags* f) {
  std::vector<std::string> errors;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](std::string* out) {
      if (i + 1 >= argc) {
        errors.push_back(a + " needs a value");
        return false;
      }
      *out = argv[++i];
      return true;
    };
    auto number = [&](double* out, double lo, double hi) {
      std::string v;
      if (!value(&v)) return;
      char* end = nullptr;
      double d = std::strtod(v.c_str(), &end);
      if (v.empty() || *end != '\0' || d < lo || d > hi) {
        errors.push_back(a + ": '" + v + "' is not a number in [" + std::to_string(lo) + ", " +
                         std::to_string(hi) + "]");
        return;
      }
      *out = d;
    };
    double d = 0;
    if (a == "--quick")
      f->quick = true;
    else if (a == "--philly")
      f->philly = true;
    else if (a == "--alibaba")
      f->alibaba = true;
    else if (a == "--throughput")
      f->throughput = true;
    else if (a == "--extender-bin")
      value(&f->extender_bin);
    else if (a == "--pods") {
      d = f->pods;
      number(&d, 1, 1e6);
      f->pods = static_cast<int>(d);
    } else if (a == "--help" || a == "-h")
      f->help = true;
    else if (a == "--nodes") {
      d = f->nodes;
      number(&d, 1, 100000);
      f->nodes = static_cast<int>(d);
      f->nodes_given = true;
    } else if (a == "--gpus-per-node") {
      d = f->gpus_per_node;
      number(&d, 1, 64);
      f->gpus_per_node = static_cast<int>(d);
    } else if (a == "--hours")
      number(&f->hours, 0.01, 24 * 365);
    else if (a == "--drain-hours")
      number(&f->drain_hours, 0, 24 * 365);
    else if (a == "--load")
      number(&f->load, 0.01, 10);
    else if (a == "--start-day")
      number(&f->start_day, 0, 1000);
    else if (a == "--seed") {
      d = static_cast<double>(f->seed);
      number(&d, 0, 1e15);
      f->seed = static_cast<uint64_t>(d);
    } else if (a == "--extender-weight") {
      d = f->extender_weight;
      number(&d, 0, 100);
      f->extender_weight = static_cast<int>(d);
    } else if (a == "--max-pods") {
      d = 0;
      number(&d, 0, 1e9);
      f->max_pods = static_cast<size_t>(d);
    } else if (a == "--out")
      value(&f->out);
    else if (a == "--workload")
      value(&f->workload);
    else if (a == "--dump-workload")
      value(&f->dump);
    else if (a == "--traces")
      value(&f->traces);
    else
      errors.push_back("unknown flag " + a);
  }
  if ((f->philly ? 1 : 0) + (f->alibaba ? 1 : 0) + (f->workload.empty() ? 0 : 1) > 1) {
    errors.push_back("--philly, --alibaba and --workload exclude each other");
  }
  if (f->quick) {
    f->nodes = 64;
    f->hours = std::min(f->hours, 4.0);
    f->drain_hours = std::min(f->drain_hours, 2.0);
    if (f->max_pods == 0) f->max_pods = 600;
  }
  return errors;
}

std::string CommandLine(int argc, char** argv) {
  std::string s;
  for (int i = 0; i < argc; ++i) {
    if (i) s += ' ';
    s += argv[i];
  }
  return s;
}

// Runs `workload` on `nodes` with (mlsched in process) or without an extender.
RunResult RunOnce(bool mlsched, const std::vector<policy::Node>& nodes, const Workload& workload,
                  const Flags& f, TimeMs until, bool retry) {
  DriverOptions o;
  o.seed = f.seed;
  o.label = mlsched ? "with mlsched" : "without mlsched";
  o.extender_weight = f.extender_weight;
  o.retry_unschedulable = retry;
  o.sample_interval_ms = retry ? 60'000 : 0;
  Driver driver(o, nodes, nullptr);
  std::unique_ptr<InProcessExtender> ext;
  if (mlsched) {
    ext = std::make_unique<InProcessExtender>(policy::Options{}, &driver);
    driver.SetExtender(ext.get());
  }
  for (const JobSpec& j : workload.jobs) {
    Status s = driver.Submit(j);
    if (!s.ok()) std::cerr << "skipping job: " << s.message() << "\n";
  }
  driver.RunUntil(until);
  return driver.Result();
}

int Main(int argc, char** argv) {
  Flags f;
  std::vector<std::string> errors = ParseFlags(argc, argv, &f);
  if (f.help) {
    std::cout << kUsage;
    return 0;
  }
  if (!errors.empty()) {
    for (const std::string& e : errors) std::cerr << "mlsched-sim: " << e << "\n";
    std::cerr << kUsage;
    return 2;
  }
  if (f.throughput) {
    ThroughputOptions to;
    if (f.quick) {
      to.node_counts = {100};
      to.pods = std::min(f.pods, 200);
    } else {
      to.pods = f.pods;
    }
    if (f.nodes_given) to.node_counts = {f.nodes};
    to.extender_bin = f.extender_bin;
    to.out_dir = f.out == "bench/reports/quality" ? "bench/reports/throughput" : f.out;
    to.command = CommandLine(argc, argv);
    return RunThroughput(to);
  }

  std::vector<policy::Node> nodes;
  Workload workload;
  std::string cluster;
  if (f.alibaba) {
    Status s =
        ReadAlibabaNodes(f.traces + "/alibaba-gpu-v2023-openb-node-list-gpu-node.csv", &nodes);
    if (s.ok()) {
      AlibabaOptions ao;
      ao.keep_timing = false;
      ao.max_pods = f.max_pods;
      s = ReadAlibabaPods(f.traces + "/alibaba-gpu-v2023-openb-pod-list-default.csv", ao,
                          &workload);
    }
    if (!s.ok()) {
      std::cerr << "mlsched-sim: " << s.message() << "\n";
      return 1;
    }
    if (f.quick) nodes.resize(std::min<size_t>(nodes.size(), 128));
    int64_t gpus = 0;
    for (const auto& n : nodes) gpus += n.allocatable.Scalar(kGpuResource);
    cluster = "Alibaba PAI GPU node list: " + std::to_string(nodes.size()) + " nodes, " +
              std::to_string(gpus) + " GPUs (racks of 16 in file order)";
  } else {
    ClusterShape shape = ShapeForNodes(f.nodes, f.gpus_per_node);
    nodes = MakeCluster(shape);
    cluster = std::to_string(nodes.size()) + " nodes x " + std::to_string(f.gpus_per_node) +
              " GPUs, 96 cores, 384 GiB; " + std::to_string(shape.zones) + " zones > " +
              std::to_string(shape.zones * shape.blocks_per_zone) + " blocks > " +
              std::to_string(shape.zones * shape.blocks_per_zone * shape.racks_per_block) +
              " racks of " + std::to_string(shape.nodes_per_rack) + " nodes";
    Status s;
    if (f.philly) {
      PhillyOptions po;
      po.start_day = f.start_day;
      po.hours = f.hours;
      po.gpus_per_node = f.gpus_per_node;
      s = ReadPhilly(f.traces + "/philly-adaptdl-simulator.csv", po, &workload);
    } else if (!f.workload.empty()) {
      s = ReadWorkloadCsv(f.workload, f.gpus_per_node, &workload);
    } else {
      GeneratorOptions go;
      go.seed = f.seed;
      go.span_ms = static_cast<TimeMs>(f.hours * 3.6e6);
      go.cluster_gpus = static_cast<int64_t>(nodes.size()) * f.gpus_per_node;
      go.load = f.load;
      go.gpus_per_node = f.gpus_per_node;
      double scale = static_cast<double>(nodes.size()) / 512.0;
      go.pipelines_per_hour *= std::max(0.25, scale);
      go.function_bursts_per_hour *= std::max(0.25, scale);
      workload = Generate(go);
    }
    if (!s.ok()) {
      std::cerr << "mlsched-sim: " << s.message() << "\n";
      return 1;
    }
  }
  if (!f.dump.empty()) {
    FILE* out = std::fopen(f.dump.c_str(), "w");
    if (!out) {
      std::cerr << "mlsched-sim: cannot write " << f.dump << "\n";
      return 1;
    }
    std::string csv = FormatWorkloadCsv(workload);
    std::fwrite(csv.data(), 1, csv.size(), out);
    std::fclose(out);
    std::cout << "wrote " << workload.jobs.size() << " jobs to " << f.dump << "\n";
    return 0;
  }

  TimeMs span = 0;
  for (const JobSpec& j : workload.jobs) span = std::max(span, j.arrival_ms);
  TimeMs until = f.alibaba ? span + 3'600'000 : span + static_cast<TimeMs>(f.drain_hours * 3.6e6);
  std::cout << "workload: " << workload.description << " (" << workload.jobs.size()
            << " jobs)\ncluster: " << cluster << "\n";

  RunResult with = RunOnce(true, nodes, workload, f, until, !f.alibaba);
  RunResult without = RunOnce(false, nodes, workload, f, until, !f.alibaba);

  ReportInput in;
  in.title = f.alibaba ? "mlsched placement quality: Alibaba replay (FGD setting)"
                       : "mlsched placement quality";
  in.command = CommandLine(argc, argv);
  in.workload = workload.description + " (" + std::to_string(workload.jobs.size()) + " jobs)";
  in.cluster = cluster;
  in.runs = {&with, &without};
  in.summaries = {Summarize(with), Summarize(without)};
  if (f.alibaba) {
    // FGD's figure: unallocated GPUs (% of the cluster) against the GPUs requested by the pods
    // that have arrived so far (% of the cluster). Pods never end, so a pod either got its
    // GPUs when it arrived or was rejected.
    int64_t capacity = 0;
    for (const auto& n : nodes) capacity += n.allocatable.Scalar(kGpuResource);
    in.curve_title = "Unallocated GPUs against arrived workload (FGD, ATC'23)";
    in.curve_x = "arrived GPU requests (% of cluster GPUs)";
    in.curve_y = "unallocated GPUs (% of cluster GPUs)";
    for (const RunResult* r : in.runs) {
      std::vector<std::pair<double, double>> curve;
      double arrived = 0, allocated = 0;
      std::vector<const PodRecord*> order;
      for (const PodRecord& p : r->pods) order.push_back(&p);
      std::stable_sort(order.begin(), order.end(), [](const PodRecord* a, const PodRecord* b) {
        return a->created < b->created;
      });
      for (const PodRecord* p : order) {
        arrived += static_cast<double>(p->gpus);
        if (p->bound >= 0) allocated += static_cast<double>(p->gpus);
        curve.emplace_back(100 * arrived / capacity, 100 * (1 - allocated / capacity));
      }
      in.curves.push_back(std::move(curve));
    }
    auto at = [&](size_t run, double x) {
      for (const auto& [ax, ay] : in.curves[run]) {
        if (ax >= x) return ay;
      }
      return in.curves[run].empty() ? 0.0 : in.curves[run].back().second;
    };
    char note[256];
    std::snprintf(note, sizeof note,
                  "Unallocated GPUs when the arrived requests reach 100%% of the cluster: "
                  "%.1f%% with mlsched, %.1f%% without (lower is better).",
                  at(0, 100), at(1, 100));
    in.notes.push_back(note);
    std::cout << note << "\n";
  }
  in.notes.push_back(
      "Same driver, same workload, same seed; 'without' is the driver with the extender off. "
      "Extender weight " +
      std::to_string(f.extender_weight) + "; stock score: least-allocated + balanced allocation.");
  std::cout << "\n" << FormatTable(SideBySide(in.summaries[0], in.summaries[1]));
  Status s = WriteReport(f.out, in);
  if (!s.ok()) {
    std::cerr << "mlsched-sim: " << s.message() << "\n";
    return 1;
  }
  std::cout << "\nreport: " << f.out << "/index.html\n";
  return 0;
}

}  // namespace
}  // namespace mlsched::bench

int main(int argc, char** argv) { return mlsched::bench::Main(argc, argv); }
