// Limits on the extender port, plain and TLS: 500 idle connections and a slow-loris client do
// not keep a filter from being answered; the slow client is cut off at --header-timeout;
// --max-connections closes extra connections at once and frees slots when they go;
// --max-header-bytes answers 431; idle and handshake timeouts on the TLS port.
//
// "Answered" is functional: the answer arrives (within a generous socket timeout), not a
// latency bound.

#include <doctest/doctest.h>
#include <httplib.h>

#include <atomic>
#include <thread>

#include "extender/server.h"
#include "policy/engine.h"
#include "test/security/security_util.h"

namespace mlsched::extender {
namespace {

using namespace security_test;
using namespace std::chrono_literals;

const char kFilter[] =
    R"({"Pod":{"metadata":{"name":"p","namespace":"ml","uid":"u1"},"spec":{}},"NodeNames":["n1","n2"]})";

// The server under test, with TLS when `pki` is given.
struct Fixture : TestServer {
  explicit Fixture(ServerOptions o, const Pki* pki = nullptr) : TestServer([&] {
    if (pki) o.tls = TlsFiles{*pki / "server.pem", *pki / "server.key", *pki / "ca.pem"};
    return o;
  }()) {}
};

struct Sockets {
  ~Sockets() {
    for (int fd : fds) close(fd);
  }
  // Opens `n` TCP connections to the port that send nothing.
  void OpenSilent(uint16_t port, int n) {
    for (int i = 0; i < n; ++i) {
      int fd = ConnectTcp(port);
      REQUIRE(fd >= 0);
      fds.push_back(fd);
    }
  }
  std::vector<int> fds;
};

// Sends `request` one byte a second until stopped or the server closes the connection.
class SlowLoris {
 public:
  explicit SlowLoris(std::function<bool(char)> send_byte)
      : thread_([this, send_byte] {
          const std::string request =
              "POST /filter HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: " + std::string(4096, 'a');
          for (size_t i = 0; i < request.size() && !stop_; ++i) {
            if (!send_byte(request[i])) {
              cut_off_ = true;
              return;
            }
            ++sent_;
            for (int t = 0; t < 10 && !stop_; ++t) std::this_thread::sleep_for(100ms);
          }
        }) {}
  ~SlowLoris() {
    stop_ = true;
    thread_.join();
  }
  int sent() const { return sent_; }
  bool cut_off() const { return cut_off_; }

