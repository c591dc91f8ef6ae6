// mlsched-bench-service: the speed of the real extender server on loopback.
//
// Starts the real Server in process with a synthetic model of 100, 1,000 and 5,000 nodes and
// replays filter and prioritize bodies (node names, as with nodeCacheCapable: true; and full,
// realistic Node objects of a few KB each) and bind bodies at concurrency 1 (the scheduler's
// real pattern) and 8 with keep-alive HTTP clients. Next to each, in the same run and on the
// same server, a baseline route reads the same body and answers a fixed small body: the cost of
// HTTP alone. Also measures in-process decode throughput of full bodies.
//
// --pipeline-rules (issue 6): prioritize for a pipeline step and an ML function pod, on a
// model that holds pipeline and function history, against two servers in the same run: the
// policy options as configured (pipeline rules on) and the same options with the
// pipeline_locality and function_warm weights at 0 (off); runs alternate between the two.
//
// In names mode an "answer" row has the empty handler send as many bytes as prioritize's
// answer (what sending that answer costs by itself), "filter-new"/"prioritize-new" rows
// send node lists the server has not seen lately (its node-names cache misses), and a
// "filter-nofit" row filters a 16-GPU pod that fails every node (a pod waiting for capacity).
//
// Prints the command, the machine and its load average, a table, and writes the raw numbers
// to --out DIR (bench_service.json and bench_service.csv).
//
// Targets (this 2-core machine): names-mode filter and prioritize on 5,000 nodes within 2x of
// the baseline's p50 latency at concurrency 1; full bodies decoded at >= 300 MB/s; with
// pipeline rules on, prioritize p50 within 1.5x of rules off.

#include <glog/logging.h>
#include <sys/resource.h>
// SSLClient for --tls (the extender links OpenSSL).
#define CPPHTTPLIB_OPENSSL_SUPPORT
#include <httplib.h>
#include <malloc.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench/machine.h"
#include "bench/service/loopback_client.h"
#include "bench/service/bodies.h"
#include "extender/config.h"
#include "extender/server.h"
#include "extender/wire.h"
#include "policy/engine.h"

namespace mlsched::bench {
namespace {

using Clock = std::chrono::steady_clock;

struct Config {
  bool quick = false;
  bool pipeline_rules = false;
  std::string out;
  std::string config_file;  // policy options YAML, as mlsched-extender --config
  std::vector<int> sizes = {100, 1000, 5000};
  std::vector<int> concurrency = {1, 8};
  double seconds = 2.0;  // per case (full mode at 5,000 nodes runs at least a few requests)
  bool tls = false;      // --tls: plain HTTP against mutual TLS, see RunTlsMode
};

struct Result {
  int nodes = 0;
  std::string mode;            // names | full | bind
  std::string pod = "gpu";     // the pod of the body: gpu | step | function
  std::string rules = "conf";  // conf (the configured options) | on | off (--pipeline-rules)
  std::string verb;            // baseline | filter | prioritize | bind
  int concurrency = 0;
  size_t body_bytes = 0;
  size_t requests = 0;
  size_t errors = 0;
  double seconds = 0;
  double rps = 0;
  double p50_us = 0, p99_us = 0, p999_us = 0;
  double baseline_p50_us = 0;  // the empty route with the same body, same run
  // CPU time (user + system, client and server threads) per request: unlike latency it hardly
  // moves when other work shares the machine, so its ratio to the baseline's is the steadier
  // figure on a busy 2-core box.
  double cpu_us = 0;
  double baseline_cpu_us = 0;
  std::vector<double> samples;  // latencies (us), kept to pool alternating runs
};

double Percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  size_t k = std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())));
  std::nth_element(v.begin(), v.begin() + static_cast<long>(k), v.end());
  return v[k];
}

