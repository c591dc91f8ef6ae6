#include "bench/sim/throughput.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <rapidjson/document.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "bench/driver/driver.h"
#include "bench/driver/http_extender.h"
#include "bench/driver/metrics.h"
#include "bench/machine.h"
#include "bench/sim/report.h"
#include "test/fakes/fake_apiserver.h"

extern char** environ;

namespace mlsched::bench {
namespace {

class FakeApiWriter : public ClusterWriter {
 public:
  explicit FakeApiWriter(fakes::FakeApiServer* api) : api_(api) {}
  static fakes::Kind Map(Kind k) {
    switch (k) {
      case Kind::kNode:
        return fakes::Kind::kNode;
      case Kind::kPod:
        return fakes::Kind::kPod;
      case Kind::kPodGroup:
        return fakes::Kind::kPodGroup;
    }
    return fakes::Kind::kPod;
  }
  Status Upsert(Kind kind, const std::string& json) override {
    return api_->Upsert(Map(kind), json);
  }
  Status Delete(Kind kind, const std::string& ns, const std::string& name) override {
    return api_->Delete(Map(kind), ns, name) ? Status::Ok() : Status::NotFound(name);
  }
  std::string BoundNode(const std::string& ns, const std::string& name,
                        const std::string& uid) override {
    std::optional<std::string> json = api_->Get(fakes::Kind::kPod, ns, name);
    if (!json) return "";
    rapidjson::Document d;
    d.Parse(json->data(), json->size());
    if (d.HasParseError() || !d.IsObject()) return "";
    auto meta = d.FindMember("metadata");
    auto spec = d.FindMember("spec");
    if (meta == d.MemberEnd() || spec == d.MemberEnd() || !meta->value.IsObject() ||
        !spec->value.IsObject()) {
      return "";
    }
    auto u = meta->value.FindMember("uid");
    if (u == meta->value.MemberEnd() || !u->value.IsString() || uid != u->value.GetString()) {
      return "";
    }
    auto n = spec->value.FindMember("nodeName");
    return n != spec->value.MemberEnd() && n->value.IsString() ? n->value.GetString() : "";
  }

 private:
  fakes::FakeApiServer* api_;
};

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof a;
  int port = -1;
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
    port = ntohs(a.sin_port);
  }
  close(fd);
  return port;
}

size_t Discard(char*, size_t size, size_t n, void*) { return size * n; }

bool Ready(const std::string& url) {
  CURL* c = curl_easy_init();
  if (!c) return false;
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 1000L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, Discard);
  bool ok = curl_easy_perform(c) == CURLE_OK;
  long code = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
  curl_easy_cleanup(c);
  return ok && code == 200;
}

std::vector<JobSpec> Pods(int n) {
  std::vector<JobSpec> jobs;
  for (int k = 0; k < n; ++k) {
    JobSpec j;
    j.name = "tp-" + std::to_string(k);
    PodSpec p;
    p.pod.ns = "bench";
    p.pod.name = j.name;
    p.pod.requests = Request(2'000, 8LL << 30, 1);
    p.duration_ms = 365LL * 24 * 3600 * 1000;  // they stay: a pure scheduling burst
    j.pods.push_back(std::move(p));
    jobs.push_back(std::move(j));
  }
  return jobs;
}

struct Figure {
  int nodes = 0;
  std::string mode;
  int64_t bound = 0;
  double seconds = 0, pods_per_s = 0;
  int64_t errors = 0;
  double filter_ms = 0, prioritize_ms = 0;  // mean wall time per call as the driver saw it
  // What the serial scheduling cycle alone allows: pods / (time in filter + prioritize + the
  // driver's own cycle time), i.e. as if binding were free (kube-scheduler binds async).
  double cycle_pods_per_s = 0;
};

Figure RunNone(const std::vector<policy::Node>& nodes, int pods) {
  DriverOptions o;
  o.label = "without extender";
  o.sample_interval_ms = 0;
  o.bind_latency_ms = 0;
  Driver d(o, nodes, nullptr);
  for (JobSpec& j : Pods(pods)) d.Submit(std::move(j));
  d.RunUntil(3'600'000);
  RunResult r = d.Result();
  Summary s = Summarize(r);
  Figure f{static_cast<int>(nodes.size()), "without", s.pods_bound, r.wall_seconds, 0, 0};
  f.pods_per_s = r.wall_seconds > 0 ? s.pods_bound / r.wall_seconds : 0;
  f.cycle_pods_per_s = f.pods_per_s;
  return f;
}

}  // namespace

