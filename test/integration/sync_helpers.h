#pragma once

// Helpers shared by the integration tests: an exact mirror ModelWriter, the server's state
// decoded the same way, object generators and a bounded wait.

#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>

#include "k8s/decode.h"
#include "k8s/model_writer.h"
#include "test/fakes/fake_apiserver.h"

namespace mlsched::testing {

struct ModelState {
  std::map<std::string, policy::Node> nodes;
  std::map<std::string, policy::Pod> pods;  // "ns/name"
  std::map<std::string, policy::PodGroup> groups;
  bool operator==(const ModelState&) const = default;
};

// Keeps exactly what ClusterSync wrote, for comparison with the server.
class MirrorWriter : public k8s::ModelWriter {
 public:
  void UpsertNode(policy::Node n) override {
    std::lock_guard<std::mutex> l(mu_);
    std::string name = n.name;
    s_.nodes[name] = std::move(n);
  }
  void DeleteNode(std::string_view name) override {
    std::lock_guard<std::mutex> l(mu_);
    s_.nodes.erase(std::string(name));
  }
  void ReplaceNodes(std::vector<policy::Node> nodes) override {
    std::lock_guard<std::mutex> l(mu_);
    ++replaces_;
    s_.nodes.clear();
    for (auto& n : nodes) s_.nodes[n.name] = std::move(n);
  }
  void UpsertPod(policy::Pod p, policy::TimeMs) override {
    std::lock_guard<std::mutex> l(mu_);
    s_.pods[p.Key()] = std::move(p);
  }
  void DeletePod(const policy::Pod& p, policy::TimeMs) override {
    std::lock_guard<std::mutex> l(mu_);
    s_.pods.erase(p.Key());
  }
  void ReplacePods(std::vector<policy::Pod> pods, policy::TimeMs) override {
    std::lock_guard<std::mutex> l(mu_);
    ++replaces_;
    s_.pods.clear();
    for (auto& p : pods) s_.pods[p.Key()] = std::move(p);
  }
  void UpsertPodGroup(policy::PodGroup g) override {
    std::lock_guard<std::mutex> l(mu_);
    s_.groups[g.ns + "/" + g.name] = std::move(g);
  }
  void DeletePodGroup(std::string_view ns, std::string_view name) override {
    std::lock_guard<std::mutex> l(mu_);
    s_.groups.erase(std::string(ns) + "/" + std::string(name));
  }
  void ReplacePodGroups(std::vector<policy::PodGroup> groups) override {
    std::lock_guard<std::mutex> l(mu_);
    s_.groups.clear();
    for (auto& g : groups) s_.groups[g.ns + "/" + g.name] = std::move(g);
  }
  void SetPodGroupsKnown(bool known) override {
    std::lock_guard<std::mutex> l(mu_);
    groups_known_ = known;
  }

  ModelState State() const {
    std::lock_guard<std::mutex> l(mu_);
    return s_;
  }
  bool groups_known() const {
    std::lock_guard<std::mutex> l(mu_);
    return groups_known_;
  }
  int replaces() const {
    std::lock_guard<std::mutex> l(mu_);
    return replaces_;
  }

 private:
  mutable std::mutex mu_;
  ModelState s_;
  bool groups_known_ = false;
  int replaces_ = 0;
};

// The server's objects decoded as ClusterSync decodes them (malformed ones left out).
inline ModelState ServerState(const fakes::FakeApiServer& server) {
  ModelState s;
  for (const std::string& json : server.List(fakes::Kind::kNode)) {
    rapidjson::Document d;
    d.Parse(json.c_str());
    policy::Node n;
    if (k8s::DecodeNode(d, &n).ok()) s.nodes[n.name] = std::move(n);
  }
  for (const std::string& json : server.List(fakes::Kind::kPod)) {
    rapidjson::Document d;
    d.Parse(json.c_str());
    policy::Pod p;
    if (k8s::DecodePod(d, &p).ok()) s.pods[p.Key()] = std::move(p);
  }
  for (const std::string& json : server.List(fakes::Kind::kPodGroup)) {
    rapidjson::Document d;
    d.Parse(json.c_str());
    policy::PodGroup g;
    if (k8s::DecodePodGroup(d, &g).ok()) s.groups[g.ns + "/" + g.name] = std::move(g);
  }
  return s;
}

// Polls `cond` every 10 ms for at most `limit`; a safety bound, not a timing assertion.
inline bool WaitFor(const std::function<bool()>& cond,
                    std::chrono::milliseconds limit = std::chrono::seconds(30)) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return cond();
}

inline std::string NodeJson(const std::string& name, int cpu, int gpus, const std::string& zone,
                            bool ready = true, bool cordoned = false) {
  return R"({"apiVersion":"v1","kind":"Node","metadata":{"name":")" + name +
         R"(","labels":{"kubernetes.io/hostname":")" + name +
         R"(","topology.kubernetes.io/zone":")" + zone + R"("}},"spec":{"unschedulable":)" +
         (cordoned ? "true" : "false") + R"(},"status":{"allocatable":{"cpu":")" +
         std::to_string(cpu) + R"(","memory":"256Gi","pods":"110","nvidia.com/gpu":")" +
         std::to_string(gpus) + R"("},"conditions":[{"type":"Ready","status":")" +
         (ready ? "True" : "False") + R"("}]}})";
}

inline std::string PodJson(const std::string& ns, const std::string& name,
                           const std::string& node, int milli_cpu, int gpus,
                           const std::string& phase, const std::string& gang = "",
                           const std::string& uid = "") {
  std::string labels = gang.empty() ? "{\"app\":\"x\"}"
                                    : "{\"app\":\"x\",\"scheduling.x-k8s.io/pod-group\":\"" +
                                          gang + "\"}";
  std::string j = R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":")" + name +
                  R"(","namespace":")" + ns + R"(",)";
  if (!uid.empty()) j += R"("uid":")" + uid + R"(",)";
  j += R"("creationTimestamp":"2026-11-28T16:26:18Z","labels":)" + labels +
       R"(},"spec":{"schedulerName":"mlsched","containers":[{"name":"main","image":"img:1",)"
       R"("resources":{"requests":{"cpu":")" +
       std::to_string(milli_cpu) + R"(m","memory":"1Gi")" +
       (gpus ? ",\"nvidia.com/gpu\":\"" + std::to_string(gpus) + "\"" : std::string()) +
       R"(}}}])";
  if (!node.empty()) j += R"(,"nodeName":")" + node + R"(")";
  j += R"(},"status":{"phase":")" + phase + R"("}})";
  return j;
}

inline std::string PodGroupJson(const std::string& ns, const std::string& name, int min_member) {
  return R"({"apiVersion":"scheduling.x-k8s.io/v1alpha1","kind":"PodGroup","metadata":{"name":")" +
         name + R"(","namespace":")" + ns + R"("},"spec":{"minMember":)" +
         std::to_string(min_member) + R"(,"scheduleTimeoutSeconds":60}})";
}

}  // namespace mlsched::testing
