#include "policy/objects.h"

#include <algorithm>
#include <array>

namespace mlsched::policy {

Labels::Labels(std::initializer_list<std::pair<std::string, std::string>> kv) {
  for (const auto& [k, v] : kv) Set(k, v);
}

void Labels::Set(std::string_view key, std::string_view value) {
  auto it = std::lower_bound(kv_.begin(), kv_.end(), key,
                             [](const auto& p, std::string_view k) { return p.first < k; });
  if (it != kv_.end() && it->first == key) {
    it->second = value;
  } else {
    kv_.emplace(it, std::string(key), std::string(value));
  }
}

const std::string* Labels::Find(std::string_view key) const {
  auto it = std::lower_bound(kv_.begin(), kv_.end(), key,
                             [](const auto& p, std::string_view k) { return p.first < k; });
  return it != kv_.end() && it->first == key ? &it->second : nullptr;
}

std::string_view Labels::Get(std::string_view key) const {
  const std::string* v = Find(key);
  return v ? std::string_view(*v) : std::string_view();
}

bool Toleration::Tolerates(const Taint& t) const {
  if (effect != TaintEffect::kAll && effect != t.effect) return false;
  if (key.empty()) return op == Op::kExists;
  if (key != t.key) return false;
  return op == Op::kExists || value == t.value;
}

bool ToleratesAll(const std::vector<Toleration>& tolerations, const std::vector<Taint>& taints,
                  const Taint** first_untolerated) {
  for (const Taint& t : taints) {
    if (t.effect == TaintEffect::kPreferNoSchedule) continue;
    bool ok = std::any_of(tolerations.begin(), tolerations.end(),
                          [&t](const Toleration& tol) { return tol.Tolerates(t); });
    if (!ok) {
      if (first_untolerated) *first_untolerated = &t;
      return false;
    }
  }
  return true;
}

bool MatchesNodeSelector(const Labels& selector, const Labels& node_labels) {
  for (const auto& [k, v] : selector) {
    const std::string* have = node_labels.Find(k);
    if (!have || *have != v) return false;
  }
  return true;
}

bool IsPolicyKey(std::string_view key) {
  // Prefixes of every gang, pipeline, topology and function convention the policy knows.
  static constexpr std::array<std::string_view, 22> kPrefixes = {
      "mlsched.io/",
      "scheduling.x-k8s.io/",
      "scheduling.k8s.io/",
      "volcano.sh/",
      "kueue.x-k8s.io/",
      "yunikorn.apache.org/",
      "training.kubeflow.org/",
      "jobset.sigs.k8s.io/",
      "batch.kubernetes.io/job-completion-index",
      "workflows.argoproj.io/",
      "pipelines.kubeflow.org/",
      "pipeline/runid",
      "kai.scheduler/",
      "faas_function",
      "serving.knative.dev/",
      "openfaas.com/",
      "com.openfaas.",
      "app.kubernetes.io/name",
      "function",
      "ray.io/",
      "leaderworkerset.sigs.k8s.io/",
      "kubeflow.org/",
  };
  for (std::string_view p : kPrefixes) {
    if (key.substr(0, p.size()) == p) return true;
  }
  return false;
}

}  // namespace mlsched::policy
