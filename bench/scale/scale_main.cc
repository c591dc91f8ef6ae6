// mlsched-bench-scale: how k8s/ and the policy model cope with a cluster at Kubernetes' published
// limits (5,000 nodes, 150,000 pods).
//
// Serves realistic objects (built from the real API objects in shared/fixtures, ~4 KB each, with
// varied names, labels, requests and placement) from the fake API server on 127.0.0.1, then
// measures:
//   - time from ClusterSync::Start() to Synced() (paged LIST of every object, decode, model);
//   - LIST decode throughput: bytes of LIST pages / thread CPU time spent parsing and decoding
//     them (SyncStats), and a single-threaded parse+decode loop over the same objects (CPU
//     time, so that other processes on a shared machine do not distort it);
//   - resident memory (VmRSS) before and after, and the model's heap bytes per node and per pod
//     (glibc mallinfo2 in-use bytes retained by a fresh Engine fed the decoded objects);
//   - sustained pod churn through the watch, and the latency from the API write to the model;
//   - latency per verb (filter, prioritize, bind, preempt) on the full model, in process.
// Prints a table and writes the raw numbers to --out DIR/scale.json.
//
//   mlsched-bench-scale [--nodes=5000] [--pods=150000] [--churn_seconds=5] [--churn_rate=2000]
//                       [--quick] [--out=DIR]

#include <malloc.h>
#include <time.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "bench/machine.h"
#include "k8s/cluster_sync.h"
#include "k8s/decode.h"
#include "policy/engine.h"
#include "test/fakes/fake_apiserver.h"

namespace mlsched::bench {
namespace {

using Clock = std::chrono::steady_clock;
using fakes::Kind;

struct Flags {
  int nodes = 5000;
  int pods = 150000;
  double churn_seconds = 5;
  int churn_rate = 2000;  // events per second
  std::string out;
};

// A flag's number in [lo, hi]; false (with a message) when it is not one.
template <typename T>
bool Number(const std::string& flag, const std::string& v, double lo, double hi, T* out) {
  char* end = nullptr;
  double d = std::strtod(v.c_str(), &end);
  if (v.empty() || *end != '\0' || !(d >= lo && d <= hi) ||
      (std::is_integral_v<T> && d != static_cast<double>(static_cast<int64_t>(d)))) {
    std::cerr << flag << ": '" << v << "' is not a number in [" << lo << ", " << hi << "]\n";
    return false;
  }
  *out = static_cast<T>(d);
  return true;
}

bool ParseFlags(int argc, char** argv, Flags* f) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto val = [&a](const char* name, std::string* v) {
      std::string p = std::string("--") + name + "=";
      if (a.compare(0, p.size(), p) != 0) return false;
      *v = a.substr(p.size());
      return true;
    };
    std::string v;
    if (a == "--help" || a == "-h") {
      std::cout << "usage: mlsched-bench-scale [--nodes=N] [--pods=N] [--churn_seconds=S] "
                   "[--churn_rate=EPS] [--quick] [--out=DIR]\n"
                   "  defaults: 5000 nodes, 150000 pods, 5 s of churn at 2000 events/s; --quick: "
                   "500 nodes, 15000 pods, 1 s\n";
      std::exit(0);
    } else if (a == "--quick") {
      f->nodes = 500;
      f->pods = 15000;
      f->churn_seconds = 1;
    } else if (val("nodes", &v)) {
      if (!Number(a, v, 1, 100'000, &f->nodes)) return false;
    } else if (val("pods", &v)) {
      if (!Number(a, v, 0, 10'000'000, &f->pods)) return false;
    } else if (val("churn_seconds", &v)) {
      if (!Number(a, v, 0, 3600, &f->churn_seconds)) return false;
    } else if (val("churn_rate", &v)) {
      if (!Number(a, v, 1, 1'000'000, &f->churn_rate)) return false;
    } else if (val("out", &v)) {
      f->out = v;
    } else {
      std::cerr << "unknown flag " << a << "\n"
                << "usage: mlsched-bench-scale [--nodes=N] [--pods=N] [--churn_seconds=S] "
                   "[--churn_rate=EPS] [--quick] [--out=DIR]\n";
      return false;
    }
  }
  return f->nodes > 0 && f->pods >= 0;
}

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

int64_t RssBytes() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoll(line.substr(6)) * 1024;
  }
  return -1;
}

