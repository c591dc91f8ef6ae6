#include "k8s/cluster_sync.h"

#include <glog/logging.h>

#include <chrono>
#include <random>

#include "k8s/decode.h"

namespace mlsched::k8s {
namespace {

constexpr char kPodGroupGroupVersion[] = "/apis/scheduling.x-k8s.io/v1alpha1";

policy::TimeMs SystemNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// "ns/name" of an object for log lines, whatever its shape.
std::string NameForLog(const rapidjson::Value& obj) {
  if (!obj.IsObject()) return "?";
  auto m = obj.FindMember("metadata");
  if (m == obj.MemberEnd() || !m->value.IsObject()) return "?";
  std::string out;
  auto ns = m->value.FindMember("namespace");
  if (ns != m->value.MemberEnd() && ns->value.IsString()) out = std::string(ns->value.GetString()) + "/";
  auto n = m->value.FindMember("name");
  out += n != m->value.MemberEnd() && n->value.IsString() ? n->value.GetString() : "?";
  return out;
}

// metadata.namespace/name/uid, for deleting an object whose last state does not decode.
bool KeyOf(const rapidjson::Value& obj, std::string* ns, std::string* name, std::string* uid) {
  if (!obj.IsObject()) return false;
  auto m = obj.FindMember("metadata");
  if (m == obj.MemberEnd() || !m->value.IsObject()) return false;
  auto get = [&](const char* k, std::string* out) {
    auto it = m->value.FindMember(k);
    if (it != m->value.MemberEnd() && it->value.IsString()) *out = it->value.GetString();
  };
  get("namespace", ns);
  get("name", name);
  get("uid", uid);
  return !name->empty();
}

}  // namespace

// ---- Sinks: decode and forward. Each runs on its reflector's thread. ----

// What differs between the kinds of object a sink forwards to the model.
template <typename T>
struct SinkKind;

template <>
struct SinkKind<policy::Node> {
  static constexpr const char* kName = "Node";
  static Status Decode(const rapidjson::Value& o, policy::Node* n) { return DecodeNode(o, n); }
  static void FromKey(std::string ns, std::string name, std::string uid, policy::Node* n) {
    n->name = std::move(name);
  }
  static void Replace(ModelWriter& w, std::vector<policy::Node> v, policy::TimeMs) {
    w.ReplaceNodes(std::move(v));
  }
  static void Upsert(ModelWriter& w, policy::Node n, policy::TimeMs) { w.UpsertNode(std::move(n)); }
  static void Delete(ModelWriter& w, const policy::Node& n, policy::TimeMs) { w.DeleteNode(n.name); }
};

template <>
struct SinkKind<policy::Pod> {
  static constexpr const char* kName = "Pod";
  static Status Decode(const rapidjson::Value& o, policy::Pod* p) { return DecodePod(o, p); }
  static void FromKey(std::string ns, std::string name, std::string uid, policy::Pod* p) {
    p->ns = std::move(ns);
    p->name = std::move(name);
    p->uid = std::move(uid);
  }
  static void Replace(ModelWriter& w, std::vector<policy::Pod> v, policy::TimeMs now) {
    w.ReplacePods(std::move(v), now);
  }
  static void Upsert(ModelWriter& w, policy::Pod p, policy::TimeMs now) {
    w.UpsertPod(std::move(p), now);
  }
  static void Delete(ModelWriter& w, const policy::Pod& p, policy::TimeMs now) {
    w.DeletePod(p, now);
  }
};

template <>
struct SinkKind<policy::PodGroup> {
  static constexpr const char* kName = "PodGroup";
  static Status Decode(const rapidjson::Value& o, policy::PodGroup* g) {
    return DecodePodGroup(o, g);
  }
  static void FromKey(std::string ns, std::string name, std::string uid, policy::PodGroup* g) {
    g->ns = std::move(ns);
    g->name = std::move(name);
  }
  static void Replace(ModelWriter& w, std::vector<policy::PodGroup> v, policy::TimeMs) {
    w.ReplacePodGroups(std::move(v));
  }
  static void Upsert(ModelWriter& w, policy::PodGroup g, policy::TimeMs) {
    w.UpsertPodGroup(std::move(g));
  }
  static void Delete(ModelWriter& w, const policy::PodGroup& g, policy::TimeMs) {
    w.DeletePodGroup(g.ns, g.name);
  }
};

// Lists replace the model's objects of the kind; events upsert or delete one. A malformed
// object is skipped with a log line and a count; a DELETED whose last state does not decode
// still deletes by its metadata key (the pipeline history then just has less to record).
template <typename T>
class ObjectSink : public ReflectorSink {
 public:
  ObjectSink(ModelWriter& w, std::atomic<int64_t>& skipped, std::function<policy::TimeMs()> now)
      : w_(w), skipped_(skipped), now_(std::move(now)) {}
  void BeginList() override { list_.clear(); }
  void ListItem(const rapidjson::Value& obj) override {
    T t;
    if (Decode(obj, &t)) list_.push_back(std::move(t));
  }
  void EndList() override {
    SinkKind<T>::Replace(w_, std::move(list_), Now());
    list_ = {};
  }
  void AbortList() override { list_ = {}; }
  void Event(WatchEventType type, const rapidjson::Value& obj) override {
    if (type == WatchEventType::kDeleted) {
      T t;
      if (!SinkKind<T>::Decode(obj, &t).ok()) {
        t = T();
        std::string ns, name, uid;
        if (!KeyOf(obj, &ns, &name, &uid)) {
          Skip(obj, "DELETED without metadata.name");
          return;
        }
        SinkKind<T>::FromKey(std::move(ns), std::move(name), std::move(uid), &t);
      }
      SinkKind<T>::Delete(w_, t, Now());
      return;
    }
    T t;
    if (Decode(obj, &t)) SinkKind<T>::Upsert(w_, std::move(t), Now());
  }

