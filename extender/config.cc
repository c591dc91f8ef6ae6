#include "extender/config.h"

#include <arpa/inet.h>
#include <yaml-cpp/yaml.h>

#include <charconv>
#include <cmath>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>

namespace mlsched::extender {
namespace {

bool ParseInt64(std::string_view s, int64_t* out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

// Byte sizes: a plain integer or a Kubernetes-style suffix (Ki, Mi, Gi).
bool ParseBytes(std::string_view s, int64_t* out) {
  int64_t mult = 1;
  for (auto [suffix, m] : {std::pair{"Ki", 1ll << 10}, {"Mi", 1ll << 20}, {"Gi", 1ll << 30}}) {
    if (s.size() > 2 && s.substr(s.size() - 2) == suffix) {
      mult = m;
      s.remove_suffix(2);
      break;
    }
  }
  int64_t v = 0;
  if (!ParseInt64(s, &v) || v < 0 || v > (int64_t{1} << 40) / mult) return false;
  *out = v * mult;
  return true;
}

}  // namespace

std::string FlagsUsage() {
  return R"(Usage: mlsched-extender [flags]

mlsched: a kube-scheduler extender for ML workloads (gangs, topology, pipelines).

Flags:
  --kubeconfig FILE        kubeconfig to reach the API server (default: in-cluster config)
  --master URL             API server URL (overrides the kubeconfig's server)
  --cluster-file FILE      serve an embedded cluster from a Kubernetes List (JSON or YAML)
                           instead of the API server; binds are recorded in the model
  --bind-address ADDR      address to serve the extender on (default 127.0.0.1)
  --port N                 port to serve on (default 8888; 0 picks a free port)
  --url-prefix PATH        serve the verbs under PATH, e.g. /scheduler (default: /)
  --config FILE            policy options (YAML)
  --debug-port N           serve the cluster view page (/) and the JSON explain views on
                           port N (default: off)
  --debug-bind-address A   address of the cluster view and explain views (default 127.0.0.1)
  --health-port N          serve only /healthz, /livez and /readyz, plain HTTP, on port N
                           (default: off); for kubelet probes when callers need TLS
  --health-bind-address A  address of the probe port (default 0.0.0.0)
  --shutdown-grace D       how long SIGTERM waits for requests in flight (default 10s)
  -v N                     log verbosity (glog, to stderr)
  --help                   this text

Security:
  --tls-cert-file FILE     serve HTTPS with this certificate (PEM, chain allowed); re-read
                           when it changes (cert-manager rotation), no restart needed
  --tls-private-key-file F the certificate's private key (PEM)
  --client-ca-file FILE    mutual TLS: refuse, at the handshake, callers without a
                           certificate signed by a CA in FILE (re-read when it changes)
  --insecure-serving       allow plain HTTP on a non-loopback --bind-address or
                           --debug-bind-address (logged as a warning). Without TLS, plain HTTP
                           is served only on loopback.
  TLS is 1.2 or 1.3 only, ECDHE with AES-GCM or ChaCha20-Poly1305.

Limits:
  --max-body-bytes N       largest request body accepted (default 64Mi; Ki/Mi/Gi suffixes)
  --max-header-bytes N     largest request header block (default 64Ki); larger: 431
  --max-connections N      open connections at most (default 1024); more are closed at once
  --header-timeout D       time for a request's headers to arrive, TLS handshake included
                           (default 10s); slower clients are disconnected
  --body-timeout D         time for a request's body to arrive (default 30s)
  --idle-timeout D         a keep-alive connection with no request is closed after D
                           (default 2m: longer than Go's 90s idle timeout, so that the
                           scheduler's client closes first and never posts on a dying
                           connection)
)";
}

bool ParseDurationMs(std::string_view s, int64_t* ms) {
  if (s.empty()) return false;
  if (s == "0") {
    *ms = 0;
    return true;
  }
  double total = 0;
  size_t i = 0;
  while (i < s.size()) {
    size_t start = i;
    while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.')) ++i;
    if (i == start) return false;
    double value = 0;
    std::string num(s.substr(start, i - start));
    try {
      size_t used = 0;
      value = std::stod(num, &used);
      if (used != num.size()) return false;
    } catch (...) {
      return false;
    }
    size_t ustart = i;
    while (i < s.size() && std::isalpha(static_cast<unsigned char>(s[i]))) ++i;
    std::string_view unit = s.substr(ustart, i - ustart);
    double scale;
    if (unit == "ms") scale = 1;
    else if (unit == "s") scale = 1e3;
    else if (unit == "m") scale = 60e3;
    else if (unit == "h") scale = 3600e3;
    else if (unit == "us" || unit == "\xC2\xB5s") scale = 1e-3;
    else if (unit == "ns") scale = 1e-6;
    else return false;
    total += value * scale;
  }
  if (!(total >= 0) || total > 9e15) return false;
  *ms = static_cast<int64_t>(std::llround(total));
  return true;
}

std::vector<std::string> ParseFlags(int argc, const char* const* argv, Flags* out) {
  std::vector<std::string> errors;
  // name -> setter returning an error ("" when fine).
  using Setter = std::function<std::string(const std::string&)>;
  auto int_in = [](int* dst, int lo, int hi) {
    return [=](const std::string& v) -> std::string {
      int64_t n = 0;
      if (!ParseInt64(v, &n) || n < lo || n > hi) {
        return "wants an integer in " + std::to_string(lo) + ".." + std::to_string(hi) +
               ", got \"" + v + "\"";
      }
      *dst = static_cast<int>(n);
      return "";
    };
  };
  auto str = [](std::string* dst) {
    return [=](const std::string& v) -> std::string {
      *dst = v;
      return "";
    };
  };
  std::map<std::string, Setter> flags = {
      {"kubeconfig", str(&out->kubeconfig)},
      {"master", str(&out->master)},
      {"bind-address", str(&out->bind_address)},
      {"port", int_in(&out->port, 0, 65535)},
      {"url-prefix", str(&out->url_prefix)},
      {"v", int_in(&out->verbosity, 0, 10)},
      {"config", str(&out->config)},
      {"cluster-file", str(&out->cluster_file)},
      {"debug-port",
       [&](const std::string& v) -> std::string {
         int p = 0;
         std::string e = int_in(&p, 0, 65535)(v);
         if (e.empty()) out->debug_port = p;
         return e;
       }},
      {"max-body-bytes",
       [&](const std::string& v) -> std::string {
         int64_t n = 0;
         if (!ParseBytes(v, &n) || n < 1024) {
           return "wants a byte count of at least 1024 (suffixes Ki, Mi, Gi), got \"" + v + "\"";
         }
         out->max_body_bytes = n;
         return "";
       }},
      {"shutdown-grace",
       [&](const std::string& v) -> std::string {
         int64_t ms = 0;
         if (!ParseDurationMs(v, &ms)) return "wants a duration such as 10s, got \"" + v + "\"";
         out->shutdown_grace_ms = ms;
         return "";
       }},
  };
  auto duration_in = [](int64_t* dst, int64_t lo_ms) {
    return [=](const std::string& v) -> std::string {
      int64_t ms = 0;
      if (!ParseDurationMs(v, &ms) || ms < lo_ms) {
        return "wants a duration of at least " + std::to_string(lo_ms) + "ms, got \"" + v + "\"";
      }
      *dst = ms;
      return "";
    };
  };
  auto bytes_in = [](int64_t* dst, int64_t lo) {
    return [=](const std::string& v) -> std::string {
      int64_t n = 0;
      if (!ParseBytes(v, &n) || n < lo) {
        return "wants a byte count of at least " + std::to_string(lo) +
               " (suffixes Ki, Mi, Gi), got \"" + v + "\"";
      }
      *dst = n;
      return "";
    };
  };
  flags["debug-bind-address"] = str(&out->debug_bind_address);
  flags["health-bind-address"] = str(&out->health_bind_address);
  flags["health-port"] = [&](const std::string& v) -> std::string {
    int p = 0;
    std::string e = int_in(&p, 0, 65535)(v);
    if (e.empty()) out->health_port = p;
    return e;
  };
  flags["tls-cert-file"] = str(&out->tls_cert_file);
  flags["tls-private-key-file"] = str(&out->tls_private_key_file);
  flags["client-ca-file"] = str(&out->client_ca_file);
  flags["max-header-bytes"] = bytes_in(&out->max_header_bytes, 1024);
  flags["max-connections"] = int_in(&out->max_connections, 1, 1'000'000);
  flags["header-timeout"] = duration_in(&out->header_timeout_ms, 100);
  flags["body-timeout"] = duration_in(&out->body_timeout_ms, 100);
  flags["idle-timeout"] = duration_in(&out->idle_timeout_ms, 100);
  // Booleans: `--name` alone, or `--name=true|false`.
  const std::map<std::string, bool*> bools = {{"insecure-serving", &out->insecure_serving}};

  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.size() < 2 || arg[0] != '-') {
      errors.push_back("unexpected argument \"" + arg + "\" (flags start with --)");
      continue;
    }
    std::string body = arg.substr(arg[1] == '-' ? 2 : 1);
    std::string name = body, value;
    bool has_value = false;
    if (auto eq = body.find('='); eq != std::string::npos) {
      name = body.substr(0, eq);
      value = body.substr(eq + 1);
      has_value = true;
    }
    if (name == "help" || name == "h") {
      out->help = true;
      continue;
    }
    if (arg[1] != '-' && name != "v") {
      errors.push_back("unknown flag \"" + arg + "\" (long flags start with --)");
      continue;
    }
    if (auto b = bools.find(name); b != bools.end() && arg[1] == '-') {
      if (!has_value || value == "true") {
        *b->second = true;
      } else if (value == "false") {
        *b->second = false;
      } else {
        errors.push_back("flag --" + name + " wants true or false, got \"" + value + "\"");
      }
      continue;
    }
    auto it = flags.find(name);
    if (it == flags.end()) {
      errors.push_back("unknown flag --" + name);
      continue;
    }
    if (!has_value) {
      if (i + 1 >= argc) {
        errors.push_back("flag --" + name + " needs a value");
        continue;
      }
      value = argv[++i];
    }
    std::string e = it->second(value);
    if (!e.empty()) errors.push_back("flag --" + name + " " + e);
  }
  if (!out->url_prefix.empty()) {
    if (out->url_prefix[0] != '/') out->url_prefix.insert(0, "/");
    while (!out->url_prefix.empty() && out->url_prefix.back() == '/') out->url_prefix.pop_back();
  }
  if (!out->cluster_file.empty() && (!out->kubeconfig.empty() || !out->master.empty())) {
    errors.push_back(
        "--cluster-file serves an embedded cluster and cannot be combined with --kubeconfig or "
        "--master");
  }
  if (out->bind_address.empty()) errors.push_back("flag --bind-address must not be empty");
  if (out->debug_port && *out->debug_port != 0 && *out->debug_port == out->port) {
    errors.push_back("--debug-port must differ from --port");
  }
  if (out->health_port && *out->health_port != 0 &&
      (*out->health_port == out->port || (out->debug_port && *out->health_port == *out->debug_port))) {
    errors.push_back("--health-port must differ from --port and --debug-port");
  }
  if (out->tls_cert_file.empty() != out->tls_private_key_file.empty()) {
    errors.push_back("--tls-cert-file and --tls-private-key-file go together");
  }
  if (!out->client_ca_file.empty() && out->tls_cert_file.empty()) {
    errors.push_back("--client-ca-file needs --tls-cert-file and --tls-private-key-file");
  }
  return errors;
}

