#pragma once

// The live cluster view's JSON (issue 9): the data behind the page served on the debug port,
// shared with scripts (`curl 127.0.0.1:<debug-port>/debug/view/summary | jq`).
//
//   /debug/view/summary    totals, GPU models, gang counts, and the topology tree (every domain
//                          of every level with GPU counts free/used/reserved/unavailable and the
//                          GPUs reserved per gang) — no node in it, so its size grows with the
//                          number of racks, not of nodes.
//   /debug/view/nodes      node detail, paged, for the domains asked for (the racks the page
//                          has expanded) and/or a gang's plan.
//   /debug/view/gangs      gangs with state, members bound of minMember, the reason they wait,
//                          and their plan with each node's domain path.
//   /debug/view/pipelines  recent pipeline runs: steps, where each ran, where pending steps are
//                          steered.
//   /debug/view/service    requests/s and latency per verb over the last minutes, the model's
//                          sizes, and the API watch state.
//
// Filters shared by summary and nodes: `<level>=value` for any topology level by its short name
// (`zone=zone-a`, `rack=r7`, `block=`, `region=`), `model=` (GPU model), `domains=p1,p2`
// (domain paths such as "region-1/zone-a/b1/r7", a node matches when its path starts with one
// of them), `gang=ns/name` (nodes planned or bound for that gang), `offset=`, `limit=`
// (nodes only; limit at most 5,000).
//
// The builders (SummaryJson ...) are pure functions of engine snapshots; ClusterView glues them
// to an Engine. Everything is read-only.

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "policy/engine.h"
#include "policy/status.h"

namespace mlsched::extender {

// ---- Service samples ----

// Requests per verb in time slots, for "requests/s and latency over the last minutes". A fixed
// ring of kSlots slots of kSlotMs each per verb, with a log-scale latency histogram per slot
// (percentiles accurate to a factor of two, bounded by the slot's maximum). Thread-safe: Record
// takes one short lock (it runs once per request, after the answer is written).
class ServiceHistory {
 public:
  static constexpr int64_t kSlotMs = 10'000;
  static constexpr int kSlots = 30;  // 5 minutes
  // Bucket 0 holds latencies < 10 µs; bucket b holds [10 µs * 2^(b-1), 10 µs * 2^b).
  static constexpr int kBuckets = 24;
  static constexpr std::array<std::string_view, 4> kVerbs = {"filter", "prioritize", "bind",
                                                             "preempt"};

  // Counts one answered request. Verbs not in kVerbs are ignored. `now_ms` is a monotonic
  // time in milliseconds.
  void Record(std::string_view verb, bool error, double seconds, int64_t now_ms);

  struct SlotStats {
    int64_t start_ms = 0;  // slot start (same clock as Record)
    int64_t count = 0;
    int64_t errors = 0;  // answers with a non-200 code or an Error field
    double mean_ms = 0;
    double p50_ms = 0;
    double p99_ms = 0;
    double max_ms = 0;
  };
  struct VerbSeries {
    std::string verb;
    std::vector<SlotStats> slots;  // kSlots, oldest first, the last one is the current slot
    SlotStats window;              // over the whole window (start_ms: the window's start)
  };
  // The last kSlots slots up to `now_ms` for each verb.
  std::vector<VerbSeries> Snapshot(int64_t now_ms) const;

 private:
  struct Slot {
    int64_t epoch = -1;  // now_ms / kSlotMs when the slot was last written
    int64_t count = 0;
    int64_t errors = 0;
    double sum = 0;
    double max = 0;
    std::array<uint32_t, kBuckets> buckets{};
  };
  static SlotStats Stats(const std::vector<const Slot*>& slots, int64_t start_ms);
  mutable std::mutex mu_;
  std::array<std::array<Slot, kSlots>, kVerbs.size()> slots_;
};

// Where the model comes from and how its watches are doing (from k8s::SyncStats, or the cluster
// file in the demo).
struct ApiWatchState {
  std::string source;  // "api-server" or "cluster-file"
  std::string detail;  // the server URL or the file name
  bool synced = false;
  bool connected = false;
  bool pod_groups_known = false;
  int64_t relists = 0;
  int64_t watch_restarts = 0;
  int64_t events_applied = 0;
  int64_t errors = 0;
  double seconds_since_last_contact = -1;
  std::string last_error;
};

// ---- Layout and filters ----

// How nodes are grouped and labelled: the topology levels (widest first, as the engine uses
// them) and the label keys that name a node's GPU model (the first one present wins).
struct ViewLayout {
  std::vector<std::string> level_keys;
  std::vector<std::string> level_names;  // short names: the key's last '/'-part ("zone")
  std::vector<std::string> model_keys = {
      "nvidia.com/gpu.product", "cloud.google.com/gke-accelerator", "amd.com/gpu.product-name",
      "node.kubernetes.io/instance-type"};
  // The keys to ask Engine::GpuRows for: level keys, then model keys.
  std::vector<std::string> RowKeys() const;
};
ViewLayout LayoutFor(const policy::Options& options);

using Params = std::map<std::string, std::string>;

struct NodeFilter {
  std::vector<std::pair<int, std::string>> levels;  // level index -> value
  std::string model;
  std::vector<std::string> domains;  // path prefixes
  std::string gang;
  size_t offset = 0;
  size_t limit = 500;
};
// Reads the filter parameters; InvalidArgument naming the parameter for anything it does not
// know or cannot read (nothing else is read then). `paged`: offset and limit are allowed.
Status ParseNodeFilter(const ViewLayout& layout, const Params& params, bool paged, NodeFilter* out);

// ---- Builders: pure functions of engine snapshots. `rows` come from
// Engine::GpuRows(layout.RowKeys()). ----

std::string SummaryJson(const ViewLayout& layout, const std::vector<policy::NodeGpuRow>& rows,
                        const std::vector<policy::GangView>& gangs, const NodeFilter& filter);
std::string NodesJson(const ViewLayout& layout, const std::vector<policy::NodeGpuRow>& rows,
                      const std::vector<policy::GangView>& gangs, const NodeFilter& filter);
// Gangs in the order an admin looks at them: waiting, planned, binding, then running.
std::string GangsJson(const ViewLayout& layout, const std::vector<policy::NodeGpuRow>& rows,
                      const std::vector<policy::GangView>& gangs, size_t limit);
std::string PipelinesJson(const std::vector<policy::PipelineRunView>& runs, int64_t now_ms);
std::string ServiceJson(const std::vector<ServiceHistory::VerbSeries>& series,
                        const policy::ModelStats& stats, const ApiWatchState& api);

// ---- Glue ----

struct ViewAnswer {
  int code = 200;
  std::string body;  // JSON; {"error": "..."} unless code is 200
};

class ClusterView {
 public:
  // `engine` and `history` must outlive this object. `api` may be null (no watch state known).
  ClusterView(const policy::Engine* engine, const ServiceHistory* history,
              std::function<ApiWatchState()> api);

  // Answers GET `path` (/debug/view/...). `wall_ms`: the wall clock (pipeline ages);
  // `mono_ms`: the clock ServiceHistory is fed with. Thread-safe.
  ViewAnswer Serve(std::string_view path, const Params& params, int64_t wall_ms,
                   int64_t mono_ms) const;

 private:
  const policy::Engine* engine_;
  const ServiceHistory* history_;
  std::function<ApiWatchState()> api_;
  ViewLayout layout_;
};

}  // namespace mlsched::extender
