#pragma once

// Start-up configuration: the command-line flags (Kubernetes style) and the policy options
// file (--config, YAML). Both collect every problem instead of stopping at the first, so that
// a misconfigured start lists all of them.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "policy/options.h"

namespace mlsched::extender {

struct Flags {
  std::string kubeconfig;
  std::string master;
  std::string bind_address = "127.0.0.1";
  int port = 8888;
  std::string url_prefix;
  int verbosity = 0;  // -v
  std::string config;        // policy options YAML
  std::string cluster_file;  // embedded demo cluster (a Kubernetes List)
  std::optional<int> debug_port;
  std::string debug_bind_address = "127.0.0.1";
  // Probes only (/healthz, /livez, /readyz), plain HTTP: kubelet probes cannot present a client
  // certificate, so with --client-ca-file they need a port of their own. Unset: off.
  std::optional<int> health_port;
  std::string health_bind_address = "0.0.0.0";
  int64_t max_body_bytes = 64ll << 20;
  int64_t shutdown_grace_ms = 10'000;

  // TLS serving (both files or neither); the files are re-read when they change.
  std::string tls_cert_file;
  std::string tls_private_key_file;
  // Mutual TLS: callers must present a certificate signed by a CA in this file.
  std::string client_ca_file;
  // Plain HTTP beyond loopback (the extender port or the debug port) needs this.
  bool insecure_serving = false;

  // Limits (see FlagsUsage).
  int64_t max_header_bytes = 64ll << 10;
  int max_connections = 1024;
  int64_t header_timeout_ms = 10'000;
  int64_t body_timeout_ms = 30'000;
  int64_t idle_timeout_ms = 120'000;

  bool help = false;
};

// True for addresses that only this host can reach: 127.0.0.0/8, ::1, "localhost".
bool IsLoopbackAddress(std::string_view address);

// The start-up guard for plain HTTP: an error message when `flags` would serve plain HTTP beyond
// loopback without --insecure-serving; otherwise "" and, in *warnings, what the operator should
// know (plain HTTP beyond loopback with --insecure-serving).
std::string CheckServingSecurity(const Flags& flags, std::vector<std::string>* warnings);

// The usage text for --help.
std::string FlagsUsage();

// Parses argv (argv[0] is the program). Accepts `--name=value`, `--name value`, `-v=N`,
// `-v N`, `--v=N`; booleans only as `--help`. Returns every problem (unknown flags, missing or
// malformed values, out-of-range numbers, conflicting flags); *out holds what parsed.
std::vector<std::string> ParseFlags(int argc, const char* const* argv, Flags* out);

// Parses a Go duration ("20s", "1m30s", "500ms", "2h", "1.5s") into milliseconds. False when
// malformed, negative or out of range.
bool ParseDurationMs(std::string_view s, int64_t* ms);

// Loads policy options from YAML text: every field of policy::Options, keys in camelCase
// (topologyLevels, nvlinkLabel, gpuResources, barrierTimeout, gangTimeout, gpuSpread,
// cpuOffGpuFilter, fragmentationShapes, fragmentationHalfLife, weights.{leastAllocated,
// gangPlan, topology, gpuFit, gpuFragmentation, cpuOffGpu, imageLocality, pipelineLocality,
// functionWarm}, pipelineTTL, dataLocalityRackLevel,
// dataLocalityZoneLevel, functionWarm, schedulerNames),
// durations as Go durations; optional `apiVersion: mlsched.io/v1alpha1` and
// `kind: PolicyOptions`. Fields not given keep their defaults. Unknown keys and wrong types are
// errors; policy::Validate runs last. Returns every problem, prefixed with `source`.
std::vector<std::string> ParsePolicyOptions(std::string_view yaml, std::string_view source,
                                            policy::Options* out);
// As ParsePolicyOptions, from a file.
std::vector<std::string> LoadPolicyOptions(const std::string& path, policy::Options* out);

}  // namespace mlsched::extender
