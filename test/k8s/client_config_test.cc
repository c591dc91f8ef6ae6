#include "k8s/client_config.h"

#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

namespace mlsched::k8s {
namespace {

// A scratch directory removed at the end of the test.
struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/mlsched_cfg_XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() { std::system(("rm -rf " + path).c_str()); }
  std::string Write(const std::string& name, const std::string& text) const {
    std::string p = path + "/" + name;
    std::ofstream(p) << text;
    return p;
  }
};

TEST_CASE("Base64Decode") {
  std::string out;
  CHECK(Base64Decode("aGVsbG8=", &out));
  CHECK(out == "hello");
  CHECK(Base64Decode("aGVs\nbG8", &out));
  CHECK(out == "hello");
  CHECK(Base64Decode("", &out));
  CHECK(out.empty());
  CHECK_FALSE(Base64Decode("aGV*bG8=", &out));
  CHECK_FALSE(Base64Decode("aG=Vs", &out));
}

TEST_CASE("LoadClientConfig: kubeconfig variants") {
  TempDir dir;
  dir.Write("ca.crt", "PEM");
  dir.Write("token", "secret\n");
  dir.Write("client.crt", "CERT");
  dir.Write("client.key", "KEY");
  const std::string head = R"(apiVersion: v1
kind: Config
current-context: ctx
contexts:
- name: other
  context: {cluster: nope, user: nope}
- name: ctx
  context: {cluster: c1, user: u1}
)";
  struct Case {
    std::string name;
    std::string rest;
    bool ok;
    std::string want;  // error substring, or a field check below
  };
  const Case cases[] = {
      {"token and CA file (relative)",
       "clusters:\n- name: c1\n  cluster: {server: 'https://10.0.0.1:6443/', certificate-authority: ca.crt}\n"
       "users:\n- name: u1\n  user: {token: abc}\n",
       true, ""},
      {"CA data, token file, client cert data",
       "clusters:\n- name: c1\n  cluster: {server: https://k, certificate-authority-data: UEVN}\n"
       "users:\n- name: u1\n  user: {tokenFile: token, client-certificate-data: Q0VSVA==, "
       "client-key-data: S0VZ}\n",
       true, ""},
      {"client cert files and insecure",
       "clusters:\n- name: c1\n  cluster: {server: https://k, insecure-skip-tls-verify: true}\n"
       "users:\n- name: u1\n  user: {client-certificate: client.crt, client-key: client.key}\n",
       true, ""},
      {"missing cluster", "clusters: []\nusers: []\n", false, "cluster \"c1\" not found"},
      {"no server", "clusters:\n- name: c1\n  cluster: {}\nusers:\n- name: u1\n  user: {}\n",
       false, "no server"},
      {"missing user", "clusters:\n- name: c1\n  cluster: {server: https://k}\nusers: []\n", false,
       "user \"u1\" not found"},
      {"exec plugin",
       "clusters:\n- name: c1\n  cluster: {server: https://k}\nusers:\n- name: u1\n  user:\n"
       "    exec: {command: aws}\n",
       false, "\"exec\" credentials are not supported"},
      {"cert without key",
       "clusters:\n- name: c1\n  cluster: {server: https://k}\nusers:\n- name: u1\n  user: "
       "{client-certificate: client.crt}\n",
       false, "without a client key"},
      {"unreadable CA file",
       "clusters:\n- name: c1\n  cluster: {server: https://k, certificate-authority: nope.crt}\n"
       "users:\n- name: u1\n  user: {token: t}\n",
       false, "nope.crt"},
      {"bad base64",
       "clusters:\n- name: c1\n  cluster: {server: https://k, certificate-authority-data: '*'}\n"
       "users:\n- name: u1\n  user: {token: t}\n",
       false, "certificate-authority-data"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    std::string path = dir.Write("kubeconfig", head + c.rest);
    ClientConfig cfg;
    Status s = LoadClientConfig(path, "", &cfg);
    CHECK_MESSAGE(s.ok() == c.ok, s.message());
    if (!c.ok) {
      CHECK_MESSAGE(s.message().find(c.want) != std::string::npos, s.message());
      CHECK(s.message().find(path) != std::string::npos);
      continue;
    }
    if (c.name == "token and CA file (relative)") {
      CHECK(cfg.server == "https://10.0.0.1:6443");
      CHECK(cfg.ca_file == dir.path + "/ca.crt");
      CHECK(cfg.token == "abc");
    } else if (c.name == "CA data, token file, client cert data") {
      CHECK(cfg.ca_data == "PEM");
      CHECK(cfg.token_file == dir.path + "/token");
      CHECK(cfg.client_cert_data == "CERT");
      CHECK(cfg.client_key_data == "KEY");
    } else {
      CHECK(cfg.insecure_skip_tls_verify);
      CHECK(cfg.client_cert_file == dir.path + "/client.crt");
      CHECK(cfg.client_key_file == dir.path + "/client.key");
    }
  }
  // --master overrides the kubeconfig's server.
  std::string path = dir.Write("kubeconfig", head + cases[0].rest);
  ClientConfig cfg;
  REQUIRE(LoadClientConfig(path, "http://127.0.0.1:8001", &cfg).ok());
  CHECK(cfg.server == "http://127.0.0.1:8001");
  CHECK(cfg.token == "abc");
  // Missing and broken files.
  CHECK(LoadClientConfig(dir.path + "/absent", "", &cfg).code() == Status::Code::kNotFound);
  path = dir.Write("broken", "current-context: [\n");
  CHECK_FALSE(LoadClientConfig(path, "", &cfg).ok());
  path = dir.Write("nocontext", "clusters: []\n");
  Status s = LoadClientConfig(path, "", &cfg);
  CHECK(s.message().find("no current-context") != std::string::npos);
}

TEST_CASE("LoadClientConfig: --master alone; in-cluster") {
  ClientConfig cfg;
  REQUIRE(LoadClientConfig("", "http://localhost:8080/", &cfg).ok());
  CHECK(cfg.server == "http://localhost:8080");
  CHECK(cfg.token.empty());

  TempDir dir;
  InClusterSource src;
  src.service_account_dir = dir.path;
  src.env = {{"UNRELATED", "x"}};
  Status s = LoadInClusterConfig(src, &cfg);
  CHECK_FALSE(s.ok());
  // Every missing piece is named at once.
  CHECK(s.message().find("KUBERNETES_SERVICE_HOST") != std::string::npos);
  CHECK(s.message().find("KUBERNETES_SERVICE_PORT") != std::string::npos);
  CHECK(s.message().find(dir.path + "/token") != std::string::npos);
  CHECK(s.message().find(dir.path + "/ca.crt") != std::string::npos);

  dir.Write("token", "t0k3n");
  dir.Write("ca.crt", "PEM");
  src.env = {{"KUBERNETES_SERVICE_HOST", "10.96.0.1"}, {"KUBERNETES_SERVICE_PORT", "443"}};
  REQUIRE(LoadInClusterConfig(src, &cfg).ok());
  CHECK(cfg.server == "https://10.96.0.1:443");
  CHECK(cfg.token_file == dir.path + "/token");
  CHECK(cfg.ca_file == dir.path + "/ca.crt");
  CHECK(cfg.token.empty());  // read (and re-read on rotation) by the client, never copied here
  src.env = {{"KUBERNETES_SERVICE_HOST", "fd00::1"}, {"KUBERNETES_SERVICE_PORT", "443"}};
  REQUIRE(LoadInClusterConfig(src, &cfg).ok());
  CHECK(cfg.server == "https://[fd00::1]:443");
}

}  // namespace
}  // namespace mlsched::k8s
