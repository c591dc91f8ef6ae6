#include "extender/server.h"

#include "extender/ui/assets.h"

#include <glog/logging.h>
#include <pistache/endpoint.h>
#include <pistache/http.h>
#include <pistache/net.h>
#include <pistache/peer.h>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstdlib>
#include <array>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "extender/direct_answer.h"
#include "extender/tls_proxy.h"

namespace mlsched::extender {

policy::TimeMs SystemClockMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

namespace {

using Pistache::Http::Code;
using Pistache::Http::Request;
using Pistache::Http::ResponseWriter;
using SteadyClock = std::chrono::steady_clock;

enum Verb : int { kFilter, kPrioritize, kBind, kPreempt, kEmpty, kHealth, kReady, kMetrics,
                  kDebug, kOther, kNumVerbs };
constexpr std::array<const char*, kNumVerbs> kVerbNames = {
    "filter", "prioritize", "bind", "preempt", "empty", "healthz", "readyz", "metrics",
    "debug", "other"};
constexpr std::array<int, 8> kCodes = {200, 400, 404, 405, 413, 500, 503, 0};

const Pistache::Http::Mime::MediaType& JsonMime() {
  static const auto* m = new Pistache::Http::Mime::MediaType(MIME(Application, Json));
  return *m;
}
const Pistache::Http::Mime::MediaType& TextMime() {
  static const auto* m = new Pistache::Http::Mime::MediaType(MIME(Text, Plain));
  return *m;
}

// A fixed pool of threads running queued tasks; Drain waits (bounded) for the queue to empty.
class WorkQueue {
 public:
  explicit WorkQueue(int threads) {
    for (int i = 0; i < std::max(1, threads); ++i) threads_.emplace_back([this] { Run(); });
  }
  ~WorkQueue() { Stop(); }

  void Push(std::function<void()> task) {
    {
      std::lock_guard lock(mu_);
      ++pending_;
      tasks_.push_back(std::move(task));
    }
    cv_.notify_one();
  }

  // True when every queued task finished before `deadline`.
  bool Drain(SteadyClock::time_point deadline) {
    std::unique_lock lock(mu_);
    return idle_cv_.wait_until(lock, deadline, [&] { return pending_ == 0; });
  }

  void Stop() {
    {
      std::lock_guard lock(mu_);
      if (stop_) return;
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
  }

 private:
  void Run() {
    for (;;) {
      std::function<void()> task;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] { return stop_ || !tasks_.empty(); });
        if (tasks_.empty()) return;  // stopping and nothing left
        task = std::move(tasks_.front());
        tasks_.pop_front();
      }
      task();
      {
        std::lock_guard lock(mu_);
        --pending_;
      }
      idle_cv_.notify_all();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::condition_variable idle_cv_;
  std::deque<std::function<void()>> tasks_;
  size_t pending_ = 0;
  bool stop_ = false;
  std::vector<std::thread> threads_;
};

// Metric families and pre-built children (Family::Add takes a lock; the hot path must not).
struct Metrics {
  explicit Metrics(prometheus::Registry& r) {
    auto& requests = prometheus::BuildCounter()
                         .Name("mlsched_extender_requests_total")
                         .Help("HTTP requests answered, by verb and status code.")
                         .Register(r);
    auto& latency = prometheus::BuildHistogram()
                        .Name("mlsched_extender_request_duration_seconds")
                        .Help("Time from a request's arrival (body read) to its answer, by verb. "
                              "Parked binds count their wait.")
                        .Register(r);
    auto& bad = prometheus::BuildCounter()
                    .Name("mlsched_extender_bad_requests_total")
                    .Help("Requests refused because their body could not be read, by verb.")
                    .Register(r);
    const prometheus::Histogram::BucketBoundaries buckets = {
        10e-6, 25e-6, 50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3,
        25e-3, 50e-3, 100e-3, 250e-3, 500e-3, 1, 2.5, 5, 10, 30};
    for (int v = 0; v < kNumVerbs; ++v) {
      for (size_t c = 0; c < kCodes.size(); ++c) {
        std::string code = kCodes[c] == 0 ? "other" : std::to_string(kCodes[c]);
        request_count[v][c] = &requests.Add({{"verb", kVerbNames[v]}, {"code", code}});
      }
      duration[v] = &latency.Add({{"verb", kVerbNames[v]}}, buckets);
      bad_requests[v] = &bad.Add({{"verb", kVerbNames[v]}});
    }
    auto& binds = prometheus::BuildCounter()
                      .Name("mlsched_extender_bindings_total")
                      .Help("Bindings created through the binder, by result.")
                      .Register(r);
    bindings_ok = &binds.Add({{"result", "ok"}});
    bindings_failed = &binds.Add({{"result", "error"}});
    auto& expired = prometheus::BuildCounter()
                        .Name("mlsched_extender_bind_expiries_total")
                        .Help("Parked gang binds answered with an error (barrier timeout, "
                              "gang failure or shutdown).")
                        .Register(r);
    bind_expiries = &expired.Add({});
    auto& parked_family = prometheus::BuildGauge()
                              .Name("mlsched_extender_parked_binds")
                              .Help("Bind requests waiting at a gang barrier.")
                              .Register(r);
    parked = &parked_family.Add({});
    auto& ready_family = prometheus::BuildGauge()
                             .Name("mlsched_extender_ready")
                             .Help("1 when /readyz answers 200.")
                             .Register(r);
    ready = &ready_family.Add({});
    auto& model = prometheus::BuildGauge()
                      .Name("mlsched_model_objects")
                      .Help("Sizes of the policy model, by kind.")
                      .Register(r);
    auto& closed = prometheus::BuildCounter()
                       .Name("mlsched_extender_connections_closed_total")
                       .Help("Connections the server closed on its own, by reason: over_limit "
                             "(--max-connections), tls_handshake (refused or broken TLS "
                             "handshake, e.g. no or wrong client certificate), timeout (TLS "
                             "handshake or idle timeout on the TLS port).")
                       .Register(r);
    for (const char* reason : {"over_limit", "tls_handshake", "timeout"}) {
      connections_closed[reason] = &closed.Add({{"reason", reason}});
    }
    auto& spilled_family =
        prometheus::BuildCounter()
            .Name("mlsched_extender_answers_spilled_total")
            .Help("Answers the connection's socket did not take at once (a slow or stalled "
                  "reader, or a very large answer); their rest waited in the write queue.")
            .Register(r);
    spilled = &spilled_family.Add({});
    auto& open = prometheus::BuildGauge()
                     .Name("mlsched_extender_connections")
                     .Help("Connections open on the extender port.")
                     .Register(r);
    connections = &open.Add({});
    for (const char* kind : {"nodes", "pods", "bound_pods", "assumed_pods", "pod_groups", "gangs",
                             "gangs_waiting", "reservations", "pipeline_runs", "waiting_binds"}) {
      model_size[kind] = &model.Add({{"kind", kind}});
    }
  }