int64_t HeapInUse() {
  struct mallinfo2 mi = mallinfo2();
  return static_cast<int64_t>(mi.uordblks + mi.hblkhd);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string Serialize(const rapidjson::Value& v) {
  rapidjson::StringBuffer sb;
  rapidjson::Writer<rapidjson::StringBuffer> w(sb);
  v.Accept(w);
  return std::string(sb.GetString(), sb.GetSize());
}

void SetString(rapidjson::Value& obj, const char* key, const std::string& v,
               rapidjson::Document::AllocatorType& a) {
  rapidjson::Value s(v.c_str(), static_cast<rapidjson::SizeType>(v.size()), a);
  auto it = obj.FindMember(key);
  if (it != obj.MemberEnd()) {
    it->value = s;
  } else {
    obj.AddMember(rapidjson::Value(key, a), s, a);
  }
}

// Builds varied objects from the fixture templates.
class ObjectFactory {
 public:
  explicit ObjectFactory(const std::string& fixtures) {
    rapidjson::Document nodes, pods;
    nodes.Parse(ReadFile(fixtures + "/api-nodes.json").c_str());
    pods.Parse(ReadFile(fixtures + "/api-pods.json").c_str());
    if (!nodes.IsObject() || !pods.IsObject()) {
      std::cerr << "cannot read fixtures in " << fixtures << "\n";
      std::exit(2);
    }
    node_.CopyFrom(nodes["items"][0], node_.GetAllocator());
    gpu_pod_.CopyFrom(pods["items"][1], gpu_pod_.GetAllocator());
    cpu_pod_.CopyFrom(pods["items"][4], cpu_pod_.GetAllocator());
    // Real nodes list the images they hold.
    auto& a = node_.GetAllocator();
    rapidjson::Value images(rapidjson::kArrayType);
    for (int i = 0; i < 8; ++i) {
      rapidjson::Value im(rapidjson::kObjectType);
      rapidjson::Value names(rapidjson::kArrayType);
      std::string n1 = "registry.example.com/ml/image-" + std::to_string(i) +
                       "@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
      std::string n2 = "registry.example.com/ml/image-" + std::to_string(i) + ":v1." +
                       std::to_string(i);
      names.PushBack(rapidjson::Value(n1.c_str(), a), a);
      names.PushBack(rapidjson::Value(n2.c_str(), a), a);
      im.AddMember("names", names, a);
      im.AddMember("sizeBytes", int64_t{1} << (28 + i % 6), a);
      images.PushBack(im, a);
    }
    node_["status"].AddMember("images", images, a);
    // What the API server and admission add to every real pod: the service account token
    // volume and its mount, environment, a QoS class and conditions.
    for (rapidjson::Document* pod : {&gpu_pod_, &cpu_pod_}) {
      auto& pa = pod->GetAllocator();
      rapidjson::Document extra(&pa);
      extra.Parse(R"({"volumes":[{"name":"kube-api-access-x7k2p","projected":{"sources":[{"serviceAccountToken":{"expirationSeconds":3607,"path":"token"}},{"configMap":{"name":"kube-root-ca.crt","items":[{"key":"ca.crt","path":"ca.crt"}]}},{"downwardAPI":{"items":[{"path":"namespace","fieldRef":{"apiVersion":"v1","fieldPath":"metadata.namespace"}}]}}],"defaultMode":420}},{"name":"dshm","emptyDir":{"medium":"Memory","sizeLimit":"16Gi"}}],
        "volumeMounts":[{"name":"kube-api-access-x7k2p","readOnly":true,"mountPath":"/var/run/secrets/kubernetes.io/serviceaccount"},{"name":"dshm","mountPath":"/dev/shm"}],
        "env":[{"name":"NCCL_DEBUG","value":"WARN"},{"name":"POD_NAME","valueFrom":{"fieldRef":{"apiVersion":"v1","fieldPath":"metadata.name"}}},{"name":"POD_IP","valueFrom":{"fieldRef":{"apiVersion":"v1","fieldPath":"status.podIP"}}}],
        "conditions":[{"type":"Initialized","status":"True","lastProbeTime":null,"lastTransitionTime":"2026-11-28T16:26:19Z"},{"type":"Ready","status":"True","lastProbeTime":null,"lastTransitionTime":"2026-11-28T16:26:25Z"},{"type":"ContainersReady","status":"True","lastProbeTime":null,"lastTransitionTime":"2026-11-28T16:26:25Z"}],
        "hostIP":"10.0.12.34","podIP":"10.244.3.17"})");
      rapidjson::Value& spec = (*pod)["spec"];
      spec.AddMember("volumes", extra["volumes"], pa);
      rapidjson::Value& c = spec["containers"][0];
      c.AddMember("volumeMounts", extra["volumeMounts"], pa);
      if (!c.HasMember("env")) c.AddMember("env", rapidjson::Value(rapidjson::kArrayType), pa);
      for (auto& e : extra["env"].GetArray()) c["env"].PushBack(e, pa);
      rapidjson::Value& status = (*pod)["status"];
      status.RemoveMember("conditions");
      status.AddMember("conditions", extra["conditions"], pa);
      status.AddMember("hostIP", extra["hostIP"], pa);
      status.AddMember("podIP", extra["podIP"], pa);
    }
  }

  std::string Node(int i) {
    rapidjson::Document d;
    d.CopyFrom(node_, d.GetAllocator());
    auto& a = d.GetAllocator();
    char name[32];
    std::snprintf(name, sizeof(name), "node-%05d", i);
    rapidjson::Value& meta = d["metadata"];
    SetString(meta, "name", name, a);
    SetString(meta, "uid", "node-uid-" + std::to_string(i), a);
    rapidjson::Value& labels = meta["labels"];
    SetString(labels, "kubernetes.io/hostname", name, a);
    int zone = i / 1000, block = i / 100, rack = i / 20;
    SetString(labels, "topology.kubernetes.io/zone", "zone-" + std::to_string(zone), a);
    SetString(labels, "mlsched.io/block", "block-" + std::to_string(block), a);
    SetString(labels, "mlsched.io/rack", "rack-" + std::to_string(rack), a);
    SetString(labels, "nvidia.com/gpu.clique", "clique-" + std::to_string(i / 8), a);
    return Serialize(d);
  }

  // Pod `i`; `seq` >= 0 adds the bench's probe label for latency measurement.
  std::string Pod(int i, int nodes, const std::string& node_override, const char* phase,
                  int64_t seq) {
    bool gpu = i % 4 == 0;
    rapidjson::Document d;
    d.CopyFrom(gpu ? gpu_pod_ : cpu_pod_, d.GetAllocator());
    auto& a = d.GetAllocator();
    char name[48];
    std::snprintf(name, sizeof(name), "job-%05d-worker-%d", i / 8, i % 8);
    rapidjson::Value& meta = d["metadata"];
    SetString(meta, "name", name, a);
    SetString(meta, "namespace", "team-" + std::to_string(i % 40), a);
    SetString(meta, "uid", "pod-uid-" + std::to_string(i), a);
    if (!meta.HasMember("labels")) meta.AddMember("labels", rapidjson::Value(rapidjson::kObjectType), a);
    rapidjson::Value& labels = meta["labels"];
    SetString(labels, "app.kubernetes.io/instance", "job-" + std::to_string(i / 8), a);
    SetString(labels, "controller-uid", "c-" + std::to_string(i / 8), a);
    if (gpu) {
      SetString(labels, "scheduling.x-k8s.io/pod-group", "job-" + std::to_string(i / 8), a);
      SetString(labels, "training.kubeflow.org/job-name", "job-" + std::to_string(i / 8), a);
    }
    if (seq >= 0) SetString(labels, "mlsched.io/bench-seq", std::to_string(seq), a);
    rapidjson::Value& spec = d["spec"];
    std::string node = node_override;
    if (node.empty() && i % 10 != 0) {  // 90% bound, as in a busy cluster
      char n[32];
      std::snprintf(n, sizeof(n), "node-%05d", (i * 7919) % nodes);
      node = n;
    }
    if (!node.empty()) {
      SetString(spec, "nodeName", node, a);
    } else {
      spec.RemoveMember("nodeName");
    }
    rapidjson::Value& req = spec["containers"][0]["resources"]["requests"];
    SetString(req, "cpu", std::to_string(100 + (i % 16) * 250) + "m", a);
    SetString(req, "memory", std::to_string(256 + (i % 8) * 512) + "Mi", a);
    SetString(d["status"], "phase", phase, a);
    return Serialize(d);
  }

 private:
  rapidjson::Document node_, gpu_pod_, cpu_pod_;
};

