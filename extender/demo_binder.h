#pragma once

// The binder of the embedded demo cluster (--cluster-file): there is no API server, so a
// binding is recorded in the model instead, as the watch would report it: the pod, now on its
// node and running.

#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "extender/server.h"
#include "k8s/binder.h"
#include "policy/engine.h"
#include "policy/objects.h"
#include "policy/status.h"

namespace mlsched::extender {

class DemoBinder : public k8s::Binder {
 public:
  // `engine` must outlive the binder. `pods` are the cluster file's pods (pending ones are
  // what the demo binds); `recent` finds pods the scheduler asked about in filter requests
  // (Server::RecentPod), which may be null.
  DemoBinder(policy::Engine* engine, const std::vector<policy::Pod>& pods,
             std::function<std::optional<policy::Pod>(std::string_view uid)> recent, Clock clock);

  // Records `b`: the pod (as known from the file or a recent filter request, else a pod with
  // no requests) is upserted with spec.nodeName = b.node and phase Running. Fails
  // (InvalidArgument) only when the binding names no pod or node. Thread-safe.
  Status Bind(const policy::PodBinding& b) override;

 private:
  policy::Engine* engine_;
  std::function<std::optional<policy::Pod>(std::string_view)> recent_;
  Clock clock_;
  std::mutex mu_;
  std::unordered_map<std::string, policy::Pod> by_uid_;  // guarded by mu_
};

}  // namespace mlsched::extender