  void Count(Verb v, int code, double seconds) {
    size_t c = 0;
    while (c + 1 < kCodes.size() && kCodes[c] != code) ++c;
    request_count[v][c]->Increment();
    duration[v]->Observe(seconds);
  }

  std::array<std::array<prometheus::Counter*, kCodes.size()>, kNumVerbs> request_count{};
  std::array<prometheus::Histogram*, kNumVerbs> duration{};
  std::array<prometheus::Counter*, kNumVerbs> bad_requests{};
  prometheus::Counter* bindings_ok = nullptr;
  prometheus::Counter* bindings_failed = nullptr;
  prometheus::Counter* bind_expiries = nullptr;
  prometheus::Gauge* parked = nullptr;
  prometheus::Gauge* ready = nullptr;
  std::map<std::string, prometheus::Gauge*> model_size;
  std::map<std::string, prometheus::Counter*> connections_closed;
  prometheus::Gauge* connections = nullptr;
  prometheus::Counter* spilled = nullptr;
};

// Brings a counter up to a running total kept elsewhere.
void CatchUp(prometheus::Counter* c, int64_t total) {
  double delta = static_cast<double>(total) - c->Value();
  if (delta > 0) c->Increment(delta);
}

// The bytes of a request's header block, as received (approximately: name, value, ": ", CRLF).
size_t HeaderBytes(const Request& req) {
  size_t n = req.resource().size() + req.query().as_str().size() + 16;
  for (const auto& h : req.headers().rawList()) n += h.first.size() + h.second.value().size() + 4;
  return n;
}

double SecondsSince(SteadyClock::time_point start) {
  return std::chrono::duration<double>(SteadyClock::now() - start).count();
}

std::string QueryParam(const Request& req, const std::string& name) {
  auto v = req.query().get(name);
  return v ? *v : std::string();
}

// A response header Pistache has no type for. (Pistache 0.0.5 does not serialise raw headers,
// Header::Collection::addRaw; only typed ones.)
class FixedHeader : public Pistache::Http::Header::Header {
 public:
  FixedHeader(const char* name, const char* value) : name_(name), value_(value) {}
  const char* name() const override { return name_; }
  void write(std::ostream& os) const override { os << value_; }
#ifdef SAFE_HEADER_CAST
  uint64_t hash() const override { return Pistache::Http::Header::detail::hash(name_); }
#endif

 private:
  const char* name_;
  const char* value_;
};

void AddHeader(ResponseWriter& w, const char* name, const char* value) {
  w.headers().add(std::make_shared<FixedHeader>(name, value));
}

// Milliseconds on the steady clock, for the cluster view's request-rate history.
int64_t MonoMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             SteadyClock::now().time_since_epoch())
      .count();
}

// Pistache hands query values over as sent; the page encodes them (encodeURIComponent).
std::string PercentDecode(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
      out += static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2]));
      i += 2;
    } else if (s[i] == '+') {
      out += ' ';
    } else {
      out += s[i];
    }
  }
  return out;
}

}  // namespace

struct Server::Impl {
  Impl(Server* self, ServerOptions o, policy::Engine* e, BindFunc b, Clock c)
      : self(self), options(std::move(o)), engine(e), bind(std::move(b)),
        clock(c ? std::move(c) : Clock(&SystemClockMs)), metrics(registry),
        view(engine, &service_history, [this] { return ApiState(); }) {
    for (auto [verb, name] : {std::pair{kFilter, "/filter"}, {kPrioritize, "/prioritize"},
                              {kBind, "/bind"}, {kPreempt, "/preempt"}}) {
      routes[options.url_prefix + name] = verb;
    }
    if (options.empty_route) routes[options.url_prefix + "/empty"] = kEmpty;
  }

  // ---- Answers. ----

  // One write: Pistache serialises the status line, headers and body into one buffer.
  void Reply(ResponseWriter& w, Verb verb, int code, const std::string& body,
             const Pistache::Http::Mime::MediaType& mime, SteadyClock::time_point start) {
    std::shared_ptr<Pistache::Tcp::Peer> peer = w.peer();
    Queue(peer ? QueuedOf(*peer) : nullptr, verb,
          [&] { return w.send(static_cast<Code>(code), body, mime); });
    Record(verb, code, start);
  }

  // Hands a write to Pistache's queue (`send` makes it) and counts it until it is done:
  // Shutdown waits for pending_writes before it stops the reactors, or an answer sent from the
  // bind pool or the timer could be lost; `queued`, the connection's count, keeps later direct
  // answers behind it.
  template <typename Send>
  void Queue(std::shared_ptr<QueuedCount> queued, Verb verb, Send&& send) {
    auto done = [this, queued] {
      --pending_writes;
      if (queued) --*queued;
    };
    ++pending_writes;
    if (queued) ++*queued;
    try {
      send().then([done](ssize_t) { done(); }, [done](std::exception_ptr) { done(); });
    } catch (const std::exception& e) {
      done();
      // The peer went away: nothing to answer, nothing to undo.
      VLOG(1) << kVerbNames[verb] << ": could not write the answer: " << e.what();
    } catch (...) {
      done();
      VLOG(1) << kVerbNames[verb] << ": could not write the answer";
    }
  }

  // An answer made on the reactor thread that read `req`, written straight to the socket
  // (extender/direct_answer.h says why); Reply when the connection has answers queued, or
  // with direct answers off.
  void ReplyNow(const Request& req, ResponseWriter& w, Verb verb, int code,
                const std::string& body, const Pistache::Http::Mime::MediaType& mime,
                SteadyClock::time_point start) {
    std::shared_ptr<Pistache::Tcp::Peer> peer = options.direct_answers ? w.peer() : nullptr;
    std::shared_ptr<QueuedCount> queued = peer ? QueuedOf(*peer) : nullptr;
    if (!queued || queued->load() != 0) return Reply(w, verb, code, body, mime, start);
    const std::string head =
        AnswerHead(req.version(), static_cast<Code>(code), w.headers(), mime, body.size());
    // Counted before the write, as Reply counts before the reactor writes: a caller that has
    // the answer must find it in /metrics and the service view.
    Record(verb, code, start);
    // As ResponseWriter::sendImpl: the connection is between requests from now on (Pistache
    // applies the keep-alive timeout to it, not the request timeouts).
    peer->setIdle(true);
    const ssize_t written = WriteNow(peer->fd(), head, body);
    const size_t total = head.size() + body.size();
    if (written >= 0 && static_cast<size_t>(written) < total) {
      // The socket is full: the rest through Pistache's queue, which waits until it drains.
      metrics.spilled->Increment();
      const size_t from = static_cast<size_t>(written);
      std::string rest = from < head.size() ? head.substr(from) + body
                                            : body.substr(from - head.size());
      Queue(std::move(queued), verb, [&] {
        const size_t size = rest.size();
        return peer->send(Pistache::RawBuffer(std::move(rest), size));
      });
    } else if (written < 0) {
      VLOG(1) << kVerbNames[verb] << ": could not write the answer: the peer went away";
    }
  }

