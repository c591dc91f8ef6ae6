// mlsched-bench-service: the speed of the real extender server on loopback.
//
// Starts the real Server in process with a synthetic model of 100, 1,000 and 5,000 nodes and
// replays filter and prioritize bodies (node names, as with nodeCacheCapable: true; and full,
// realistic Node objects of a few KB each) at concurrency 1 and 8 with keep-alive HTTP
// clients. Next to each, in the same run and on the same server, a baseline route reads the same
// body and answers a fixed small body: the cost of HTTP alone. Also measures in-process decode
// throughput of full bodies. Prints a table and writes raw numbers as JSON (--out DIR).
//
// Targets (this 2-core machine): names-mode filter and prioritize on 5,000 nodes within 2x of
// the baseline's p50 latency at concurrency 1; full bodies decoded at >= 300 MB/s.

#include <glog/logging.h>
// SSLClient for --tls (the extender links OpenSSL).
#define CPPHTTPLIB_OPENSSL_SUPPORT
#include <httplib.h>
#include <malloc.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "extender/server.h"
#include "extender/wire.h"
#include "policy/engine.h"

namespace mlsched::bench {
namespace {

using Clock = std::chrono::steady_clock;

struct Config {
  bool quick = false;
  std::string out;
  std::vector<int> sizes = {100, 1000, 5000};
  std::vector<int> concurrency = {1, 8};
  double seconds = 2.0;  // per case (full mode at 5,000 nodes runs at least a few requests)
  bool tls = false;      // --tls: plain HTTP against mutual TLS, see RunTlsMode
};

std::string NodeName(int i) {
  char b[32];
  std::snprintf(b, sizeof b, "gpu-node-%05d", i);
  return b;
}

policy::Node ModelNode(int i) {
  policy::Node n;
  n.name = NodeName(i);
  n.labels.Set("kubernetes.io/hostname", n.name);
  n.labels.Set("topology.kubernetes.io/region", "region-1");
  n.labels.Set("topology.kubernetes.io/zone", "zone-" + std::to_string(i / 1000));
  n.labels.Set("mlsched.io/block", "block-" + std::to_string(i / 250));
  n.labels.Set("mlsched.io/rack", "rack-" + std::to_string(i / 16));
  n.labels.Set("nvidia.com/gpu.clique", "clique-" + std::to_string(i / 16));
  n.labels.Set("nvidia.com/gpu.product", "NVIDIA-H100-80GB-HBM3");
  n.allocatable.milli_cpu = 96'000;
  n.allocatable.memory = int64_t{1000} << 30;
  n.allocatable.ephemeral_storage = int64_t{3} << 40;
  n.allocatable.pods = 110;
  n.allocatable.SetScalar("nvidia.com/gpu", 8);
  return n;
}

// A v1 Node as the scheduler sends it with nodeCacheCapable: false: labels, managedFields,
// capacity/allocatable, conditions, addresses, nodeInfo and images (about 5 KB).
std::string NodeJson(int i) {
  const std::string name = NodeName(i);
  const std::string zone = "zone-" + std::to_string(i / 1000);
  const std::string block = "block-" + std::to_string(i / 250);
  const std::string rack = "rack-" + std::to_string(i / 16);
  const std::string ts = "2026-11-28T16:26:17Z";
  std::string s;
  s.reserve(6000);
  s += R"({"metadata":{"name":")" + name + R"(","uid":"ad1f6aac-e5e5-453b-be66-)" +
       std::to_string(100000000000 + i) + R"(","resourceVersion":")" + std::to_string(1000 + i) +
       R"(","creationTimestamp":")" + ts + R"(","labels":{"kubernetes.io/arch":"amd64",)"
       R"("kubernetes.io/hostname":")" + name + R"(","kubernetes.io/os":"linux",)"
       R"("mlsched.io/block":")" + block + R"(","mlsched.io/rack":")" + rack +
       R"(","node.kubernetes.io/instance-type":"gpu-8x-h100","nvidia.com/gpu.clique":"clique-)" +
       std::to_string(i / 16) + R"(","nvidia.com/gpu.count":"8","nvidia.com/gpu.present":"true",)"
       R"("nvidia.com/gpu.product":"NVIDIA-H100-80GB-HBM3","topology.kubernetes.io/region":"region-1",)"
       R"("topology.kubernetes.io/zone":")" + zone + R"("},"annotations":{"node.alpha.kubernetes.io/ttl":"0",)"
       R"("volumes.kubernetes.io/controller-managed-attach-detach":"true"},)"
       R"("managedFields":[{"manager":"kubelet","operation":"Update","apiVersion":"v1","time":")" +
       ts + R"(","fieldsType":"FieldsV1","fieldsV1":{"f:metadata":{"f:annotations":{".":{},)"
       R"("f:volumes.kubernetes.io/controller-managed-attach-detach":{}},"f:labels":{".":{},)"
       R"("f:kubernetes.io/arch":{},"f:kubernetes.io/hostname":{},"f:kubernetes.io/os":{}}}}},)"
       R"({"manager":"kubelet","operation":"Update","apiVersion":"v1","time":")" + ts +
       R"(","fieldsType":"FieldsV1","fieldsV1":{"f:status":{"f:allocatable":{"f:nvidia.com/gpu":{}},)"
       R"("f:capacity":{"f:nvidia.com/gpu":{}},"f:conditions":{"k:{\"type\":\"DiskPressure\"}":)"
       R"({"f:lastHeartbeatTime":{}},"k:{\"type\":\"MemoryPressure\"}":{"f:lastHeartbeatTime":{}},)"
       R"("k:{\"type\":\"PIDPressure\"}":{"f:lastHeartbeatTime":{}},"k:{\"type\":\"Ready\"}":)"
       R"({"f:lastHeartbeatTime":{}}},"f:images":{}}},"subresource":"status"}]},)"
       R"("spec":{"podCIDR":"10.244.)" + std::to_string(i % 256) + R"(.0/24","podCIDRs":["10.244.)" +
       std::to_string(i % 256) + R"(.0/24"],"providerID":"aws:///us-east-1a/i-0)" +
       std::to_string(1000000 + i) + R"(","taints":[{"key":"nvidia.com/gpu","value":"present","effect":"NoSchedule"}]},)"
       R"("status":{"capacity":{"cpu":"96","ephemeral-storage":"3Ti","hugepages-1Gi":"0",)"
       R"("hugepages-2Mi":"0","memory":"1056440040Ki","nvidia.com/gpu":"8","pods":"110"},)"
       R"("allocatable":{"cpu":"96","ephemeral-storage":"3Ti","hugepages-1Gi":"0","hugepages-2Mi":"0",)"
       R"("memory":"1000Gi","nvidia.com/gpu":"8","pods":"110"},"conditions":[)";
  const char* conds[][3] = {{"MemoryPressure", "False", "KubeletHasSufficientMemory"},
                            {"DiskPressure", "False", "KubeletHasNoDiskPressure"},
                            {"PIDPressure", "False", "KubeletHasSufficientPID"},
                            {"Ready", "True", "KubeletReady"}};
  for (int c = 0; c < 4; ++c) {
    if (c) s += ",";
    s += R"({"type":")" + std::string(conds[c][0]) + R"(","status":")" + conds[c][1] +
         R"(","lastHeartbeatTime":")" + ts + R"(","lastTransitionTime":")" + ts +
         R"(","reason":")" + conds[c][2] + R"(","message":"kubelet is posting ready status"})";
  }
  s += R"(],"addresses":[{"type":"InternalIP","address":"10.0.)" + std::to_string(i / 256) + "." +
       std::to_string(i % 256) + R"("},{"type":"Hostname","address":")" + name +
       R"("}],"daemonEndpoints":{"kubeletEndpoint":{"Port":10250}},"nodeInfo":{"machineID":"ec2)" +
       std::to_string(i) + R"(","systemUUID":"ec2)" + std::to_string(i) +
       R"(","bootID":"5c3c2a1e-0000-4000-8000-000000000000","kernelVersion":"5.15.0-1051-aws",)"
       R"("osImage":"Ubuntu 22.04.3 LTS","containerRuntimeVersion":"containerd://1.7.2",)"
       R"("kubeletVersion":"v1.29.3","kubeProxyVersion":"v1.29.3","operatingSystem":"linux",)"
       R"("architecture":"amd64"},"images":[)";
  const char* images[] = {"nvcr.io/nvidia/pytorch:24.01-py3", "nvcr.io/nvidia/tritonserver:24.01-py3",
                          "registry.example.com/ml/pytorch-train:2.3.0-cuda12.1",
                          "registry.k8s.io/kube-proxy:v1.29.3", "nvcr.io/nvidia/k8s-device-plugin:v0.14.5",
                          "docker.io/calico/node:v3.27.0", "registry.k8s.io/pause:3.9"};
  for (int k = 0; k < 7; ++k) {
    if (k) s += ",";
    s += R"({"names":[")" + std::string(images[k]) + R"(@sha256:4b2e1f0c9d8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c",")" +
         images[k] + R"("],"sizeBytes":)" + std::to_string(300000000 + 1000000 * k) + "}";
  }
  s += "]}}";
  return s;
}