bool IsLoopbackAddress(std::string_view address) {
  if (address == "localhost") return true;
  std::string a(address);
  if (a.size() > 2 && a.front() == '[' && a.back() == ']') a = a.substr(1, a.size() - 2);
  in_addr v4;
  if (inet_pton(AF_INET, a.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6;
  if (inet_pton(AF_INET6, a.c_str(), &v6) == 1) return IN6_IS_ADDR_LOOPBACK(&v6);
  return false;  // a host name other than localhost may resolve anywhere
}

std::string CheckServingSecurity(const Flags& flags, std::vector<std::string>* warnings) {
  std::vector<std::string> exposed;
  if (flags.tls_cert_file.empty() && !IsLoopbackAddress(flags.bind_address)) {
    exposed.push_back("the extender on --bind-address=" + flags.bind_address);
  }
  if (flags.debug_port && !IsLoopbackAddress(flags.debug_bind_address)) {
    exposed.push_back("the explain view on --debug-bind-address=" + flags.debug_bind_address);
  }
  if (exposed.empty()) return "";
  std::string what;
  for (const auto& e : exposed) what += (what.empty() ? "" : " and ") + e;
  if (!flags.insecure_serving) {
    return "refusing to serve plain HTTP beyond loopback (" + what +
           "): anyone who can reach the address could call it. Serve TLS "
           "(--tls-cert-file, --tls-private-key-file, --client-ca-file), bind to 127.0.0.1, or "
           "pass --insecure-serving to accept the risk";
  }
  warnings->push_back("--insecure-serving: serving plain HTTP beyond loopback (" + what +
                      "); any client that can reach it can call it without authentication");
  return "";
}

std::vector<std::string> ParsePolicyOptions(std::string_view yaml, std::string_view source,
                                            policy::Options* out) {
  std::vector<std::string> errors;
  const std::string src(source);
  auto err = [&](const std::string& where, const std::string& what) {
    errors.push_back(src + ": " + where + ": " + what);
  };
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    errors.push_back(src + ": not valid YAML: " + e.what());
    return errors;
  }
  if (root.IsNull()) return policy::Validate(*out);  // an empty file: all defaults
  if (!root.IsMap()) {
    errors.push_back(src + ": want a mapping of option names to values");
    return errors;
  }

  auto scalar = [&](const YAML::Node& n, const std::string& key, std::string* v) {
    if (!n.IsScalar()) {
      err(key, "want a single value");
      return false;
    }
    *v = n.Scalar();
    return true;
  };
  auto get_string = [&](const YAML::Node& n, const std::string& key, std::string* dst) {
    std::string v;
    if (scalar(n, key, &v)) *dst = v;
  };
  auto get_bool = [&](const YAML::Node& n, const std::string& key, bool* dst) {
    std::string v;
    if (!scalar(n, key, &v)) return;
    if (v == "true" || v == "True" || v == "TRUE") *dst = true;
    else if (v == "false" || v == "False" || v == "FALSE") *dst = false;
    else err(key, "want true or false, got \"" + v + "\"");
  };
  auto get_int = [&](const YAML::Node& n, const std::string& key, int* dst) {
    std::string v;
    if (!scalar(n, key, &v)) return;
    int64_t x = 0;
    if (!ParseInt64(v, &x) || x < INT32_MIN || x > INT32_MAX) {
      err(key, "want an integer, got \"" + v + "\"");
      return;
    }
    *dst = static_cast<int>(x);
  };
  auto get_duration = [&](const YAML::Node& n, const std::string& key, int64_t* dst) {
    std::string v;
    if (!scalar(n, key, &v)) return;
    int64_t ms = 0;
    if (!ParseDurationMs(v, &ms)) {
      err(key, "want a duration such as 20s, 2m or 500ms, got \"" + v + "\"");
      return;
    }
    *dst = ms;
  };
  auto get_list = [&](const YAML::Node& n, const std::string& key, std::vector<std::string>* dst) {
    if (n.IsNull()) {
      dst->clear();
      return;
    }
    if (!n.IsSequence()) {
      err(key, "want a list of strings");
      return;
    }
    std::vector<std::string> v;
    for (size_t i = 0; i < n.size(); ++i) {
      if (!n[i].IsScalar()) {
        err(key + "[" + std::to_string(i) + "]", "want a string");
        return;
      }
      v.push_back(n[i].Scalar());
    }
    *dst = std::move(v);
  };

  policy::ScoreWeights& w = out->weights;
  const std::map<std::string, std::function<void(const YAML::Node&, const std::string&)>> weights = {
      {"leastAllocated", [&](auto& n, auto& k) { get_int(n, k, &w.least_allocated); }},
      {"gangPlan", [&](auto& n, auto& k) { get_int(n, k, &w.gang_plan); }},
      {"topology", [&](auto& n, auto& k) { get_int(n, k, &w.topology); }},
      {"gpuFit", [&](auto& n, auto& k) { get_int(n, k, &w.gpu_fit); }},
      {"gpuFragmentation", [&](auto& n, auto& k) { get_int(n, k, &w.gpu_fragmentation); }},
      {"cpuOffGpu", [&](auto& n, auto& k) { get_int(n, k, &w.cpu_off_gpu); }},
      {"imageLocality", [&](auto& n, auto& k) { get_int(n, k, &w.image_locality); }},
      {"pipelineLocality", [&](auto& n, auto& k) { get_int(n, k, &w.pipeline_locality); }},
      {"functionWarm", [&](auto& n, auto& k) { get_int(n, k, &w.function_warm); }},
  };
  const std::map<std::string, std::function<void(const YAML::Node&, const std::string&)>> fields = {
      {"apiVersion",
       [&](auto& n, auto& k) {
         std::string v;
         if (scalar(n, k, &v) && v != "mlsched.io/v1alpha1") {
           err(k, "want mlsched.io/v1alpha1, got \"" + v + "\"");
         }
       }},
      {"kind",
       [&](auto& n, auto& k) {
         std::string v;
         if (scalar(n, k, &v) && v != "PolicyOptions") err(k, "want PolicyOptions, got \"" + v + "\"");
       }},
      {"topologyLevels", [&](auto& n, auto& k) { get_list(n, k, &out->topology_levels); }},
      {"nvlinkLabel", [&](auto& n, auto& k) { get_string(n, k, &out->nvlink_label); }},
      {"gpuResources", [&](auto& n, auto& k) { get_list(n, k, &out->gpu_resources); }},
      {"barrierTimeout", [&](auto& n, auto& k) { get_duration(n, k, &out->barrier_timeout_ms); }},
      {"gangTimeout", [&](auto& n, auto& k) { get_duration(n, k, &out->gang_timeout_ms); }},
      {"gpuSpread", [&](auto& n, auto& k) { get_bool(n, k, &out->gpu_spread); }},
      {"cpuOffGpuFilter", [&](auto& n, auto& k) { get_bool(n, k, &out->cpu_off_gpu_filter); }},
      {"fragmentationShapes",
       [&](auto& n, auto& k) { get_int(n, k, &out->fragmentation_shapes); }},
      {"fragmentationHalfLife",
       [&](auto& n, auto& k) { get_int(n, k, &out->fragmentation_half_life); }},
      {"pipelineTTL", [&](auto& n, auto& k) { get_duration(n, k, &out->pipeline_ttl_ms); }},
      {"dataLocalityRackLevel",
       [&](auto& n, auto& k) { get_string(n, k, &out->data_locality_rack_level); }},
      {"dataLocalityZoneLevel",
       [&](auto& n, auto& k) { get_string(n, k, &out->data_locality_zone_level); }},
      {"functionWarm", [&](auto& n, auto& k) { get_duration(n, k, &out->function_warm_ms); }},
      {"schedulerNames", [&](auto& n, auto& k) { get_list(n, k, &out->scheduler_names); }},
      {"weights",
       [&](auto& n, auto& k) {
         if (!n.IsMap()) {
           err(k, "want a mapping of rule names to weights");
           return;
         }
         for (const auto& kv : n) {
           std::string name = kv.first.Scalar();
           auto it = weights.find(name);
           if (it == weights.end()) {
             err(k + "." + name, "unknown score rule (known: leastAllocated, gangPlan, topology, "
                                 "gpuFit, gpuFragmentation, cpuOffGpu, imageLocality, "
                                 "pipelineLocality, functionWarm)");
             continue;
           }
           it->second(kv.second, k + "." + name);
         }
       }},
  };
  for (const auto& kv : root) {
    std::string key = kv.first.IsScalar() ? kv.first.Scalar() : "?";
    auto it = fields.find(key);
    if (it == fields.end()) {
      err(key, "unknown option");
      continue;
    }
    it->second(kv.second, key);
  }
  for (const auto& e : policy::Validate(*out)) errors.push_back(src + ": " + e);
  return errors;
}

std::vector<std::string> LoadPolicyOptions(const std::string& path, policy::Options* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {"--config " + path + ": cannot be read"};
  std::stringstream ss;
  ss << in.rdbuf();
  return ParsePolicyOptions(ss.str(), path, out);
}

}  // namespace mlsched::extender
