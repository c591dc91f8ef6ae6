#include "bench/driver/http_extender.h"

#include <curl/curl.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <strings.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <unordered_map>

namespace mlsched::bench {
namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

void Str(Writer& w, std::string_view s) {
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

void WriteLabels(Writer& w, const char* key, const policy::Labels& labels) {
  if (labels.empty()) return;
  w.Key(key);
  w.StartObject();
  for (const auto& [k, v] : labels) {
    Str(w, k);
    Str(w, v);
  }
  w.EndObject();
}

void WriteResources(Writer& w, const policy::Resources& r) {
  w.StartObject();
  if (r.milli_cpu > 0) {
    w.Key("cpu");
    Str(w, std::to_string(r.milli_cpu) + "m");
  }
  if (r.memory > 0) {
    w.Key("memory");
    Str(w, std::to_string(r.memory));
  }
  if (r.ephemeral_storage > 0) {
    w.Key("ephemeral-storage");
    Str(w, std::to_string(r.ephemeral_storage));
  }
  for (const policy::ScalarQuantity& q : r.scalars) {
    Str(w, q.name);
    Str(w, std::to_string(q.value));
  }
  w.EndObject();
}

const char* EffectName(policy::TaintEffect e) {
  switch (e) {
    case policy::TaintEffect::kNoSchedule:
      return "NoSchedule";
    case policy::TaintEffect::kPreferNoSchedule:
      return "PreferNoSchedule";
    case policy::TaintEffect::kNoExecute:
      return "NoExecute";
    case policy::TaintEffect::kAll:
      return "";
  }
  return "";
}

std::string Rfc3339(policy::TimeMs ms) {
  std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

void WritePod(Writer& w, const policy::Pod& pod) {
  w.StartObject();
  w.Key("apiVersion");
  w.String("v1");
  w.Key("kind");
  w.String("Pod");
  w.Key("metadata");
  w.StartObject();
  w.Key("name");
  Str(w, pod.name);
  w.Key("namespace");
  Str(w, pod.ns);
  if (!pod.uid.empty()) {
    w.Key("uid");
    Str(w, pod.uid);
  }
  w.Key("creationTimestamp");
  Str(w, Rfc3339(pod.creation_ms));
  WriteLabels(w, "labels", pod.labels);
  WriteLabels(w, "annotations", pod.annotations);
  w.EndObject();
  w.Key("spec");
  w.StartObject();
  if (!pod.scheduler_name.empty()) {
    w.Key("schedulerName");
    Str(w, pod.scheduler_name);
  }
  w.Key("priority");
  w.Int(pod.priority);
  if (!pod.node_name.empty()) {
    w.Key("nodeName");
    Str(w, pod.node_name);
  }
  WriteLabels(w, "nodeSelector", pod.node_selector);
  if (!pod.tolerations.empty()) {
    w.Key("tolerations");
    w.StartArray();
    for (const policy::Toleration& t : pod.tolerations) {
      w.StartObject();
      if (!t.key.empty()) {
        w.Key("key");
        Str(w, t.key);
      }
      w.Key("operator");
      w.String(t.op == policy::Toleration::Op::kExists ? "Exists" : "Equal");
      if (!t.value.empty()) {
        w.Key("value");
        Str(w, t.value);
      }
      if (t.effect != policy::TaintEffect::kAll) {
        w.Key("effect");
        w.String(EffectName(t.effect));
      }
      w.EndObject();
    }
    w.EndArray();
  }
  w.Key("containers");
  w.StartArray();
  w.StartObject();
  w.Key("name");
  w.String("main");
  w.Key("image");
  Str(w, pod.images.empty() ? std::string("registry.example/app:v1") : pod.images.front());
  w.Key("resources");
  w.StartObject();
  policy::Resources req = pod.requests;
  req.pods = 0;
  w.Key("requests");
  WriteResources(w, req);
  if (req.Scalar("nvidia.com/gpu") > 0) {  // extended resources need limits = requests
    w.Key("limits");
    policy::Resources lim;
    for (const auto& q : req.scalars) lim.SetScalar(q.name, q.value);
    WriteResources(w, lim);
  }
  w.EndObject();
  w.EndObject();
  w.EndArray();
  w.EndObject();
  w.Key("status");
  w.StartObject();
  w.Key("phase");
  switch (pod.phase) {
    case policy::PodPhase::kPending:
      w.String("Pending");
      break;
    case policy::PodPhase::kRunning:
      w.String("Running");
      break;
    case policy::PodPhase::kSucceeded:
      w.String("Succeeded");
      break;
    case policy::PodPhase::kFailed:
      w.String("Failed");
      break;
    case policy::PodPhase::kUnknown:
      w.String("Unknown");
      break;
  }
  w.EndObject();
  w.EndObject();
}

size_t Collect(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

}  // namespace

std::string NodeJson(const policy::Node& node) {
  rapidjson::StringBuffer sb;
  Writer w(sb);
  w.StartObject();
  w.Key("apiVersion");
  w.String("v1");
  w.Key("kind");
  w.String("Node");
  w.Key("metadata");
  w.StartObject();
  w.Key("name");
  Str(w, node.name);
  WriteLabels(w, "labels", node.labels);
  w.EndObject();
  w.Key("spec");
  w.StartObject();
  if (node.unschedulable) {
    w.Key("unschedulable");
    w.Bool(true);
  }
  if (!node.taints.empty()) {
    w.Key("taints");
    w.StartArray();
    for (const policy::Taint& t : node.taints) {
      w.StartObject();
      w.Key("key");
      Str(w, t.key);
      if (!t.value.empty()) {
        w.Key("value");
        Str(w, t.value);
      }
      w.Key("effect");
      w.String(EffectName(t.effect));
      w.EndObject();
    }
    w.EndArray();
  }
  w.EndObject();
  w.Key("status");
  w.StartObject();
  for (const char* key : {"capacity", "allocatable"}) {
    w.Key(key);
    policy::Resources r = node.allocatable;
    w.StartObject();
    w.Key("cpu");
    Str(w, std::to_string(r.milli_cpu) + "m");
    w.Key("memory");
    Str(w, std::to_string(r.memory));
    w.Key("pods");
    Str(w, std::to_string(r.pods));
    if (r.ephemeral_storage > 0) {
      w.Key("ephemeral-storage");
      Str(w, std::to_string(r.ephemeral_storage));
    }
    for (const auto& q : r.scalars) {
      Str(w, q.name);
      Str(w, std::to_string(q.value));
    }
    w.EndObject();
  }
  w.Key("conditions");
  w.StartArray();
  w.StartObject();
  w.Key("type");
  w.String("Ready");
  w.Key("status");
  w.String(node.ready ? "True" : "False");
  w.EndObject();
  w.EndArray();
  w.EndObject();
  w.EndObject();
  return sb.GetString();
}

std::string PodJson(const policy::Pod& pod) {
  rapidjson::StringBuffer sb;
  Writer w(sb);
  WritePod(w, pod);
  return sb.GetString();
}

std::string PodGroupJson(const policy::PodGroup& g) {
  rapidjson::StringBuffer sb;
  Writer w(sb);
  w.StartObject();
  w.Key("apiVersion");
  w.String("scheduling.x-k8s.io/v1alpha1");
  w.Key("kind");
  w.String("PodGroup");
  w.Key("metadata");
  w.StartObject();
  w.Key("name");
  Str(w, g.name);
  w.Key("namespace");
  Str(w, g.ns);
  w.EndObject();
  w.Key("spec");
  w.StartObject();
  w.Key("minMember");
  w.Int(g.min_member);
  if (g.schedule_timeout_seconds > 0) {
    w.Key("scheduleTimeoutSeconds");
    w.Int(g.schedule_timeout_seconds);
  }
  w.EndObject();
  w.EndObject();
  return sb.GetString();
}

HttpExtender::HttpExtender(std::string url, ClusterWriter* writer, long timeout_ms)
    : url_(std::move(url)), writer_(writer), timeout_ms_(timeout_ms) {
  while (!url_.empty() && url_.back() == '/') url_.pop_back();
  curl_global_init(CURL_GLOBAL_DEFAULT);
  curl_ = curl_easy_init();
}

HttpExtender::~HttpExtender() {
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
  if (curl_) curl_easy_cleanup(static_cast<CURL*>(curl_));
}

Status HttpExtender::Post(void* handle, const std::string& verb, const std::string& body,
                          std::string* answer) {
  CURL* c = static_cast<CURL*>(handle);
  if (!c) return Status::Internal("curl_easy_init failed");
  answer->clear();
  std::string url = url_ + "/" + verb;
  struct curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
  // No "Expect: 100-continue" round trip for large bodies (kube-scheduler's Go client sends
  // none either).
  headers = curl_slist_append(headers, "Expect:");
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_POST, 1L);
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, Collect);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, answer);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms_);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  CURLcode rc = curl_easy_perform(c);
  long code = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
  curl_slist_free_all(headers);
  if (rc != CURLE_OK) return Status::Unavailable(verb + ": " + curl_easy_strerror(rc));
  if (code != 200) {
    return Status::Unavailable(verb + ": HTTP " + std::to_string(code) + ": " +
                               answer->substr(0, 200));
  }
  return Status::Ok();
}

