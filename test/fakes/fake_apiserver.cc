#include "test/fakes/fake_apiserver.h"

#include <httplib.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <chrono>

namespace mlsched::fakes {
namespace {

using Clock = std::chrono::steady_clock;

const char* ListKind(Kind k) {
  switch (k) {
    case Kind::kNode: return "NodeList";
    case Kind::kPod: return "PodList";
    case Kind::kPodGroup: return "PodGroupList";
  }
  return "";
}

const char* ObjKind(Kind k) {
  switch (k) {
    case Kind::kNode: return "Node";
    case Kind::kPod: return "Pod";
    case Kind::kPodGroup: return "PodGroup";
  }
  return "";
}

const char* ApiVersion(Kind k) {
  return k == Kind::kPodGroup ? "scheduling.x-k8s.io/v1alpha1" : "v1";
}

std::string Key(Kind kind, std::string_view ns, std::string_view name) {
  if (kind == Kind::kNode) return std::string(name);
  return std::string(ns) + "/" + std::string(name);
}

std::string StatusJson(int code, std::string_view reason, std::string_view message) {
  rapidjson::StringBuffer sb;
  rapidjson::Writer<rapidjson::StringBuffer> w(sb);
  w.StartObject();
  w.Key("kind");
  w.String("Status");
  w.Key("apiVersion");
  w.String("v1");
  w.Key("metadata");
  w.StartObject();
  w.EndObject();
  w.Key("status");
  w.String(code < 300 ? "Success" : "Failure");
  w.Key("message");
  w.String(message.data(), static_cast<rapidjson::SizeType>(message.size()));
  w.Key("reason");
  w.String(reason.data(), static_cast<rapidjson::SizeType>(reason.size()));
  w.Key("code");
  w.Int(code);
  w.EndObject();
  return sb.GetString();
}

void Reply(httplib::Response& res, int code, std::string_view reason, std::string_view message) {
  res.status = code;
  res.set_content(StatusJson(code, reason, message), "application/json");
}

std::string Serialize(const rapidjson::Value& v) {
  rapidjson::StringBuffer sb;
  rapidjson::Writer<rapidjson::StringBuffer> w(sb);
  v.Accept(w);
  return std::string(sb.GetString(), sb.GetSize());
}

// Sets metadata.resourceVersion (and uid when absent) in a stored object.
std::string WithVersion(const std::string& json, int64_t rv, const std::string* uid_if_missing,
                        std::string* uid_out = nullptr) {
  rapidjson::Document d;
  d.Parse(json.data(), json.size());
  auto& a = d.GetAllocator();
  rapidjson::Value& meta = d["metadata"];
  std::string rvs = std::to_string(rv);
  rapidjson::Value v(rvs.c_str(), static_cast<rapidjson::SizeType>(rvs.size()), a);
  auto it = meta.FindMember("resourceVersion");
  if (it != meta.MemberEnd()) {
    it->value = v;
  } else {
    meta.AddMember("resourceVersion", v, a);
  }
  if (uid_if_missing) {
    auto u = meta.FindMember("uid");
    if (u == meta.MemberEnd() || !u->value.IsString() || u->value.GetStringLength() == 0) {
      rapidjson::Value uv(uid_if_missing->c_str(), a);
      if (u != meta.MemberEnd()) {
        u->value = uv;
      } else {
        meta.AddMember("uid", uv, a);
      }
    }
  }
  if (uid_out) {
    auto u = meta.FindMember("uid");
    if (u != meta.MemberEnd() && u->value.IsString()) *uid_out = u->value.GetString();
  }
  return Serialize(d);
}

std::string EventJson(const char* type, const std::string& obj) {
  std::string e;
  e.reserve(obj.size() + 32);
  e += "{\"type\":\"";
  e += type;
  e += "\",\"object\":";
  e += obj;
  e += "}\n";
  return e;
}

std::string BookmarkJson(Kind kind, int64_t rv) {
  return std::string("{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"") + ObjKind(kind) +
         "\",\"apiVersion\":\"" + ApiVersion(kind) +
         "\",\"metadata\":{\"resourceVersion\":\"" + std::to_string(rv) +
         "\",\"annotations\":{\"k8s.io/initial-events-end\":\"false\"}}}}\n";
}

std::string ErrorEventJson(int code) {
  std::string reason = code == 410 ? "Expired" : "InternalError";
  std::string msg = code == 410 ? "too old resource version" : "injected watch error";
  return "{\"type\":\"ERROR\",\"object\":" + StatusJson(code, reason, msg) + "}\n";
}

bool ParseInt(const std::string& s, int64_t* out) {
  if (s.empty() || s.size() > 18) return false;
  int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *out = v;
  return true;
}

// Resource paths: returns the kind, or nullopt.
std::optional<Kind> CollectionOf(const std::string& path) {
  if (path == "/api/v1/nodes") return Kind::kNode;
  if (path == "/api/v1/pods") return Kind::kPod;
  if (path == "/apis/scheduling.x-k8s.io/v1alpha1/podgroups") return Kind::kPodGroup;
  return std::nullopt;
}

}  // namespace

struct FakeApiServer::Watch {
  Kind kind;
  int64_t pos;              // last resourceVersion delivered (or skipped past)
  bool bookmarks;
  Clock::time_point deadline;
  Clock::time_point next_bookmark;
  uint64_t drop_gen;
  uint64_t error_gen;
  uint64_t crd_gen;
  bool gone_at_start = false;  // answer one 410 ERROR event and end
  bool finished = false;
};

FakeApiServer::FakeApiServer(FakeApiServerOptions options)
    : options_(options), crd_installed_(options.podgroup_crd_installed) {}

FakeApiServer::~FakeApiServer() { Stop(); }

Status FakeApiServer::Start() {
  server_ = std::make_unique<httplib::Server>();
  int threads = options_.threads;
  server_->new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  server_->set_keep_alive_max_count(100000);
  // A real API server (Go) disables Nagle; without this every small answer (a binding, a
  // page) waits for the client's delayed ACK: ~40 ms per call on loopback.
  server_->set_tcp_nodelay(true);
  // Stop() waits for idle keep-alive connections to time out: keep that short.
  server_->set_keep_alive_timeout(1);
  server_->set_payload_max_length(16 << 20);
  server_->Get(".*", [this](const httplib::Request& req, httplib::Response& res) {
    Handle(req, res, false);
  });
  server_->Post(".*", [this](const httplib::Request& req, httplib::Response& res) {
    Handle(req, res, true);
  });
  port_ = server_->bind_to_any_port("127.0.0.1");
  if (port_ <= 0) return Status::Unavailable("fake apiserver: cannot bind 127.0.0.1");
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  return Status::Ok();
}

void FakeApiServer::Stop() {
  if (!server_) return;
  {
    std::lock_guard<std::mutex> l(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  server_->stop();
  if (thread_.joinable()) thread_.join();
  server_.reset();
}

// ---- Objects ----

Status FakeApiServer::Upsert(Kind kind, std::string_view json, int64_t* rv_out) {
  rapidjson::Document d;
  d.Parse(json.data(), json.size());
  if (d.HasParseError() || !d.IsObject()) return Status::InvalidArgument("not a JSON object");
  auto m = d.FindMember("metadata");
  if (m == d.MemberEnd() || !m->value.IsObject()) return Status::InvalidArgument("no metadata");
  auto n = m->value.FindMember("name");
  if (n == m->value.MemberEnd() || !n->value.IsString() || n->value.GetStringLength() == 0) {
    return Status::InvalidArgument("no metadata.name");
  }
  std::string ns;
  if (kind != Kind::kNode) {
    auto s = m->value.FindMember("namespace");
    if (s == m->value.MemberEnd() || !s->value.IsString() || s->value.GetStringLength() == 0) {
      return Status::InvalidArgument("no metadata.namespace");
    }
    ns = s->value.GetString();
  }
  std::string key = Key(kind, ns, n->value.GetString());
  std::lock_guard<std::mutex> l(mu_);
  bool exists = objects_[static_cast<int>(kind)].count(key) > 0;
  int64_t rv = StoreLocked(kind, key, std::string(json), exists ? "MODIFIED" : "ADDED");
  if (rv_out) *rv_out = rv;
  return Status::Ok();
}

int64_t FakeApiServer::StoreLocked(Kind kind, const std::string& key, std::string json,
                                   const char* type) {
  int64_t rv = ++rv_;
  auto& objs = objects_[static_cast<int>(kind)];
  auto old = objs.find(key);
  std::string uid = old != objs.end() ? old->second.uid : "uid-" + std::to_string(++uid_counter_);
  std::string stored_uid;  // the object's own uid when it names one
  auto stored = std::make_shared<const std::string>(WithVersion(json, rv, &uid, &stored_uid));
  uid = stored_uid;
  objs[key] = Object{stored, rv, uid};
  AppendEventLocked(Event{rv, kind, type, stored});
  return rv;
}

void FakeApiServer::AppendEventLocked(Event e) {
  log_.push_back(std::move(e));
  while (log_.size() > options_.retained_events) {
    expired_rv_ = std::max(expired_rv_, log_.front().rv);
    log_.pop_front();
  }
  cv_.notify_all();
}

bool FakeApiServer::Delete(Kind kind, std::string_view ns, std::string_view name) {
  std::lock_guard<std::mutex> l(mu_);
  auto& objs = objects_[static_cast<int>(kind)];
  auto it = objs.find(Key(kind, ns, name));
  if (it == objs.end()) return false;
  int64_t rv = ++rv_;
  auto last = std::make_shared<const std::string>(WithVersion(*it->second.json, rv, nullptr));
  objs.erase(it);
  AppendEventLocked(Event{rv, kind, "DELETED", last});
  return true;
}

std::optional<std::string> FakeApiServer::Get(Kind kind, std::string_view ns,
                                              std::string_view name) const {
  std::lock_guard<std::mutex> l(mu_);
  const auto& objs = objects_[static_cast<int>(kind)];
  auto it = objs.find(Key(kind, ns, name));
  if (it == objs.end()) return std::nullopt;
  return *it->second.json;
}

std::vector<std::string> FakeApiServer::List(Kind kind) const {
  std::lock_guard<std::mutex> l(mu_);
  std::vector<std::string> out;
  for (const auto& [k, o] : objects_[static_cast<int>(kind)]) out.push_back(*o.json);
  return out;
}

size_t FakeApiServer::Count(Kind kind) const {
  std::lock_guard<std::mutex> l(mu_);
  return objects_[static_cast<int>(kind)].size();
}

int64_t FakeApiServer::resource_version() const {
  std::lock_guard<std::mutex> l(mu_);
  return rv_;
}

// ---- Faults ----

void FakeApiServer::DropWatches() {
  std::lock_guard<std::mutex> l(mu_);
  ++drop_gen_;
  cv_.notify_all();
}

void FakeApiServer::StallWatches(bool stalled) {
  std::lock_guard<std::mutex> l(mu_);
  stalled_ = stalled;
  cv_.notify_all();
}

void FakeApiServer::SendWatchError(int code) {
  std::lock_guard<std::mutex> l(mu_);
  ++error_gen_;
  error_code_ = code;
  cv_.notify_all();
}

void FakeApiServer::FailRequests(int n, int status, std::string path_prefix) {
  std::lock_guard<std::mutex> l(mu_);
  fail_n_ = n;
  fail_status_ = status;
  fail_prefix_ = std::move(path_prefix);
}

void FakeApiServer::SetFailureRate(double p, uint64_t seed) {
  std::lock_guard<std::mutex> l(mu_);
  fail_rate_ = p;
  rng_.seed(seed);
}

void FakeApiServer::ExpireVersions() {
  std::lock_guard<std::mutex> l(mu_);
  expired_rv_ = rv_;
  log_.clear();
  snapshots_.clear();
}

void FakeApiServer::SetWatchChunking(size_t bytes, int delay_ms) {
  std::lock_guard<std::mutex> l(mu_);
  chunk_bytes_ = bytes;
  chunk_delay_ms_ = delay_ms;
}

void FakeApiServer::SetPodGroupCrdInstalled(bool installed) {
  std::lock_guard<std::mutex> l(mu_);
  crd_installed_ = installed;
  if (!installed) ++crd_gen_;  // open podgroup watches end with a 404 ERROR event
  cv_.notify_all();
}

void FakeApiServer::RequireBearerToken(std::string token) {
  std::lock_guard<std::mutex> l(mu_);
  bearer_token_ = std::move(token);
}

FakeApiServer::Counters FakeApiServer::counters() const {
  std::lock_guard<std::mutex> l(mu_);
  return counters_;
}

// ---- HTTP ----

bool FakeApiServer::InjectFailure(const std::string& path, httplib::Response& res) {
  std::lock_guard<std::mutex> l(mu_);
  int status = 0;
  if (fail_n_ > 0 && path.compare(0, fail_prefix_.size(), fail_prefix_) == 0) {
    --fail_n_;
    status = fail_status_;
  } else if (fail_rate_ > 0 && std::uniform_real_distribution<double>(0, 1)(rng_) < fail_rate_) {
    status = 500;
  }
  if (status == 0) return false;
  ++counters_.injected_failures;
  res.status = status;
  res.set_content(StatusJson(status, "InternalError", "injected failure"), "application/json");
  return true;
}

void FakeApiServer::Handle(const httplib::Request& req, httplib::Response& res, bool post) {
  const std::string& path = req.path;
  {
    std::lock_guard<std::mutex> l(mu_);
    if (!bearer_token_.empty() &&
        req.get_header_value("Authorization") != "Bearer " + bearer_token_) {
      ++counters_.unauthorized;
      Reply(res, 401, "Unauthorized", "Unauthorized");
      return;
    }
  }
  if (InjectFailure(path, res)) return;
  if (post) {
    // /api/v1/namespaces/{ns}/pods/{name}/binding
    const std::string prefix = "/api/v1/namespaces/";
    const std::string suffix = "/binding";
    if (path.compare(0, prefix.size(), prefix) == 0 && path.size() > suffix.size() &&
        path.compare(path.size() - suffix.size(), suffix.size(), suffix) == 0) {
      std::string mid = path.substr(prefix.size(), path.size() - prefix.size() - suffix.size());
      size_t p = mid.find("/pods/");
      if (p != std::string::npos && mid.find('/', p + 6) == std::string::npos) {
        HandleBinding(mid.substr(0, p), mid.substr(p + 6), req, res);
        return;
      }
    }
    Reply(res, 404, "NotFound", "the server could not find the requested resource");
    return;
  }
  if (path == "/apis/scheduling.x-k8s.io/v1alpha1") {
    std::lock_guard<std::mutex> l(mu_);
    ++counters_.discovery;
    if (!crd_installed_) {
      Reply(res, 404, "NotFound", "the server could not find the requested resource");
      return;
    }
    res.set_content(
        R"({"kind":"APIResourceList","apiVersion":"v1","groupVersion":"scheduling.x-k8s.io/v1alpha1","resources":[{"name":"podgroups","singularName":"podgroup","namespaced":true,"kind":"PodGroup","verbs":["delete","deletecollection","get","list","patch","create","update","watch"],"shortNames":["pg","pgs"]},{"name":"podgroups/status","singularName":"","namespaced":true,"kind":"PodGroup","verbs":["get","patch","update"]}]})",
        "application/json");
    return;
  }
  if (auto kind = CollectionOf(path)) {
    if (*kind == Kind::kPodGroup) {
      std::lock_guard<std::mutex> l(mu_);
      if (!crd_installed_) {
        Reply(res, 404, "NotFound", "the server could not find the requested resource");
        return;
      }
    }
    std::string watch = req.get_param_value("watch");
    if (watch == "true" || watch == "1") {
      HandleWatch(*kind, req, res);
    } else {
      HandleList(*kind, req, res);
    }
    return;
  }
  // GET /api/v1/namespaces/{ns}/pods/{name}
  const std::string prefix = "/api/v1/namespaces/";
  if (path.compare(0, prefix.size(), prefix) == 0) {
    std::string mid = path.substr(prefix.size());
    size_t p = mid.find("/pods/");
    if (p != std::string::npos && mid.find('/', p + 6) == std::string::npos) {
      auto obj = Get(Kind::kPod, mid.substr(0, p), mid.substr(p + 6));
      if (!obj) {
        Reply(res, 404, "NotFound", "pods \"" + mid.substr(p + 6) + "\" not found");
        return;
      }
      res.set_content(*obj, "application/json");
      return;
    }
  }
  Reply(res, 404, "NotFound", "the server could not find the requested resource");
}

void FakeApiServer::HandleList(Kind kind, const httplib::Request& req, httplib::Response& res) {
  int64_t limit = 0;
  std::string lim = req.get_param_value("limit");
  if (!lim.empty() && !ParseInt(lim, &limit)) {
    Reply(res, 400, "BadRequest", "invalid limit");
    return;
  }
  std::string cont = req.get_param_value("continue");
  std::shared_ptr<Snapshot> snap;
  int64_t id = 0;
  int64_t offset = 0;
  {
    std::lock_guard<std::mutex> l(mu_);
    ++counters_.list_pages;
    if (cont.empty()) {
      ++counters_.lists_started;
      snap = std::make_shared<Snapshot>();
      snap->rv = rv_;
      snap->kind = kind;
      const auto& objs = objects_[static_cast<int>(kind)];
      snap->items.reserve(objs.size());
      for (const auto& [k, o] : objs) snap->items.push_back(o.json);
      id = next_snapshot_++;
      snapshots_[id] = snap;
      while (snapshots_.size() > 32) snapshots_.erase(snapshots_.begin());
    } else {
      size_t dash = cont.find('-');
      if (dash == std::string::npos || !ParseInt(cont.substr(0, dash), &id) ||
          !ParseInt(cont.substr(dash + 1), &offset)) {
        Reply(res, 400, "BadRequest", "invalid continue token");
        return;
      }
      auto it = snapshots_.find(id);
      if (it == snapshots_.end() || it->second->kind != kind) {
        ++counters_.continue_gone;
        Reply(res, 410, "Expired",
              "The provided continue parameter is too old to display a consistent list "
              "result. You can start a new list without the continue parameter.");
        return;
      }
      snap = it->second;
    }
  }
  size_t n = snap->items.size();
  size_t begin = std::min<size_t>(static_cast<size_t>(offset), n);
  size_t end = limit > 0 ? std::min<size_t>(begin + static_cast<size_t>(limit), n) : n;
  size_t bytes = 256;
  for (size_t i = begin; i < end; ++i) bytes += snap->items[i]->size() + 1;
  std::string body;
  body.reserve(bytes);
  body += "{\"kind\":\"";
  body += ListKind(kind);
  body += "\",\"apiVersion\":\"";
  body += ApiVersion(kind);
  body += "\",\"metadata\":{\"resourceVersion\":\"" + std::to_string(snap->rv) + "\"";
  if (end < n) {
    body += ",\"continue\":\"" + std::to_string(id) + "-" + std::to_string(end) + "\"";
    body += ",\"remainingItemCount\":" + std::to_string(n - end);
  }
  body += "},\"items\":[";
  for (size_t i = begin; i < end; ++i) {
    if (i > begin) body += ',';
    body += *snap->items[i];
  }
  body += "]}";
  if (end >= n) {
    std::lock_guard<std::mutex> l(mu_);
    snapshots_.erase(id);
  }
  res.set_content(std::move(body), "application/json");
}

void FakeApiServer::HandleWatch(Kind kind, const httplib::Request& req, httplib::Response& res) {
  auto w = std::make_shared<Watch>();
  w->kind = kind;
  w->bookmarks = req.get_param_value("allowWatchBookmarks") == "true";
  int64_t timeout_s = 1800;
  std::string ts = req.get_param_value("timeoutSeconds");
  if (!ts.empty() && !ParseInt(ts, &timeout_s)) {
    Reply(res, 400, "BadRequest", "invalid timeoutSeconds");
    return;
  }
  auto now = Clock::now();
  w->deadline = now + std::chrono::seconds(timeout_s);
  std::string rvs = req.get_param_value("resourceVersion");
  {
    std::lock_guard<std::mutex> l(mu_);
    int64_t rv = 0;
    if (rvs.empty() || rvs == "0") {
      rv = rv_;
    } else if (!ParseInt(rvs, &rv)) {
      Reply(res, 400, "BadRequest", "invalid resourceVersion");
      return;
    }
    if (rv < expired_rv_) {
      ++counters_.watches_gone;
      if (options_.expired_watch_as_http_410) {
        Reply(res, 410, "Expired", "too old resource version: " + rvs);
        return;
      }
      w->gone_at_start = true;
    } else {
      ++counters_.watches;
    }
    w->pos = rv;
    w->drop_gen = drop_gen_;
    w->error_gen = error_gen_;
    w->crd_gen = crd_gen_;
    w->next_bookmark = now + std::chrono::milliseconds(options_.bookmark_interval_ms);
    ++counters_.open_watches;
  }
  // Decrements open_watches when httplib drops the provider (stream ended or connection gone).
  auto guard = std::shared_ptr<void>(nullptr, [this](void*) {
    std::lock_guard<std::mutex> l(mu_);
    --counters_.open_watches;
  });
  res.set_chunked_content_provider(
      "application/json", [this, w, guard](size_t, httplib::DataSink& sink) {
        return WatchStep(*w, sink);
      });
}

bool FakeApiServer::WriteChunked(Watch& w, httplib::DataSink& sink, const std::string& data) {
  size_t chunk;
  int delay;
  {
    std::lock_guard<std::mutex> l(mu_);
    chunk = chunk_bytes_;
    delay = chunk_delay_ms_;
  }
  if (chunk == 0) return sink.write(data.data(), data.size());
  for (size_t off = 0; off < data.size(); off += chunk) {
    if (stopping_) return false;
    if (!sink.write(data.data() + off, std::min(chunk, data.size() - off))) return false;
    if (delay > 0) std::this_thread::sleep_for(std::chrono::milliseconds(delay));
  }
  return true;
}

bool FakeApiServer::WatchStep(Watch& w, httplib::DataSink& sink) {
  if (w.finished) {
    sink.done();
    return true;
  }
  std::string out;
  bool drop = false;
  bool finish = false;
  {
    std::unique_lock<std::mutex> l(mu_);
    if (stopping_) return false;
    if (w.gone_at_start) {
      out = ErrorEventJson(410);
      finish = true;
    } else if (w.kind == Kind::kPodGroup && w.crd_gen != crd_gen_) {
      w.crd_gen = crd_gen_;
      out = ErrorEventJson(404);
      finish = true;
    } else if (w.error_gen != error_gen_) {
      w.error_gen = error_gen_;
      out = ErrorEventJson(error_code_);
      finish = true;
    } else if (w.drop_gen != drop_gen_) {
      // Cut mid-event (even while stalled): half of the next event, or of a bookmark.
      drop = true;
      if (w.pos >= expired_rv_ && !log_.empty() && w.pos < log_.back().rv) {
        auto it = std::upper_bound(log_.begin(), log_.end(), w.pos,
                                   [](int64_t rv, const Event& e) { return rv < e.rv; });
        for (; it != log_.end() && out.empty(); ++it) {
          if (it->kind == w.kind) out = EventJson(it->type, *it->json);
        }
      }
      if (out.empty()) out = BookmarkJson(w.kind, w.pos);
    } else if (stalled_) {
      cv_.wait_for(l, std::chrono::milliseconds(50));
      return true;
    } else if (Clock::now() >= w.deadline) {
      finish = true;
    } else {
      // Events after w.pos, of this kind. A watcher whose position is no longer covered by
      // the retained log (it fell behind, or versions were expired) gets 410, never a gap.
      if (w.pos < expired_rv_) {
        out = ErrorEventJson(410);
        finish = true;
      } else if (!log_.empty() && w.pos < log_.back().rv) {
        auto it = std::upper_bound(log_.begin(), log_.end(), w.pos,
                                   [](int64_t rv, const Event& e) { return rv < e.rv; });
        int n = 0;
        for (; it != log_.end() && n < 512; ++it) {
          w.pos = it->rv;
          if (it->kind != w.kind) continue;
          out += EventJson(it->type, *it->json);
          ++n;
        }
      } else if (w.pos < rv_) {
        w.pos = rv_;  // every later version was of no interest and is gone: caught up
      }
      auto now = Clock::now();
      if (out.empty() && !finish && w.bookmarks && now >= w.next_bookmark) {
        out = BookmarkJson(w.kind, w.pos);
        w.next_bookmark = now + std::chrono::milliseconds(options_.bookmark_interval_ms);
      }
      if (out.empty() && !finish) {
        cv_.wait_for(l, std::chrono::milliseconds(100));
        return true;
      }
    }
  }
  if (drop) {
    // Half an event, then the connection goes away.
    sink.write(out.data(), out.size() / 2);
    return false;
  }
  if (!out.empty() && !WriteChunked(w, sink, out)) return false;
  if (finish) {
    w.finished = true;
    sink.done();
  }
  return true;
}

void FakeApiServer::HandleBinding(const std::string& ns, const std::string& name,
                                  const httplib::Request& req, httplib::Response& res) {
  rapidjson::Document b;
  b.Parse(req.body.data(), req.body.size());
  if (b.HasParseError() || !b.IsObject() || !b.HasMember("target") || !b["target"].IsObject() ||
      !b["target"].HasMember("name") || !b["target"]["name"].IsString()) {
    Reply(res, 400, "BadRequest", "malformed Binding");
    return;
  }
  std::string node = b["target"]["name"].GetString();
  std::string want_uid;
  if (b.HasMember("metadata") && b["metadata"].IsObject() && b["metadata"].HasMember("uid") &&
      b["metadata"]["uid"].IsString()) {
    want_uid = b["metadata"]["uid"].GetString();
  }
  std::lock_guard<std::mutex> l(mu_);
  auto& pods = objects_[static_cast<int>(Kind::kPod)];
  auto it = pods.find(Key(Kind::kPod, ns, name));
  if (it == pods.end()) {
    Reply(res, 404, "NotFound", "pods \"" + name + "\" not found");
    return;
  }
  rapidjson::Document pod;
  pod.Parse(it->second.json->data(), it->second.json->size());
  std::string uid = pod["metadata"].HasMember("uid") && pod["metadata"]["uid"].IsString()
                        ? pod["metadata"]["uid"].GetString()
                        : "";
  if (!want_uid.empty() && want_uid != uid) {
    ++counters_.bind_conflicts;
    Reply(res, 409, "Conflict",
          "Operation cannot be fulfilled on pods/binding \"" + name +
              "\": Precondition failed: UID in precondition: " + want_uid +
              ", UID in object meta: " + uid);
    return;
  }
  if (!pod.HasMember("spec") || !pod["spec"].IsObject()) {
    pod.AddMember("spec", rapidjson::Value(rapidjson::kObjectType), pod.GetAllocator());
  }
  rapidjson::Value& spec = pod["spec"];
  auto nn = spec.FindMember("nodeName");
  if (nn != spec.MemberEnd() && nn->value.IsString() && nn->value.GetStringLength() > 0) {
    ++counters_.bind_conflicts;
    Reply(res, 409, "Conflict",
          "Operation cannot be fulfilled on pods/binding \"" + name + "\": pod " + name +
              " is already assigned to node \"" + nn->value.GetString() + "\"");
    return;
  }
  rapidjson::Value nv(node.c_str(), pod.GetAllocator());
  if (nn != spec.MemberEnd()) {
    nn->value = nv;
  } else {
    spec.AddMember("nodeName", nv, pod.GetAllocator());
  }
  ++counters_.binds;
  StoreLocked(Kind::kPod, it->first, Serialize(pod), "MODIFIED");
  res.status = 201;
  res.set_content(StatusJson(201, "", ""), "application/json");
}

}  // namespace mlsched::fakes
