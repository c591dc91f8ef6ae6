// Flags and the policy options file: every field, every error listed.

#include "extender/config.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace mlsched::extender {
namespace {

bool Contains(const std::vector<std::string>& errors, const std::string& what) {
  for (const auto& e : errors) {
    if (e.find(what) != std::string::npos) return true;
  }
  return false;
}

std::vector<std::string> Parse(std::vector<const char*> args, Flags* f) {
  args.insert(args.begin(), "mlsched-extender");
  return ParseFlags(static_cast<int>(args.size()), args.data(), f);
}

TEST_CASE("flags in the Kubernetes style") {
  Flags f;
  auto errors = Parse({"--kubeconfig=/k", "--master", "https://api:6443", "--bind-address=0.0.0.0",
                       "--port", "9999", "--url-prefix=scheduler/", "-v=3", "--config", "c.yaml",
                       "--debug-port=9998", "--max-body-bytes=1Mi", "--shutdown-grace=2500ms"},
                      &f);
  CHECK(errors.empty());
  CHECK(f.kubeconfig == "/k");
  CHECK(f.master == "https://api:6443");
  CHECK(f.bind_address == "0.0.0.0");
  CHECK(f.port == 9999);
  CHECK(f.url_prefix == "/scheduler");
  CHECK(f.verbosity == 3);
  CHECK(f.config == "c.yaml");
  CHECK(f.debug_port == 9998);
  CHECK(f.max_body_bytes == 1 << 20);
  CHECK(f.shutdown_grace_ms == 2500);

  Flags d;
  CHECK(Parse({}, &d).empty());
  CHECK(d.bind_address == "127.0.0.1");
  CHECK(d.port == 8888);
  CHECK(d.max_body_bytes == 64 << 20);
  CHECK_FALSE(d.debug_port.has_value());
  Flags v;
  CHECK(Parse({"-v", "2"}, &v).empty());
  CHECK(v.verbosity == 2);
}

TEST_CASE("every flag error is listed") {
  Flags f;
  auto errors = Parse({"--bogus", "--port=70000", "--max-body-bytes=12", "--shutdown-grace=soon",
                       "--cluster-file=x.yaml", "--master=http://a", "stray", "-x", "--config"},
                      &f);
  CHECK(Contains(errors, "unknown flag --bogus"));
  CHECK(Contains(errors, "--port wants an integer in 0..65535"));
  CHECK(Contains(errors, "--max-body-bytes"));
  CHECK(Contains(errors, "--shutdown-grace wants a duration"));
  CHECK(Contains(errors, "cannot be combined"));
  CHECK(Contains(errors, "unexpected argument \"stray\""));
  CHECK(Contains(errors, "unknown flag \"-x\""));
  CHECK(Contains(errors, "--config needs a value"));
  CHECK(errors.size() == 8);
}

TEST_CASE("Go durations") {
  struct Case {
    const char* in;
    int64_t ms;
    bool ok;
  };
  for (const Case& c : std::vector<Case>{{"20s", 20'000, true}, {"1m30s", 90'000, true},
                                         {"500ms", 500, true}, {"2h", 7'200'000, true},
                                         {"1.5s", 1'500, true}, {"0", 0, true}, {"", 0, false},
                                         {"10", 0, false}, {"5d", 0, false}, {"-1s", 0, false},
                                         {"s", 0, false}}) {
    CAPTURE(c.in);
    int64_t ms = -1;
    CHECK(ParseDurationMs(c.in, &ms) == c.ok);
    if (c.ok) CHECK(ms == c.ms);
  }
}

TEST_CASE("policy options: every field") {
  const char* yaml = R"(
apiVersion: mlsched.io/v1alpha1
kind: PolicyOptions
topologyLevels: [topology.kubernetes.io/zone, example.com/pod, example.com/rack]
nvlinkLabel: example.com/nvlink
gpuResources: [nvidia.com/gpu, amd.com/gpu]
barrierTimeout: 25s
gangTimeout: 5m
gpuSpread: true
cpuOffGpuFilter: true
fragmentationShapes: 8
fragmentationHalfLife: 500
weights:
  leastAllocated: 2
  gangPlan: 20
  topology: 5
  gpuFit: 6
  gpuFragmentation: 11
  cpuOffGpu: 7
  imageLocality: 0
  pipelineLocality: 8
  functionWarm: 9
pipelineTTL: 1h
dataLocalityRackLevel: example.com/rack
dataLocalityZoneLevel: topology.kubernetes.io/zone
functionWarm: 10m
schedulerNames: [mlsched, default-scheduler]
)";
  policy::Options o;
  auto errors = ParsePolicyOptions(yaml, "test.yaml", &o);
  CHECK(errors.empty());
  CHECK(o.topology_levels ==
        std::vector<std::string>{"topology.kubernetes.io/zone", "example.com/pod", "example.com/rack"});
  CHECK(o.nvlink_label == "example.com/nvlink");
  CHECK(o.gpu_resources == std::vector<std::string>{"nvidia.com/gpu", "amd.com/gpu"});
  CHECK(o.barrier_timeout_ms == 25'000);
  CHECK(o.gang_timeout_ms == 300'000);
  CHECK(o.gpu_spread);
  CHECK(o.cpu_off_gpu_filter);
  CHECK(o.weights.least_allocated == 2);
  CHECK(o.weights.gang_plan == 20);
  CHECK(o.weights.topology == 5);
  CHECK(o.weights.gpu_fit == 6);
  CHECK(o.weights.gpu_fragmentation == 11);
  CHECK(o.fragmentation_shapes == 8);
  CHECK(o.fragmentation_half_life == 500);
  CHECK(o.weights.cpu_off_gpu == 7);
  CHECK(o.weights.image_locality == 0);
  CHECK(o.weights.pipeline_locality == 8);
  CHECK(o.weights.function_warm == 9);
  CHECK(o.pipeline_ttl_ms == 3'600'000);
  CHECK(o.data_locality_rack_level == "example.com/rack");
  CHECK(o.data_locality_zone_level == "topology.kubernetes.io/zone");
  CHECK(o.function_warm_ms == 600'000);
  CHECK(o.scheduler_names == std::vector<std::string>{"mlsched", "default-scheduler"});

  policy::Options defaults;
  CHECK(ParsePolicyOptions("", "empty.yaml", &defaults).empty());
  CHECK(defaults.barrier_timeout_ms == policy::Options().barrier_timeout_ms);
}

TEST_CASE("policy options: every error is listed") {
  const char* yaml = R"(
kind: Other
barrierTimeout: 20
gpuSpread: maybe
weights: {gangPlan: lots, bogusRule: 1, topology: 500}
topologyLevels: zone
colour: blue
gangTimeout: 1s
)";
  policy::Options o;
  auto errors = ParsePolicyOptions(yaml, "bad.yaml", &o);
  CHECK(Contains(errors, "bad.yaml: kind: want PolicyOptions"));
  CHECK(Contains(errors, "barrierTimeout: want a duration"));
  CHECK(Contains(errors, "gpuSpread: want true or false"));
  CHECK(Contains(errors, "weights.gangPlan: want an integer"));
  CHECK(Contains(errors, "weights.bogusRule: unknown score rule"));
  CHECK(Contains(errors, "topologyLevels: want a list"));
  CHECK(Contains(errors, "colour: unknown option"));
  CHECK(Contains(errors, "score weights must be between 0 and 100"));
  CHECK(Contains(errors, "gangTimeout must not be shorter than barrierTimeout"));
  CHECK(Contains(ParsePolicyOptions("a: [", "broken.yaml", &o), "not valid YAML"));
  CHECK(Contains(ParsePolicyOptions("- 1", "list.yaml", &o), "want a mapping"));
}

}  // namespace
}  // namespace mlsched::extender

namespace mlsched::extender {
namespace {

TEST_CASE("security and limit flags") {
  Flags f;
  auto errors = Parse({"--tls-cert-file=/c.pem", "--tls-private-key-file", "/k.pem",
                       "--client-ca-file=/ca.pem", "--insecure-serving", "--debug-port=9000",
                       "--debug-bind-address=::1", "--health-port=9001",
                       "--health-bind-address=10.0.0.1", "--max-header-bytes=8Ki",
                       "--max-connections=77", "--header-timeout=3s", "--body-timeout=1m",
                       "--idle-timeout=150s"},
                      &f);
  CHECK(errors.empty());
  CHECK(f.tls_cert_file == "/c.pem");
  CHECK(f.tls_private_key_file == "/k.pem");
  CHECK(f.client_ca_file == "/ca.pem");
  CHECK(f.insecure_serving);
  CHECK(f.debug_bind_address == "::1");
  CHECK(f.health_port == 9001);
  CHECK(f.health_bind_address == "10.0.0.1");
  CHECK(f.max_header_bytes == 8 << 10);
  CHECK(f.max_connections == 77);
  CHECK(f.header_timeout_ms == 3'000);
  CHECK(f.body_timeout_ms == 60'000);
  CHECK(f.idle_timeout_ms == 150'000);

  Flags d;
  REQUIRE(Parse({}, &d).empty());
  CHECK_FALSE(d.insecure_serving);
  CHECK(d.debug_bind_address == "127.0.0.1");
  CHECK_FALSE(d.health_port);
  CHECK(d.max_connections == 1024);
  CHECK(d.max_header_bytes == 64 << 10);
  CHECK(d.header_timeout_ms == 10'000);
  CHECK(d.idle_timeout_ms == 120'000);

  Flags b;
  CHECK(Parse({"--insecure-serving=false"}, &b).empty());
  CHECK_FALSE(b.insecure_serving);
  CHECK(Contains(Parse({"--insecure-serving=maybe"}, &b), "wants true or false"));
}

TEST_CASE("security flag errors are listed") {
  Flags f;
  auto errors = Parse({"--tls-cert-file=/c.pem", "--max-connections=0", "--max-header-bytes=10",
                       "--header-timeout=1ms", "--idle-timeout=forever", "--health-port=8888"},
                      &f);
  CHECK(Contains(errors, "--tls-cert-file and --tls-private-key-file go together"));
  CHECK(Contains(errors, "--max-connections wants an integer in 1..1000000"));
  CHECK(Contains(errors, "--max-header-bytes wants a byte count of at least 1024"));
  CHECK(Contains(errors, "--header-timeout wants a duration of at least 100ms"));
  CHECK(Contains(errors, "--idle-timeout wants a duration"));
  CHECK(Contains(errors, "--health-port must differ"));
  CHECK(errors.size() == 6);
  Flags g;
  CHECK(Contains(Parse({"--client-ca-file=/ca.pem"}, &g), "--client-ca-file needs --tls-cert-file"));
}

TEST_CASE("loopback addresses") {
  for (const char* a : {"127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost"}) {
    INFO(a);
    CHECK(IsLoopbackAddress(a));
  }
  for (const char* a : {"0.0.0.0", "::", "10.0.0.1", "128.0.0.1", "example.com", "", "::ffff:127.0.0.1"}) {
    INFO(a);
    CHECK_FALSE(IsLoopbackAddress(a));
  }
}

TEST_CASE("the serving guard: plain HTTP beyond loopback needs --insecure-serving") {
  std::vector<std::string> warnings;
  Flags f;
  CHECK(CheckServingSecurity(f, &warnings) == "");  // defaults: loopback
  CHECK(warnings.empty());
  f.bind_address = "0.0.0.0";
  std::string e = CheckServingSecurity(f, &warnings);
  CHECK(e.find("refusing to serve plain HTTP beyond loopback") != std::string::npos);
  CHECK(e.find("--insecure-serving") != std::string::npos);
  f.insecure_serving = true;
  CHECK(CheckServingSecurity(f, &warnings) == "");
  REQUIRE(warnings.size() == 1);
  CHECK(warnings[0].find("--bind-address=0.0.0.0") != std::string::npos);
  // TLS needs no flag, whatever the address.
  Flags t;
  t.bind_address = "0.0.0.0";
  t.tls_cert_file = "/c";
  t.tls_private_key_file = "/k";
  warnings.clear();
  CHECK(CheckServingSecurity(t, &warnings) == "");
  CHECK(warnings.empty());
  // The explain view is plain HTTP always; off by default, loopback unless allowed.
  t.debug_port = 0;
  t.debug_bind_address = "0.0.0.0";
  CHECK(CheckServingSecurity(t, &warnings).find("--debug-bind-address=0.0.0.0") !=
        std::string::npos);
}

}  // namespace
}  // namespace mlsched::extender