const char kPod[] =
    R"({"metadata":{"name":"train-0","namespace":"ml","uid":"6f1c2d3e-0000-4000-8000-000000000001",)"
    R"("creationTimestamp":"2026-11-28T16:25:54Z","labels":{"app":"train"}},"spec":{"containers":)"
    R"([{"name":"main","image":"registry.example.com/ml/pytorch-train:2.3.0-cuda12.1","resources":)"
    R"({"requests":{"cpu":"8","memory":"64Gi","nvidia.com/gpu":"1"},"limits":{"nvidia.com/gpu":"1"}}}],)"
    R"("schedulerName":"mlsched","tolerations":[{"key":"nvidia.com/gpu","operator":"Exists",)"
    R"("effect":"NoSchedule"}]},"status":{"phase":"Pending","qosClass":"Burstable"}})";

std::string NamesBody(int n) {
  std::string b = std::string(R"({"Pod":)") + kPod + R"(,"Nodes":null,"NodeNames":[)";
  for (int i = 0; i < n; ++i) b += (i ? ",\"" : "\"") + NodeName(i) + "\"";
  return b + "]}";
}

std::string FullBody(int n) {
  std::string b = std::string(R"({"Pod":)") + kPod + R"(,"Nodes":{"metadata":{},"items":[)";
  for (int i = 0; i < n; ++i) {
    if (i) b += ",";
    b += NodeJson(i);
  }
  return b + R"(]},"NodeNames":null})";
}

