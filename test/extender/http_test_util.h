#pragma once

// Test helpers: a real extender Server on 127.0.0.1 with a free port, a keep-alive HTTP
// client, raw-socket HTTP for tests that control every header, a recording binder double and
// a fake clock. Shared by test/extender and test/wire.

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "extender/server.h"
#include "policy/engine.h"

namespace mlsched::extender::testing {

// A settable clock (ms since the epoch).
struct FakeClock {
  std::atomic<policy::TimeMs> now{1'800'000'000'000};
  Clock AsClock() {
    return [this] { return now.load(); };
  }
};

// Records bindings; fails those whose pod name is in `fail`.
struct RecordingBinder {
  std::mutex mu;
  std::vector<policy::PodBinding> bound;
  std::vector<std::string> fail;
  Status Bind(const policy::PodBinding& b) {
    std::lock_guard lock(mu);
    for (const auto& f : fail) {
      if (f == b.name) return Status::Conflict("pod " + b.name + " already bound elsewhere");
    }
    bound.push_back(b);
    return Status::Ok();
  }
  size_t count() {
    std::lock_guard lock(mu);
    return bound.size();
  }
  BindFunc AsFunc() {
    return [this](const policy::PodBinding& b) { return Bind(b); };
  }
};

// A Server on a free loopback port, started, over `engine` or (the first constructor) an
// empty engine of its own.
struct TestServer {
  explicit TestServer(ServerOptions o)
      : TestServer(std::make_unique<policy::Engine>(policy::Options()), std::move(o)) {}
  explicit TestServer(policy::Engine* engine, ServerOptions o = ServerOptions(),
                      FakeClock* clock = nullptr)
      : TestServer(nullptr, engine, std::move(o), clock) {}

 private:
  TestServer(std::unique_ptr<policy::Engine> owned, ServerOptions o)
      : TestServer(std::move(owned), nullptr, std::move(o), nullptr) {}
  // Members are built in declaration order: the owned engine before the server it serves.
  TestServer(std::unique_ptr<policy::Engine> owned, policy::Engine* engine, ServerOptions o,
             FakeClock* clock)
      : own_engine(std::move(owned)),
        server([&] {
          o.port = 0;
          o.bind_address = "127.0.0.1";
          if (o.threads == 0) o.threads = 2;
          return o;
        }(), own_engine ? own_engine.get() : engine, binder.AsFunc(),
               clock ? clock->AsClock() : Clock()) {
    Status s = server.Start();
    if (!s.ok()) throw std::runtime_error(s.message());
    client = std::make_unique<httplib::Client>("127.0.0.1", server.port());
    client->set_keep_alive(true);
    client->set_read_timeout(30, 0);
  }

 public:
  httplib::Result Post(const std::string& path, const std::string& body) {
    return client->Post(path, body, "application/json");
  }
  httplib::Result Get(const std::string& path) { return client->Get(path); }

  // The value of one sample of /metrics ("name{labels}"), or -1 when absent.
  double Metric(const std::string& sample) {
    auto r = Get("/metrics");
    if (!r || r->status != 200) return -1;
    size_t at = 0;
    while ((at = r->body.find(sample + " ", at)) != std::string::npos) {
      if (at == 0 || r->body[at - 1] == '\n') {
        return std::stod(r->body.substr(at + sample.size() + 1));
      }
      at += sample.size();
    }
    return -1;
  }

  std::unique_ptr<policy::Engine> own_engine;  // set by the first constructor only
  RecordingBinder binder;
  Server server;
  std::unique_ptr<httplib::Client> client;
};

// HTTP/1.x on a raw socket, written by hand so that the test controls every header and
// when answers are read.
struct RawAnswer {
  std::string head;  // status line and headers, lower-cased; "" when the server hung up
  std::string body;
};
inline void SendAll(int fd, const std::string& bytes) {
  size_t sent = 0;
  while (sent < bytes.size()) {
    ssize_t n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    REQUIRE(n > 0);
    sent += size_t(n);
  }
}
// Reads one answer; `carry` holds bytes read past the previous answer.
inline RawAnswer ReadAnswer(int fd, std::string* carry) {
  RawAnswer a;
  std::string& in = *carry;
  size_t head_end = std::string::npos, total = 0;
  std::string buf(1 << 20, '\0');
  for (;;) {
    if (head_end == std::string::npos && (head_end = in.find("\r\n\r\n")) != std::string::npos) {
      a.head = in.substr(0, head_end + 2);
      std::transform(a.head.begin(), a.head.end(), a.head.begin(),
                     [](unsigned char c) { return std::tolower(c); });
      size_t at = a.head.find("content-length:");
      REQUIRE(at != std::string::npos);
      total = head_end + 4 + std::stoul(a.head.substr(at + 15));
    }
    if (head_end != std::string::npos && in.size() >= total) break;
    ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
    if (n <= 0) return RawAnswer{};
    in.append(buf.data(), size_t(n));
  }
  a.body = in.substr(head_end + 4, total - head_end - 4);
  in.erase(0, total);
  return a;
}
inline RawAnswer Exchange(int fd, const std::string& request) {
  SendAll(fd, request);
  std::string carry;
  return ReadAnswer(fd, &carry);
}
// The head's lines after the status line, sorted: headers compared as a set.
inline std::vector<std::string> HeaderLines(const std::string& head) {
  std::vector<std::string> lines;
  size_t at = head.find("\r\n");
  while (at != std::string::npos && at + 2 < head.size()) {
    size_t next = head.find("\r\n", at + 2);
    lines.push_back(head.substr(at + 2, next - at - 2));
    at = next;
  }
  std::sort(lines.begin(), lines.end());
  return lines;
}
inline std::string RawPost(const std::string& path, const std::string& body,
                 const std::string& version = "HTTP/1.1", const std::string& extra = "") {
  return "POST " + path + " " + version + "\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n" +
         extra + "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

// A TCP connection to 127.0.0.1:port with 30 s send and receive timeouts (nothing in the tests
// waits that long unless something is broken), or -1.
inline int ConnectTcp(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  timeval tv{30, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  return fd;
}
// ConnectTcp that must succeed.
inline int ConnectTo(uint16_t port) {
  const int fd = ConnectTcp(port);
  REQUIRE(fd >= 0);
  return fd;
}

}  // namespace mlsched::extender::testing