// Forwards to the engine and records when each probe-labelled pod reached the model.
class ProbeWriter : public k8s::EngineWriter {
 public:
  ProbeWriter(policy::Engine& e, size_t max_seq) : EngineWriter(e), arrived_(max_seq, Clock::time_point()) {}
  void UpsertPod(policy::Pod pod, policy::TimeMs now) override {
    const std::string* seq = pod.labels.Find("mlsched.io/bench-seq");
    int64_t s = seq ? std::stoll(*seq) : -1;
    EngineWriter::UpsertPod(std::move(pod), now);
    if (s >= 0 && static_cast<size_t>(s) < arrived_.size()) {
      std::lock_guard<std::mutex> l(mu_);
      if (arrived_[s] == Clock::time_point()) arrived_[s] = Clock::now();
    }
  }
  void DeletePod(const policy::Pod& pod, policy::TimeMs now) override {
    const std::string* seq = pod.labels.Find("mlsched.io/bench-seq");
    int64_t s = seq ? std::stoll(*seq) : -1;
    EngineWriter::DeletePod(pod, now);
    if (s >= 0 && static_cast<size_t>(s) < arrived_.size()) {
      std::lock_guard<std::mutex> l(mu_);
      if (arrived_[s] == Clock::time_point()) arrived_[s] = Clock::now();
    }
  }
  Clock::time_point Arrived(size_t seq) {
    std::lock_guard<std::mutex> l(mu_);
    return arrived_[seq];
  }

