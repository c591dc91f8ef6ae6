#include "k8s/reflector.h"

#include <glog/logging.h>

#include <time.h>

#include <chrono>
#include <future>

#include "k8s/decode.h"
#include "k8s/json_parse.h"
#include "k8s/json_stream.h"

namespace mlsched::k8s {
namespace {

std::string StringMember(const rapidjson::Value& obj, const char* key) {
  if (!obj.IsObject()) return "";
  auto it = obj.FindMember(key);
  if (it == obj.MemberEnd() || !it->value.IsString()) return "";
  return std::string(it->value.GetString(), it->value.GetStringLength());
}

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// CPU time of the calling thread: decode cost without the time other threads held the CPU.
int64_t ThreadCpuNs() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

}  // namespace

int64_t Reflector::MonoMs() { return NowNs() / 1'000'000; }

Reflector::Reflector(ApiClient& client, std::string resource_path, ReflectorSink& sink,
                     ReflectorOptions options, uint64_t seed)
    : client_(client),
      path_(std::move(resource_path)),
      sink_(sink),
      options_(options),
      rng_(seed),
      backoff_ms_(options.backoff_initial_ms) {}

rapidjson::MemoryPoolAllocator<> Reflector::ArenaAllocator() {
  if (!arena_) {
    arena_size_ = size_t{1} << 20;
    arena_.reset(new char[arena_size_]);
  }
  return rapidjson::MemoryPoolAllocator<>(arena_.get(), arena_size_);
}

void Reflector::GrowArena(size_t used) {
  // Size the arena for the largest page seen, with headroom, up to 256 MiB.
  if (used <= arena_size_ || arena_size_ >= (size_t{256} << 20)) return;
  arena_size_ = std::min(used + used / 4, size_t{256} << 20);
  arena_.reset(new char[arena_size_]);
}

void Reflector::Stop() {
  stopped_ = true;
  cancel_.Cancel();
  prefetch_cancel_.Cancel();
  std::lock_guard<std::mutex> l(sleep_mu_);
  sleep_cv_.notify_all();
}

ReflectorStats Reflector::Stats() const {
  std::lock_guard<std::mutex> l(stats_mu_);
  return stats_;
}

bool Reflector::Sleep(int64_t ms) {
  std::unique_lock<std::mutex> l(sleep_mu_);
  sleep_cv_.wait_for(l, std::chrono::milliseconds(ms), [this] { return stopped_.load(); });
  return !stopped_;
}

int64_t Reflector::NextBackoff() {
  int64_t nominal = backoff_ms_;
  backoff_ms_ = std::min(backoff_ms_ * 2, options_.backoff_max_ms);
  std::uniform_real_distribution<double> jitter(0.5, 1.5);
  return std::max<int64_t>(1, static_cast<int64_t>(static_cast<double>(nominal) * jitter(rng_)));
}

void Reflector::RecordError(const std::string& what) {
  std::lock_guard<std::mutex> l(stats_mu_);
  ++stats_.errors;
  stats_.connected = false;
  stats_.last_error = path_ + ": " + what;
}

void Reflector::Touch() {
  std::lock_guard<std::mutex> l(stats_mu_);
  stats_.last_contact_ms = MonoMs();
  stats_.connected = true;
}

Status Reflector::Run(bool stop_on_not_found) {
  bool need_list = true;
  bool first_watch = true;
  while (!stopped_) {
    if (need_list) {
      Status s = ListAll();
      if (stopped_) break;
      if (!s.ok()) {
        if (s.code() == Status::Code::kNotFound && stop_on_not_found) return s;
        int64_t wait = NextBackoff();
        LOG(WARNING) << "list " << path_ << " failed: " << s.message() << "; retrying in "
                     << wait << " ms";
        if (!Sleep(wait)) break;
        continue;
      }
      need_list = false;
    }
    if (!first_watch) {
      std::lock_guard<std::mutex> l(stats_mu_);
      ++stats_.watch_restarts;
    }
    first_watch = false;
    int64_t started = MonoMs();
    bool got_events = false;
    WatchEnd end = WatchOnce(&got_events);
    if (got_events) backoff_ms_ = options_.backoff_initial_ms;
    switch (end) {
      case WatchEnd::kStopped:
        break;
      case WatchEnd::kGone:
        // Our version is too old: relist at once (backing off only if that keeps happening).
        need_list = true;
        {
          std::lock_guard<std::mutex> l(stats_mu_);
          ++stats_.gone;
        }
        LOG(INFO) << "watch " << path_ << ": resourceVersion " << rv_
                  << " expired (410); relisting";
        if (!got_events && MonoMs() - started < options_.min_healthy_watch_ms) {
          if (!Sleep(NextBackoff())) return Status::Ok();
        }
        break;
      case WatchEnd::kNotFound:
        if (stop_on_not_found) return Status::NotFound(path_ + ": 404");
        [[fallthrough]];
      case WatchEnd::kError: {
        int64_t wait = NextBackoff();
        LOG(WARNING) << "watch " << path_ << " broke: " << Stats().last_error
                     << "; keeping the last state, re-watching in " << wait << " ms";
        if (!Sleep(wait)) return Status::Ok();
        break;
      }
      case WatchEnd::kClean:
        if (!got_events && MonoMs() - started < options_.min_healthy_watch_ms) {
          if (!Sleep(NextBackoff())) return Status::Ok();
        }
        break;
    }
  }
  return Status::Ok();
}

Status Reflector::ListAll() {
  std::string cont;
  bool restarted = false;
  auto page_query = [this](const std::string& c) {
    std::string q = path_ + "?limit=" + std::to_string(options_.page_size);
    if (!c.empty()) q += "&continue=" + UrlEncode(c);
    return q;
  };
  // The next page is fetched while this one is decoded, as soon as its continue token is known:
  // the server's work and the transfer overlap with our decoding.
  std::future<HttpResult> prefetch;
  sink_.BeginList();
  while (true) {
    HttpResult r = prefetch.valid() ? prefetch.get() : client_.Get(page_query(cont), &cancel_);
    if (stopped_ || r.cancelled) {
      sink_.AbortList();
      return Status::Unavailable("stopped");
    }
    if (r.status == 410 && !cont.empty() && !restarted) {
      // The snapshot behind our continue token expired: start the list over, once.
      LOG(INFO) << "list " << path_ << ": continue token expired; listing again";
      restarted = true;
      cont.clear();
      if (prefetch.valid()) prefetch.get();  // cannot be pending here; keeps the flow obvious
      sink_.AbortList();
      sink_.BeginList();
      continue;
    }
    if (!r.ok()) {
      sink_.AbortList();
      RecordError("list: " + r.Describe());
      if (r.status == 404) return Status::NotFound(path_ + ": " + r.Describe());
      return Status::Unavailable(r.Describe());
    }
    Touch();
    int64_t t0 = ThreadCpuNs();
    std::string rv;
    size_t arena_used = 0;
    {
      rapidjson::MemoryPoolAllocator<> alloc = ArenaAllocator();
      rapidjson::Document page(&alloc);
      Status ps = ParseJsonInsitu(r.body.data(), &page);
      if (!ps.ok() || !page.IsObject()) {
        sink_.AbortList();
        RecordError("list: malformed page: " + (ps.ok() ? "not an object" : ps.message()));
        return Status::Unavailable("malformed list page");
      }
      auto items = page.FindMember("items");
      auto meta = page.FindMember("metadata");
      if (items == page.MemberEnd() || !(items->value.IsArray() || items->value.IsNull()) ||
          meta == page.MemberEnd() || !meta->value.IsObject()) {
        sink_.AbortList();
        RecordError("list: page without items/metadata");
        return Status::Unavailable("malformed list page");
      }
      rv = StringMember(meta->value, "resourceVersion");
      cont = StringMember(meta->value, "continue");
      if (!cont.empty()) {
        prefetch = std::async(std::launch::async, [this, q = page_query(cont)] {
          return client_.Get(q, &prefetch_cancel_);
        });
      }
      if (items->value.IsArray()) {
        for (const auto& item : items->value.GetArray()) sink_.ListItem(item);
      }
      arena_used = alloc.Size();
    }  // the DOM is gone: the arena may be replaced now
    GrowArena(arena_used);
    int64_t dt = ThreadCpuNs() - t0;
    {
      std::lock_guard<std::mutex> l(stats_mu_);
      ++stats_.list_pages;
      stats_.list_bytes += static_cast<int64_t>(r.body.size());
      stats_.list_decode_ns += dt;
    }
    if (cont.empty()) {
      if (rv.empty()) {
        sink_.AbortList();
        RecordError("list: no resourceVersion");
        return Status::Unavailable("list without resourceVersion");
      }
      sink_.EndList();
      rv_ = rv;
      std::lock_guard<std::mutex> l(stats_mu_);
      ++stats_.lists;
      stats_.synced = true;
      stats_.resource_version = rv_;
      return Status::Ok();
    }
  }
}

void Reflector::HandleEvent(std::string_view text, WatchEnd* end, bool* got_events) {
  rapidjson::MemoryPoolAllocator<> alloc = ArenaAllocator();
  rapidjson::Document ev(&alloc);
  event_buf_.assign(text.data(), text.size());
  if (!ParseJsonInsitu(event_buf_.data(), &ev).ok() || !ev.IsObject()) {
    std::lock_guard<std::mutex> l(stats_mu_);
    ++stats_.malformed_events;
    *end = WatchEnd::kGone;  // we may have missed a change: relist to stay exact
    return;
  }
  std::string type = StringMember(ev, "type");
  auto obj = ev.FindMember("object");
  if (obj == ev.MemberEnd() || !obj->value.IsObject()) {
    std::lock_guard<std::mutex> l(stats_mu_);
    ++stats_.malformed_events;
    *end = WatchEnd::kGone;
    return;
  }
  const rapidjson::Value& o = obj->value;
  if (type == "ERROR") {
    int code = 0;
    auto c = o.FindMember("code");
    if (c != o.MemberEnd() && c->value.IsInt()) code = c->value.GetInt();
    RecordError("watch ERROR event: code " + std::to_string(code) + " " +
                StringMember(o, "message"));
    *end = code == 404 ? WatchEnd::kNotFound : WatchEnd::kGone;
    return;
  }
  std::string_view rv = ResourceVersionOf(o);
  if (type == "BOOKMARK") {
    if (!rv.empty()) rv_ = rv;
    std::lock_guard<std::mutex> l(stats_mu_);
    ++stats_.bookmarks;
    stats_.resource_version = rv_;
    return;
  }
  WatchEventType t;
  if (type == "ADDED") {
    t = WatchEventType::kAdded;
  } else if (type == "MODIFIED") {
    t = WatchEventType::kModified;
  } else if (type == "DELETED") {
    t = WatchEventType::kDeleted;
  } else {
    std::lock_guard<std::mutex> l(stats_mu_);
    ++stats_.malformed_events;
    *end = WatchEnd::kGone;
    return;
  }
  sink_.Event(t, o);
  if (!rv.empty()) rv_ = rv;
  *got_events = true;
  std::lock_guard<std::mutex> l(stats_mu_);
  ++stats_.events;
  stats_.resource_version = rv_;
}

Reflector::WatchEnd Reflector::WatchOnce(bool* got_events) {
  int64_t timeout_s = options_.min_watch_timeout_s +
                      std::uniform_int_distribution<int64_t>(0, options_.min_watch_timeout_s)(rng_);
  int64_t idle_ms = options_.watch_idle_timeout_ms > 0 ? options_.watch_idle_timeout_ms
                                                       : timeout_s * 1000 + 30'000;
  std::string q = path_ + "?watch=1&allowWatchBookmarks=true&resourceVersion=" + UrlEncode(rv_) +
                  "&timeoutSeconds=" + std::to_string(timeout_s);
  JsonStreamSplitter splitter;
  WatchEnd end = WatchEnd::kClean;
  Status split_error;
  std::function<bool(std::string_view)> on_data = [&](std::string_view chunk) {
    Touch();
    split_error = splitter.Feed(chunk, [&](std::string_view value) {
      HandleEvent(value, &end, got_events);
      return end == WatchEnd::kClean;
    });
    return split_error.ok() && end == WatchEnd::kClean;
  };
  HttpResult r = client_.Stream(q, on_data, idle_ms, &cancel_);
  if (stopped_ || r.cancelled) return WatchEnd::kStopped;
  if (end != WatchEnd::kClean) return end;
  if (!split_error.ok()) {
    RecordError("watch: " + split_error.message());
    std::lock_guard<std::mutex> l(stats_mu_);
    ++stats_.malformed_events;
    return WatchEnd::kGone;
  }
  if (r.status == 410) return WatchEnd::kGone;
  if (r.status == 404) {
    RecordError("watch: " + r.Describe());
    return WatchEnd::kNotFound;
  }
  if (!r.ok()) {
    RecordError("watch: " + r.Describe());
    return WatchEnd::kError;
  }
  if (splitter.InValue()) {
    RecordError("watch: stream ended inside an event");
    return WatchEnd::kError;
  }
  return WatchEnd::kClean;
}

}  // namespace mlsched::k8s
