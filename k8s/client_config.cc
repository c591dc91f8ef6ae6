#include "k8s/client_config.h"

#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <vector>

namespace mlsched::k8s {
namespace {

bool FileReadable(const std::string& path) {
  std::ifstream in(path);
  return in.good();
}

std::string DirOf(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

std::string Resolve(const std::string& dir, const std::string& path) {
  if (path.empty() || path[0] == '/') return path;
  return dir + "/" + path;
}

// Scalar string member of a YAML map, or "" (also for a non-map node).
Status YamlString(const YAML::Node& map, const char* key, const std::string& where,
                  std::string* out) {
  out->clear();
  if (!map || !map.IsMap()) return Status::Ok();
  YAML::Node v = map[key];
  if (!v || v.IsNull()) return Status::Ok();
  if (!v.IsScalar()) return Status::InvalidArgument(where + "." + key + ": want a string");
  *out = v.Scalar();
  return Status::Ok();
}

// Finds `name` in a kubeconfig list such as clusters: [{name, cluster: {...}}].
// Sets *found to whether an entry of that name exists (its inner node may still be null).
YAML::Node FindNamed(const YAML::Node& list, const std::string& name, const char* inner,
                     bool* found) {
  *found = false;
  if (!list || !list.IsSequence()) return YAML::Node();
  for (const YAML::Node& item : list) {
    if (!item.IsMap()) continue;
    YAML::Node n = item["name"];
    if (n && n.IsScalar() && n.Scalar() == name) {
      *found = true;
      return item[inner];
    }
  }
  return YAML::Node();
}

std::string FormatHostPort(const std::string& host, const std::string& port) {
  // IPv6 literals need brackets in a URL.
  if (host.find(':') != std::string::npos) return "https://[" + host + "]:" + port;
  return "https://" + host + ":" + port;
}

#define RETURN_IF_ERROR(expr) \
  do {                        \
    Status _s = (expr);       \
    if (!_s.ok()) return _s;  \
  } while (0)

}  // namespace

bool Base64Decode(std::string_view in, std::string* out) {
  auto val = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  out->clear();
  uint32_t acc = 0;
  int bits = 0;
  size_t pad = 0;
  for (char c : in) {
    if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
    if (c == '=') {
      ++pad;
      continue;
    }
    if (pad > 0) return false;  // data after padding
    int v = val(c);
    if (v < 0) return false;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out->push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return pad <= 2 && bits < 6;
}

Status LoadInClusterConfig(const InClusterSource& source, ClientConfig* out) {
  auto getenv = [&source](const char* name) -> std::string {
    if (!source.env.empty()) {
      auto it = source.env.find(name);
      return it == source.env.end() ? "" : it->second;
    }
    const char* v = std::getenv(name);
    return v ? v : "";
  };
  *out = ClientConfig();
  std::vector<std::string> missing;
  std::string host = getenv("KUBERNETES_SERVICE_HOST");
  std::string port = getenv("KUBERNETES_SERVICE_PORT");
  if (host.empty()) missing.push_back("environment variable KUBERNETES_SERVICE_HOST");
  if (port.empty()) missing.push_back("environment variable KUBERNETES_SERVICE_PORT");
  std::string token_file = source.service_account_dir + "/token";
  std::string ca_file = source.service_account_dir + "/ca.crt";
  if (!FileReadable(token_file)) missing.push_back("service account token " + token_file);
  if (!FileReadable(ca_file)) missing.push_back("service account CA " + ca_file);
  if (!missing.empty()) {
    std::string msg = "in-cluster configuration (no --kubeconfig given): missing ";
    for (size_t i = 0; i < missing.size(); ++i) msg += (i ? ", " : "") + missing[i];
    return Status::NotFound(msg);
  }
  out->server = FormatHostPort(host, port);
  out->token_file = token_file;
  out->ca_file = ca_file;
  return Status::Ok();
}

Status LoadClientConfig(const std::string& kubeconfig_path, const std::string& master_override,
                        ClientConfig* out) {
  if (kubeconfig_path.empty()) {
    if (!master_override.empty()) {
      *out = ClientConfig();
      out->server = master_override;
      while (!out->server.empty() && out->server.back() == '/') out->server.pop_back();
      return Status::Ok();
    }
    return LoadInClusterConfig(InClusterSource(), out);
  }
  YAML::Node root;
  try {
    root = YAML::LoadFile(kubeconfig_path);
  } catch (const YAML::BadFile&) {
    return Status::NotFound("kubeconfig " + kubeconfig_path + ": cannot open");
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument("kubeconfig " + kubeconfig_path + ": " + e.what());
  }
  const std::string where = "kubeconfig " + kubeconfig_path;
  if (!root.IsMap()) return Status::InvalidArgument(where + ": not a YAML map");
  const std::string dir = DirOf(kubeconfig_path);
  *out = ClientConfig();

  std::string context_name;
  RETURN_IF_ERROR(YamlString(root, "current-context", where, &context_name));
  if (context_name.empty()) return Status::InvalidArgument(where + ": no current-context");
  bool found = false;
  YAML::Node context = FindNamed(root["contexts"], context_name, "context", &found);
  if (!found || !context.IsMap()) {
    return Status::InvalidArgument(where + ": context \"" + context_name + "\" not found");
  }
  std::string cluster_name, user_name;
  RETURN_IF_ERROR(YamlString(context, "cluster", where + ": context", &cluster_name));
  RETURN_IF_ERROR(YamlString(context, "user", where + ": context", &user_name));
  if (cluster_name.empty()) {
    return Status::InvalidArgument(where + ": context \"" + context_name + "\" names no cluster");
  }
  YAML::Node cluster = FindNamed(root["clusters"], cluster_name, "cluster", &found);
  if (!found || !cluster.IsMap()) {
    return Status::InvalidArgument(where + ": cluster \"" + cluster_name + "\" not found");
  }
  const std::string cw = where + ": cluster \"" + cluster_name + "\"";
  RETURN_IF_ERROR(YamlString(cluster, "server", cw, &out->server));
  if (!master_override.empty()) out->server = master_override;
  while (!out->server.empty() && out->server.back() == '/') out->server.pop_back();
  if (out->server.empty()) return Status::InvalidArgument(cw + ": no server");
  std::string s;
  RETURN_IF_ERROR(YamlString(cluster, "certificate-authority", cw, &s));
  out->ca_file = Resolve(dir, s);
  RETURN_IF_ERROR(YamlString(cluster, "certificate-authority-data", cw, &s));
  if (!s.empty() && !Base64Decode(s, &out->ca_data)) {
    return Status::InvalidArgument(cw + ": certificate-authority-data is not base64");
  }
  RETURN_IF_ERROR(YamlString(cluster, "insecure-skip-tls-verify", cw, &s));
  out->insecure_skip_tls_verify = s == "true";
  if (!out->ca_file.empty() && !FileReadable(out->ca_file)) {
    return Status::NotFound(cw + ": certificate-authority " + out->ca_file + " not readable");
  }

  if (user_name.empty()) return Status::Ok();  // anonymous
  YAML::Node user = FindNamed(root["users"], user_name, "user", &found);
  if (!found) return Status::InvalidArgument(where + ": user \"" + user_name + "\" not found");
  if (!user.IsMap()) return Status::Ok();  // `user: {}` or null: anonymous
  const std::string uw = where + ": user \"" + user_name + "\"";
  for (const char* unsupported : {"exec", "auth-provider", "username", "password"}) {
    if (user[unsupported]) {
      return Status::InvalidArgument(uw + ": \"" + std::string(unsupported) +
                                     "\" credentials are not supported; use a token, "
                                     "tokenFile or client certificate");
    }
  }
  RETURN_IF_ERROR(YamlString(user, "token", uw, &out->token));
  RETURN_IF_ERROR(YamlString(user, "tokenFile", uw, &s));
  out->token_file = Resolve(dir, s);
  RETURN_IF_ERROR(YamlString(user, "client-certificate", uw, &s));
  out->client_cert_file = Resolve(dir, s);
  RETURN_IF_ERROR(YamlString(user, "client-key", uw, &s));
  out->client_key_file = Resolve(dir, s);
  RETURN_IF_ERROR(YamlString(user, "client-certificate-data", uw, &s));
  if (!s.empty() && !Base64Decode(s, &out->client_cert_data)) {
    return Status::InvalidArgument(uw + ": client-certificate-data is not base64");
  }
  RETURN_IF_ERROR(YamlString(user, "client-key-data", uw, &s));
  if (!s.empty() && !Base64Decode(s, &out->client_key_data)) {
    return Status::InvalidArgument(uw + ": client-key-data is not base64");
  }
  bool has_cert = !out->client_cert_file.empty() || !out->client_cert_data.empty();
  bool has_key = !out->client_key_file.empty() || !out->client_key_data.empty();
  if (has_cert != has_key) {
    return Status::InvalidArgument(uw + (has_cert ? ": client certificate without a client key"
                                                  : ": client key without a client certificate"));
  }
  for (const std::string* f : {&out->token_file, &out->client_cert_file, &out->client_key_file}) {
    if (!f->empty() && !FileReadable(*f)) return Status::NotFound(uw + ": " + *f + " not readable");
  }
  return Status::Ok();
}

}  // namespace mlsched::k8s
