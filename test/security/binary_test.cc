// The mlsched-extender binary: the insecure-serving guard (exit code and message), TLS start-up
// errors, and no secret in its output at -v=10 while it follows a (fake) API server with a
// bearer token and a client key in its kubeconfig, also when the API server refuses it.

#include <doctest/doctest.h>
#include <httplib.h>

#include <cctype>
#include <sstream>

#include "extender/config.h"
#include "k8s/client_config.h"
#include "test/fakes/fake_apiserver.h"
#include "test/security/security_util.h"

#ifndef MLSCHED_EXTENDER_BIN
#error "MLSCHED_EXTENDER_BIN must name the mlsched-extender binary"
#endif
#ifndef MLSCHED_SOURCE_DIR
#error "MLSCHED_SOURCE_DIR must name the repository root"
#endif

namespace mlsched::extender {
namespace {

using namespace security_test;
using namespace std::chrono_literals;

const std::string kCluster = std::string(MLSCHED_SOURCE_DIR) + "/deploy/demo/cluster.yaml";

const std::string kMappedLoopback = "[::ffff:127.0.0.1]";

std::vector<std::string> Args(std::vector<std::string> flags) {
  flags.insert(flags.begin(), MLSCHED_EXTENDER_BIN);
  return flags;
}

// The port from "serving the extender on ADDR:PORT ...".
int ServedPort(const std::string& log) {
  const std::string key = "serving the extender on ";
  size_t at = log.find(key);
  if (at == std::string::npos) return -1;
  std::string addr = log.substr(at + key.size(), log.find_first_of(" \n", at + key.size()) -
                                                     (at + key.size()));
  size_t colon = addr.rfind(':');
  return colon == std::string::npos ? -1 : std::atoi(addr.c_str() + colon + 1);
}

// True when some glog WARNING line ("W<mmdd> ...") contains `text`.
bool WarningLogged(const std::string& log, const std::string& text) {
  std::istringstream in(log);
  std::string line;
  while (std::getline(in, line)) {
    if (line.size() > 5 && line[0] == 'W' && std::isdigit(static_cast<unsigned char>(line[1])) &&
        line.find(text) != std::string::npos) {
      return true;
    }
  }
  return false;
}

TEST_CASE("plain HTTP beyond loopback needs --insecure-serving") {
  TempDir dir;
  struct Case {
    std::vector<std::string> flags;
    const char* names;
  };
  for (const Case& c : std::vector<Case>{
           {{"--bind-address=0.0.0.0"}, "the extender on --bind-address=0.0.0.0"},
           {{"--bind-address=::"}, "the extender on --bind-address=::"},
           {{"--debug-port=0", "--debug-bind-address=0.0.0.0"},
            "the explain view on --debug-bind-address=0.0.0.0"}}) {
    INFO(c.names);
    std::vector<std::string> flags = c.flags;
    flags.push_back("--cluster-file=" + kCluster);
    flags.push_back("--port=0");
    Child child(Args(flags), dir / "guard.log");
    CHECK(child.Wait(20s) == 2);
    std::string log = child.Log();
    CHECK(log.find("refusing to serve plain HTTP beyond loopback") != std::string::npos);
    CHECK(log.find(c.names) != std::string::npos);
    CHECK(log.find("--insecure-serving") != std::string::npos);
  }

  // Accepted with the flag, and said loudly. The address is one the guard counts as beyond
  // loopback (it does not treat IPv4-mapped forms as loopback) but that only this host reaches:
  // the test never serves plain HTTP to the network.
  Child child(Args({"--cluster-file=" + kCluster, "--bind-address=" + kMappedLoopback,
                    "--port=0", "--insecure-serving"}),
              dir / "insecure.log");
  REQUIRE(child.WaitForLog("serving the extender on", 20s));
  std::string log = child.Log();
  CHECK(WarningLogged(log, "--insecure-serving: serving plain HTTP beyond loopback"));
  int port = ServedPort(log);
  REQUIRE(port > 0);
  httplib::Client c("127.0.0.1", port);
  auto r = c.Get("/healthz");
  REQUIRE(r);
  CHECK(r->status == 200);
  child.Signal(SIGTERM);
  CHECK(child.Wait(20s) == 0);

  // Loopback needs nothing.
  Child local(Args({"--cluster-file=" + kCluster, "--port=0"}), dir / "local.log");
  REQUIRE(local.WaitForLog("serving the extender on 127.0.0.1:", 20s));
  CHECK(local.Log().find("insecure") == std::string::npos);
  local.Signal(SIGTERM);
  CHECK(local.Wait(20s) == 0);
}

TEST_CASE("TLS beyond loopback starts without the flag; bad TLS files stop the start") {
  REQUIRE_FALSE(IsLoopbackAddress(kMappedLoopback));
  TempDir dir;
  Pki pki(dir);
  Child tls(Args({"--cluster-file=" + kCluster, "--bind-address=" + kMappedLoopback, "--port=0",
                  "--tls-cert-file=" + pki / "server.pem",
                  "--tls-private-key-file=" + pki / "server.key",
                  "--client-ca-file=" + pki / "ca.pem"}),
            dir / "tls.log");
  REQUIRE(tls.WaitForLog("serving the extender on", 20s));
  std::string log = tls.Log();
  CHECK(log.find("(TLS, client certificates required)") != std::string::npos);
  CHECK(log.find("insecure") == std::string::npos);
  int port = ServedPort(log);
  REQUIRE(port > 0);
  TlsClient c(static_cast<uint16_t>(port), {pki / "ca.pem", pki / "client.pem", pki / "client.key", 0});
  CHECK(c.Request("GET", "/healthz").rfind("HTTP/1.1 200", 0) == 0);
  tls.Signal(SIGTERM);
  CHECK(tls.Wait(20s) == 0);

  Child mismatch(Args({"--cluster-file=" + kCluster, "--port=0",
                       "--tls-cert-file=" + pki / "server.pem",
                       "--tls-private-key-file=" + pki / "client.key"}),
                 dir / "mismatch.log");
  CHECK(mismatch.Wait(20s) == 2);
  CHECK(mismatch.Log().find("does not match the certificate") != std::string::npos);
  CHECK(mismatch.Log().find("PRIVATE KEY") == std::string::npos);

  Child half(Args({"--cluster-file=" + kCluster, "--tls-cert-file=" + pki / "server.pem"}),
             dir / "half.log");
  CHECK(half.Wait(20s) == 2);
  CHECK(half.Log().find("--tls-cert-file and --tls-private-key-file go together") !=
        std::string::npos);
}

std::string Base64(const std::string& in) {
  static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    for (int s : {18, 12, 6, 0}) out += t[(v >> s) & 63];
  }
  if (i + 1 == in.size()) {
    uint32_t v = uint8_t(in[i]) << 16;
    out += t[(v >> 18) & 63];
    out += t[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8);
    for (int s : {18, 12, 6}) out += t[(v >> s) & 63];
    out += "=";
  }
  return out;
}

std::string Kubeconfig(const std::string& server, const std::string& token, const Pki& pki) {
  return "apiVersion: v1\nkind: Config\ncurrent-context: test\n"
         "clusters:\n- name: fake\n  cluster:\n    server: " + server + "\n"
         "contexts:\n- name: test\n  context:\n    cluster: fake\n    user: mlsched\n"
         "users:\n- name: mlsched\n  user:\n    token: " + token + "\n"
         "    client-certificate-data: " + Base64(ReadFile(pki / "client.pem")) + "\n"
         "    client-key-data: " + Base64(ReadFile(pki / "client.key")) + "\n";
}

// The pieces of a secret a careless log line would show.
std::vector<std::string> SecretPieces(const std::string& token, const Pki& pki) {
  std::string key = ReadFile(pki / "client.key");
  std::string key_body = key.substr(key.find('\n') + 1, 40);  // base64 of the key itself
  std::string key_data = Base64(key);
  return {token, token.substr(0, 12), token.substr(token.size() - 12), key_body,
          key_data.substr(30, 40), "Bearer " + token.substr(0, 4)};
}

TEST_CASE("no secret reaches the log (-v=10) or /metrics, with a good token and a refused one") {
  TempDir dir;
  Pki pki(dir);
  fakes::FakeApiServer api;
  REQUIRE(api.Start().ok());
  const std::string token = "mlsched-test-token-7f3a9c1e5b2d4a6f8e0c";
  api.RequireBearerToken(token);
  REQUIRE(api.Upsert(fakes::Kind::kNode,
                     R"({"metadata":{"name":"n1"},"status":{"allocatable":{"cpu":"8","memory":"32Gi","pods":"110"},"conditions":[{"type":"Ready","status":"True"}]}})")
              .ok());

  WriteText(dir / "good.kubeconfig", Kubeconfig(api.url(), token, pki));
  {
    Child ext(Args({"--kubeconfig=" + dir / "good.kubeconfig", "--port=0", "-v=10"}),
              dir / "good.log");
    REQUIRE(ext.WaitForLog("serving the extender on", 20s));
    int port = ServedPort(ext.Log());
    REQUIRE(port > 0);
    httplib::Client c("127.0.0.1", port);
    bool ready = false;
    for (int i = 0; i < 300 && !ready; ++i) {  // bounded: 30 s
      auto r = c.Get("/readyz");
      ready = r && r->status == 200;
      if (!ready) std::this_thread::sleep_for(100ms);
    }
    CHECK(ready);
    // Errors from the API server are logged too: make some.
    api.FailRequests(3, 500);
    api.DropWatches();
    CHECK(ext.WaitForLog("broke", 20s));
    auto metrics = c.Get("/metrics");
    REQUIRE(metrics);
    for (const auto& s : SecretPieces(token, pki)) {
      CHECK_MESSAGE(metrics->body.find(s) == std::string::npos, "metrics show " << s);
    }
    ext.Signal(SIGTERM);
    CHECK(ext.Wait(20s) == 0);
    std::string log = ext.Log();
    CHECK(log.size() > 1000);  // -v=10 did log
    for (const auto& s : SecretPieces(token, pki)) {
      CHECK_MESSAGE(log.find(s) == std::string::npos, "the log shows " << s);
    }
    CHECK(log.find("Authorization") == std::string::npos);
  }
  // The token was sent (the fake refuses requests without it), so it was there to leak.
  CHECK(api.counters().unauthorized == 0);
  CHECK(api.counters().list_pages > 0);

  // Credentials in the server URL are not logged either.
  {
    const std::string url = api.url();
    Child ext(Args({"--kubeconfig=" + dir / "good.kubeconfig",
                    "--master=http://mlsched:url-password-5e4d3c@" + url.substr(7), "--port=0",
                    "-v=10"}),
              dir / "url.log");
    REQUIRE(ext.WaitForLog("following the API server at http://<redacted>@127.0.0.1:", 20s));
    ext.Signal(SIGTERM);
    CHECK(ext.Wait(20s) == 0);
    CHECK(ext.Log().find("url-password-5e4d3c") == std::string::npos);
  }

  // A refused token: 401s are logged; the token is not.
  const std::string wrong = "mlsched-wrong-token-0d9c8b7a6f5e4d3c2b1a";
  WriteText(dir / "wrong.kubeconfig", Kubeconfig(api.url(), wrong, pki));
  Child ext(Args({"--kubeconfig=" + dir / "wrong.kubeconfig", "--port=0", "-v=10"}),
            dir / "wrong.log");
  REQUIRE(ext.WaitForLog("HTTP 401", 20s));  // not "401": a port number may hold it
  ext.Signal(SIGTERM);
  CHECK(ext.Wait(20s) == 0);
  std::string log = ext.Log();
  for (const auto& s : SecretPieces(wrong, pki)) {
    CHECK_MESSAGE(log.find(s) == std::string::npos, "the log shows " << s);
  }
  CHECK(api.counters().unauthorized > 0);
}

}  // namespace
}  // namespace mlsched::extender
