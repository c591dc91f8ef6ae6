// The replay CSV format and the readers of the shared traces.

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>
#include <map>
#include <set>
#include <sstream>
#include <unordered_map>

#include "bench/workload/workload.h"
#include "k8s/decode.h"

namespace mlsched::bench {
namespace {

constexpr int64_t kMiB = 1LL << 20;

std::string Trim(std::string s) {
  size_t a = s.find_first_not_of(" \t\r");
  if (a == std::string::npos) return "";
  size_t b = s.find_last_not_of(" \t\r");
  return s.substr(a, b - a + 1);
}

std::vector<std::string> Split(const std::string& line, char sep) {
  std::vector<std::string> out;
  std::string cell;
  std::istringstream in(line);
  while (std::getline(in, cell, sep)) out.push_back(Trim(cell));
  if (!line.empty() && line.back() == sep) out.push_back("");
  return out;
}

bool ParseDouble(const std::string& s, double* v) {
  if (s.empty()) return false;
  char* end = nullptr;
  *v = std::strtod(s.c_str(), &end);
  return end && *end == '\0' && std::isfinite(*v);
}

Status ReadFile(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("cannot open " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  *out = ss.str();
  return Status::Ok();
}

// A CSV with a header: rows as maps from column name to cell.
struct Table {
  std::vector<std::string> header;
  std::vector<std::pair<int, std::vector<std::string>>> rows;  // line number, cells
  int Col(const std::string& name) const {
    auto it = std::find(header.begin(), header.end(), name);
    return it == header.end() ? -1 : static_cast<int>(it - header.begin());
  }
};

Status ParseTable(const std::string& text, Table* t) {
  std::istringstream in(text);
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    std::string trimmed = Trim(line);
    if (trimmed.empty() || trimmed[0] == '#') continue;
    std::vector<std::string> cells = Split(trimmed, ',');
    if (t->header.empty()) {
      t->header = std::move(cells);
      continue;
    }
    if (cells.size() > t->header.size()) {
      return Status::InvalidArgument("line " + std::to_string(n) + ": " +
                                     std::to_string(cells.size()) + " cells but " +
                                     std::to_string(t->header.size()) + " columns");
    }
    cells.resize(t->header.size());
    t->rows.emplace_back(n, std::move(cells));
  }
  if (t->header.empty()) return Status::InvalidArgument("no header line");
  return Status::Ok();
}

// Philly's "YYYY-MM-DD HH:MM:SS" (no zone) is RFC 3339 with a space for the T: one parser.
bool ParseTimestamp(const std::string& s, int64_t* seconds) {
  std::string rfc3339 = s;
  if (rfc3339.size() != 19 || rfc3339[10] != ' ') return false;
  rfc3339[10] = 'T';
  rfc3339 += 'Z';
  policy::TimeMs ms = 0;
  if (!k8s::ParseRfc3339Ms(rfc3339, &ms)) return false;
  *seconds = ms / 1000;
  return true;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// The replay CSV.

Status ReadWorkloadCsv(const std::string& path, int gpus_per_node, Workload* out) {
  std::string text;
  Status s = ReadFile(path, &text);
  if (!s.ok()) return s;
  s = ParseWorkloadCsv(text, gpus_per_node, out);
  if (!s.ok()) return Status::InvalidArgument(path + ": " + s.message());
  out->description = "replayed from " + path;
  return Status::Ok();
}

Status ParseWorkloadCsv(const std::string& text, int gpus_per_node, Workload* out) {
  Table t;
  Status s = ParseTable(text, &t);
  if (!s.ok()) return s;
  for (const char* required : {"submit_s", "duration_s", "num_gpus"}) {
    if (t.Col(required) < 0) {
      return Status::InvalidArgument(std::string("missing column ") + required);
    }
  }
  auto cell = [&t](const std::vector<std::string>& row, const char* name) -> std::string {
    int c = t.Col(name);
    return c < 0 ? std::string() : row[c];
  };
  Workload w;
  std::map<std::string, size_t> pipelines;  // run -> job index
  std::set<std::string> names;
  int serial = 0;
  for (const auto& [line, row] : t.rows) {
    auto bad = [line = line](const std::string& why) {
      return Status::InvalidArgument("line " + std::to_string(line) + ": " + why);
    };
    double submit, duration, gpus_d;
    if (!ParseDouble(cell(row, "submit_s"), &submit) || submit < 0) {
      return bad("submit_s must be a number >= 0");
    }
    if (!ParseDouble(cell(row, "duration_s"), &duration) || duration < 0) {
      return bad("duration_s must be a number >= 0");
    }
    if (!ParseDouble(cell(row, "num_gpus"), &gpus_d) || gpus_d < 0 || gpus_d > 4096 ||
        gpus_d != std::floor(gpus_d)) {
      return bad("num_gpus must be a whole number in 0..4096");
    }
    int64_t gpus = static_cast<int64_t>(gpus_d);
    double cpu_d = -1, mem_d = -1, prio_d = 0;
    std::string c = cell(row, "cpu_milli"), m = cell(row, "memory_mib"), p = cell(row, "priority");
    if (!c.empty() && (!ParseDouble(c, &cpu_d) || cpu_d < 0 || cpu_d > 1e9)) {
      return bad("cpu_milli must be a number >= 0");
    }
    if (!m.empty() && (!ParseDouble(m, &mem_d) || mem_d < 0 || mem_d > 1e12)) {
      return bad("memory_mib must be a number >= 0");
    }
    if (!p.empty() && (!ParseDouble(p, &prio_d) || std::fabs(prio_d) > 2e9)) {
      return bad("priority must be an integer");
    }
    std::string kind = cell(row, "kind");
    if (kind.empty()) kind = "gpu";
    std::string name = cell(row, "name");
    TimeMs at = static_cast<TimeMs>(std::llround(submit * 1000));
    TimeMs dur = std::max<TimeMs>(1, static_cast<TimeMs>(std::llround(duration * 1000)));
    int64_t cpu = cpu_d >= 0 ? static_cast<int64_t>(cpu_d) : -1;
    int64_t mem = mem_d >= 0 ? static_cast<int64_t>(mem_d) * kMiB : -1;
    auto make_pod = [&](const std::string& pod_name, int64_t g) {
      PodSpec ps;
      ps.pod.ns = "ml";
      ps.pod.name = pod_name;
      int64_t per = std::max<int64_t>(1, g);
      ps.pod.requests = Request(cpu >= 0 ? cpu : (g > 0 ? 4'000 * per : 2'000),
                                mem >= 0 ? mem : (g > 0 ? 16 * 1024 * kMiB * per : 4096 * kMiB), g);
      ps.pod.priority = static_cast<int32_t>(prio_d);
      ps.duration_ms = dur;
      return ps;
    };
    if (kind == "gpu" || kind == "cpu") {
      if (name.empty()) name = "job-" + std::to_string(serial++);
      if (!names.insert(name).second) return bad("duplicate name " + name);
      if (kind == "cpu" || gpus == 0) {
        JobSpec j;
        j.name = name;
        j.kind = gpus > 0 ? JobKind::kGpu : JobKind::kCpu;
        j.arrival_ms = at;
        j.pods.push_back(make_pod(name, gpus));
        w.jobs.push_back(std::move(j));
      } else {
        int64_t per_gpu_cpu = cpu >= 0 ? cpu / std::min<int64_t>(gpus, gpus_per_node) : 4'000;
        int64_t per_gpu_mem =
            mem >= 0 ? mem / std::min<int64_t>(gpus, gpus_per_node) : 16 * 1024 * kMiB;
        JobSpec j =
            MakeGpuJob(name, at, gpus, dur, per_gpu_cpu, per_gpu_mem, gpus_per_node, false, 20);
        for (PodSpec& ps : j.pods) ps.pod.priority = static_cast<int32_t>(prio_d);
        w.jobs.push_back(std::move(j));
      }
    } else if (kind == "pipeline") {
      std::string run = cell(row, "group"), step = cell(row, "step");
      if (run.empty() || step.empty()) return bad("a pipeline row needs group and step");
      auto it = pipelines.find(run);
      if (it == pipelines.end()) {
        if (!names.insert(run).second) return bad("duplicate name " + run);
        JobSpec j;
        j.name = run;
        j.kind = JobKind::kPipeline;
        j.arrival_ms = at;
        it = pipelines.emplace(run, w.jobs.size()).first;
        w.jobs.push_back(std::move(j));
      }
      JobSpec& j = w.jobs[it->second];
      PodSpec ps = make_pod(run + "-" + step, gpus);
      ps.pod.annotations.Set(kPipelineAnnotation, run);
      ps.pod.annotations.Set(kStepAnnotation, step);
      std::string after = cell(row, "after");
      if (!after.empty()) {
        std::string joined;
        for (const std::string& a : Split(after, ';')) {
          if (a.empty()) continue;
          ps.after.push_back(run + "-" + a);
          joined += (joined.empty() ? "" : ",") + a;
        }
        ps.pod.annotations.Set(kAfterAnnotation, joined);
      }
      j.pods.push_back(std::move(ps));
    } else if (kind == "function") {
      std::string fn = cell(row, "group");
      if (fn.empty()) return bad("a function row needs group (the function name)");
      if (name.empty()) name = fn + "-" + std::to_string(serial++);
      if (!names.insert(name).second) return bad("duplicate name " + name);
      JobSpec j;
      j.name = name;
      j.kind = JobKind::kFunction;
      j.arrival_ms = at;
      PodSpec ps = make_pod(name, gpus);
      ps.pod.ns = "fn";
      ps.pod.annotations.Set(kFunctionAnnotation, fn);
      ps.pod.images.push_back("registry.example/" + fn + ":v1");
      j.pods.push_back(std::move(ps));
      w.jobs.push_back(std::move(j));
    } else {
      return bad("unknown kind '" + kind + "' (gpu, cpu, pipeline, function)");
    }
  }
  // Pipeline steps must name steps of their run.
  for (const JobSpec& j : w.jobs) {
    if (j.kind != JobKind::kPipeline) continue;
    for (const PodSpec& p : j.pods) {
      for (const std::string& a : p.after) {
        bool found = std::any_of(j.pods.begin(), j.pods.end(),
                                 [&a](const PodSpec& q) { return q.pod.name == a; });
        if (!found) {
          return Status::InvalidArgument("pipeline " + j.name + ": step " + p.pod.name +
                                         " runs after unknown step " + a);
        }
      }
    }
  }
  std::stable_sort(w.jobs.begin(), w.jobs.end(),
                   [](const JobSpec& a, const JobSpec& b) { return a.arrival_ms < b.arrival_ms; });
  *out = std::move(w);
  return Status::Ok();
}

std::string FormatWorkloadCsv(const Workload& w) {
  std::string out =
      "submit_s,duration_s,num_gpus,cpu_milli,memory_mib,kind,name,priority,group,"
      "step,after\n";
  char buf[512];
  for (const JobSpec& j : w.jobs) {
    double at = static_cast<double>(j.arrival_ms) / 1000.0;
    const PodSpec& first = j.pods.front();
    auto cpu = [](const PodSpec& p) { return static_cast<long long>(p.pod.requests.milli_cpu); };
    auto mem = [](const PodSpec& p) {
      return static_cast<long long>(p.pod.requests.memory / kMiB);
    };
    switch (j.kind) {
      case JobKind::kPipeline:
        for (const PodSpec& p : j.pods) {
          std::string after;
          for (const std::string& a : p.after) {
            after += (after.empty() ? "" : ";") + a.substr(std::min(a.size(), j.name.size() + 1));
          }
          std::snprintf(buf, sizeof buf, "%.3f,%.3f,%lld,%lld,%lld,pipeline,,%d,%s,%s,%s\n", at,
                        static_cast<double>(p.duration_ms) / 1000.0,
                        static_cast<long long>(p.pod.requests.Scalar(kGpuResource)), cpu(p), mem(p),
                        p.pod.priority, j.name.c_str(),
                        std::string(p.pod.annotations.Get(kStepAnnotation)).c_str(), after.c_str());
          out += buf;
        }
        break;
      case JobKind::kFunction:
        std::snprintf(buf, sizeof buf, "%.3f,%.3f,%lld,%lld,%lld,function,%s,%d,%s,,\n", at,
                      static_cast<double>(first.duration_ms) / 1000.0,
                      static_cast<long long>(j.Gpus()), cpu(first), mem(first), j.name.c_str(),
                      first.pod.priority,
                      std::string(first.pod.annotations.Get(kFunctionAnnotation)).c_str());
        out += buf;
        break;
      default:
        // cpu/memory per pod of the first (largest) pod: the reader splits a gang again.
        std::snprintf(buf, sizeof buf, "%.3f,%.3f,%lld,%lld,%lld,%s,%s,%d,,,\n", at,
                      static_cast<double>(first.duration_ms) / 1000.0,
                      static_cast<long long>(j.Gpus()), cpu(first), mem(first),
                      j.kind == JobKind::kCpu ? "cpu" : "gpu", j.name.c_str(), first.pod.priority);
        out += buf;
        break;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Philly.

Status ReadPhilly(const std::string& path, const PhillyOptions& o, Workload* out) {
  std::string text;
  Status s = ReadFile(path, &text);
  if (!s.ok()) return s;
  Table t;
  s = ParseTable(text, &t);
  if (!s.ok()) return Status::InvalidArgument(path + ": " + s.message());
  int ts = t.Col("timestamp"), du = t.Col("duration"), ng = t.Col("num_gpus"),
      cl = t.Col("cluster");
  if (ts < 0 || du < 0 || ng < 0) {
    return Status::InvalidArgument(path + ": expected columns timestamp,duration,num_gpus");
  }
  struct Row {
    int64_t t;
    double d;
    int64_t g;
  };
  std::vector<Row> rows;
  rows.reserve(t.rows.size());
  for (const auto& [line, row] : t.rows) {
    Row r;
    double d, g;
    if (!ParseTimestamp(row[ts], &r.t) || !ParseDouble(row[du], &d) || !ParseDouble(row[ng], &g) ||
        d < 0 || g < 0 || g > 4096) {
      return Status::InvalidArgument(path + ": line " + std::to_string(line) + " is malformed");
    }
    if (!o.cluster.empty() && cl >= 0 && row[cl] != o.cluster) continue;
    r.d = d;
    r.g = static_cast<int64_t>(g);
    if (r.g > 0) rows.push_back(r);
  }
  if (rows.empty()) return Status::InvalidArgument(path + ": no jobs");
  // The file is not sorted by submission time.
  std::stable_sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) { return a.t < b.t; });
  int64_t begin = rows.front().t + static_cast<int64_t>(o.start_day * 86400);
  int64_t end = begin + static_cast<int64_t>(o.hours * 3600);
  Workload w;
  uint64_t h = 0;
  for (const Row& r : rows) {
    if (r.t < begin || r.t >= end) continue;
    std::string name = "philly-" + std::to_string(w.jobs.size());
    // A deterministic share of gangs declared through a PodGroup.
    h = h * 6364136223846793005ULL + 1442695040888963407ULL;
    bool pg = static_cast<double>(h >> 11) / 9007199254740992.0 < o.pod_group_share;
    TimeMs d = std::clamp<TimeMs>(static_cast<TimeMs>(r.d * 1000), 1000, o.max_duration_ms);
    w.jobs.push_back(
        MakeGpuJob(name, (r.t - begin) * 1000, r.g, d, 4'000, 16LL << 30, o.gpus_per_node, pg, 20));
  }
  char desc[256];
  std::snprintf(desc, sizeof desc, "Philly %s: %zu jobs submitted in %.1f h from day %.1f",
                path.c_str(), w.jobs.size(), o.hours, o.start_day);
  w.description = desc;
  *out = std::move(w);
  return Status::Ok();
}

// ---------------------------------------------------------------------------------------------
// Alibaba.

Status ReadAlibabaNodes(const std::string& path, std::vector<policy::Node>* out) {
  std::string text;
  Status s = ReadFile(path, &text);
  if (!s.ok()) return s;
  Table t;
  s = ParseTable(text, &t);
  if (!s.ok()) return Status::InvalidArgument(path + ": " + s.message());
  int sn = t.Col("sn"), cpu = t.Col("cpu_milli"), mem = t.Col("memory_mib"), gpu = t.Col("gpu"),
      model = t.Col("model");
  if (sn < 0 || cpu < 0 || mem < 0 || gpu < 0) {
    return Status::InvalidArgument(path + ": expected columns sn,cpu_milli,memory_mib,gpu");
  }
  std::vector<policy::Node> nodes;
  for (const auto& [line, row] : t.rows) {
    double c, m, g;
    if (row[sn].empty() || !ParseDouble(row[cpu], &c) || !ParseDouble(row[mem], &m) ||
        !ParseDouble(row[gpu], &g) || c < 0 || m < 0 || g < 0 || g > 64) {
      return Status::InvalidArgument(path + ": line " + std::to_string(line) + " is malformed");
    }
    policy::Node n;
    n.name = row[sn];
    size_t k = nodes.size();
    int rack = static_cast<int>(k / 16), block = rack / 4, zone = block / 8;
    n.labels.Set(kHostnameLabel, n.name);
    n.labels.Set(kZoneLabel, "zone-" + std::to_string(zone));
    n.labels.Set(kBlockLabel, "block-" + std::to_string(block));
    n.labels.Set(kRackLabel, "rack-" + std::to_string(rack));
    if (model >= 0 && !row[model].empty()) n.labels.Set("nvidia.com/gpu.product", row[model]);
    n.allocatable =
        Request(static_cast<int64_t>(c), static_cast<int64_t>(m) * kMiB, static_cast<int64_t>(g));
    n.allocatable.pods = 110;
    nodes.push_back(std::move(n));
  }
  if (nodes.empty()) return Status::InvalidArgument(path + ": no nodes");
  *out = std::move(nodes);
  return Status::Ok();
}

Status ReadAlibabaPods(const std::string& path, const AlibabaOptions& o, Workload* out) {
  std::string text;
  Status s = ReadFile(path, &text);
  if (!s.ok()) return s;
  Table t;
  s = ParseTable(text, &t);
  if (!s.ok()) return Status::InvalidArgument(path + ": " + s.message());
  int name = t.Col("name"), cpu = t.Col("cpu_milli"), mem = t.Col("memory_mib"),
      ng = t.Col("num_gpu"), gm = t.Col("gpu_milli"), phase = t.Col("pod_phase"),
      ct = t.Col("creation_time"), dt = t.Col("deletion_time"), st = t.Col("scheduled_time");
  if (name < 0 || cpu < 0 || mem < 0 || ng < 0 || ct < 0 || dt < 0) {
    return Status::InvalidArgument(path + ": expected the openb pod list columns");
  }
  Workload w;
  int64_t fractional = 0;
  for (const auto& [line, row] : t.rows) {
    double c, m, g, created, deleted, scheduled = -1, gpu_milli = 1000;
    if (!ParseDouble(row[cpu], &c) || !ParseDouble(row[mem], &m) || !ParseDouble(row[ng], &g) ||
        !ParseDouble(row[ct], &created) || !ParseDouble(row[dt], &deleted) || c < 0 || m < 0 ||
        g < 0 || g > 64) {
      return Status::InvalidArgument(path + ": line " + std::to_string(line) + " is malformed");
    }
    if (st >= 0 && !row[st].empty() && !ParseDouble(row[st], &scheduled)) {
      return Status::InvalidArgument(path + ": line " + std::to_string(line) + " is malformed");
    }
    if (gm >= 0 && !row[gm].empty()) ParseDouble(row[gm], &gpu_milli);
    bool pending = phase >= 0 && row[phase] == "Pending";
    if (pending && !o.include_pending) continue;
    if (g > 0 && gpu_milli < 1000) ++fractional;
    JobSpec j;
    j.name = row[name];
    j.kind = g > 0 ? JobKind::kGpu : JobKind::kCpu;
    PodSpec p;
    p.pod.ns = "alibaba";
    p.pod.name = row[name];
    p.pod.requests =
        Request(static_cast<int64_t>(c), static_cast<int64_t>(m) * kMiB, static_cast<int64_t>(g));
    if (o.keep_timing) {
      j.arrival_ms = static_cast<TimeMs>(created * 1000);
      double start = scheduled >= 0 ? scheduled : created;
      p.duration_ms = std::max<TimeMs>(1000, static_cast<TimeMs>((deleted - start) * 1000));
    } else {
      j.arrival_ms = static_cast<TimeMs>(w.jobs.size()) * 1000;
      p.duration_ms = std::numeric_limits<TimeMs>::max() / 4;  // never ends in the replay
    }
    j.pods.push_back(std::move(p));
    w.jobs.push_back(std::move(j));
    if (o.max_pods > 0 && w.jobs.size() >= o.max_pods) break;
  }
  if (w.jobs.empty()) return Status::InvalidArgument(path + ": no pods");
  std::stable_sort(w.jobs.begin(), w.jobs.end(),
                   [](const JobSpec& a, const JobSpec& b) { return a.arrival_ms < b.arrival_ms; });
  char desc[256];
  std::snprintf(desc, sizeof desc,
                "Alibaba %s: %zu pods (%lld GPU-sharing pods rounded up to a whole GPU)",
                path.c_str(), w.jobs.size(), static_cast<long long>(fractional));
  w.description = desc;
  *out = std::move(w);
  return Status::Ok();
}

}  // namespace mlsched::bench
