#pragma once

// Where ClusterSync writes what it learns from the API server. The production writer forwards to
// policy::Engine; tests and the scale bench use their own (an exact mirror to compare with the
// server, or a counting one).

#include <string_view>
#include <vector>

#include "policy/engine.h"
#include "policy/objects.h"

namespace mlsched::k8s {

// Same contract as the corresponding policy::Engine methods. Called from ClusterSync's watch
// threads (one thread per resource kind, so calls for different kinds may be concurrent).
class ModelWriter {
 public:
  virtual ~ModelWriter() = default;
  virtual void UpsertNode(policy::Node node) = 0;
  virtual void DeleteNode(std::string_view name) = 0;
  virtual void ReplaceNodes(std::vector<policy::Node> nodes) = 0;
  virtual void UpsertPod(policy::Pod pod, policy::TimeMs now) = 0;
  virtual void DeletePod(const policy::Pod& last_state, policy::TimeMs now) = 0;
  virtual void ReplacePods(std::vector<policy::Pod> pods, policy::TimeMs now) = 0;
  virtual void UpsertPodGroup(policy::PodGroup group) = 0;
  virtual void DeletePodGroup(std::string_view ns, std::string_view name) = 0;
  virtual void ReplacePodGroups(std::vector<policy::PodGroup> groups) = 0;
  virtual void SetPodGroupsKnown(bool known) = 0;
};

// Forwards to a policy::Engine (which is thread-safe).
class EngineWriter : public ModelWriter {
 public:
  explicit EngineWriter(policy::Engine& engine) : engine_(engine) {}
  void UpsertNode(policy::Node node) override { engine_.UpsertNode(std::move(node)); }
  void DeleteNode(std::string_view name) override { engine_.DeleteNode(name); }
  void ReplaceNodes(std::vector<policy::Node> nodes) override {
    engine_.ReplaceNodes(std::move(nodes));
  }
  void UpsertPod(policy::Pod pod, policy::TimeMs now) override {
    engine_.UpsertPod(std::move(pod), now);
  }
  void DeletePod(const policy::Pod& last_state, policy::TimeMs now) override {
    engine_.DeletePod(last_state, now);
  }
  void ReplacePods(std::vector<policy::Pod> pods, policy::TimeMs now) override {
    engine_.ReplacePods(std::move(pods), now);
  }
  void UpsertPodGroup(policy::PodGroup group) override { engine_.UpsertPodGroup(std::move(group)); }
  void DeletePodGroup(std::string_view ns, std::string_view name) override {
    engine_.DeletePodGroup(ns, name);
  }
  void ReplacePodGroups(std::vector<policy::PodGroup> groups) override {
    engine_.ReplacePodGroups(std::move(groups));
  }
  void SetPodGroupsKnown(bool known) override { engine_.SetPodGroupsKnown(known); }

 private:
  policy::Engine& engine_;
};

}  // namespace mlsched::k8s