void HttpExtender::NodeChanged(const policy::Node& node, TimeMs now) {
  if (writer_ && !writer_->Upsert(ClusterWriter::Kind::kNode, NodeJson(node)).ok()) {
    ++write_errors_;
  }
}

void HttpExtender::PodChanged(const policy::Pod& pod, TimeMs now) {
  if (writer_ && !writer_->Upsert(ClusterWriter::Kind::kPod, PodJson(pod)).ok()) ++write_errors_;
}

void HttpExtender::PodDeleted(const policy::Pod& pod, TimeMs now) {
  if (writer_ && !writer_->Delete(ClusterWriter::Kind::kPod, pod.ns, pod.name).ok()) {
    ++write_errors_;
  }
}

void HttpExtender::PodGroupChanged(const policy::PodGroup& group, TimeMs now) {
  if (writer_ && !writer_->Upsert(ClusterWriter::Kind::kPodGroup, PodGroupJson(group)).ok()) {
    ++write_errors_;
  }
}

namespace {

std::string ArgsJson(const policy::Pod& pod, const std::vector<std::string_view>& nodes) {
  rapidjson::StringBuffer sb;
  Writer w(sb);
  w.StartObject();
  w.Key("Pod");
  WritePod(w, pod);
  w.Key("Nodes");
  w.Null();
  w.Key("NodeNames");
  w.StartArray();
  for (std::string_view n : nodes) Str(w, n);
  w.EndArray();
  w.EndObject();
  return sb.GetString();
}

// Go decodes field names case-insensitively; so do we.
const rapidjson::Value* Field(const rapidjson::Value& obj, const char* name) {
  if (!obj.IsObject()) return nullptr;
  for (auto it = obj.MemberBegin(); it != obj.MemberEnd(); ++it) {
    if (strcasecmp(it->name.GetString(), name) == 0) return &it->value;
  }
  return nullptr;
}

}  // namespace