  void Record(Verb verb, int code, SteadyClock::time_point start) {
    double seconds = SecondsSince(start);
    metrics.Count(verb, code, seconds);
    service_history.Record(kVerbNames[verb], code != 200, seconds, MonoMs());
  }

  void BadRequest(ResponseWriter& w, Verb verb, int code, const std::string& message,
                  const Request* req, SteadyClock::time_point start) {
    metrics.bad_requests[verb]->Increment();
    LOG(WARNING) << kVerbNames[verb] << ": refused a request"
                 << (req ? " of " + std::to_string(req->body().size()) + " bytes" : "") << ": "
                 << message.substr(0, 512);
    std::string body;
    EncodeBadRequest(message, &body);
    Reply(w, verb, code, body, JsonMime(), start);
  }

  // ---- Verbs. ----

  void Filter(const Request& req, ResponseWriter& w, SteadyClock::time_point start) {
    ExtenderArgs args;
    Status s = DecodeExtenderArgs(req.body(), options.limits, &args, &names_cache);
    if (!s.ok()) return BadRequest(w, kFilter, 400, "filter: " + s.message(), &req, start);
    policy::FilterResult result = engine->Filter(args.pod, args.candidates, clock());
    std::string out;
    EncodeFilterResult(args, req.body(), result, &out);
    ReplyNow(req, w, kFilter, 200, out, JsonMime(), start);
    Remember(std::move(args.pod));
  }

  void Prioritize(const Request& req, ResponseWriter& w, SteadyClock::time_point start) {
    ExtenderArgs args;
    Status s = DecodeExtenderArgs(req.body(), options.limits, &args, &names_cache);
    if (!s.ok()) {
      return BadRequest(w, kPrioritize, 400, "prioritize: " + s.message(), &req, start);
    }
    policy::Scores scores = engine->Prioritize(args.pod, args.candidates, clock());
    std::string out;
    EncodeHostPriorityList(args.candidates, scores, &out, args.names_plain);
    ReplyNow(req, w, kPrioritize, 200, out, JsonMime(), start);
  }

  void Preempt(const Request& req, ResponseWriter& w, SteadyClock::time_point start) {
    PreemptionArgs args;
    Status s = DecodePreemptionArgs(req.body(), options.limits, &args);
    if (!s.ok()) return BadRequest(w, kPreempt, 400, "preempt: " + s.message(), &req, start);
    std::vector<policy::NodeVictims> result = engine->Preempt(args.pod, args.candidates, clock());
    // The protocol allows dropping nodes and victims, never adding them: keep only what the
    // request proposed, and only nodes that keep a victim.
    std::unordered_map<std::string_view, const policy::NodeVictims*> proposed;
    for (const auto& c : args.candidates) proposed[c.node] = &c;
    std::vector<policy::NodeVictims> kept;
    for (auto& nv : result) {
      auto it = proposed.find(nv.node);
      if (it == proposed.end()) continue;
      const auto& allowed = it->second->victim_uids;
      std::erase_if(nv.victim_uids, [&](const std::string& uid) {
        return std::find(allowed.begin(), allowed.end(), uid) == allowed.end();
      });
      if (nv.victim_uids.empty()) continue;
      kept.push_back(std::move(nv));
    }
    std::string out;
    EncodePreemptionResult(kept, &out);
    ReplyNow(req, w, kPreempt, 200, out, JsonMime(), start);
  }

  void Bind(const Request& req, ResponseWriter& w, SteadyClock::time_point start) {
    BindingArgs args;
    Status s = DecodeBindingArgs(req.body(), options.limits, &args);
    if (!s.ok()) return BadRequest(w, kBind, 400, "bind: " + s.message(), &req, start);
    policy::PodBinding binding{args.pod_namespace, args.pod_name, args.pod_uid, args.node};
    std::string out;
    if (self->shutting_down()) {
      EncodeBindingResult("mlsched is shutting down; the scheduler will retry this pod", &out);
      return Reply(w, kBind, 200, out, JsonMime(), start);
    }
    std::vector<Answer> released;
    policy::BindDecision d;
    {
      // Deciding and parking under one lock: a release decided by a concurrent bind finds
      // this writer parked (see TakeParkedLocked).
      std::lock_guard lock(parked_mu);
      d = engine->Bind(binding, clock());
      if (d.kind == policy::BindDecision::Kind::kWait) {
        auto old = parked.find(binding.uid);
        if (old != parked.end()) {
          // The scheduler gave up on the earlier request and asked again.
          released.push_back(Answer{std::move(old->second), "superseded by a newer bind request"});
          parked.erase(old);
        }
        parked.emplace(binding.uid, Parked{std::move(w), start, binding});
        metrics.parked->Set(static_cast<double>(parked.size()));
      } else if (d.kind == policy::BindDecision::Kind::kBindNow) {
        for (size_t i = 1; i < d.bindings.size(); ++i) {
          auto it = parked.find(d.bindings[i].uid);
          if (it == parked.end()) continue;
          released.push_back(Answer{std::move(it->second), ""});
          parked.erase(it);
        }
        metrics.parked->Set(static_cast<double>(parked.size()));
      }
    }
    for (auto& a : released) {
      if (!a.error.empty()) AnswerParked(a.parked, a.error);
    }
    switch (d.kind) {
      case policy::BindDecision::Kind::kFail:
        EncodeBindingResult(d.error.empty() ? "bind refused" : d.error, &out);
        return Reply(w, kBind, 200, out, JsonMime(), start);
      case policy::BindDecision::Kind::kWait:
        VLOG(1) << "bind " << binding.ns << "/" << binding.name << " waits at its gang barrier";
        PokeTimer();
        return;
      case policy::BindDecision::Kind::kBindNow:
        break;
    }
    // Create every binding on the pool; each answers its own request when done.
    std::erase_if(released, [](const Answer& a) { return !a.error.empty(); });
    for (size_t i = 0; i < d.bindings.size(); ++i) {
      std::optional<Parked> target;
      if (i == 0) {
        if (d.bindings[0].uid == binding.uid) {
          target = Parked{std::move(w), start, binding};
        }
      } else {
        for (auto& a : released) {
          if (a.parked.binding.uid == d.bindings[i].uid && a.parked.writer) {
            target = std::move(a.parked);
            a.parked.writer.reset();
          }
        }
      }
      ++binding_tasks;
      bind_pool->Push([this, b = d.bindings[i], t = std::make_shared<std::optional<Parked>>(
                                                    std::move(target))]() mutable {
        CreateBinding(b, t.get());
        --binding_tasks;
      });
    }
    // The engine did not list this request's pod first: answer it from here.
    if (d.bindings.empty() || d.bindings[0].uid != binding.uid) {
      EncodeBindingResult("", &out);
      Reply(w, kBind, 200, out, JsonMime(), start);
    }
  }