void Summarize(Result* r) {
  r->requests = r->samples.size();
  r->rps = r->seconds > 0 ? static_cast<double>(r->requests) / r->seconds : 0;
  r->p50_us = Percentile(r->samples, 0.50);
  r->p99_us = Percentile(r->samples, 0.99);
  r->p999_us = Percentile(r->samples, 0.999);
}

double ProcessCpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto secs = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return secs(u.ru_utime) + secs(u.ru_stime);
}

// Posts `bodies` (client c sends bodies[(c + k * concurrency) % size] as its k-th request) for
// `seconds` and at least `min_requests` per client. `ok` judges a 200 answer's body.
Result Run(uint16_t port, const std::string& path, const std::vector<std::string>& bodies,
           int concurrency, double seconds, size_t min_requests,
           const std::function<bool(const std::string&)>& ok) {
  Result r;
  r.concurrency = concurrency;
  r.body_bytes = bodies.front().size();
  std::vector<std::vector<double>> lat(concurrency);
  std::atomic<size_t> errors{0};
  std::atomic<bool> go{false};
  const auto deadline_span = std::chrono::duration<double>(seconds);
  std::vector<std::thread> threads;
  Clock::time_point start;
  for (int c = 0; c < concurrency; ++c) {
    threads.emplace_back([&, c] {
      LoopbackClient client(port);
      std::string answer;
      // One warm-up request opens the connection.
      client.Post(path, bodies[c % bodies.size()]);
      while (!go.load()) std::this_thread::yield();
      size_t done = 0;
      for (;;) {
        auto t0 = Clock::now();
        if (t0 - start > deadline_span && done >= min_requests) break;
        const std::string& body = bodies[(c + done * concurrency) % bodies.size()];
        const int code = client.Post(path, body, ok ? &answer : nullptr);
        auto t1 = Clock::now();
        if (code != 200 || (ok && !ok(answer))) ++errors;
        lat[c].push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
        ++done;
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  const double cpu_before = ProcessCpuSeconds();
  start = Clock::now();
  go = true;
  for (auto& t : threads) t.join();
  r.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  const double cpu_seconds = ProcessCpuSeconds() - cpu_before;
  for (auto& l : lat) r.samples.insert(r.samples.end(), l.begin(), l.end());
  r.errors = errors;
  Summarize(&r);
  r.cpu_us = r.requests ? cpu_seconds * 1e6 / static_cast<double>(r.requests) : 0;
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

// Where the time of one names-mode call goes, in process (no HTTP).
struct Breakdown {
  int nodes = 0;
  std::string pod = "gpu";
  std::string rules = "conf";
  // decode_us: a list new to the decoder; decode_cached_us: a repeated list, through the
  // server's node-names cache.
  double decode_us = 0, decode_cached_us = 0, filter_us = 0, encode_us = 0, prioritize_us = 0;
};

// Medians of many calls, the first (which builds the engine's per-list and per-topology
// caches) included but not weighing on the result.
Breakdown MeasureInProcess(policy::Engine& engine, int n, PodKind kind, const std::string& rules) {
  Breakdown b;
  b.nodes = n;
  b.pod = PodKindName(kind);
  b.rules = rules;
  const std::string body = NamesBody(kind, n);
  const int reps = n >= 5000 ? 200 : n >= 1000 ? 500 : 2000;
  auto us = [](auto a, auto c) { return std::chrono::duration<double, std::micro>(c - a).count(); };
  std::vector<double> decode, cached, filter, encode, prioritize;
  extender::NodeNamesCache cache;
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
    CHECK_EQ(sc.size(), static_cast<size_t>(n));
    extender::ExtenderArgs again;
    CHECK(extender::DecodeExtenderArgs(body, extender::DecodeLimits(), &again, &cache).ok());
    auto t5 = Clock::now();
    decode.push_back(us(t0, t1));
    filter.push_back(us(t1, t2));
    encode.push_back(us(t2, t3));
    prioritize.push_back(us(t3, t4));
    cached.push_back(us(t4, t5));
  }
  b.decode_us = Percentile(decode, 0.5);
  b.decode_cached_us = Percentile(cached, 0.5);
  b.filter_us = Percentile(filter, 0.5);
  b.encode_us = Percentile(encode, 0.5);
  b.prioritize_us = Percentile(prioritize, 0.5);
  return b;
}

double ThreadCpuMicros() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e6 + static_cast<double>(ts.tv_nsec) / 1e3;
}

// Engine::Prioritize for `kind` on two engines (pipeline rules on, off), in process, names
// mode: rounds alternate between the two and each round's mean is this thread's CPU time, so
// that other processes on a shared machine do not tilt the ratio; medians of the rounds.
void ComparePrioritize(const policy::Engine& on, const policy::Engine& off, int n, PodKind kind,
                       bool quick, std::vector<Breakdown>* out) {
  const std::string body = NamesBody(kind, n);
  extender::ExtenderArgs args;
  CHECK(extender::DecodeExtenderArgs(body, extender::DecodeLimits(), &args).ok());
  const int rounds = quick ? 3 : 15;
  const int calls = n >= 5000 ? 10 : n >= 1000 ? 40 : 200;
  std::vector<double> t[2];
  int64_t sink = 0;
  for (int r = 0; r < rounds; ++r) {
    for (int which = 0; which < 2; ++which) {
      const policy::Engine& e = which == 0 ? on : off;
      double t0 = ThreadCpuMicros();
      for (int k = 0; k < calls; ++k) {
        sink += e.Prioritize(args.pod, args.candidates, extender::SystemClockMs())[0];
      }
      t[which].push_back((ThreadCpuMicros() - t0) / calls);
    }
  }
  if (sink < 0) std::printf("impossible\n");  // keeps the calls from being optimised away
  for (int which = 0; which < 2; ++which) {
    Breakdown b;
    b.nodes = n;
    b.pod = PodKindName(kind);
    b.rules = which == 0 ? "on" : "off";
    b.prioritize_us = Percentile(t[which], 0.5);
    out->push_back(b);
  }
}

// One engine and its server on a free port.
struct Instance {
  std::unique_ptr<policy::Engine> engine;
  std::unique_ptr<extender::Server> server;
};

Instance StartInstance(const policy::Options& options, int n) {
  Instance in;
  in.engine = std::make_unique<policy::Engine>(options);
  FillModel(*in.engine, n, extender::SystemClockMs());
  extender::ServerOptions o;
  o.port = 0;
  o.threads = 2;
  o.empty_route = true;
  // The binder a real deployment has waits on the API server; here it returns at once, so a
  // bind row measures mlsched's own work (decode, the model, the pool hand-off, the answer).
  in.server = std::make_unique<extender::Server>(
      o, in.engine.get(), [](const policy::PodBinding&) { return Status::Ok(); });
  Status s = in.server->Start();
  CHECK(s.ok()) << s.message();
  return in;
}

bool BindOk(const std::string& body) { return body == R"({"Error":""})"; }

void PrintHeader() {
  std::printf("%-6s %-6s %-8s %-5s %-10s %4s %10s %9s %10s %10s %10s %7s %8s %7s\n", "nodes",
              "mode", "pod", "rules", "verb", "conc", "body_B", "req/s", "p50_us", "p99_us",
              "p999_us", "vs_base", "cpu_us", "cpu_vs");
}

void PrintRow(const Result& r) {
  double ratio = r.baseline_p50_us > 0 ? r.p50_us / r.baseline_p50_us : 0;
  double cpu_ratio = r.baseline_cpu_us > 0 ? r.cpu_us / r.baseline_cpu_us : 0;
  std::printf("%-6d %-6s %-8s %-5s %-10s %4d %10zu %9.0f %10.1f %10.1f %10.1f %7.2f %8.1f %7.2f%s\n",
              r.nodes, r.mode.c_str(), r.pod.c_str(), r.rules.c_str(), r.verb.c_str(),
              r.concurrency, r.body_bytes, r.rps, r.p50_us, r.p99_us, r.p999_us, ratio, r.cpu_us,
              cpu_ratio, r.errors ? " ERRORS" : "");
  std::fflush(stdout);
}

// The rows of one case (a size, a mode, a concurrency): the first, verb "baseline", is what the
// rows after it are compared with.
struct CaseRows {
  int nodes;
  std::string mode;
  std::string pod = "gpu";
  std::vector<Result>* results;
  double base_p50 = 0, base_cpu = 0;

  void Add(Result r, const std::string& verb) {
    r.nodes = nodes;
    r.mode = mode;
    r.pod = pod;
    r.verb = verb;
    if (verb == "baseline") base_p50 = r.p50_us, base_cpu = r.cpu_us;
    r.baseline_p50_us = base_p50;
    r.baseline_cpu_us = base_cpu;
    PrintRow(r);
    results->push_back(std::move(r));
  }
};

std::vector<int> ParseSizes(const std::string& list) {
  std::vector<int> out;
  std::stringstream ss(list);
  std::string item;
  while (std::getline(ss, item, ',')) {
    char* end = nullptr;
    long v = std::strtol(item.c_str(), &end, 10);
    if (item.empty() || *end != '\0' || v < 1 || v > 100000) return {};
    out.push_back(static_cast<int>(v));
  }
  return out;
}

const char kUsage[] =
    "usage: mlsched-bench-service [--quick] [--seconds=S] [--sizes=N,N,...] [--config FILE]\n"
    "                             [--pipeline-rules] [--out DIR] [--tls]\n"
    "  --quick           0.2 s per case, full Node bodies over HTTP at the smallest size only\n"
    "  --seconds=S       time per case (default 2)\n"
    "  --sizes=N,...     cluster sizes in nodes (default 100,1000,5000)\n"
    "  --config FILE     policy options YAML, as mlsched-extender --config (default: defaults)\n"
    "  --pipeline-rules  also prioritize a pipeline step and an ML function with the pipeline\n"
    "                    rules on vs off (issue 6)\n"
    "  --out DIR         write bench_service.json and bench_service.csv there\n"
    "  --tls             only: 5,000 names over plain HTTP vs mutual TLS (issue 8)\n";

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
  auto start = Clock::now();
  while (Clock::now() - start < std::chrono::duration<double>(seconds) ||
         r.samples.size() < min_requests) {
    auto t0 = Clock::now();
    auto res = post(path, body);
    auto t1 = Clock::now();
    if (!res || res->status != 200) ++r.errors;
    r.samples.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
  }
  r.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  Summarize(&r);
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
  FillModel(engine, n, extender::SystemClockMs());
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

  const std::string body = NamesBody(PodKind::kGpu, n);
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
  bool seconds_given = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](const char* name, std::string* v) {
      std::string eq = std::string(name) + "=";
      if (a == name && i + 1 < argc) {
        *v = argv[++i];
        return true;
      }
      if (a.rfind(eq, 0) == 0) {
        *v = a.substr(eq.size());
        return true;
      }
      return false;
    };
    std::string v;
    if (a == "--help" || a == "-h") {
      std::cout << kUsage;
      return 0;
    } else if (a == "--quick") {
      cfg.quick = true;
    } else if (a == "--pipeline-rules") {
      cfg.pipeline_rules = true;
    } else if (a == "--tls") {
      cfg.tls = true;
    } else if (value("--out", &cfg.out) || value("--config", &cfg.config_file)) {
    } else if (value("--seconds", &v)) {
      char* end = nullptr;
      cfg.seconds = std::strtod(v.c_str(), &end);
      if (v.empty() || *end != '\0' || !(cfg.seconds > 0 && cfg.seconds <= 600)) {
        std::cerr << "mlsched-bench-service: --seconds: '" << v << "' is not in (0, 600]\n";
        return 2;
      }
      seconds_given = true;
    } else if (value("--sizes", &v)) {
      cfg.sizes = ParseSizes(v);
      if (cfg.sizes.empty()) {
        std::cerr << "mlsched-bench-service: --sizes: '" << v
                  << "' is not a comma-separated list of node counts in [1, 100000]\n";
        return 2;
      }
    } else {
      std::cerr << "mlsched-bench-service: unknown flag " << a << "\n" << kUsage;
      return 2;
    }
  }
  if (cfg.quick && !seconds_given) cfg.seconds = 0.2;
  if (cfg.tls) return RunTlsMode(cfg);

  policy::Options options;
  if (!cfg.config_file.empty()) {
    std::vector<std::string> errors = extender::LoadPolicyOptions(cfg.config_file, &options);
    if (!errors.empty()) {
      for (const std::string& e : errors) std::cerr << "mlsched-bench-service: " << e << "\n";
      return 2;
    }
  }
  // Pipeline rules off: the same options without the two rules issue 6 adds.
  policy::Options off = options;
  off.weights.pipeline_locality = 0;
  off.weights.function_warm = 0;
  if (cfg.pipeline_rules && options.weights.pipeline_locality == 0 &&
      options.weights.function_warm == 0) {
    std::cerr << "mlsched-bench-service: warning: the options already turn the pipeline rules "
                 "off; on and off are the same\n";
  }
  if (!cfg.out.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(cfg.out, ec);
    if (ec) {
      std::cerr << "mlsched-bench-service: cannot create " << cfg.out << ": " << ec.message()
                << "\n";
      return 1;
    }
  }

  const std::string command = CommandLine(argc, argv);
  const std::string machine = MachineLine();
  const std::string load_start = LoadAverage();
  std::printf("command: %s\nmachine: %s\nload average at start: %s\npolicy options: %s\n\n",
              command.c_str(), machine.c_str(), load_start.c_str(),
              cfg.config_file.empty() ? "defaults" : cfg.config_file.c_str());

  std::vector<Result> results;
  std::vector<DecodeResult> decodes;
  std::vector<Breakdown> breakdown;
  PrintHeader();
  for (int n : cfg.sizes) {
    Instance served = StartInstance(options, n);
    breakdown.push_back(MeasureInProcess(*served.engine, n, PodKind::kGpu, "conf"));
    const Breakdown& b = breakdown.back();
    std::printf("# %d nodes, names mode, in process (median us per call): decode %.1f (a repeated "
                "list: %.1f), Engine::Filter %.1f, encode filter's answer %.1f, "
                "Engine::Prioritize %.1f\n",
                n, b.decode_us, b.decode_cached_us, b.filter_us, b.encode_us, b.prioritize_us);
    const size_t min_names = cfg.quick ? 3 : 20;
    for (const std::string mode : {"names", "full"}) {
      const std::string body =
          mode == "names" ? NamesBody(PodKind::kGpu, n) : FullBody(PodKind::kGpu, n);
      decodes.push_back(MeasureDecode(n, mode, body, cfg.quick ? 0.1 : 0.5));
      // Quick mode: full bodies over HTTP only at the smallest size (they cost seconds each).
      if (cfg.quick && mode == "full" && n > cfg.sizes.front()) continue;
      const size_t min_requests = mode == "full" && n >= 1000 && !cfg.quick ? 5 : min_names;
      for (int c : cfg.concurrency) {
        CaseRows rows{n, mode, "gpu", &results};
        for (const std::string verb : {"baseline", "filter", "prioritize"}) {
          rows.Add(Run(served.server->port(), verb == "baseline" ? "/empty" : "/" + verb, {body},
                       c, cfg.seconds, min_requests, nullptr),
                   verb);
        }
        if (mode == "names") {
          // Both verbs again with three lists that differ in order (the same nodes) in turn:
          // the server's node-names cache keeps two, so every call reads its names afresh.
          // Replaying one body, as the rows above do, is what kube-scheduler's repeated lists
          // look like; these rows are the cost of a list seen for the first time.
          std::vector<std::string> rotated;
          for (int k = 1; k <= 3; ++k) rotated.push_back(NamesBody(PodKind::kGpu, n, k));
          for (const std::string verb : {"filter", "prioritize"}) {
            rows.Add(Run(served.server->port(), "/" + verb, rotated, c, cfg.seconds,
                         min_requests, nullptr),
                     verb + "-new");
          }
          // Filter for a pod that fits nowhere: every node fails, with a reason each, in a
          // map Go writes sorted by name.
          rows.Add(Run(served.server->port(), "/filter", {NamesBody(PodKind::kNoFit, n)}, c,
                       cfg.seconds, min_requests, nullptr),
                   "filter-nofit");
          // The cost of sending prioritize's answer alone: the empty handler answering as many
          // bytes (every node is in a priority list, so this is the floor under prioritize).
          std::string answer;
          LoopbackClient probe(served.server->port());
          CHECK_EQ(probe.Post("/prioritize", body, &answer), 200);
          rows.Add(Run(served.server->port(),
                       "/empty?answer_bytes=" + std::to_string(answer.size()), {body}, c,
                       cfg.seconds, min_requests, nullptr),
                   "answer");
        }
      }
    }
    // Bind: the same small body in both modes; distinct pending pods, cycled.
    std::vector<std::string> binds;
    for (int k = 0; k < kPendingPods; ++k) binds.push_back(BindBody(k, n));
    for (int c : cfg.concurrency) {
      CaseRows rows{n, "bind", "pending", &results};
      for (const std::string verb : {"baseline", "bind"}) {
        rows.Add(Run(served.server->port(), verb == "baseline" ? "/empty" : "/bind", binds, c,
                     cfg.seconds, min_names, verb == "bind" ? BindOk : nullptr),
                 verb);
      }
    }

    if (cfg.pipeline_rules) {
      // Issue 6: the same bodies against rules on and rules off, alternating in rounds so
      // that the shared machine's load falls on both alike; concurrency 1, names mode.
      Instance rules_off = StartInstance(off, n);
      const bool both_on = options.weights.pipeline_locality > 0 && options.weights.function_warm > 0;
      if (std::string bad = both_on ? CheckHistory(*served.engine, n, extender::SystemClockMs()) : "";
          !bad.empty()) {
        std::cerr << "mlsched-bench-service: the pipeline history does not reach the rules: "
                  << bad << "\n";
        return 1;
      }
      for (PodKind kind : {PodKind::kStep, PodKind::kFunction}) {
        ComparePrioritize(*served.engine, *rules_off.engine, n, kind, cfg.quick, &breakdown);
        const std::string body = NamesBody(kind, n);
        const int rounds = cfg.quick ? 1 : 4;
        Result pooled[2];
        for (int round = 0; round < rounds; ++round) {
          for (int which = 0; which < 2; ++which) {
            Instance& in = which == 0 ? served : rules_off;
            Result r = Run(in.server->port(), "/prioritize", {body}, 1, cfg.seconds / rounds,
                           min_names, nullptr);
            Result& p = pooled[which];
            p.samples.insert(p.samples.end(), r.samples.begin(), r.samples.end());
            p.cpu_us += r.cpu_us * static_cast<double>(r.samples.size());  // a sum until below
            p.seconds += r.seconds;
            p.errors += r.errors;
            p.body_bytes = r.body_bytes;
          }
        }
        for (int which = 0; which < 2; ++which) {
          Result& p = pooled[which];
          p.nodes = n;
          p.mode = "names";
          p.pod = PodKindName(kind);
          p.rules = which == 0 ? "on" : "off";
          p.verb = "prioritize";
          p.concurrency = 1;
          Summarize(&p);
          p.cpu_us = p.requests ? p.cpu_us / static_cast<double>(p.requests) : 0;
        }
        // The ratio column of these rows: against rules off (off's own row shows 1.00).
        pooled[0].baseline_p50_us = pooled[1].p50_us;
        pooled[1].baseline_p50_us = pooled[1].p50_us;
        pooled[0].baseline_cpu_us = pooled[1].cpu_us;
        pooled[1].baseline_cpu_us = pooled[1].cpu_us;
        PrintRow(pooled[0]);
        PrintRow(pooled[1]);
        results.push_back(std::move(pooled[0]));
        results.push_back(std::move(pooled[1]));
      }
      rules_off.server->Shutdown();
    }
    served.server->Shutdown();
  }
  const std::string load_end = LoadAverage();

  std::printf("\n%-6s %-6s %12s %10s %12s\n", "nodes", "mode", "body_bytes", "MB/s", "us/body");
  for (const auto& d : decodes) {
    std::printf("%-6d %-6s %12zu %10.0f %12.1f\n", d.nodes, d.mode.c_str(), d.body_bytes,
                d.mb_per_s, d.us_per_body);
  }
  if (cfg.pipeline_rules) {
    std::printf("\nin process, names mode (CPU us per call, median of alternating rounds): "
                "Engine::Prioritize with pipeline rules on vs off\n%-6s %-9s %10s %10s %7s\n",
                "nodes", "pod", "on", "off", "ratio");
    for (const Breakdown& on : breakdown) {
      if (on.rules != "on") continue;
      for (const Breakdown& of : breakdown) {
        if (of.rules == "off" && of.nodes == on.nodes && of.pod == on.pod) {
          std::printf("%-6d %-9s %10.1f %10.1f %7.2f\n", on.nodes, on.pod.c_str(),
                      on.prioritize_us, of.prioritize_us, on.prioritize_us / of.prioritize_us);
        }
      }
    }
  }

  // The targets, as ratios measured in this run.
  auto find = [&](int n, const std::string& mode, const std::string& pod, const std::string& rules,
                  const std::string& verb, int c) -> const Result* {
    for (const auto& r : results) {
      if (r.nodes == n && r.mode == mode && r.pod == pod && r.rules == rules && r.verb == verb &&
          r.concurrency == c) {
        return &r;
      }
    }
    return nullptr;
  };
  std::printf("\ntargets:\n");
  const int largest = *std::max_element(cfg.sizes.begin(), cfg.sizes.end());
  for (const std::string verb : {"filter", "prioritize"}) {
    const Result* r = find(largest, "names", "gpu", "conf", verb, 1);
    if (r && r->baseline_p50_us > 0) {
      double ratio = r->p50_us / r->baseline_p50_us;
      std::printf("  %s, %d node names, concurrency 1: p50 %.1f us = %.2fx the baseline's %.1f us "
                  "(target <= 2x): %s\n",
                  verb.c_str(), largest, r->p50_us, ratio, r->baseline_p50_us,
                  ratio <= 2.0 ? "met" : "MISSED");
    }
  }
  for (const auto& d : decodes) {
    if (d.nodes == largest && d.mode == "full") {
      std::printf("  full %d-node body decoded at %.0f MB/s (target >= 300): %s\n", largest,
                  d.mb_per_s, d.mb_per_s >= 300 ? "met" : "MISSED");
    }
  }
  for (int n : cfg.sizes) {
    for (const std::string pod : {"step", "function"}) {
      const Result* on = find(n, "names", pod, "on", "prioritize", 1);
      const Result* of = find(n, "names", pod, "off", "prioritize", 1);
      if (!on || !of || of->p50_us <= 0) continue;
      double ratio = on->p50_us / of->p50_us;
      std::printf("  prioritize, %s pod, %d node names, concurrency 1: pipeline rules on p50 %.1f us "
                  "= %.2fx off's %.1f us (target <= 1.5x): %s\n",
                  pod.c_str(), n, on->p50_us, ratio, of->p50_us, ratio <= 1.5 ? "met" : "MISSED");
    }
  }
  std::printf("load average at end: %s\n", load_end.c_str());

  if (!cfg.out.empty()) {
    const std::string json_path = cfg.out + "/bench_service.json";
    const std::string csv_path = cfg.out + "/bench_service.csv";
    std::ofstream f(json_path);
    std::ofstream csv(csv_path);
    if (!f || !csv) {
      std::cerr << "mlsched-bench-service: cannot write " << json_path << " or " << csv_path
                << "\n";
      return 1;
    }
    // The strings written here come from this program (no quoting needed) except the command
    // line and the machine, which may hold anything: escape them.
    auto quote = [](const std::string& s) {
      std::string o = "\"";
      for (char ch : s) {
        if (ch == '"' || ch == '\\') o.push_back('\\');
        if (static_cast<unsigned char>(ch) < 0x20) continue;
        o.push_back(ch);
      }
      return o + "\"";
    };
    f << "{\"command\":" << quote(command) << ",\"machine\":" << quote(machine)
      << ",\"load_average_start\":" << quote(load_start) << ",\"load_average_end\":"
      << quote(load_end) << ",\"policy_options\":" << quote(cfg.config_file)
      << ",\"quick\":" << (cfg.quick ? "true" : "false") << ",\"http\":[";
    csv << "nodes,mode,pod,rules,verb,concurrency,body_bytes,requests,errors,seconds,rps,p50_us,"
           "p99_us,p999_us,baseline_p50_us,vs_baseline,cpu_us,baseline_cpu_us\n";
    for (size_t i = 0; i < results.size(); ++i) {
      const auto& r = results[i];
      double ratio = r.baseline_p50_us > 0 ? r.p50_us / r.baseline_p50_us : 0;
      f << (i ? "," : "") << "{\"nodes\":" << r.nodes << ",\"mode\":\"" << r.mode
        << "\",\"pod\":\"" << r.pod << "\",\"rules\":\"" << r.rules << "\",\"verb\":\"" << r.verb
        << "\",\"concurrency\":" << r.concurrency << ",\"body_bytes\":" << r.body_bytes
        << ",\"requests\":" << r.requests << ",\"errors\":" << r.errors
        << ",\"seconds\":" << r.seconds << ",\"rps\":" << r.rps << ",\"p50_us\":" << r.p50_us
        << ",\"p99_us\":" << r.p99_us << ",\"p999_us\":" << r.p999_us
        << ",\"baseline_p50_us\":" << r.baseline_p50_us << ",\"cpu_us\":" << r.cpu_us
        << ",\"baseline_cpu_us\":" << r.baseline_cpu_us << "}";
      csv << r.nodes << ',' << r.mode << ',' << r.pod << ',' << r.rules << ',' << r.verb << ','
          << r.concurrency << ',' << r.body_bytes << ',' << r.requests << ',' << r.errors << ','
          << r.seconds << ',' << r.rps << ',' << r.p50_us << ',' << r.p99_us << ',' << r.p999_us
          << ',' << r.baseline_p50_us << ',' << ratio << ',' << r.cpu_us << ','
          << r.baseline_cpu_us << '\n';
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
      f << (i ? "," : "") << "{\"nodes\":" << b.nodes << ",\"pod\":\"" << b.pod
        << "\",\"rules\":\"" << b.rules << "\",\"decode\":" << b.decode_us
        << ",\"decode_cached\":" << b.decode_cached_us
        << ",\"engine_filter\":" << b.filter_us << ",\"encode_filter\":" << b.encode_us
        << ",\"engine_prioritize\":" << b.prioritize_us << "}";
    }
    f << "]}\n";
    std::printf("\nraw numbers: %s, %s\n", json_path.c_str(), csv_path.c_str());
  }
  size_t errors = 0;
  for (const auto& r : results) errors += r.errors;
  if (errors) std::cerr << "mlsched-bench-service: " << errors << " requests failed\n";
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
