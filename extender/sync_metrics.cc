#include "extender/sync_metrics.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <memory>

namespace mlsched::extender {

std::function<void()> RegisterSyncMetrics(prometheus::Registry& r,
                                          std::function<k8s::SyncStats()> stats) {
  auto gauge = [&](const char* name, const char* help) {
    return &prometheus::BuildGauge().Name(name).Help(help).Register(r).Add({});
  };
  auto counter = [&](const char* name, const char* help) {
    return &prometheus::BuildCounter().Name(name).Help(help).Register(r).Add({});
  };
  struct State {
    prometheus::Gauge *synced, *connected, *crd, *since_contact;
    prometheus::Counter *relists, *restarts, *events, *bookmarks, *skipped, *malformed, *errors,
        *list_bytes, *list_seconds;
    k8s::SyncStats last;
  };
  auto s = std::make_shared<State>();
  s->synced = gauge("mlsched_k8s_synced", "1 once nodes, pods and PodGroups are listed.");
  s->connected = gauge("mlsched_k8s_connected", "1 while every watch reaches the API server.");
  s->crd = gauge("mlsched_k8s_pod_groups_known", "1 when the PodGroup CRD is installed.");
  s->since_contact = gauge("mlsched_k8s_seconds_since_last_contact",
                           "Seconds since the API server last answered (-1: never).");
  s->relists = counter("mlsched_k8s_relists_total", "Lists after the first (410 Gone, errors).");
  s->restarts = counter("mlsched_k8s_watch_restarts_total", "Watches re-opened.");
  s->events = counter("mlsched_k8s_events_applied_total", "Watch events applied to the model.");
  s->bookmarks = counter("mlsched_k8s_bookmarks_total", "Watch bookmarks received.");
  s->skipped = counter("mlsched_k8s_objects_skipped_total", "API objects that failed to decode.");
  s->malformed = counter("mlsched_k8s_malformed_events_total", "Undecodable watch events.");
  s->errors = counter("mlsched_k8s_errors_total", "Failed API requests and broken streams.");
  s->list_bytes = counter("mlsched_k8s_list_bytes_total", "Bytes of LIST responses.");
  s->list_seconds = counter("mlsched_k8s_list_decode_seconds_total",
                            "Time spent parsing and decoding LIST responses.");
  return [s, stats = std::move(stats)] {
    k8s::SyncStats now = stats();
    auto inc = [](prometheus::Counter* c, double before, double after) {
      if (after > before) c->Increment(after - before);
    };
    s->synced->Set(now.synced ? 1 : 0);
    s->connected->Set(now.connected ? 1 : 0);
    s->crd->Set(now.pod_groups_known ? 1 : 0);
    s->since_contact->Set(now.seconds_since_last_contact);
    const k8s::SyncStats& b = s->last;
    inc(s->relists, b.relists, now.relists);
    inc(s->restarts, b.watch_restarts, now.watch_restarts);
    inc(s->events, b.events_applied, now.events_applied);
    inc(s->bookmarks, b.bookmarks, now.bookmarks);
    inc(s->skipped, b.objects_skipped, now.objects_skipped);
    inc(s->malformed, b.malformed_events, now.malformed_events);
    inc(s->errors, b.errors, now.errors);
    inc(s->list_bytes, b.list_bytes, now.list_bytes);
    inc(s->list_seconds, b.list_decode_seconds, now.list_decode_seconds);
    s->last = std::move(now);
  };
}

}  // namespace mlsched::extender