  void Empty(const Request& req, ResponseWriter& w, SteadyClock::time_point start) {
    // Touch the body so that the baseline pays for reading it as the verbs do.
    volatile size_t n = req.body().size();
    (void)n;
    static const std::string kBody = R"({"Error":""})";
    // ?answer_bytes=N: answer N bytes instead, so that the bench can tell what sending a verb's
    // answer costs by itself (a 5,000-node priority list is 190 KB). Capped at 64 MiB.
    if (auto q = req.query().get("answer_bytes")) {
      char* end = nullptr;
      const unsigned long long want = std::strtoull(q->c_str(), &end, 10);
      if (!q->empty() && *end == '\0' && want <= (64ull << 20)) {
        ReplyNow(req, w, kEmpty, 200, std::string(static_cast<size_t>(want), ' '), JsonMime(),
                 start);
        return;
      }
    }
    ReplyNow(req, w, kEmpty, 200, kBody, JsonMime(), start);
  }

  // ---- Binds. ----

  struct Parked {
    std::optional<ResponseWriter> writer;
    SteadyClock::time_point start;
    policy::PodBinding binding;
    Parked(ResponseWriter&& w, SteadyClock::time_point s, policy::PodBinding b)
        : writer(std::move(w)), start(s), binding(std::move(b)) {}
  };
  struct Answer {
    Parked parked;
    std::string error;
  };

  void AnswerParked(Parked& p, const std::string& error) {
    if (!p.writer) return;
    std::string out;
    EncodeBindingResult(error, &out);
    Reply(*p.writer, kBind, 200, out, JsonMime(), p.start);
    p.writer.reset();
  }

  void CreateBinding(const policy::PodBinding& b, std::optional<Parked>* target) {
    Status s;
    try {
      s = bind ? bind(b) : Status::Internal("no binder configured");
    } catch (const std::exception& e) {
      s = Status::Internal(std::string("binder threw: ") + e.what());
    }
    engine->BindDone(b, s.ok(), s.message(), clock());
    if (s.ok()) {
      metrics.bindings_ok->Increment();
      LOG(INFO) << "bound " << b.ns << "/" << b.name << " to " << b.node;
    } else {
      metrics.bindings_failed->Increment();
      LOG(WARNING) << "binding " << b.ns << "/" << b.name << " to " << b.node
                   << " failed: " << s.message();
    }
    if (target->has_value()) {
      AnswerParked(**target, s.ok() ? "" : "binding " + b.ns + "/" + b.name + " to " + b.node +
                                               " failed: " + s.message());
    }
  }

  void PokeTimer() {
    {
      std::lock_guard lock(timer_mu);
      timer_poked = true;
    }
    timer_cv.notify_all();
  }

  void TimerLoop() {
    std::unique_lock lock(timer_mu);
    while (!timer_stop) {
      std::optional<policy::TimeMs> next = engine->NextBindDeadline();
      policy::TimeMs now = clock();
      // Re-read at least every second: the clock may be a fake one that tests advance.
      int64_t wait_ms = 1000;
      if (next) wait_ms = std::clamp<int64_t>(*next - now, 0, 1000);
      if (wait_ms > 0) {
        timer_cv.wait_for(lock, std::chrono::milliseconds(wait_ms),
                          [&] { return timer_stop || timer_poked; });
      }
      timer_poked = false;
      if (timer_stop) break;
      lock.unlock();
      ExpireDue();
      lock.lock();
    }
  }

  void ExpireDue() {
    std::vector<std::pair<Parked, std::string>> due;
    {
      std::lock_guard lock(parked_mu);
      for (auto& e : engine->ExpireBinds(clock())) {
        auto it = parked.find(e.uid);
        if (it == parked.end()) continue;
        due.emplace_back(std::move(it->second), e.error);
        parked.erase(it);
      }
      metrics.parked->Set(static_cast<double>(parked.size()));
    }
    for (auto& [p, error] : due) {
      metrics.bind_expiries->Increment();
      LOG(INFO) << "bind " << p.binding.ns << "/" << p.binding.name << " expired: " << error;
      AnswerParked(p, error.empty() ? "gang bind barrier expired" : error);
    }
  }

  void AnswerAllParked(const std::string& error) {
    std::vector<Parked> all;
    {
      std::lock_guard lock(parked_mu);
      for (auto& [uid, p] : parked) all.push_back(std::move(p));
      parked.clear();
      metrics.parked->Set(0);
    }
    // Not reported to the engine: BindDone is for bindings Bind returned, and the process is
    // about to exit; the scheduler retries these pods against the next instance.
    for (auto& p : all) {
      metrics.bind_expiries->Increment();
      AnswerParked(p, error);
    }
  }

  // ---- Operations. ----

  bool Ready() {
    if (self->shutting_down()) return false;
    std::lock_guard lock(hooks_mu);
    return !synced || synced();
  }

