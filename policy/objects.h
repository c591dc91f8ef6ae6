#pragma once

// The compact typed objects the policy reads: only the fields placement needs. k8s/ decodes
// API JSON into these; extender/ decodes request bodies into them; bench/ builds them directly.

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "policy/resources.h"

namespace mlsched::policy {

// Milliseconds since the Unix epoch. The policy never reads a clock: callers pass `now`.
using TimeMs = int64_t;

// Sorted (by key) list of key/value pairs: smaller than a map and fast for a handful of keys.
class Labels {
 public:
  Labels() = default;
  Labels(std::initializer_list<std::pair<std::string, std::string>> kv);

  // Inserts or replaces.
  void Set(std::string_view key, std::string_view value);
  // Value of `key`, or nullptr when absent.
  const std::string* Find(std::string_view key) const;
  std::string_view Get(std::string_view key) const;  // "" when absent
  bool Has(std::string_view key) const { return Find(key) != nullptr; }
  bool empty() const { return kv_.empty(); }
  size_t size() const { return kv_.size(); }
  auto begin() const { return kv_.begin(); }
  auto end() const { return kv_.end(); }
  bool operator==(const Labels&) const = default;

 private:
  std::vector<std::pair<std::string, std::string>> kv_;
};

enum class TaintEffect : uint8_t { kNoSchedule, kPreferNoSchedule, kNoExecute, kAll };

struct Taint {
  std::string key;
  std::string value;
  TaintEffect effect = TaintEffect::kNoSchedule;
  bool operator==(const Taint&) const = default;
};

struct Toleration {
  enum class Op : uint8_t { kEqual, kExists };
  std::string key;  // empty with kExists tolerates every taint
  Op op = Op::kEqual;
  std::string value;
  TaintEffect effect = TaintEffect::kAll;  // kAll: matches every effect
  bool operator==(const Toleration&) const = default;

  bool Tolerates(const Taint& t) const;
};

// An image a node already holds (NodeStatus.images).
struct NodeImage {
  std::vector<std::string> names;
  int64_t size_bytes = 0;
  bool operator==(const NodeImage&) const = default;
};

struct Node {
  std::string name;
  Labels labels;
  Resources allocatable;
  std::vector<Taint> taints;
  std::vector<NodeImage> images;
  bool unschedulable = false;  // spec.unschedulable (cordoned)
  bool ready = true;           // condition Ready=True
  bool operator==(const Node&) const = default;
};

enum class PodPhase : uint8_t { kPending, kRunning, kSucceeded, kFailed, kUnknown };

struct OwnerRef {
  std::string kind;  // e.g. "PyTorchJob", "Job", "Workflow"
  std::string name;
  std::string uid;
  bool operator==(const OwnerRef&) const = default;
};

struct Pod {
  std::string ns;
  std::string name;
  std::string uid;
  std::string node_name;            // spec.nodeName; empty while pending
  std::string nominated_node_name;  // status.nominatedNodeName
  std::string scheduler_name;
  PodPhase phase = PodPhase::kPending;
  bool terminating = false;  // metadata.deletionTimestamp is set
  int32_t priority = 0;
  TimeMs creation_ms = 0;
  // Effective requests as the scheduler computes them: max(sum of containers, each init
  // container) + overhead, and pods=1.
  Resources requests;
  // Only the labels and annotations the policy reads (see IsPolicyKey) are kept, to keep the
  // model small on 150,000 pods.
  Labels labels;
  Labels annotations;
  OwnerRef owner;  // the controller owner, if any
  Labels node_selector;
  std::vector<Toleration> tolerations;
  std::vector<std::string> images;  // container images
  // Kubernetes native gang scheduling (1.35+ spec.workloadRef, 1.36 spec.schedulingGroup):
  // when set, mlsched leaves gang semantics to the scheduler and never fights it.
  std::string native_gang;
  bool operator==(const Pod&) const = default;

  // Terminal pods (Succeeded/Failed) hold no resources.
  bool IsTerminal() const { return phase == PodPhase::kSucceeded || phase == PodPhase::kFailed; }
  std::string Key() const { return ns + "/" + name; }
};

// scheduling.x-k8s.io/v1alpha1 PodGroup (scheduler-plugins) or a Volcano PodGroup.
struct PodGroup {
  std::string ns;
  std::string name;
  int32_t min_member = 0;
  Resources min_resources;
  int32_t schedule_timeout_seconds = 0;  // 0: the policy default
  bool operator==(const PodGroup&) const = default;
};

// True for the label and annotation keys any policy rule reads; decoders drop the rest.
bool IsPolicyKey(std::string_view key);

// True when the pod tolerates every NoSchedule/NoExecute taint of the node.
bool ToleratesAll(const std::vector<Toleration>& tolerations, const std::vector<Taint>& taints,
                  const Taint** first_untolerated = nullptr);

// True when every node selector entry matches a node label.
bool MatchesNodeSelector(const Labels& selector, const Labels& node_labels);

}  // namespace mlsched::policy
