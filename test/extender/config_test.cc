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