 private:
  std::mutex mu_;
  std::vector<Clock::time_point> arrived_;
};

struct Row {
  std::string name;
  double value;
  std::string unit;
  std::string target;  // "" when none
  bool met = true;
};

struct Quantiles {
  double p50 = 0, p99 = 0;
};

Quantiles QuantilesOf(std::vector<double> v) {
  Quantiles q;
  if (v.empty()) return q;
  std::sort(v.begin(), v.end());
  q.p50 = v[v.size() / 2];
  q.p99 = v[std::min(v.size() - 1, v.size() * 99 / 100)];
  return q;
}

struct VerbLatency {
  Quantiles filter, prioritize, bind, preempt;
  Quantiles filter_plain, prioritize_plain;
  // This thread's CPU time: what the call costs when nothing else competes for the core.
  Quantiles filter_cpu, prioritize_cpu;
  size_t filter_passed = 0;  // nodes that can take the pod (the rest fail with a reason)
  size_t preempt_candidates = 0;
};

double ThreadCpuMicros() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e6 + static_cast<double>(ts.tv_nsec) / 1e3;
}

double MicrosSince(Clock::time_point t0) {
  return std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
}

// Filter and prioritize a pending one-GPU worker of an 8-pod training job (pod-group label,
// PodGroup not created yet), and the same pod outside any gang, against every node (as
// nodeCacheCapable: true sends names); bind pending pods of the model (each one once, with
// BindDone as the binder would report); preempt for the same pod with 10% of the nodes as
// candidates (kube-scheduler's default minCandidateNodesPercentage), two victims each.
VerbLatency MeasureVerbs(policy::Engine& engine, ObjectFactory& factory, const Flags& flags,
                         int64_t churned) {
  VerbLatency out;
  const policy::TimeMs now = std::chrono::duration_cast<std::chrono::milliseconds>(
                                 std::chrono::system_clock::now().time_since_epoch())
                                 .count();
  std::vector<std::string> names;
  for (int i = 0; i < flags.nodes; ++i) {
    char n[32];
    std::snprintf(n, sizeof(n), "node-%05d", i);
    names.push_back(n);
  }
  std::vector<policy::Candidate> candidates;
  for (const std::string& n : names) candidates.push_back({n, nullptr});
  // A pod the model does not hold yet (index past every pod the bench created).
  int probe_index = flags.pods + static_cast<int>(churned) + 8;
  probe_index += (4 - probe_index % 4) % 4;  // a GPU pod (see ObjectFactory::Pod)
  policy::Pod pod;
  {
    std::string j = factory.Pod(probe_index, flags.nodes, "", "Pending", -1);
    rapidjson::Document d;
    d.Parse(j.data(), j.size());
    if (!k8s::DecodePod(d, &pod).ok()) std::abort();
  }
  const int reps = flags.nodes >= 2000 ? 200 : 500;
  std::vector<double> f, p, fc, pc;
  int64_t sink = 0;
  for (int k = 0; k < reps; ++k) {
    auto t0 = Clock::now();
    double c0 = ThreadCpuMicros();
    policy::FilterResult fr = engine.Filter(pod, candidates, now);
    f.push_back(MicrosSince(t0));
    fc.push_back(ThreadCpuMicros() - c0);
    t0 = Clock::now();
    c0 = ThreadCpuMicros();
    policy::Scores sc = engine.Prioritize(pod, candidates, now);
    p.push_back(MicrosSince(t0));
    pc.push_back(ThreadCpuMicros() - c0);
    sink += static_cast<int64_t>(fr.passed.size()) + (sc.empty() ? 0 : sc[0]);
    out.filter_passed = fr.passed.size();
  }
  out.filter = QuantilesOf(std::move(f));
  out.prioritize = QuantilesOf(std::move(p));
  out.filter_cpu = QuantilesOf(std::move(fc));
  out.prioritize_cpu = QuantilesOf(std::move(pc));
  // The same pod without its gang (no pod-group or job labels, no owner): what a pod that is
  // not a gang member costs.
  {
    policy::Pod plain = pod;
    plain.name += "-plain";
    plain.uid += "-plain";
    plain.labels = policy::Labels();
    plain.owner = policy::OwnerRef();
    std::vector<double> pf, pp;
    for (int k = 0; k < reps; ++k) {
      auto t0 = Clock::now();
      policy::FilterResult fr = engine.Filter(plain, candidates, now);
      pf.push_back(MicrosSince(t0));
      t0 = Clock::now();
      policy::Scores sc = engine.Prioritize(plain, candidates, now);
      pp.push_back(MicrosSince(t0));
      sink += static_cast<int64_t>(fr.passed.size()) + (sc.empty() ? 0 : sc[0]);
    }
    out.filter_plain = QuantilesOf(std::move(pf));
    out.prioritize_plain = QuantilesOf(std::move(pp));
  }

  // Pending pods (every tenth, see ObjectFactory::Pod) the churn did not touch.
  std::vector<double> b;
  for (int i = static_cast<int>((churned + 9) / 10 * 10); i < flags.pods && b.size() < 1000;
       i += 10) {
    policy::PodBinding binding;
    char name[48];
    std::snprintf(name, sizeof(name), "job-%05d-worker-%d", i / 8, i % 8);
    binding.ns = "team-" + std::to_string(i % 40);
    binding.name = name;
    binding.uid = "pod-uid-" + std::to_string(i);
    binding.node = names[static_cast<size_t>(i) % names.size()];
    auto t0 = Clock::now();
    policy::BindDecision d = engine.Bind(binding, now);
    if (d.kind == policy::BindDecision::Kind::kBindNow) {
      for (const policy::PodBinding& done : d.bindings) engine.BindDone(done, true, "", now);
    }
    b.push_back(MicrosSince(t0));
    sink += static_cast<int64_t>(d.kind);
  }
  out.bind = QuantilesOf(std::move(b));

  std::vector<policy::NodeVictims> victims;
  {
    std::unordered_map<std::string, std::vector<std::string>> on_node;
    for (const policy::Pod& q : engine.Pods()) {
      if (!q.node_name.empty()) on_node[q.node_name].push_back(q.uid);
    }
    const size_t want = std::max<size_t>(std::min<size_t>(100, names.size()), names.size() / 10);
    for (size_t i = 0; i < names.size() && victims.size() < want; ++i) {
      auto it = on_node.find(names[i]);
      if (it == on_node.end() || it->second.empty()) continue;
      policy::NodeVictims nv;
      nv.node = names[i];
      for (size_t k = 0; k < it->second.size() && k < 2; ++k) nv.victim_uids.push_back(it->second[k]);
      victims.push_back(std::move(nv));
    }
  }
  out.preempt_candidates = victims.size();
  std::vector<double> pr;
  for (int k = 0; k < reps && !victims.empty(); ++k) {
    auto t0 = Clock::now();
    std::vector<policy::NodeVictims> kept = engine.Preempt(pod, victims, now);
    pr.push_back(MicrosSince(t0));
    sink += static_cast<int64_t>(kept.size());
  }
  out.preempt = QuantilesOf(std::move(pr));
  if (sink < 0) std::printf("impossible\n");  // keeps the calls from being optimised away
  return out;
}