  void ServeMetrics(ResponseWriter& w, SteadyClock::time_point start) {
    policy::ModelStats st = engine->Stats();
    auto set = [&](const char* k, int64_t v) { metrics.model_size[k]->Set(static_cast<double>(v)); };
    set("nodes", st.nodes);
    set("pods", st.pods);
    set("bound_pods", st.bound_pods);
    set("assumed_pods", st.assumed_pods);
    set("pod_groups", st.pod_groups);
    set("gangs", st.gangs);
    set("gangs_waiting", st.gangs_waiting);
    set("reservations", st.reservations);
    set("pipeline_runs", st.pipeline_runs);
    set("waiting_binds", st.waiting_binds);
    metrics.ready->Set(Ready() ? 1 : 0);
    {
      std::lock_guard lock(hooks_mu);
      for (auto& h : scrape_hooks) h();
    }
    std::string text = prometheus::TextSerializer().Serialize(registry.Collect());
    static const Pistache::Http::Mime::MediaType kPromMime = [] {
      Pistache::Http::Mime::MediaType m(MIME(Text, Plain));
      m.setParam("version", "0.0.4");
      return m;
    }();
    Reply(w, kMetrics, 200, text, kPromMime, start);
  }

  // The explain view (loopback only).
  void Debug(const Request& req, ResponseWriter& w, SteadyClock::time_point start) {
    rapidjson::StringBuffer sb;
    rapidjson::Writer<rapidjson::StringBuffer> j(sb);
    auto str = [&](std::string_view s) { j.String(s.data(), static_cast<rapidjson::SizeType>(s.size())); };
    const std::string& path = req.resource();
    if (path.rfind("/debug/view/", 0) == 0) return View(req, w, start);
    if (path == "/" || path == "/ui" || path.rfind("/ui/", 0) == 0) return Page(path, w, start);
    if (path == "/debug/gangs") {
      j.StartArray();
      for (const auto& g : engine->Gangs()) WriteGang(j, g);
      j.EndArray();
    } else if (path == "/debug/nodes") {
      size_t offset = 0, limit = 100;
      try {
        std::string o = QueryParam(req, "offset"), l = QueryParam(req, "limit");
        if (!o.empty()) offset = std::stoul(o);
        if (!l.empty()) limit = std::min<size_t>(std::stoul(l), 10'000);
      } catch (const std::exception&) {
        return BadRequest(w, kDebug, 400, "offset and limit must be non-negative integers",
                          nullptr, start);
      }
      j.StartArray();
      for (const auto& n : engine->Nodes(offset, limit)) {
        j.StartObject();
        str("name"); str(n.name);
        str("schedulable"); j.Bool(n.schedulable);
        str("labels"); j.StartObject();
        for (const auto& [k, v] : n.labels) { str(k); str(v); }
        j.EndObject();
        str("allocatable"); str(policy::ToString(n.allocatable));
        str("requested"); str(policy::ToString(n.requested));
        str("reserved"); str(policy::ToString(n.reserved));
        str("gpu_reserved_by_gang"); j.StartObject();
        for (const auto& [gang, gpus] : n.gpu_reserved_by_gang) { str(gang); j.Int64(gpus); }
        j.EndObject();
        j.EndObject();
      }
      j.EndArray();
    } else if (path == "/debug/pod") {
      std::string ns = QueryParam(req, "namespace"), name = QueryParam(req, "name");
      if (name.empty()) {
        return BadRequest(w, kDebug, 400, "/debug/pod needs ?namespace=...&name=...", nullptr,
                          start);
      }
      if (ns.empty()) ns = "default";
      policy::TimeMs now = clock();
      j.StartObject();
      str("pod"); str(ns + "/" + name);
      str("why_waiting"); str(engine->WhyWaiting(ns, name, now));
      str("gang");
      if (auto g = engine->GangOf(ns, name)) WriteGang(j, *g); else j.Null();
      str("scores");
      std::optional<policy::Pod> pod = self->RecentPod(ns, name);
      if (pod) {
        // Every node of the model as a candidate, as percentageOfNodesToScore: 100 sends them.
        std::vector<policy::NodeView> nodes = engine->Nodes(0, SIZE_MAX);
        std::vector<policy::Candidate> candidates;
        candidates.reserve(nodes.size());
        for (const auto& n : nodes) candidates.push_back({n.name, nullptr});
        j.StartArray();
        for (const auto& e : engine->ExplainScores(*pod, candidates, now)) {
          j.StartObject();
          str("node"); str(e.node);
          str("total"); j.Int64(e.total);
          str("rules"); j.StartArray();
          for (const auto& r : e.rules) {
            j.StartObject();
            str("rule"); str(r.rule);
            str("weight"); j.Int(r.weight);
            str("score"); j.Int64(r.score);
            j.EndObject();
          }
          j.EndArray();
          j.EndObject();
        }
        j.EndArray();
      } else {
        // Scores need the Pod object: only pods the scheduler asked about recently have one.
        j.Null();
        str("note"); str("no filter request for this pod seen recently; scores need its spec");
      }
      j.EndObject();
    } else {
      return BadRequest(w, kDebug, 404, "no such debug view: " + path +
                                            " (try /, /debug/view/summary, /debug/gangs, "
                                            "/debug/nodes, /debug/pod)",
                        nullptr, start);
    }
    Reply(w, kDebug, 200, std::string(sb.GetString(), sb.GetSize()), JsonMime(), start);
  }

  // The cluster view's JSON (extender/cluster_view.h).
  void View(const Request& req, ResponseWriter& w, SteadyClock::time_point start) {
    Params params;
    for (auto it = req.query().parameters_begin(); it != req.query().parameters_end(); ++it) {
      params.emplace(PercentDecode(it->first), PercentDecode(it->second));
    }
    ViewAnswer a = view.Serve(req.resource(), params, SystemClockMs(), MonoMs());
    AddHeader(w, "Cache-Control", "no-store");
    if (a.code != 200) metrics.bad_requests[kDebug]->Increment();
    Reply(w, kDebug, a.code, a.body, JsonMime(), start);
  }

  // The cluster view page: / and /ui/ serve index.html, /ui/<file> the other files. Strict
  // headers: nothing but this origin may be loaded or framed.
  void Page(const std::string& path, ResponseWriter& w, SteadyClock::time_point start) {
    std::string_view name = path == "/" || path == "/ui" || path == "/ui/"
                                ? std::string_view("index.html")
                                : std::string_view(path).substr(4);
    const ui::Asset* asset = ui::FindAsset(name);
    if (!asset) {
      return BadRequest(w, kDebug, 404, "no such page file: " + path, nullptr, start);
    }
    AddHeader(w, "Content-Security-Policy",
              "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
              "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'");
    AddHeader(w, "X-Content-Type-Options", "nosniff");
    AddHeader(w, "Referrer-Policy", "no-referrer");
    AddHeader(w, "Cache-Control", "no-store");
    Reply(w, kDebug, 200, std::string(asset->body),
          Pistache::Http::Mime::MediaType::fromString(std::string(asset->mime)), start);
  }

  ApiWatchState ApiState() {
    std::lock_guard lock(hooks_mu);
    return api_probe ? api_probe() : ApiWatchState{};
  }

  template <class W>
  static void WriteGang(W& j, const policy::GangView& g) {
    auto str = [&](std::string_view s) { j.String(s.data(), static_cast<rapidjson::SizeType>(s.size())); };
    j.StartObject();
    str("gang"); str(g.ns + "/" + g.name);
    str("source"); str(g.source);
    str("state"); str(g.state);
    str("min_member"); j.Int(g.min_member);
    str("members"); j.Int(g.members);
    str("bound"); j.Int(g.bound);
    str("reason"); str(g.reason);
    str("plan"); j.StartArray();
    for (const auto& m : g.plan) {
      j.StartObject();
      str("pod"); str(m.pod);
      str("uid"); str(m.uid);
      str("node"); str(m.node);
      str("bound"); j.Bool(m.bound);
      str("waiting_bind"); j.Bool(m.waiting_bind);
      j.EndObject();
    }
    j.EndArray();
    str("domains"); j.StartArray();
    for (const auto& d : g.domains) str(d);
    j.EndArray();
    j.EndObject();
  }

  void OnRequest(const Request& req, ResponseWriter w, bool debug_endpoint, bool health_only) {
    SteadyClock::time_point start = SteadyClock::now();
    ++in_flight;
    try {
      const std::string& path = req.resource();
      if (HeaderBytes(req) > options.max_header_bytes) {
        BadRequest(w, kOther, 431,
                   "request headers larger than " + std::to_string(options.max_header_bytes) +
                       " bytes (--max-header-bytes)",
                   nullptr, start);
      } else if (health_only && path != "/healthz" && path != "/livez" && path != "/readyz") {
        BadRequest(w, kOther, 404, "the probe port serves /healthz, /livez and /readyz only",
                   nullptr, start);
      } else {
        Dispatch(req, w, debug_endpoint, start);
      }
    } catch (const std::exception& e) {
      LOG(ERROR) << "handler for " << req.resource() << " threw: " << e.what();
      // The writer may have been moved (parked or handed to the pool): only a fresh one answers
      // (Reply's queueing drops what a moved one throws). Queued like every answer, so that a
      // later direct answer on this connection waits for it.
      std::string body;
      EncodeBadRequest(std::string("internal error: ") + e.what(), &body);
      Reply(w, kOther, 500, body, JsonMime(), start);
    }
    --in_flight;
  }

  void Dispatch(const Request& req, ResponseWriter& w, bool debug_endpoint,
                SteadyClock::time_point start) {
    const std::string& path = req.resource();
    const bool post = req.method() == Pistache::Http::Method::Post;
    const bool get = req.method() == Pistache::Http::Method::Get;
    if (debug_endpoint) {
      if (!get) return BadRequest(w, kDebug, 405, "use GET", nullptr, start);
      return Debug(req, w, start);
    }
    auto route = routes.find(path);
    if (route != routes.end()) {
      Verb verb = route->second;
      if (!post) return BadRequest(w, verb, 405, "use POST", nullptr, start);
      switch (verb) {
        case kFilter: return Filter(req, w, start);
        case kPrioritize: return Prioritize(req, w, start);
        case kBind: return Bind(req, w, start);
        case kPreempt: return Preempt(req, w, start);
        case kEmpty: return Empty(req, w, start);
        default: break;
      }
    }
    if (path == "/healthz" || path == "/livez") {
      if (!get) return BadRequest(w, kHealth, 405, "use GET", nullptr, start);
      return Reply(w, kHealth, 200, "ok", TextMime(), start);
    }
    if (path == "/readyz") {
      if (!get) return BadRequest(w, kReady, 405, "use GET", nullptr, start);
      if (Ready()) return Reply(w, kReady, 200, "ok", TextMime(), start);
      return Reply(w, kReady, 503,
                   self->shutting_down() ? "shutting down" : "model not synced yet", TextMime(),
                   start);
    }
    if (path == "/metrics") {
      if (!get) return BadRequest(w, kMetrics, 405, "use GET", nullptr, start);
      return ServeMetrics(w, start);
    }
    BadRequest(w, kOther, 404, "no such path: " + path, nullptr, start);
  }

  void Remember(policy::Pod pod) {
    std::lock_guard lock(recent_mu);
    std::string key = pod.ns + "/" + pod.name;
    auto it = recent.find(key);
    if (it == recent.end()) {
      recent_order.push_back(key);
      if (recent_order.size() > kRecentPods) {
        auto old = recent.find(recent_order.front());
        if (old != recent.end()) {
          recent_uid.erase(old->second.uid);
          recent.erase(old);
        }
        recent_order.pop_front();
      }
    } else {
      recent_uid.erase(it->second.uid);
    }
    recent_uid[pod.uid] = key;
    recent[key] = std::move(pod);
  }

  static constexpr size_t kRecentPods = 1024;

  Server* self;
  const ServerOptions options;
  policy::Engine* engine;
  BindFunc bind;
  Clock clock;
  prometheus::Registry registry;
  struct Metrics metrics;
  std::unordered_map<std::string, Verb> routes;
  std::function<bool()> synced;
  std::function<ApiWatchState()> api_probe;
  ServiceHistory service_history;
  // The last node-name lists of filter and prioritize (kube-scheduler repeats them).
  NodeNamesCache names_cache;
  ClusterView view;
  std::mutex hooks_mu;
  std::vector<std::function<void()>> scrape_hooks;

  std::atomic<int> in_flight{0};
  std::atomic<int> pending_writes{0};  // answers queued to a reactor, not yet written
  std::atomic<int> binding_tasks{0};

  std::mutex parked_mu;
  std::unordered_map<std::string, Parked> parked;

  std::mutex timer_mu;
  std::condition_variable timer_cv;
  bool timer_poked = false;
  bool timer_stop = false;
  std::thread timer;

  mutable std::mutex recent_mu;
  std::unordered_map<std::string, policy::Pod> recent;
  std::unordered_map<std::string, std::string> recent_uid;
  std::deque<std::string> recent_order;

  std::unique_ptr<WorkQueue> bind_pool;
  std::unique_ptr<Pistache::Http::Endpoint> endpoint;
  std::unique_ptr<Pistache::Http::Endpoint> debug_endpoint;
  std::unique_ptr<Pistache::Http::Endpoint> health_endpoint;
  std::unique_ptr<TlsContext> tls;
  std::unique_ptr<TlsProxy> proxy;
  // Open connections per Pistache endpoint (api, debug, health) and refusals over the cap.
  std::array<std::atomic<int>, 3> open_connections{};
  std::atomic<int64_t> refused_over_limit{0};
  bool started = false;
  bool stopped = false;
  std::mutex stop_mu;
};

namespace {

enum EndpointKind : int { kApiEndpoint, kDebugEndpoint, kHealthEndpoint };

class HttpHandler : public Pistache::Http::Handler {
 public:
  HTTP_PROTOTYPE(HttpHandler)
  HttpHandler(Server::Impl* impl, EndpointKind kind, int max_connections)
      : impl_(impl), kind_(kind), max_connections_(max_connections) {}
  void onRequest(const Request& req, ResponseWriter w) override {
    // Bytes that arrived before a refused connection was shut down are never served: a peer
    // that skipped the TLS proxy must not reach a verb, not even without seeing the answer.
    if (auto peer = w.peer(); !peer || peer->tryGetData(kRefused)) return;
    // Pistache 0.0.5 answers a request without a Connection header with "Connection: Close",
    // whatever its version. HTTP/1.1 connections persist unless a side says close (RFC 9112
    // 9.3), and Go's client, kube-scheduler's, believes the header: it would drop the
    // connection after every call and pay a new one (a TLS handshake, with TLS) on the next.
    if (req.version() == Pistache::Http::Version::Http11 &&
        !req.headers().has<Pistache::Http::Header::Connection>()) {
      w.headers().remove<Pistache::Http::Header::Connection>();
    }
    impl_->OnRequest(req, std::move(w), kind_ == kDebugEndpoint, kind_ == kHealthEndpoint);
  }

