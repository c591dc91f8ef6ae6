#pragma once

// Test helpers: a real extender Server on 127.0.0.1 with a free port, a keep-alive HTTP
// client, a recording binder double and a fake clock. Shared by test/extender and test/wire.

#include <httplib.h>

#include <atomic>
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

struct TestServer {
  explicit TestServer(policy::Engine* engine, ServerOptions o = ServerOptions(),
                      FakeClock* clock = nullptr)
      : server([&] {
          o.port = 0;
          o.bind_address = "127.0.0.1";
          if (o.threads == 0) o.threads = 2;
          return o;
        }(), engine, binder.AsFunc(), clock ? clock->AsClock() : Clock()) {
    Status s = server.Start();
    if (!s.ok()) throw std::runtime_error(s.message());
    client = std::make_unique<httplib::Client>("127.0.0.1", server.port());
    client->set_keep_alive(true);
    client->set_read_timeout(30, 0);
  }

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

  RecordingBinder binder;
  Server server;
  std::unique_ptr<httplib::Client> client;
};

}  // namespace mlsched::extender::testing