int Main(int argc, char** argv) {
  Flags flags;
  if (!ParseFlags(argc, argv, &flags)) return 2;
  const std::string fixtures =
      std::string(MLSCHED_SHARED_DIR) + "/fixtures/kube-scheduler-v1.24.3/nodecache-false";
  ObjectFactory factory(fixtures);
  const std::string load_start = LoadAverage();

  // ---- Build the cluster in the fake API server. ----
  fakes::FakeApiServerOptions so;
  so.retained_events = 1'000'000;
  fakes::FakeApiServer server(so);
  if (!server.Start().ok()) {
    std::cerr << "cannot start the fake API server\n";
    return 1;
  }
  auto t_build = Clock::now();
  int64_t json_bytes_nodes = 0, json_bytes_pods = 0;
  for (int i = 0; i < flags.nodes; ++i) {
    std::string j = factory.Node(i);
    json_bytes_nodes += static_cast<int64_t>(j.size());
    server.Upsert(Kind::kNode, j);
  }
  for (int i = 0; i < flags.pods; ++i) {
    std::string j = factory.Pod(i, flags.nodes, "", i % 10 == 0 ? "Pending" : "Running", -1);
    json_bytes_pods += static_cast<int64_t>(j.size());
    server.Upsert(Kind::kPod, j);
  }
  for (int g = 0; g < flags.pods / 32; ++g) {
    server.Upsert(Kind::kPodGroup,
                  R"({"metadata":{"name":"job-)" + std::to_string(g * 2) +
                      R"(","namespace":"team-0"},"spec":{"minMember":8}})");
  }
  double build_s = Seconds(Clock::now() - t_build);
  std::cerr << "built " << flags.nodes << " nodes and " << flags.pods << " pods in " << build_s
            << " s\n";

  // ---- Sync into the engine: time to ready, decode throughput, memory. ----
  malloc_trim(0);
  int64_t rss_before = RssBytes();
  int64_t heap_before = HeapInUse();
  policy::Engine engine{policy::Options()};
  const size_t kMaxSeq = static_cast<size_t>(flags.churn_rate * flags.churn_seconds) + 16;
  ProbeWriter writer(engine, kMaxSeq);
  k8s::SyncOptions opts;
  opts.seed = 1;
  k8s::ClientConfig cfg;
  cfg.server = server.url();
  k8s::ClusterSync sync(cfg, writer, opts);
  auto t0 = Clock::now();
  sync.Start();
  while (!sync.Synced()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  double ready_s = Seconds(Clock::now() - t0);
  k8s::SyncStats st = sync.Stats();
  malloc_trim(0);
  int64_t rss_after = RssBytes();
  int64_t heap_after = HeapInUse();
  policy::ModelStats ms = engine.Stats();

  // ---- Single-threaded parse + decode of the same objects. ----
  int64_t dec_bytes = 0;
  auto thread_cpu_s = [] {
    timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
  };
  double td = 0;
  {
    std::vector<std::string> objs = server.List(Kind::kPod);
    objs.resize(std::min<size_t>(objs.size(), 30000));
    std::unique_ptr<char[]> arena(new char[size_t{1} << 20]);
    double t = thread_cpu_s();
    for (const std::string& j : objs) {
      rapidjson::MemoryPoolAllocator<> alloc(arena.get(), size_t{1} << 20);
      rapidjson::Document d(&alloc);
      d.Parse(j.data(), j.size());
      policy::Pod p;
      if (!k8s::DecodePod(d, &p).ok()) std::abort();
      dec_bytes += static_cast<int64_t>(j.size());
    }
    td = thread_cpu_s() - t;
  }
  double decode_loop_s = td;

  // ---- Model bytes per node and per pod, in a fresh engine. ----
  double bytes_per_node = 0, bytes_per_pod = 0;
  {
    policy::Engine e2{policy::Options()};
    auto decode_all = [&](Kind kind, auto* out) {
      for (const std::string& j : server.List(kind)) {
        rapidjson::Document d;
        d.Parse(j.data(), j.size());
        typename std::remove_pointer_t<decltype(out)>::value_type v;
        Status s;
        if constexpr (std::is_same_v<decltype(v), policy::Node>) {
          s = k8s::DecodeNode(d, &v);
        } else {
          s = k8s::DecodePod(d, &v);
        }
        if (s.ok()) out->push_back(std::move(v));
      }
    };
    malloc_trim(0);
    int64_t h0 = HeapInUse();
    {
      std::vector<policy::Node> nodes;
      decode_all(Kind::kNode, &nodes);
      e2.ReplaceNodes(std::move(nodes));
    }
    int64_t h1 = HeapInUse();
    {
      std::vector<policy::Pod> pods;
      decode_all(Kind::kPod, &pods);
      e2.ReplacePods(std::move(pods), 0);
    }
    int64_t h2 = HeapInUse();
    bytes_per_node = static_cast<double>(h1 - h0) / flags.nodes;
    bytes_per_pod = flags.pods ? static_cast<double>(h2 - h1) / flags.pods : 0;
  }

  // ---- Sustained churn: writes at a fixed rate, latency from the write to the model. ----
  const int64_t total = static_cast<int64_t>(flags.churn_rate * flags.churn_seconds);
  std::vector<Clock::time_point> sent(static_cast<size_t>(total));
  auto tc = Clock::now();
  const auto period = std::chrono::nanoseconds(1'000'000'000LL / std::max(1, flags.churn_rate));
  for (int64_t s = 0; s < total; ++s) {
    std::this_thread::sleep_until(tc + period * s);
    int i = static_cast<int>(s % std::max(1, flags.pods));
    int kind = static_cast<int>(s % 4);
    sent[s] = Clock::now();
    if (kind == 0) {  // a new pending pod
      server.Upsert(Kind::kPod, factory.Pod(flags.pods + static_cast<int>(s), flags.nodes, "",
                                            "Pending", s));
    } else if (kind == 1) {  // bound
      char n[32];
      std::snprintf(n, sizeof(n), "node-%05d", i % flags.nodes);
      server.Upsert(Kind::kPod, factory.Pod(i, flags.nodes, n, "Running", s));
    } else if (kind == 2) {  // finished
      server.Upsert(Kind::kPod, factory.Pod(i, flags.nodes, "", "Succeeded", s));
    } else {  // running again
      server.Upsert(Kind::kPod, factory.Pod(i, flags.nodes, "", "Running", s));
    }
  }
  double churn_wall_s = Seconds(Clock::now() - tc);
  // Wait (bounded) for the last events.
  auto deadline = Clock::now() + std::chrono::seconds(30);
  while (Clock::now() < deadline && total > 0 &&
         writer.Arrived(static_cast<size_t>(total - 1)) == Clock::time_point()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  std::vector<double> lat_ms;
  int64_t missing = 0;
  for (int64_t s = 0; s < total; ++s) {
    Clock::time_point a = writer.Arrived(static_cast<size_t>(s));
    if (a == Clock::time_point()) {
      ++missing;
      continue;
    }
    lat_ms.push_back(std::chrono::duration<double, std::milli>(a - sent[s]).count());
  }
  std::sort(lat_ms.begin(), lat_ms.end());
  auto pct = [&lat_ms](double p) {
    if (lat_ms.empty()) return 0.0;
    return lat_ms[std::min(lat_ms.size() - 1, static_cast<size_t>(p * lat_ms.size()))];
  };
  sync.Stop();

  // ---- Latency per verb on the full model, in process (names mode: every node a candidate).
  // What the HTTP layer adds on top is mlsched-bench-service's part.
  VerbLatency verbs = MeasureVerbs(engine, factory, flags, total);

  // ---- Report. ----
  double list_mb = static_cast<double>(st.list_bytes) / 1e6;
  double sync_decode_mbs = st.list_decode_seconds > 0 ? list_mb / st.list_decode_seconds : 0;
  double loop_mbs = decode_loop_s > 0 ? static_cast<double>(dec_bytes) / 1e6 / decode_loop_s : 0;
  std::vector<Row> rows = {
      {"nodes", static_cast<double>(flags.nodes), "", ""},
      {"pods", static_cast<double>(flags.pods), "", ""},
      {"avg node object", static_cast<double>(json_bytes_nodes) / flags.nodes, "B", ""},
      {"avg pod object", flags.pods ? static_cast<double>(json_bytes_pods) / flags.pods : 0, "B", ""},
      {"time to ready", ready_s, "s", "< 15"},
      {"LIST bytes", list_mb, "MB", ""},
      {"LIST end-to-end (bytes / time to ready)", list_mb / ready_s, "MB/s", ""},
      {"LIST decode in sync (parse+decode, CPU time)", sync_decode_mbs, "MB/s", ">= 200"},
      {"pod parse+decode, 1 thread (CPU time)", loop_mbs, "MB/s", ">= 200"},
      {"RSS before", static_cast<double>(rss_before) / 1048576, "MiB", ""},
      {"RSS after sync", static_cast<double>(rss_after) / 1048576, "MiB", ""},
      {"heap retained by sync (all)", static_cast<double>(heap_after - heap_before) / 1048576, "MiB", ""},
      {"model bytes per node", bytes_per_node, "B", ""},
      {"model bytes per pod", bytes_per_pod, "B", "< 1024"},
      {"engine nodes", static_cast<double>(ms.nodes), "", ""},
      {"engine pods (non-terminal)", static_cast<double>(ms.pods), "", ""},
      {"churn events", static_cast<double>(total), "", ""},
      {"churn rate achieved", churn_wall_s > 0 ? total / churn_wall_s : 0, "ev/s", ""},
      {"event->model p50", pct(0.50), "ms", ""},
      {"event->model p99", pct(0.99), "ms", ""},
      {"event->model max", lat_ms.empty() ? 0 : lat_ms.back(), "ms", ""},
      {"events not seen", static_cast<double>(missing), "", ""},
      {"filter p50", verbs.filter.p50, "us", ""},
      {"filter p99", verbs.filter.p99, "us", ""},
      {"prioritize p50", verbs.prioritize.p50, "us", ""},
      {"prioritize p99", verbs.prioritize.p99, "us", ""},
      {"bind p50", verbs.bind.p50, "us", ""},
      {"bind p99", verbs.bind.p99, "us", ""},
      {"preempt p50", verbs.preempt.p50, "us", ""},
      {"preempt p99", verbs.preempt.p99, "us", ""},
      {"preempt candidate nodes", static_cast<double>(verbs.preempt_candidates), "", ""},
      {"filter p50 (CPU time)", verbs.filter_cpu.p50, "us", ""},
      {"prioritize p50 (CPU time)", verbs.prioritize_cpu.p50, "us", ""},
      {"filter: nodes that can take the pod", static_cast<double>(verbs.filter_passed), "", ""},
      {"filter p50, pod outside any gang", verbs.filter_plain.p50, "us", ""},
      {"prioritize p50, pod outside any gang", verbs.prioritize_plain.p50, "us", ""},
      {"load average (1 min) at start", std::atof(load_start.c_str()), "", ""},
  };
  for (Row& r : rows) {
    if (r.target.empty()) continue;
    double t = std::stod(r.target.substr(r.target.find_first_of("0123456789")));
    if (r.target[0] == '<') r.met = r.value < t;
    if (r.target[0] == '>') r.met = r.value >= t;
  }
  // Every report says what made it and where, and how busy the machine was.
  std::printf("command: %s\nmachine: %s\nload average at start: %s, at end: %s\n",
              CommandLine(argc, argv).c_str(), MachineLine().c_str(), load_start.c_str(),
              LoadAverage().c_str());
  std::printf("%-44s %14s %-6s %-8s %s\n", "metric", "value", "unit", "target", "");
  for (const Row& r : rows) {
    std::printf("%-44s %14.1f %-6s %-8s %s\n", r.name.c_str(), r.value, r.unit.c_str(),
                r.target.c_str(), r.target.empty() ? "" : (r.met ? "ok" : "MISSED"));
  }
  if (!flags.out.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(flags.out, ec);
    std::string path = flags.out + "/scale.json";
    std::ofstream out(path);
    if (ec || !out) {
      std::cerr << "cannot write " << path << (ec ? ": " + ec.message() : "") << "\n";
      return 1;
    }
    out << "{\n";
    for (size_t i = 0; i < rows.size(); ++i) {
      out << "  \"" << rows[i].name << "\": {\"value\": " << rows[i].value << ", \"unit\": \""
          << rows[i].unit << "\", \"target\": \"" << rows[i].target << "\"}"
          << (i + 1 < rows.size() ? "," : "") << "\n";
    }
    out << "}\n";
    std::cerr << "wrote " << path << "\n";
  }
  return 0;
}

}  // namespace
}  // namespace mlsched::bench

int main(int argc, char** argv) { return mlsched::bench::Main(argc, argv); }