  // Pistache has no connection cap: count here and shut a connection beyond the cap down at
  // once (Pistache then sees the hang-up and calls onDisconnection). Behind the TLS proxy the
  // API endpoint also refuses loopback peers that are not the proxy's own connections.
  // Http::Handler::onConnection (private) only attaches the request parser; this does the same.
  void onConnection(const std::shared_ptr<Pistache::Tcp::Peer>& peer) override {
    peer->putData(ParserData,
                  std::make_shared<Pistache::Http::RequestParser>(getMaxRequestSize()));
    peer->putData(kQueuedKey, std::make_shared<QueuedCount>(0));
    int open = ++impl_->open_connections[kind_];
    bool refuse = false;
    if (open > max_connections_) {
      ++impl_->refused_over_limit;
      LOG_EVERY_N(WARNING, 100) << open - 1 << " connections open (--max-connections): "
                                << "closing a new one";
      refuse = true;
    } else if (kind_ == kApiEndpoint && impl_->proxy) {
      // The source port from the socket itself: Pistache 0.0.5's peer Address keeps the port in
      // network byte order.
      sockaddr_in from{};
      socklen_t len = sizeof from;
      uint16_t port = 0;
      if (getpeername(peer->fd(), reinterpret_cast<sockaddr*>(&from), &len) == 0 &&
          from.sin_family == AF_INET) {
        port = ntohs(from.sin_port);
      }
      if (!impl_->proxy->IsOwnBackendPort(port)) {
        LOG_EVERY_N(WARNING, 100) << "refused a connection to the TLS proxy's backend from "
                                  << "local port " << port << " (not the proxy)";
        refuse = true;
      }
    }
    if (refuse) {
      peer->putData(kRefused, std::make_shared<bool>(true));
      ::shutdown(peer->fd(), SHUT_RDWR);
    }
  }
  void onDisconnection(const std::shared_ptr<Pistache::Tcp::Peer>& peer) override {
    --impl_->open_connections[kind_];
  }