 private:
  std::atomic<bool> stop_{false}, cut_off_{false};
  std::atomic<int> sent_{0};
  std::thread thread_;
};

double Metric(const std::string& text, const std::string& sample) {
  size_t at = text.find("\n" + sample + " ");
  return at == std::string::npos ? -1 : std::stod(text.substr(at + sample.size() + 2));
}

TEST_CASE("plain HTTP: a filter is answered while 500 idle connections and a slow-loris client "
          "are held open") {
  Fixture f{ServerOptions()};
  const uint16_t port = f.server.port();
  Sockets idle;
  idle.OpenSilent(port, 500);
  int loris_fd = ConnectTcp(port);
  REQUIRE(loris_fd >= 0);
  idle.fds.push_back(loris_fd);
  SlowLoris loris([&](char c) { return send(loris_fd, &c, 1, MSG_NOSIGNAL) == 1; });
  std::this_thread::sleep_for(1500ms);  // the slow client is mid-header

  httplib::Client client("127.0.0.1", port);
  client.set_read_timeout(30, 0);
  auto r = client.Post("/filter", kFilter, "application/json");
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(r->body.find("FailedNodes") != std::string::npos);
  auto m = client.Get("/metrics");
  REQUIRE(m);
  // The idle connections were really open when the filter was answered.
  CHECK(Metric(m->body, "mlsched_extender_connections") >= 500);
  CHECK(loris.sent() >= 1);
  CHECK_FALSE(loris.cut_off());
}

TEST_CASE("TLS: a filter is answered while 500 silent connections and a slow-loris client are "
          "held open") {
  TempDir dir;
  Pki pki(dir);
  Fixture f{ServerOptions(), &pki};
  const uint16_t port = f.server.port();
  Sockets idle;
  // TCP connections that never start the handshake: what stalls Pistache's own TLS.
  idle.OpenSilent(port, 500);
  TlsClient loris_conn(port, {pki / "ca.pem", pki / "client.pem", pki / "client.key", 0});
  REQUIRE(loris_conn.handshake_ok());
  SlowLoris loris([&](char c) { return loris_conn.Write(std::string(1, c)); });
  std::this_thread::sleep_for(1500ms);

  TlsClient scheduler(port, {pki / "ca.pem", pki / "client.pem", pki / "client.key", 0});
  REQUIRE_MESSAGE(scheduler.handshake_ok(), scheduler.error());
  std::string answer = scheduler.Request("POST", "/filter", kFilter);
  CHECK(answer.rfind("HTTP/1.1 200", 0) == 0);
  CHECK(answer.find("FailedNodes") != std::string::npos);
  std::string metrics = scheduler.Request("GET", "/metrics");
  CHECK(Metric(metrics, "mlsched_extender_connections") >= 500);
  CHECK(loris.sent() >= 1);
}

TEST_CASE("a slow-loris client is cut off at --header-timeout (plain and TLS)") {
  ServerOptions o;
  o.header_timeout = 1s;
  SUBCASE("plain") {
    Fixture f{o};
    int fd = ConnectTcp(f.server.port());
    REQUIRE(fd >= 0);
    std::atomic<bool> closed{false};
    {
      SlowLoris loris([&](char c) { return send(fd, &c, 1, MSG_NOSIGNAL) == 1; });
      closed = ClosedByPeer(fd, 30s);
    }
    CHECK(closed);
    close(fd);
  }
  SUBCASE("TLS") {
    TempDir dir;
    Pki pki(dir);
    Fixture f{o, &pki};
    TlsClient c(f.server.port(), {pki / "ca.pem", pki / "client.pem", pki / "client.key", 0});
    REQUIRE(c.handshake_ok());
    bool closed = false;
    {
      SlowLoris loris([&](char ch) { return c.Write(std::string(1, ch)); });
      closed = ClosedByPeer(c.fd(), 30s);
    }
    CHECK(closed);
  }
}

TEST_CASE("--max-connections: a connection beyond the cap is closed at once; slots come back") {
  ServerOptions o;
  o.max_connections = 4;
  auto check = [](uint16_t port, const std::function<bool()>& healthy) {
    Sockets held;
    for (int i = 0; i < 4; ++i) held.fds.push_back(ConnectTcp(port));
    std::this_thread::sleep_for(300ms);  // let the server register them
    int extra = ConnectTcp(port);
    REQUIRE(extra >= 0);
    CHECK(ClosedByPeer(extra, 20s));
    close(extra);
    for (int fd : held.fds) close(fd);
    held.fds.clear();
    bool ok = false;
    for (int i = 0; i < 100 && !ok; ++i) {  // the server notices the closes asynchronously
      ok = healthy();
      if (!ok) std::this_thread::sleep_for(100ms);
    }
    CHECK(ok);
  };
  SUBCASE("plain") {
    Fixture f{o};
    const uint16_t port = f.server.port();
    check(port, [port] {
      httplib::Client c("127.0.0.1", port);
      auto r = c.Get("/healthz");
      return r && r->status == 200;
    });
    httplib::Client c("127.0.0.1", port);
    auto m = c.Get("/metrics");
    REQUIRE(m);
    CHECK(Metric(m->body, "mlsched_extender_connections_closed_total{reason=\"over_limit\"}") >= 1);
  }
  SUBCASE("TLS") {
    TempDir dir;
    Pki pki(dir);
    Fixture f{o, &pki};
    const uint16_t port = f.server.port();
    check(port, [&] {
      TlsClient c(port, {pki / "ca.pem", pki / "client.pem", pki / "client.key", 0});
      return c.Request("GET", "/healthz").rfind("HTTP/1.1 200", 0) == 0;
    });
  }
}

TEST_CASE("headers above --max-header-bytes are answered 431") {
  ServerOptions o;
  o.max_header_bytes = 2048;
  Fixture f{o};
  httplib::Client c("127.0.0.1", f.server.port());
  auto small = c.Get("/healthz", {{"X-Small", std::string(500, 'a')}});
  REQUIRE(small);
  CHECK(small->status == 200);
  auto big = c.Get("/healthz", {{"X-Big", std::string(4000, 'a')}});
  REQUIRE(big);
  CHECK(big->status == 431);
}

TEST_CASE("plain port: silent and idle keep-alive connections are closed") {
  ServerOptions o;
  o.header_timeout = 500ms;
  o.idle_timeout = 500ms;
  Fixture f{o};
  int silent = ConnectTcp(f.server.port());
  REQUIRE(silent >= 0);
  CHECK(ClosedByPeer(silent, 20s));
  close(silent);
  int used = ConnectTcp(f.server.port());
  REQUIRE(used >= 0);
  std::string req = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
  REQUIRE(send(used, req.data(), req.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(req.size()));
  char buf[512];
  ssize_t n = recv(used, buf, sizeof buf, 0);
  REQUIRE(n > 0);
  CHECK(std::string(buf, static_cast<size_t>(n)).rfind("HTTP/1.1 200", 0) == 0);
  CHECK(ClosedByPeer(used, 20s));
  close(used);
}

TEST_CASE("TLS port: handshake and idle timeouts close connections") {
  TempDir dir;
  Pki pki(dir);
  ServerOptions o;
  o.header_timeout = 500ms;
  o.idle_timeout = 500ms;
  Fixture f{o, &pki};
  int silent = ConnectTcp(f.server.port());
  REQUIRE(silent >= 0);
  CHECK(ClosedByPeer(silent, 20s));
  close(silent);
  TlsClient c(f.server.port(), {pki / "ca.pem", pki / "client.pem", pki / "client.key", 0});
  REQUIRE(c.handshake_ok());
  REQUIRE(c.Request("GET", "/healthz").rfind("HTTP/1.1 200", 0) == 0);
  CHECK(ClosedByPeer(c.fd(), 20s));
  TlsClient m(f.server.port(), {pki / "ca.pem", pki / "client.pem", pki / "client.key", 0});
  std::string metrics = m.Request("GET", "/metrics");
  CHECK(Metric(metrics, "mlsched_extender_connections_closed_total{reason=\"timeout\"}") >= 2);
}

}  // namespace
}  // namespace mlsched::extender
