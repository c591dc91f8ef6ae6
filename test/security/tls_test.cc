// TLS on the extender port: mutual TLS accepts the scheduler's certificate and refuses, at the
// handshake, a caller without one, with one from another CA, or speaking TLS 1.1; a rotated
// certificate reaches new connections while open ones keep working; the proxy's loopback
// backend cannot be used to skip the check; bad files fail clearly.

#include <doctest/doctest.h>

#include <cstdio>
#include <filesystem>
#include <set>
#include <thread>

#include "extender/server.h"
#include "extender/tls_context.h"
#include "policy/engine.h"
#include "test/security/security_util.h"

namespace mlsched::extender {
namespace {

using namespace security_test;
using namespace std::chrono_literals;

struct TlsServer : TestServer {
  TlsServer(const Pki& pki, bool client_ca, std::chrono::milliseconds poll = 1000ms)
      : TestServer([&] {
          ServerOptions o;
          o.tls = TlsFiles{pki / "server.pem", pki / "server.key", client_ca ? pki / "ca.pem" : ""};
          o.tls_poll = poll;
          return o;
        }()) {}
};

TlsClient::Options Scheduler(const Pki& pki) {
  return {pki / "ca.pem", pki / "client.pem", pki / "client.key", 0};
}

bool Ok(const std::string& answer) { return answer.rfind("HTTP/1.1 200", 0) == 0; }

// The value of a /metrics sample, read over a good connection.
double Metric(uint16_t port, const Pki& pki, const std::string& sample) {
  TlsClient c(port, Scheduler(pki));
  std::string m = c.Request("GET", "/metrics");
  size_t at = m.find("\n" + sample + " ");
  if (at == std::string::npos) return -1;
  return std::stod(m.substr(at + sample.size() + 2));
}

TEST_CASE("mutual TLS: the scheduler's certificate is served; no certificate, another CA's "
          "certificate and TLS 1.1 are refused at the handshake") {
  TempDir dir;
  Pki pki(dir);
  TlsServer s(pki, /*client_ca=*/true);
  const uint16_t port = s.server.port();
  const std::string refused = "mlsched_extender_connections_closed_total{reason=\"tls_handshake\"}";

  {
    TlsClient c(port, Scheduler(pki));
    REQUIRE_MESSAGE(c.handshake_ok(), c.error());
    CHECK(c.ServerSerial() == "1001");
    CHECK(Ok(c.Request("GET", "/healthz")));
    // Keep-alive: a second request on the same connection.
    std::string filter = c.Request(
        "POST", "/filter",
        R"({"Pod":{"metadata":{"name":"p","namespace":"ml","uid":"u1"},"spec":{}},"NodeNames":["n1"]})");
    CHECK(Ok(filter));
    CHECK(filter.find("FailedNodes") != std::string::npos);
  }
  CHECK(Metric(port, pki, refused) == 0);

  struct Case {
    const char* what;
    TlsClient::Options options;
  };
  const std::vector<Case> cases = {
      {"no client certificate (TLS 1.3)", {pki / "ca.pem", "", "", 0}},
      {"no client certificate (TLS 1.2)", {pki / "ca.pem", "", "", TLS1_2_VERSION}},
      {"a certificate from another CA (TLS 1.3)",
       {pki / "ca.pem", pki / "intruder.pem", pki / "intruder.key", 0}},
      {"a certificate from another CA (TLS 1.2)",
       {pki / "ca.pem", pki / "intruder.pem", pki / "intruder.key", TLS1_2_VERSION}},
      {"TLS 1.1 with the right certificate",
       {pki / "ca.pem", pki / "client.pem", pki / "client.key", TLS1_1_VERSION}},
  };
  double refusals = 0;
  for (const auto& c : cases) {
    INFO(c.what);
    TlsClient client(port, c.options);
    if (c.options.max_version != 0) {
      // TLS 1.2 and below: the client's handshake itself fails.
      CHECK_FALSE(client.handshake_ok());
    }
    // TLS 1.3: the client finishes before the server checks its certificate; the server's
    // alert arrives instead of an answer, and no request ever reaches the extender.
    CHECK(client.Request("GET", "/healthz").empty());
    ++refusals;
    CHECK(Metric(port, pki, refused) == refusals);
  }
}

TEST_CASE("TLS without --client-ca-file serves any client") {
  TempDir dir;
  Pki pki(dir);
  TlsServer s(pki, /*client_ca=*/false);
  TlsClient c(s.server.port(), {pki / "ca.pem", "", "", 0});
  REQUIRE_MESSAGE(c.handshake_ok(), c.error());
  CHECK(Ok(c.Request("GET", "/readyz")));
}

TEST_CASE("a rotated certificate reaches new connections; open connections keep working") {
  TempDir dir;
  Pki pki(dir);
  TlsServer s(pki, /*client_ca=*/true, /*poll=*/100ms);
  const uint16_t port = s.server.port();
  TlsClient before(port, Scheduler(pki));
  REQUIRE(before.handshake_ok());
  CHECK(before.ServerSerial() == "1001");
  CHECK(Ok(before.Request("GET", "/healthz")));

  // As kubelet updates a mounted Secret: new files renamed into place.
  pki.IssueServer("rotated", "1002");
  std::filesystem::rename(pki / "rotated.key", pki / "server.key");
  std::filesystem::rename(pki / "rotated.pem", pki / "server.pem");

  std::string serial;
  for (int i = 0; i < 200 && serial != "1002"; ++i) {  // bounded: 20 s at most
    std::this_thread::sleep_for(100ms);
    TlsClient probe(port, Scheduler(pki));
    if (probe.handshake_ok()) serial = probe.ServerSerial();
  }
  CHECK(serial == "1002");
  CHECK(s.server.tls_reloads() == 1);
  TlsClient after(port, Scheduler(pki));
  REQUIRE(after.handshake_ok());
  CHECK(after.ServerSerial() == "1002");
  CHECK(Ok(after.Request("GET", "/healthz")));
  // The connection made before the rotation still has its session.
  CHECK(Ok(before.Request("GET", "/healthz")));
}

TEST_CASE("a changed file that does not load keeps the current certificate") {
  TempDir dir;
  Pki pki(dir);
  TlsContext tls(TlsFiles{pki / "server.pem", pki / "server.key", pki / "ca.pem"}, 50ms);
  REQUIRE(tls.Start().ok());
  SslCtxPtr first = tls.Current();
  const std::string good = ReadFile(pki / "server.pem");
  WriteText(pki / "server.pem", "not a certificate\n");
  for (int i = 0; i < 400 && tls.failed_reloads() == 0; ++i) std::this_thread::sleep_for(25ms);
  CHECK(tls.failed_reloads() == 1);
  CHECK(tls.reloads() == 0);
  CHECK(tls.Current() == first);
  // A key that does not match the certificate (cert-manager writes them one at a time).
  WriteText(pki / "server.pem", ReadFile(pki / "client.pem"));
  for (int i = 0; i < 400 && tls.failed_reloads() == 1; ++i) std::this_thread::sleep_for(25ms);
  CHECK(tls.failed_reloads() == 2);
  CHECK(tls.Current() == first);
  WriteText(pki / "server.pem", good);  // the same bytes as loaded: nothing to do
  pki.IssueServer("next", "1003");
  std::filesystem::rename(pki / "next.key", pki / "server.key");
  std::filesystem::rename(pki / "next.pem", pki / "server.pem");
  for (int i = 0; i < 400 && tls.reloads() == 0; ++i) std::this_thread::sleep_for(25ms);
  CHECK(tls.reloads() == 1);
  CHECK(tls.Current() != first);
  CHECK(tls.Describe().find("serial 1003") != std::string::npos);
}

TEST_CASE("bad TLS files: Start fails naming the file, never its contents") {
  TempDir dir;
  Pki pki(dir);
  SslCtxPtr ctx;
  Status s = BuildServerContext({pki / "server.pem", pki / "client.key", ""}, &ctx);
  REQUIRE_FALSE(s.ok());
  CHECK(s.message().find("does not match") != std::string::npos);
  CHECK(s.message().find("BEGIN") == std::string::npos);
  s = BuildServerContext({pki / "missing.pem", pki / "server.key", ""}, &ctx);
  REQUIRE_FALSE(s.ok());
  CHECK(s.message().find("missing.pem") != std::string::npos);
  s = BuildServerContext({pki / "server.pem", pki / "server.key", pki / "server.key"}, &ctx);
  REQUIRE_FALSE(s.ok());
  CHECK(s.message().find("--client-ca-file") != std::string::npos);
  const std::string key = ReadFile(pki / "server.key");
  CHECK(s.message().find(key.substr(40, 20)) == std::string::npos);
}

// This process's listening IPv4 sockets on 127.0.0.1 (/proc/net/tcp, matched by socket inode
// against /proc/self/fd, so that other processes' listeners do not count).
std::set<uint16_t> LoopbackListeners() {
  std::set<std::string> mine;
  for (const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) {
    std::error_code ec;
    std::string target = std::filesystem::read_symlink(e.path(), ec).string();
    if (!ec && target.rfind("socket:[", 0) == 0) mine.insert(target.substr(8, target.size() - 9));
  }
  std::set<uint16_t> out;
  std::istringstream in(ReadFile("/proc/net/tcp"));
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string sl, local, remote, state, queues, timer, retr, uid, timeout, inode;
    f >> sl >> local >> remote >> state >> queues >> timer >> retr >> uid >> timeout >> inode;
    if (state != "0A" || local.substr(0, 8) != "0100007F" || !mine.count(inode)) continue;
    out.insert(static_cast<uint16_t>(std::stoul(local.substr(9), nullptr, 16)));
  }
  return out;
}

TEST_CASE("the proxy's loopback backend refuses local clients that are not the proxy") {
  TempDir dir;
  Pki pki(dir);
  std::set<uint16_t> before = LoopbackListeners();
  TlsServer s(pki, /*client_ca=*/true);
  std::set<uint16_t> after = LoopbackListeners();
  std::vector<uint16_t> backend;
  for (uint16_t p : after) {
    if (!before.count(p) && p != s.server.port()) backend.push_back(p);
  }
  REQUIRE(backend.size() == 1);
  int fd = ConnectTcp(backend[0]);
  REQUIRE(fd >= 0);
  std::string req = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
  send(fd, req.data(), req.size(), MSG_NOSIGNAL);
  char buf[256];
  ssize_t n = recv(fd, buf, sizeof buf, 0);
  CHECK(n <= 0);  // closed without an answer
  close(fd);
  // The proxy itself still gets through, and the bypass attempt was never served.
  TlsClient c(s.server.port(), Scheduler(pki));
  CHECK(Ok(c.Request("GET", "/healthz")));
  CHECK(Metric(s.server.port(), pki,
               "mlsched_extender_requests_total{code=\"200\",verb=\"healthz\"}") == 1);
}

}  // namespace
}  // namespace mlsched::extender