 private:
  static constexpr const char* kRefused = "mlsched.refused";
  Server::Impl* impl_;
  EndpointKind kind_;
  int max_connections_;
};

Status StartEndpoint(const std::string& address, uint16_t port, int threads,
                     const ServerOptions& o, std::shared_ptr<HttpHandler> handler,
                     std::unique_ptr<Pistache::Http::Endpoint>* out, uint16_t* bound) {
  try {
    Pistache::Address addr(address, Pistache::Port(port));
    auto ep = std::make_unique<Pistache::Http::Endpoint>(addr);
    // Headers come on top of the body limit; bodies above the limit are refused by the decoder
    // with a JSON 400 as long as they fit this buffer, and by Pistache (413) beyond it.
    size_t request_cap = o.limits.max_body_bytes + o.max_header_bytes + (1u << 20);
    auto opts = Pistache::Http::Endpoint::options()
                    .threads(threads)
                    .flags(Pistache::Tcp::Options::ReuseAddr | Pistache::Tcp::Options::NoDelay)
                    .backlog(1024)
                    .maxRequestSize(request_cap)
                    .maxResponseSize(2 * o.limits.max_body_bytes + (1u << 20))
                    .headerTimeout(o.header_timeout)
                    .bodyTimeout(o.body_timeout)
                    .keepaliveTimeout(o.idle_timeout);
    ep->init(opts);
    ep->setHandler(handler);
    ep->serveThreaded();
    *bound = static_cast<uint16_t>(ep->getPort());
    *out = std::move(ep);
    return Status::Ok();
  } catch (const std::exception& e) {
    return Status::Unavailable("cannot serve on " + address + ":" + std::to_string(port) + ": " +
                               e.what());
  }
}

}  // namespace

Server::Server(ServerOptions options, policy::Engine* engine, BindFunc bind, Clock clock)
    : impl_(std::make_unique<Impl>(this, std::move(options), engine, std::move(bind),
                                   std::move(clock))) {}

Server::~Server() { Shutdown(); }

void Server::SetSyncedProbe(std::function<bool()> synced) {
  std::lock_guard lock(impl_->hooks_mu);
  impl_->synced = std::move(synced);
}

void Server::SetApiWatchProbe(std::function<ApiWatchState()> probe) {
  std::lock_guard lock(impl_->hooks_mu);
  impl_->api_probe = std::move(probe);
}

prometheus::Registry& Server::registry() { return impl_->registry; }

void Server::AddScrapeHook(std::function<void()> hook) {
  std::lock_guard lock(impl_->hooks_mu);
  impl_->scrape_hooks.push_back(std::move(hook));
}

Status Server::Start() {
  Impl& m = *impl_;
  if (m.started) return Status::Internal("Server::Start called twice");
  m.started = true;
  int threads = m.options.threads;
  if (threads <= 0) threads = std::max(2u, std::thread::hardware_concurrency());
  m.bind_pool = std::make_unique<WorkQueue>(m.options.bind_threads);
  m.timer = std::thread([&m] { m.TimerLoop(); });
  Status s;
  const int cap = m.options.max_connections;
  if (m.options.tls) {
    // TLS: the proxy owns the public port and the limits; Pistache listens on loopback only.
    m.tls = std::make_unique<TlsContext>(*m.options.tls, m.options.tls_poll);
    s = m.tls->Start();
    uint16_t backend_port = 0;
    if (s.ok()) {
      s = StartEndpoint("127.0.0.1", 0, threads, m.options,
                        std::make_shared<HttpHandler>(&m, kApiEndpoint, cap + 16), &m.endpoint,
                        &backend_port);
    }
    if (s.ok()) {
      TlsProxyOptions po;
      po.bind_address = m.options.bind_address;
      po.port = m.options.port;
      po.backend_port = backend_port;
      po.max_connections = cap;
      po.handshake_timeout = m.options.header_timeout;
      po.idle_timeout = m.options.idle_timeout;
      m.proxy = std::make_unique<TlsProxy>(po, m.tls.get());
      s = m.proxy->Start();
      port_ = m.proxy->port();
    }
  } else {
    s = StartEndpoint(m.options.bind_address, m.options.port, threads, m.options,
                      std::make_shared<HttpHandler>(&m, kApiEndpoint, cap), &m.endpoint, &port_);
  }
  if (s.ok() && m.options.debug_port) {
    s = StartEndpoint(m.options.debug_bind_address, *m.options.debug_port, 1, m.options,
                      std::make_shared<HttpHandler>(&m, kDebugEndpoint, 64), &m.debug_endpoint,
                      &debug_port_);
  }
  if (s.ok() && m.options.health_port) {
    s = StartEndpoint(m.options.health_bind_address, *m.options.health_port, 1, m.options,
                      std::make_shared<HttpHandler>(&m, kHealthEndpoint, 64), &m.health_endpoint,
                      &health_port_);
  }
  if (!s.ok()) {
    Shutdown();
    return s;
  }
  {
    std::lock_guard lock(m.hooks_mu);
    m.scrape_hooks.push_back([&m] {
      int64_t over = m.refused_over_limit.load();
      int open = m.open_connections[kApiEndpoint].load();
      if (m.proxy) {
        TlsProxy::Stats ps = m.proxy->stats();
        over += ps.over_limit;
        open = static_cast<int>(ps.open);
        CatchUp(m.metrics.connections_closed["tls_handshake"], ps.handshake_failures);
        CatchUp(m.metrics.connections_closed["timeout"], ps.timed_out);
      }
      CatchUp(m.metrics.connections_closed["over_limit"], over);
      m.metrics.connections->Set(open);
    });
  }
  LOG(INFO) << "serving the extender on " << m.options.bind_address << ":" << port_
            << (m.proxy ? " (TLS" + std::string(m.options.tls->client_ca_file.empty()
                                                    ? ")"
                                                    : ", client certificates required)")
                        : " (plain HTTP)")
            << (m.options.url_prefix.empty() ? "" : " under " + m.options.url_prefix)
            << (m.debug_endpoint ? ", explain view on " + m.options.debug_bind_address + ":" +
                                       std::to_string(debug_port_)
                                 : "")
            << (m.health_endpoint ? ", probes on " + m.options.health_bind_address + ":" +
                                        std::to_string(health_port_)
                                  : "");
  return Status::Ok();
}

int Server::tls_reloads() const { return impl_->tls ? impl_->tls->reloads() : 0; }

void Server::PokeBindTimer() { impl_->PokeTimer(); }

size_t Server::ParkedBinds() const {
  std::lock_guard lock(impl_->parked_mu);
  return impl_->parked.size();
}

std::optional<policy::Pod> Server::RecentPod(std::string_view uid) const {
  std::lock_guard lock(impl_->recent_mu);
  auto k = impl_->recent_uid.find(std::string(uid));
  if (k == impl_->recent_uid.end()) return std::nullopt;
  auto it = impl_->recent.find(k->second);
  if (it == impl_->recent.end()) return std::nullopt;
  return it->second;
}

std::optional<policy::Pod> Server::RecentPod(std::string_view ns, std::string_view name) const {
  std::lock_guard lock(impl_->recent_mu);
  auto it = impl_->recent.find(std::string(ns) + "/" + std::string(name));
  if (it == impl_->recent.end()) return std::nullopt;
  return it->second;
}

void Server::Shutdown() {
  Impl& m = *impl_;
  std::lock_guard stop_lock(m.stop_mu);
  if (m.stopped) return;
  m.stopped = true;
  shutting_down_ = true;
  if (!m.started) return;
  auto deadline = SteadyClock::now() + m.options.shutdown_grace;
  // Requests in flight on the reactors (not parked binds: they wait for other pods).
  while (m.in_flight.load() > 0 && SteadyClock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (m.in_flight.load() > 0) {
    LOG(WARNING) << m.in_flight.load() << " request(s) still in flight at the shutdown deadline";
  }
  m.AnswerAllParked("mlsched is shutting down; the scheduler will retry this pod");
  if (m.bind_pool && !m.bind_pool->Drain(deadline)) {
    LOG(WARNING) << "bindings still being created at the shutdown deadline";
  }
  {
    std::lock_guard lock(m.timer_mu);
    m.timer_stop = true;
  }
  m.timer_cv.notify_all();
  if (m.timer.joinable()) m.timer.join();
  if (m.bind_pool) m.bind_pool->Stop();
  // Binds that raced in after the last sweep (none can park now: shutting_down_ is set).
  m.AnswerAllParked("mlsched is shutting down; the scheduler will retry this pod");
  // Let the reactors write the answers just queued (bounded) before they stop.
  auto write_deadline = std::max(deadline, SteadyClock::now() + std::chrono::seconds(2));
  while (m.pending_writes.load() > 0 && SteadyClock::now() < write_deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  if (m.debug_endpoint) m.debug_endpoint->shutdown();
  if (m.health_endpoint) m.health_endpoint->shutdown();
  if (m.endpoint) m.endpoint->shutdown();
  // The proxy relays what Pistache wrote before it stopped; Pistache's closed connections close
  // the proxy's. Bounded, then the rest are cut.
  if (m.proxy) {
    auto relay_deadline = SteadyClock::now() + std::chrono::milliseconds(500);
    while (m.proxy->stats().open > 0 && SteadyClock::now() < relay_deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    m.proxy->Stop();
  }
  if (m.tls) m.tls->Stop();
  LOG(INFO) << "extender stopped";
}

}  // namespace mlsched::extender