int RunThroughput(const ThroughputOptions& o) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(o.out_dir, ec);
  if (ec) {
    std::cerr << "mlsched-sim: cannot create " << o.out_dir << ": " << ec.message() << "\n";
    return 1;
  }
  if (o.extender_bin.empty() || !fs::exists(o.extender_bin)) {
    std::cerr << "mlsched-sim: mlsched-extender not found at '" << o.extender_bin
              << "' (build it, or pass --extender-bin)\n";
    return 1;
  }
  curl_global_init(CURL_GLOBAL_DEFAULT);
  MachineInfo m = DescribeMachine();
  const std::string load_start = LoadAverage();
  std::cout << "command: " << o.command << "\nmachine: " << MachineLine()
            << "\nload average at start: " << load_start << std::endl;
  std::vector<Figure> figures;
  for (int n : o.node_counts) {
    std::vector<policy::Node> nodes = MakeCluster(ShapeForNodes(n));
    figures.push_back(RunNone(nodes, o.pods));

    fakes::FakeApiServer api;
    Status s = api.Start();
    if (!s.ok()) {
      std::cerr << "mlsched-sim: fake API server: " << s.message() << "\n";
      return 1;
    }
    FakeApiWriter writer(&api);
    for (const policy::Node& node : nodes)
      writer.Upsert(ClusterWriter::Kind::kNode, NodeJson(node));
    int port = FreePort();
    std::string log = (fs::path(o.out_dir) / ("extender-" + std::to_string(n) + ".log")).string();
    std::string port_s = std::to_string(port), master = api.url();
    std::vector<std::string> args = {o.extender_bin, "--master", master, "--port", port_s};
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 2, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    pid_t pid = -1;
    int rc = posix_spawn(&pid, o.extender_bin.c_str(), &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) {
      std::cerr << "mlsched-sim: cannot start " << o.extender_bin << "\n";
      return 1;
    }
    std::string base = "http://127.0.0.1:" + port_s;
    bool ready = false;
    for (int k = 0; k < 600 && !ready; ++k) {
      ready = Ready(base + "/readyz");
      if (!ready) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    Figure f{n, "with mlsched (HTTP)", 0, 0, 0, 0};
    if (ready) {
      HttpExtender ext(base, &writer);
      DriverOptions dopt;
      dopt.label = "with mlsched";
      dopt.sample_interval_ms = 0;
      Driver d(dopt, nodes, nullptr);
      d.SetExtender(&ext);
      for (JobSpec& j : Pods(o.pods)) d.Submit(std::move(j));
      d.RunUntil(3'600'000);
      RunResult r = d.Result();
      Summary sum = Summarize(r);
      f.bound = sum.pods_bound;
      f.seconds = r.wall_seconds;
      f.pods_per_s = r.wall_seconds > 0 ? sum.pods_bound / r.wall_seconds : 0;
      f.errors = r.extender_errors + r.bind_failures + ext.write_errors();
      if (ext.filter_calls() > 0) f.filter_ms = 1000 * ext.filter_seconds() / ext.filter_calls();
      if (ext.prioritize_calls() > 0) {
        f.prioritize_ms = 1000 * ext.prioritize_seconds() / ext.prioritize_calls();
      }
      double cycle_s = ext.filter_seconds() + ext.prioritize_seconds() + figures.back().seconds;
      if (cycle_s > 0) f.cycle_pods_per_s = sum.pods_bound / cycle_s;
      d.SetExtender(nullptr);
    } else {
      std::cerr << "mlsched-sim: the extender did not become ready (see " << log << ")\n";
    }
    kill(pid, SIGTERM);
    int status = 0;
    for (int k = 0; k < 100; ++k) {
      if (waitpid(pid, &status, WNOHANG) == pid) {
        pid = -1;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (pid > 0) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
    }
    api.Stop();
    if (!ready) return 1;
    figures.push_back(f);
  }

  std::vector<std::vector<std::string>> rows = {{"nodes", "mode", "pods bound", "wall s",
                                                 "pods/s bound", "cycle-limited pods/s",
                                                 "filter ms", "prioritize ms", "errors"}};
  std::ostringstream csv;
  csv << "nodes,mode,pods_bound,wall_seconds,pods_per_second,cycle_pods_per_second,filter_ms,"
         "prioritize_ms,errors\n";
  char buf[64];
  for (const Figure& f : figures) {
    std::snprintf(buf, sizeof buf, "%.1f", f.pods_per_s);
    std::string pps = buf;
    std::snprintf(buf, sizeof buf, "%.3f", f.seconds);
    std::string wall = buf, fm = "-", pm = "-";
    if (f.filter_ms > 0) {
      std::snprintf(buf, sizeof buf, "%.2f", f.filter_ms);
      fm = buf;
      std::snprintf(buf, sizeof buf, "%.2f", f.prioritize_ms);
      pm = buf;
    }
    std::snprintf(buf, sizeof buf, "%.1f", f.cycle_pods_per_s);
    rows.push_back({std::to_string(f.nodes), f.mode, std::to_string(f.bound), wall, pps, buf, fm,
                    pm, std::to_string(f.errors)});
    csv << f.nodes << ',' << f.mode << ',' << f.bound << ',' << f.seconds << ',' << f.pods_per_s
        << ',' << f.cycle_pods_per_s << ',' << f.filter_ms << ',' << f.prioritize_ms << ','
        << f.errors << '\n';
  }
  std::cout << "\nscheduling throughput, " << o.pods << " one-GPU pods pending at once\n"
            << FormatTable(rows);
  const std::string load_end = LoadAverage();
  std::cout << "load average at end: " << load_end << "\n";
  std::ofstream(fs::path(o.out_dir) / "throughput.csv") << csv.str();
  std::ofstream j(fs::path(o.out_dir) / "throughput.txt");
  j << "command: " << o.command << "\nmachine: " << m.uname << "\nnproc: " << m.cpus
    << "\ncpu: " << m.cpu_model << "\nload average at start: " << load_start
    << "\nload average at end: " << load_end << "\n\n"
    << FormatTable(rows);
  std::cout << "written: " << o.out_dir << "/throughput.csv, throughput.txt\n";
  for (const Figure& f : figures) {
    if (f.bound < o.pods) {
      std::cerr << "mlsched-sim: only " << f.bound << " of " << o.pods << " pods bound (" << f.mode
                << ", " << f.nodes << " nodes)\n";
      return 1;
    }
  }
  return 0;
}

}  // namespace mlsched::bench
