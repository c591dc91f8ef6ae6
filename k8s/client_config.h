#pragma once

// How to reach and authenticate to the Kubernetes API server: from a kubeconfig file, from the
// pod's service account (in-cluster), or from a --master URL.

#include <map>
#include <string>

#include "policy/status.h"

namespace mlsched::k8s {

struct ClientConfig {
  // https://host:port (or http:// for tests and `kubectl proxy`). No trailing slash.
  std::string server;

  // Server certificate authority: a PEM file, or PEM data (kubeconfig certificate-authority-data,
  // already base64-decoded). Empty both: the system trust store.
  std::string ca_file;
  std::string ca_data;
  bool insecure_skip_tls_verify = false;

  // Bearer token, or a file holding it. A token file is re-read when it changes (projected
  // service account tokens rotate about hourly); `token` wins when both are set.
  std::string token;
  std::string token_file;

  // Client certificate authentication: files or PEM data (decoded).
  std::string client_cert_file;
  std::string client_cert_data;
  std::string client_key_file;
  std::string client_key_data;

  // Timeouts. Watches have no total timeout (see SyncOptions::watch_idle_timeout_ms).
  int connect_timeout_ms = 5'000;
  int request_timeout_ms = 60'000;  // one LIST page, one binding, one discovery call
  std::string user_agent = "mlsched/0.1";
};

// Where the in-cluster configuration comes from; the defaults are the real ones. Tests point
// it at a temporary directory and fake environment.
struct InClusterSource {
  std::string service_account_dir = "/var/run/secrets/kubernetes.io/serviceaccount";
  // Environment lookups; empty map: the process environment.
  std::map<std::string, std::string> env;
};

// Builds the client configuration as client-go's BuildConfigFromFlags does:
//  - kubeconfig_path empty and master_override empty: in-cluster (service account token file
//    and CA, KUBERNETES_SERVICE_HOST/PORT);
//  - kubeconfig_path empty, master_override set: that URL, no credentials;
//  - kubeconfig_path set: its current context (cluster server, certificate-authority[-data],
//    insecure-skip-tls-verify; user token, tokenFile, client-certificate[-data],
//    client-key[-data]); master_override, when set, replaces the server.
// Relative file paths in a kubeconfig are relative to its directory. Unsupported credentials
// (exec plugins, auth providers, basic auth) are an error that names them. On failure returns
// InvalidArgument/NotFound whose message names every missing piece; *out is then unspecified.
// Never logs secrets. Thread-safe apart from reading the environment.
Status LoadClientConfig(const std::string& kubeconfig_path, const std::string& master_override,
                        ClientConfig* out);
// The in-cluster branch of LoadClientConfig, with its inputs injected.
Status LoadInClusterConfig(const InClusterSource& source, ClientConfig* out);

// Standard base64 (RFC 4648, padding optional, whitespace ignored). False on bad input.
bool Base64Decode(std::string_view in, std::string* out);

}  // namespace mlsched::k8s