Status HttpExtender::Filter(const policy::Pod& pod, const std::vector<std::string_view>& nodes,
                            TimeMs now, FilterAnswer* out) {
  std::string answer;
  auto t0 = std::chrono::steady_clock::now();
  Status s = Post(curl_, "filter", ArgsJson(pod, nodes), &answer);
  filter_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ++filter_calls_;
  if (!s.ok()) return s;
  rapidjson::Document d;
  d.Parse(answer.data(), answer.size());
  if (d.HasParseError() || !d.IsObject()) return Status::Unavailable("filter: answer is not JSON");
  *out = FilterAnswer{};
  if (const auto* e = Field(d, "Error"); e && e->IsString()) out->error = e->GetString();
  if (const auto* n = Field(d, "NodeNames"); n && n->IsArray()) {
    for (const auto& v : n->GetArray()) {
      if (!v.IsString()) return Status::Unavailable("filter: NodeNames holds a non-string");
      out->passed.emplace_back(v.GetString());
    }
  }
  auto failed = [](const rapidjson::Value* m,
                   std::vector<std::pair<std::string, std::string>>* into) {
    if (!m || !m->IsObject()) return;
    for (auto it = m->MemberBegin(); it != m->MemberEnd(); ++it) {
      into->emplace_back(it->name.GetString(), it->value.IsString() ? it->value.GetString() : "");
    }
  };
  failed(Field(d, "FailedNodes"), &out->failed);
  failed(Field(d, "FailedAndUnresolvableNodes"), &out->unresolvable);
  return Status::Ok();
}

