#pragma once

// One resource's list/watch loop, after client-go's Reflector: a paged LIST, then a WATCH from
// the list's resourceVersion; on 410 Gone or an in-stream ERROR, LIST again and *replace*;
// on a broken connection, re-WATCH from the last version seen, with jittered exponential
// backoff. Objects go to a ReflectorSink as RapidJSON values; decoding them is the sink's job.

#include <rapidjson/document.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <string>

#include "k8s/api_client.h"
#include "policy/status.h"

namespace mlsched::k8s {

enum class WatchEventType : uint8_t { kAdded, kModified, kDeleted };

// Receives one resource's objects. Called from the reflector's thread only.
class ReflectorSink {
 public:
  virtual ~ReflectorSink() = default;
  // A full list starts; its items follow, page by page. Exactly one of EndList (the list is
  // complete: the model must become exactly these items) or AbortList (the list failed; forget
  // the items) follows.
  virtual void BeginList() = 0;
  virtual void ListItem(const rapidjson::Value& obj) = 0;
  virtual void EndList() = 0;
  virtual void AbortList() = 0;
  virtual void Event(WatchEventType type, const rapidjson::Value& obj) = 0;
};

struct ReflectorOptions {
  // LIST page size (`limit`).
  int64_t page_size = 500;
  // Each WATCH asks for timeoutSeconds drawn from [min, 2*min), as client-go does, so that
  // watches of many clients do not all end together.
  int64_t min_watch_timeout_s = 300;
  // Backoff after a failure: starts at initial, doubles up to max, each wait jittered to
  // [0.5, 1.5) of the nominal value. A watch that delivered events resets it.
  int64_t backoff_initial_ms = 500;
  int64_t backoff_max_ms = 30'000;
  // A watch stream that sends nothing (not even bookmarks) for this long is considered dead
  // and reconnected. 0: the watch's timeoutSeconds + 30 s.
  int64_t watch_idle_timeout_ms = 0;
  // A watch that ends (cleanly) sooner than this without any event counts as a failure and
  // backs off, so a server that closes every watch at once cannot cause a busy loop.
  int64_t min_healthy_watch_ms = 1000;
};

// Counters and gauges of one reflector; read with Reflector::Stats().
struct ReflectorStats {
  bool synced = false;      // the first full list has been delivered
  bool connected = false;   // the last request succeeded / the watch is open
  int64_t lists = 0;        // complete lists (the first one included)
  int64_t list_pages = 0;
  int64_t list_bytes = 0;
  int64_t list_decode_ns = 0;  // thread CPU time parsing pages and handing items to the sink
  int64_t watch_restarts = 0;  // watches started after the first
  int64_t events = 0;          // ADDED/MODIFIED/DELETED delivered
  int64_t bookmarks = 0;
  int64_t gone = 0;            // 410s (HTTP or in-stream) that forced a relist
  int64_t errors = 0;          // failed requests and broken streams
  int64_t malformed_events = 0;
  int64_t last_contact_ms = 0; // monotonic ms of the last byte from the server; 0: never
  std::string last_error;
  std::string resource_version;
};

class Reflector {
 public:
  // `resource_path` is the collection ("/api/v1/pods"). `client` and `sink` must outlive the
  // reflector. `seed` drives the jitter and watch timeouts (tests pass a fixed one).
  Reflector(ApiClient& client, std::string resource_path, ReflectorSink& sink,
            ReflectorOptions options, uint64_t seed);

  // Runs until Stop(). Returns Ok when stopped, or NotFound when `stop_on_not_found` and the
  // resource answers 404 (a CRD that went away). Blocking; call on a dedicated thread.
  Status Run(bool stop_on_not_found = false);
  // From any thread: aborts the request in flight and makes Run return promptly.
  void Stop();
  ReflectorStats Stats() const;

  // Monotonic clock used for last_contact_ms.
  static int64_t MonoMs();

 private:
  enum class WatchEnd { kStopped, kClean, kGone, kNotFound, kError };
  Status ListAll();
  WatchEnd WatchOnce(bool* got_events);
  void HandleEvent(std::string_view text, WatchEnd* end, bool* got_events);
  // Waits `ms` unless stopped first; false when stopped.
  bool Sleep(int64_t ms);
  int64_t NextBackoff();
  void RecordError(const std::string& what);
  void Touch();
  // A DOM allocator over arena_, which is reused for every page and event: allocating fresh
  // pool chunks for each page (and glibc handing them back to the OS) made page faults the
  // main cost of a large LIST.
  rapidjson::MemoryPoolAllocator<> ArenaAllocator();
  void GrowArena(size_t used);

  ApiClient& client_;
  const std::string path_;
  ReflectorSink& sink_;
  const ReflectorOptions options_;
  std::mt19937_64 rng_;
  int64_t backoff_ms_;
  std::string rv_;  // last resourceVersion seen (reflector thread only)
  std::unique_ptr<char[]> arena_;  // reflector thread only
  size_t arena_size_ = 0;
  std::string event_buf_;  // a watch event, parsed in place (reflector thread only)

  Cancellation cancel_;
  Cancellation prefetch_cancel_;  // the LIST page fetched ahead
  std::atomic<bool> stopped_{false};
  std::mutex sleep_mu_;
  std::condition_variable sleep_cv_;

  mutable std::mutex stats_mu_;
  ReflectorStats stats_;
};

}  // namespace mlsched::k8s