struct Result {
  int nodes = 0;
  std::string mode;  // names | full
  std::string verb;  // filter | prioritize | empty
  int concurrency = 0;
  size_t body_bytes = 0;
  size_t requests = 0;
  size_t errors = 0;
  double seconds = 0;
  double rps = 0;
  double p50_us = 0, p99_us = 0, p999_us = 0;
};

double Percentile(std::vector<double>& v, double q) {
  if (v.empty()) return 0;
  size_t k = std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())));
  std::nth_element(v.begin(), v.begin() + static_cast<long>(k), v.end());
  return v[k];
}

Result Run(uint16_t port, const std::string& path, const std::string& body, int concurrency,
           double seconds, size_t min_requests) {
  Result r;
  r.concurrency = concurrency;
  r.body_bytes = body.size();
  std::vector<std::vector<double>> lat(concurrency);
  std::atomic<size_t> errors{0};
  std::atomic<bool> go{false};
  const auto deadline_span = std::chrono::duration<double>(seconds);
  std::vector<std::thread> threads;
  Clock::time_point start;
  for (int c = 0; c < concurrency; ++c) {
    threads.emplace_back([&, c] {
      httplib::Client client("127.0.0.1", port);
      client.set_keep_alive(true);
      client.set_tcp_nodelay(true);
      client.set_read_timeout(60, 0);
      // One warm-up request opens the connection.
      client.Post(path, body, "application/json");
      while (!go.load()) std::this_thread::yield();
      size_t done = 0;
      for (;;) {
        auto t0 = Clock::now();
        if (t0 - start > deadline_span && done >= min_requests) break;
        auto res = client.Post(path, body, "application/json");
        auto t1 = Clock::now();
        if (!res || res->status != 200) ++errors;
        lat[c].push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
        ++done;
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  start = Clock::now();
  go = true;
  for (auto& t : threads) t.join();
  r.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  std::vector<double> all;
  for (auto& l : lat) all.insert(all.end(), l.begin(), l.end());
  r.requests = all.size();
  r.errors = errors;
  r.rps = static_cast<double>(r.requests) / r.seconds;
  r.p50_us = Percentile(all, 0.50);
  r.p99_us = Percentile(all, 0.99);
  r.p999_us = Percentile(all, 0.999);
  return r;
}

struct DecodeResult {
  int nodes = 0;
  std::string mode;
  size_t body_bytes = 0;
  int iterations = 0;
  double mb_per_s = 0;
  double us_per_body = 0;
};

DecodeResult MeasureDecode(int n, const std::string& mode, const std::string& body, double seconds) {
  DecodeResult d;
  d.nodes = n;
  d.mode = mode;
  d.body_bytes = body.size();
  extender::DecodeLimits limits;
  auto start = Clock::now();
  double elapsed = 0;
  do {
    extender::ExtenderArgs args;
    Status s = extender::DecodeExtenderArgs(body, limits, &args);
    CHECK(s.ok()) << s.message();
    CHECK_EQ(args.candidates.size(), static_cast<size_t>(n));
    ++d.iterations;
    elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  } while (elapsed < seconds || d.iterations < 3);
  d.us_per_body = elapsed * 1e6 / d.iterations;
  d.mb_per_s = static_cast<double>(body.size()) * d.iterations / elapsed / 1e6;
  return d;
}

// ---- --tls: the cost of TLS (issue 8). One model of 5,000 nodes, two servers on it: plain
// HTTP and mutual TLS (extender/tls_proxy.h, certificates made here with the openssl CLI).
// Concurrency 1, keep-alive, 5,000 node names; each verb runs on plain and TLS back to back and
// the p50 ratio TLS/plain is printed (a connection's handshake is paid once, by the warm-up).

Result RunOne(const std::function<httplib::Result(const std::string&, const std::string&)>& post,
              const std::string& path, const std::string& body, double seconds,
              size_t min_requests) {
  Result r;
  r.concurrency = 1;
  r.body_bytes = body.size();
  post(path, body);  // warm-up: connects (and handshakes)
  std::vector<double> lat;
  auto start = Clock::now();
  while (Clock::now() - start < std::chrono::duration<double>(seconds) ||
         lat.size() < min_requests) {
    auto t0 = Clock::now();
    auto res = post(path, body);
    auto t1 = Clock::now();
    if (!res || res->status != 200) ++r.errors;
    lat.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
  }
  r.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  r.requests = lat.size();
  r.rps = static_cast<double>(r.requests) / r.seconds;
  r.p50_us = Percentile(lat, 0.50);
  r.p99_us = Percentile(lat, 0.99);
  r.p999_us = Percentile(lat, 0.999);
  return r;
}

int RunTlsMode(const Config& cfg) {
  const int n = 5000;
  char tmpl[] = "/tmp/mlsched-bench-tls-XXXXXX";
  CHECK(mkdtemp(tmpl)) << "mkdtemp";
  const std::string dir = tmpl;
  const std::string ec = "-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes";
  const std::string pki =
      "( cd " + dir + " && openssl req -x509 " + ec + " -keyout ca.key -out ca.pem -days 1 " +
      "-subj /CN=bench-ca && printf 'subjectAltName=IP:127.0.0.1\\n' > san.ext && " +
      "openssl req " + ec + " -keyout server.key -out server.csr -subj /CN=mlsched && " +
      "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -set_serial 1 -out server.pem " +
      "-days 1 -extfile san.ext && openssl req " + ec + " -keyout client.key -out client.csr " +
      "-subj /CN=kube-scheduler && openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key " +
      "-set_serial 2 -out client.pem -days 1 ) >/dev/null 2>&1";
  CHECK(std::system(pki.c_str()) == 0) << "openssl could not make the bench certificates";

  policy::Engine engine{policy::Options()};
  std::vector<policy::Node> nodes;
  for (int i = 0; i < n; ++i) nodes.push_back(ModelNode(i));
  engine.ReplaceNodes(nodes);
  auto make = [&](bool tls) {
    extender::ServerOptions o;
    o.port = 0;
    o.threads = 2;
    o.empty_route = true;
    if (tls) o.tls = extender::TlsFiles{dir + "/server.pem", dir + "/server.key", dir + "/ca.pem"};
    auto s = std::make_unique<extender::Server>(o, &engine,
                                                [](const policy::PodBinding&) { return Status::Ok(); });
    Status st = s->Start();
    CHECK(st.ok()) << st.message();
    return s;
  };
  auto plain_server = make(false);
  auto tls_server = make(true);
  httplib::Client plain("127.0.0.1", plain_server->port());
  httplib::SSLClient tls("127.0.0.1", tls_server->port(), dir + "/client.pem", dir + "/client.key");
  tls.set_ca_cert_path(dir + "/ca.pem");
  tls.enable_server_certificate_verification(true);
  plain.set_keep_alive(true);
  tls.set_keep_alive(true);
  plain.set_tcp_nodelay(true);  // as Go's net/http client (the scheduler) does
  tls.set_tcp_nodelay(true);
  plain.set_read_timeout(60, 0);
  tls.set_read_timeout(60, 0);

  const std::string body = NamesBody(n);
  const size_t min_requests = cfg.quick ? 3 : 50;
  std::printf("# --tls: %d node names (%zu-byte body), concurrency 1, keep-alive, %.1f s per case\n",
              n, body.size(), cfg.seconds);
  std::printf("%-10s %12s %12s %12s %12s %9s\n", "verb", "plain_p50us", "tls_p50us",
              "plain_p99us", "tls_p99us", "tls/plain");
  size_t errors = 0;
  for (const std::string verb : {"empty", "filter", "prioritize"}) {
    Result a = RunOne([&](auto& p, auto& b) { return plain.Post(p, b, "application/json"); },
                      "/" + verb, body, cfg.seconds, min_requests);
    Result t = RunOne([&](auto& p, auto& b) { return tls.Post(p, b, "application/json"); },
                      "/" + verb, body, cfg.seconds, min_requests);
    errors += a.errors + t.errors;
    std::printf("%-10s %12.1f %12.1f %12.1f %12.1f %9.2f%s\n",
                verb == "empty" ? "baseline" : verb.c_str(), a.p50_us, t.p50_us, a.p99_us,
                t.p99_us, t.p50_us / a.p50_us, a.errors + t.errors ? " ERRORS" : "");
    std::fflush(stdout);
  }
  tls_server->Shutdown();
  plain_server->Shutdown();
  std::system(("rm -rf " + dir).c_str());
  return errors == 0 ? 0 : 1;
}

int Main(int argc, char** argv) {
  Config cfg;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--quick") {
      cfg.quick = true;
    } else if (a == "--out" && i + 1 < argc) {
      cfg.out = argv[++i];
    } else if (a.rfind("--out=", 0) == 0) {
      cfg.out = a.substr(6);
    } else if (a.rfind("--seconds=", 0) == 0) {
      cfg.seconds = std::stod(a.substr(10));
    } else if (a == "--tls") {
      cfg.tls = true;
    } else {
      std::cerr << "usage: mlsched-bench-service [--quick] [--seconds=S] [--out DIR] [--tls]\n";
      return 2;
    }
  }
  if (cfg.quick) cfg.seconds = 0.2;
  if (cfg.tls) return RunTlsMode(cfg);

  std::vector<Result> results;
  std::vector<DecodeResult> decodes;
  struct Breakdown {
    int nodes;
    double decode_us, filter_us, encode_us, prioritize_us;
  };
  std::vector<Breakdown> breakdown;
  std::printf("%-6s %-6s %-10s %4s %10s %9s %10s %10s %10s %7s\n", "nodes", "mode", "verb", "conc",
              "body_B", "req/s", "p50_us", "p99_us", "p999_us", "vs_base");
  for (int n : cfg.sizes) {
    policy::Engine engine{policy::Options()};
    std::vector<policy::Node> nodes;
    for (int i = 0; i < n; ++i) nodes.push_back(ModelNode(i));
    engine.ReplaceNodes(nodes);
    // Two running pods per node so that usage is not trivially zero.
    std::vector<policy::Pod> pods;
    for (int i = 0; i < n; ++i) {
      for (int k = 0; k < 2; ++k) {
        policy::Pod p;
        p.ns = "ml";
        p.name = "run-" + std::to_string(i) + "-" + std::to_string(k);
        p.uid = "uid-" + p.name;
        p.node_name = NodeName(i);
        p.phase = policy::PodPhase::kRunning;
        p.requests.milli_cpu = 8000;
        p.requests.memory = int64_t{64} << 30;
        p.requests.pods = 1;
        p.requests.SetScalar("nvidia.com/gpu", (i + k) % 3);
        pods.push_back(std::move(p));
      }
    }
    engine.ReplacePods(std::move(pods), extender::SystemClockMs());

    extender::ServerOptions o;
    o.port = 0;
    o.threads = 2;
    o.empty_route = true;
    extender::Server server(o, &engine, [](const policy::PodBinding&) { return Status::Ok(); });
    Status s = server.Start();
    CHECK(s.ok()) << s.message();

    {
      // Where the time of one names-mode call goes, in process (no HTTP).
      const std::string body = NamesBody(n);
      const int reps = n >= 5000 ? 20 : 100;
      double t_decode = 0, t_filter = 0, t_encode = 0, t_prio = 0;
      for (int k = 0; k < reps; ++k) {
        auto t0 = Clock::now();
        extender::ExtenderArgs args;
        CHECK(extender::DecodeExtenderArgs(body, extender::DecodeLimits(), &args).ok());
        auto t1 = Clock::now();
        policy::FilterResult fr = engine.Filter(args.pod, args.candidates, extender::SystemClockMs());
        auto t2 = Clock::now();
        std::string out;
        extender::EncodeFilterResult(args, body, fr, &out);
        auto t3 = Clock::now();
        policy::Scores sc = engine.Prioritize(args.pod, args.candidates, extender::SystemClockMs());
        auto t4 = Clock::now();
        auto us = [](auto a, auto b) { return std::chrono::duration<double, std::micro>(b - a).count(); };
        t_decode += us(t0, t1);
        t_filter += us(t1, t2);
        t_encode += us(t2, t3);
        t_prio += us(t3, t4);
      }
      std::printf("# %d nodes, names mode, in process (us per call): decode %.1f, Engine::Filter %.1f, "
                  "encode %.1f, Engine::Prioritize %.1f\n",
                  n, t_decode / reps, t_filter / reps, t_encode / reps, t_prio / reps);
      breakdown.push_back({n, t_decode / reps, t_filter / reps, t_encode / reps, t_prio / reps});
    }
    for (const std::string mode : {"names", "full"}) {
      const std::string body = mode == "names" ? NamesBody(n) : FullBody(n);
      decodes.push_back(MeasureDecode(n, mode, body, cfg.quick ? 0.1 : 0.5));
      // Quick mode: full bodies over HTTP only at the smallest size (they cost seconds each).
      if (cfg.quick && mode == "full" && n > cfg.sizes.front()) continue;
      for (int c : cfg.concurrency) {
        Result base;
        for (const std::string verb : {"empty", "filter", "prioritize"}) {
          size_t min_requests = cfg.quick ? 3 : (mode == "full" && n >= 1000 ? 5 : 20);
          Result r = Run(server.port(), "/" + verb, body, c, cfg.seconds, min_requests);
          r.nodes = n;
          r.mode = mode;
          r.verb = verb;
          if (verb == "empty") base = r;
          double ratio = base.p50_us > 0 ? r.p50_us / base.p50_us : 0;
          std::printf("%-6d %-6s %-10s %4d %10zu %9.0f %10.1f %10.1f %10.1f %7.2f%s\n", n,
                      mode.c_str(), verb == "empty" ? "baseline" : verb.c_str(), c, r.body_bytes,
                      r.rps, r.p50_us, r.p99_us, r.p999_us, ratio,
                      r.errors ? " ERRORS" : "");
          std::fflush(stdout);
          results.push_back(r);
        }
      }
    }
    server.Shutdown();
  }

  std::printf("\n%-6s %-6s %12s %10s %12s\n", "nodes", "mode", "body_bytes", "MB/s", "us/body");
  for (const auto& d : decodes) {
    std::printf("%-6d %-6s %12zu %10.0f %12.1f\n", d.nodes, d.mode.c_str(), d.body_bytes,
                d.mb_per_s, d.us_per_body);
  }

  // The targets, as ratios measured in this run.
  auto find = [&](int n, const std::string& mode, const std::string& verb, int c) -> const Result* {
    for (const auto& r : results) {
      if (r.nodes == n && r.mode == mode && r.verb == verb && r.concurrency == c) return &r;
    }
    return nullptr;
  };
  std::printf("\ntargets:\n");
  const Result* base = find(5000, "names", "empty", 1);
  for (const std::string verb : {"filter", "prioritize"}) {
    const Result* r = find(5000, "names", verb, 1);
    if (r && base) {
      double ratio = r->p50_us / base->p50_us;
      std::printf("  %s, 5000 node names, concurrency 1: p50 %.1f us = %.2fx the baseline's %.1f us "
                  "(target <= 2x): %s\n",
                  verb.c_str(), r->p50_us, ratio, base->p50_us, ratio <= 2.0 ? "met" : "MISSED");
    }
  }
  for (const auto& d : decodes) {
    if (d.nodes == 5000 && d.mode == "full") {
      std::printf("  full 5000-node body decoded at %.0f MB/s (target >= 300): %s\n", d.mb_per_s,
                  d.mb_per_s >= 300 ? "met" : "MISSED");
    }
  }

  if (!cfg.out.empty()) {
    std::filesystem::create_directories(cfg.out);
    std::ofstream f(cfg.out + "/bench_service.json");
    f << "{\"quick\":" << (cfg.quick ? "true" : "false") << ",\"http\":[";
    for (size_t i = 0; i < results.size(); ++i) {
      const auto& r = results[i];
      f << (i ? "," : "") << "{\"nodes\":" << r.nodes << ",\"mode\":\"" << r.mode
        << "\",\"verb\":\"" << (r.verb == "empty" ? "baseline" : r.verb)
        << "\",\"concurrency\":" << r.concurrency << ",\"body_bytes\":" << r.body_bytes
        << ",\"requests\":" << r.requests << ",\"errors\":" << r.errors
        << ",\"seconds\":" << r.seconds << ",\"rps\":" << r.rps << ",\"p50_us\":" << r.p50_us
        << ",\"p99_us\":" << r.p99_us << ",\"p999_us\":" << r.p999_us << "}";
    }
    f << "],\"decode\":[";
    for (size_t i = 0; i < decodes.size(); ++i) {
      const auto& d = decodes[i];
      f << (i ? "," : "") << "{\"nodes\":" << d.nodes << ",\"mode\":\"" << d.mode
        << "\",\"body_bytes\":" << d.body_bytes << ",\"iterations\":" << d.iterations
        << ",\"mb_per_s\":" << d.mb_per_s << ",\"us_per_body\":" << d.us_per_body << "}";
    }
    f << "],\"names_breakdown_us\":[";
    for (size_t i = 0; i < breakdown.size(); ++i) {
      const auto& b = breakdown[i];
      f << (i ? "," : "") << "{\"nodes\":" << b.nodes << ",\"decode\":" << b.decode_us
        << ",\"engine_filter\":" << b.filter_us << ",\"encode_filter\":" << b.encode_us
        << ",\"engine_prioritize\":" << b.prioritize_us << "}";
    }
    f << "]}\n";
    std::printf("\nraw numbers: %s/bench_service.json\n", cfg.out.c_str());
  }
  size_t errors = 0;
  for (const auto& r : results) errors += r.errors;
  return errors == 0 ? 0 : 1;
}

}  // namespace
}  // namespace mlsched::bench

int main(int argc, char** argv) {
  // As mlsched-extender's main does (see there).
  mallopt(M_MMAP_THRESHOLD, 256 << 20);
  mallopt(M_TRIM_THRESHOLD, 512 << 20);
  FLAGS_logtostderr = true;
  FLAGS_minloglevel = 1;  // warnings and up: the bench prints its own table
  google::InitGoogleLogging(argv[0]);
  return mlsched::bench::Main(argc, argv);
}