 private:
  policy::TimeMs Now() const { return now_ ? now_() : 0; }
  bool Decode(const rapidjson::Value& obj, T* t) {
    Status s = SinkKind<T>::Decode(obj, t);
    if (!s.ok()) Skip(obj, s.message());
    return s.ok();
  }
  void Skip(const rapidjson::Value& obj, const std::string& why) {
    ++skipped_;
    LOG(WARNING) << "skipping malformed " << SinkKind<T>::kName << " " << NameForLog(obj) << ": "
                 << why;
  }
  ModelWriter& w_;
  std::atomic<int64_t>& skipped_;
  std::function<policy::TimeMs()> now_;
  std::vector<T> list_;
};

class ClusterSync::NodeSink : public ObjectSink<policy::Node> {
  using ObjectSink::ObjectSink;
};
class ClusterSync::PodSink : public ObjectSink<policy::Pod> {
  using ObjectSink::ObjectSink;
};
class ClusterSync::PodGroupSink : public ObjectSink<policy::PodGroup> {
  using ObjectSink::ObjectSink;
};

// ---- ClusterSync ----

ClusterSync::ClusterSync(const ClientConfig& config, policy::Engine& engine,
                         const SyncOptions& options)
    : ClusterSync(config, *new EngineWriter(engine), options) {
  engine_writer_.reset(static_cast<EngineWriter*>(&writer_));
}

ClusterSync::ClusterSync(const ClientConfig& config, ModelWriter& writer,
                         const SyncOptions& options)
    : options_(options), writer_(writer), client_(config) {
  uint64_t seed = options_.seed ? options_.seed : std::random_device{}();
  auto now = [this] { return Now(); };
  node_sink_ = std::make_unique<NodeSink>(writer_, skipped_, now);
  pod_sink_ = std::make_unique<PodSink>(writer_, skipped_, now);
  group_sink_ = std::make_unique<PodGroupSink>(writer_, skipped_, now);
  nodes_ = std::make_unique<Reflector>(client_, "/api/v1/nodes", *node_sink_,
                                       options_.reflector, seed);
  pods_ = std::make_unique<Reflector>(client_, "/api/v1/pods", *pod_sink_, options_.reflector,
                                      seed + 1);
}

ClusterSync::~ClusterSync() { Stop(); }

policy::TimeMs ClusterSync::Now() const {
  return options_.clock ? options_.clock() : SystemNowMs();
}

void ClusterSync::Start() {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (started_) return;
    started_ = true;
  }
  node_thread_ = std::thread([this] { nodes_->Run(); });
  pod_thread_ = std::thread([this] { pods_->Run(); });
  if (options_.watch_pod_groups) {
    group_thread_ = std::thread([this] { RunPodGroups(); });
  } else {
    writer_.SetPodGroupsKnown(false);
  }
}

void ClusterSync::Stop() {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (stopping_) return;
    stopping_ = true;
    if (groups_) groups_->Stop();
  }
  cv_.notify_all();
  discovery_cancel_.Cancel();
  nodes_->Stop();
  pods_->Stop();
  if (node_thread_.joinable()) node_thread_.join();
  if (pod_thread_.joinable()) pod_thread_.join();
  if (group_thread_.joinable()) group_thread_.join();
}

bool ClusterSync::SleepMs(int64_t ms) {
  std::unique_lock<std::mutex> l(mu_);
  cv_.wait_for(l, std::chrono::milliseconds(ms), [this] { return stopping_; });
  return !stopping_;
}