Status HttpExtender::Prioritize(const policy::Pod& pod, const std::vector<std::string_view>& nodes,
                                TimeMs now, std::vector<int64_t>* scores) {
  std::string answer;
  auto t0 = std::chrono::steady_clock::now();
  Status s = Post(curl_, "prioritize", ArgsJson(pod, nodes), &answer);
  prioritize_seconds_ +=
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ++prioritize_calls_;
  if (!s.ok()) return s;
  rapidjson::Document d;
  d.Parse(answer.data(), answer.size());
  if (d.HasParseError() || !d.IsArray()) {
    return Status::Unavailable("prioritize: answer is not a HostPriorityList");
  }
  std::unordered_map<std::string, int64_t> by_host;
  for (const auto& v : d.GetArray()) {
    const auto* h = Field(v, "Host");
    const auto* sc = Field(v, "Score");
    if (!h || !h->IsString() || !sc || !sc->IsInt64()) {
      return Status::Unavailable("prioritize: malformed HostPriority");
    }
    by_host[h->GetString()] = sc->GetInt64();
  }
  scores->assign(nodes.size(), 0);
  for (size_t k = 0; k < nodes.size(); ++k) {
    auto it = by_host.find(std::string(nodes[k]));
    if (it != by_host.end()) (*scores)[k] = it->second;
  }
  return Status::Ok();
}

void HttpExtender::Bind(const policy::PodBinding& b, TimeMs now) {
  rapidjson::StringBuffer sb;
  Writer w(sb);
  w.StartObject();
  w.Key("PodName");
  Str(w, b.name);
  w.Key("PodNamespace");
  Str(w, b.ns);
  w.Key("PodUID");
  Str(w, b.uid);
  w.Key("Node");
  Str(w, b.node);
  w.EndObject();
  std::string body = sb.GetString();
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++in_flight_;
  }
  binding_of_[b.uid] = b;
  threads_.emplace_back([this, b, body = std::move(body)] {
    CURL* c = curl_easy_init();
    std::string answer;
    Status s = Post(c, "bind", body, &answer);
    if (c) curl_easy_cleanup(c);
    BindOutcome o{b.uid, b.node, s.ok(), s.message(), ""};
    if (s.ok()) {
      rapidjson::Document d;
      d.Parse(answer.data(), answer.size());
      if (d.HasParseError() || !d.IsObject()) {
        o.ok = false;
        o.error = "bind: answer is not JSON";
      } else if (const auto* e = Field(d, "Error"); e && e->IsString() && e->GetStringLength()) {
        o.ok = false;
        o.error = e->GetString();
      }
    }
    std::lock_guard<std::mutex> lock(mu_);
    outcomes_.push_back(std::move(o));
    --in_flight_;
    cv_.notify_all();
  });
}

std::vector<BindOutcome> HttpExtender::TakeBindOutcomes(TimeMs now) {
  std::vector<BindOutcome> out;
  {
    std::lock_guard<std::mutex> lock(mu_);
    out.assign(std::make_move_iterator(outcomes_.begin()),
               std::make_move_iterator(outcomes_.end()));
    outcomes_.clear();
  }
  if (writer_) {
    for (BindOutcome& o : out) {
      if (o.ok) continue;
      auto it = binding_of_.find(o.uid);
      if (it != binding_of_.end()) {
        o.bound_node = writer_->BoundNode(it->second.ns, it->second.name, o.uid);
      }
    }
  }
  for (const BindOutcome& o : out) binding_of_.erase(o.uid);
  // Join finished threads now and then so a long run does not keep thousands.
  if (threads_.size() > 256 && InFlight() == 0) {
    for (std::thread& t : threads_) t.join();
    threads_.clear();
  }
  return out;
}

std::optional<TimeMs> HttpExtender::NextDue() const {
  std::lock_guard<std::mutex> lock(mu_);
  if (!outcomes_.empty()) return TimeMs{0};
  return std::nullopt;
}

size_t HttpExtender::InFlight() const {
  std::lock_guard<std::mutex> lock(mu_);
  return in_flight_;
}

void HttpExtender::WaitForOutcome(int64_t timeout_ms) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms),
               [this] { return !outcomes_.empty() || in_flight_ == 0; });
}

}  // namespace mlsched::bench