void ClusterSync::RunPodGroups() {
  int64_t backoff = options_.reflector.backoff_initial_ms;
  bool was_installed = false;
  uint64_t seed = options_.seed ? options_.seed + 2 : std::random_device{}();
  while (true) {
    HttpResult r = client_.Get(kPodGroupGroupVersion, &discovery_cancel_);
    {
      std::lock_guard<std::mutex> l(mu_);
      if (stopping_) return;
    }
    bool installed = false;
    if (r.ok()) {
      rapidjson::Document d;
      d.Parse(r.body.data(), r.body.size());
      if (!d.HasParseError() && d.IsObject() && d.HasMember("resources") &&
          d["resources"].IsArray()) {
        for (const auto& res : d["resources"].GetArray()) {
          if (res.IsObject() && res.HasMember("name") && res["name"].IsString() &&
              std::string_view(res["name"].GetString()) == "podgroups") {
            installed = true;
          }
        }
      }
    } else if (r.status != 404) {
      {
        std::lock_guard<std::mutex> l(mu_);
        discovery_error_ = std::string("PodGroup CRD discovery: ") + r.Describe();
      }
      LOG(WARNING) << "PodGroup CRD discovery failed: " << r.Describe() << "; retrying";
      std::uniform_real_distribution<double> jitter(0.5, 1.5);
      std::mt19937_64 rng(seed++);
      if (!SleepMs(static_cast<int64_t>(static_cast<double>(backoff) * jitter(rng)))) return;
      backoff = std::min(backoff * 2, options_.reflector.backoff_max_ms);
      continue;
    }
    backoff = options_.reflector.backoff_initial_ms;
    writer_.SetPodGroupsKnown(installed);
    if (!installed) {
      if (was_installed) writer_.ReplacePodGroups({});
      was_installed = false;
      {
        std::lock_guard<std::mutex> l(mu_);
        crd_checked_ = true;
        crd_installed_ = false;
        discovery_error_.clear();
      }
      LOG(INFO) << "PodGroup CRD (podgroups.scheduling.x-k8s.io) not installed; looking "
                   "again in "
                << options_.crd_recheck_ms << " ms";
      if (!SleepMs(options_.crd_recheck_ms)) return;
      continue;
    }
    was_installed = true;
    Reflector* reflector;
    {
      std::lock_guard<std::mutex> l(mu_);
      if (stopping_) return;
      crd_checked_ = true;
      crd_installed_ = true;
      discovery_error_.clear();
      if (groups_) {
        ReflectorStats s = groups_->Stats();
        finished_group_stats_.lists += s.lists;
        finished_group_stats_.watch_restarts += s.watch_restarts;
        finished_group_stats_.events += s.events;
        finished_group_stats_.bookmarks += s.bookmarks;
        finished_group_stats_.errors += s.errors;
        finished_group_stats_.malformed_events += s.malformed_events;
        finished_group_stats_.list_bytes += s.list_bytes;
        finished_group_stats_.list_decode_ns += s.list_decode_ns;
      }
      groups_ = std::make_unique<Reflector>(client_,
                                            std::string(kPodGroupGroupVersion) + "/podgroups",
                                            *group_sink_, options_.reflector, seed++);
      reflector = groups_.get();
    }
    LOG(INFO) << "PodGroup CRD installed; watching podgroups";
    Status s = reflector->Run(/*stop_on_not_found=*/true);
    if (s.ok()) return;  // stopped
    LOG(WARNING) << "podgroups went away (" << s.message() << "); the CRD was removed?";
    writer_.SetPodGroupsKnown(false);
    writer_.ReplacePodGroups({});
    was_installed = false;
    std::lock_guard<std::mutex> l(mu_);
    crd_installed_ = false;
  }
}

bool ClusterSync::Synced() const {
  if (!nodes_->Stats().synced || !pods_->Stats().synced) return false;
  if (!options_.watch_pod_groups) return true;
  std::lock_guard<std::mutex> l(mu_);
  if (!crd_checked_) return false;
  if (!crd_installed_) return true;
  return groups_ && (groups_->Stats().synced || finished_group_stats_.lists > 0);
}

SyncStats ClusterSync::Stats() const {
  SyncStats out;
  std::vector<ReflectorStats> all = {nodes_->Stats(), pods_->Stats()};
  ReflectorStats finished;
  {
    std::lock_guard<std::mutex> l(mu_);
    if (groups_) all.push_back(groups_->Stats());
    finished = finished_group_stats_;
    out.pod_groups_known = crd_installed_;
    out.last_error = discovery_error_;
  }
  out.synced = Synced();
  out.connected = true;
  int64_t now = Reflector::MonoMs();
  int64_t last_contact = 0;
  int64_t first_lists = 0;
  all.push_back(finished);
  for (const ReflectorStats& s : all) {
    out.connected = out.connected && (s.connected || &s == &all.back());
    out.relists += s.lists;
    if (s.lists > 0 && &s != &all.back()) ++first_lists;
    out.watch_restarts += s.watch_restarts;
    out.events_applied += s.events;
    out.bookmarks += s.bookmarks;
    out.malformed_events += s.malformed_events;
    out.errors += s.errors;
    out.list_bytes += s.list_bytes;
    out.list_decode_seconds += static_cast<double>(s.list_decode_ns) / 1e9;
    last_contact = std::max(last_contact, s.last_contact_ms);
    if (out.last_error.empty() && !s.connected && !s.last_error.empty()) {
      out.last_error = s.last_error;
    }
  }
  if (finished.lists > 0) ++first_lists;
  out.relists -= first_lists;
  if (out.relists < 0) out.relists = 0;
  out.objects_skipped = skipped_.load();
  out.seconds_since_last_contact =
      last_contact > 0 ? static_cast<double>(now - last_contact) / 1000.0 : -1;
  return out;
}

}  // namespace mlsched::k8s
