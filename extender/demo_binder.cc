#include "extender/demo_binder.h"

#include <glog/logging.h>

namespace mlsched::extender {

DemoBinder::DemoBinder(policy::Engine* engine, const std::vector<policy::Pod>& pods,
                       std::function<std::optional<policy::Pod>(std::string_view uid)> recent,
                       Clock clock)
    : engine_(engine), recent_(std::move(recent)), clock_(clock ? std::move(clock) : Clock(&SystemClockMs)) {
  for (const auto& p : pods) {
    if (!p.uid.empty()) by_uid_[p.uid] = p;
  }
}

Status DemoBinder::Bind(const policy::PodBinding& b) {
  if (b.name.empty() || b.node.empty()) {
    return Status::InvalidArgument("a binding needs a pod name and a node");
  }
  policy::Pod pod;
  bool known = false;
  {
    std::lock_guard lock(mu_);
    auto it = by_uid_.find(b.uid);
    if (it != by_uid_.end()) {
      pod = it->second;
      known = true;
    }
  }
  if (!known && recent_) {
    if (auto p = recent_(b.uid)) {
      pod = std::move(*p);
      known = true;
    }
  }
  if (!known) {
    LOG(WARNING) << "demo binder: pod " << b.ns << "/" << b.name
                 << " was never seen; recording it with no requests";
    pod.ns = b.ns;
    pod.name = b.name;
    pod.uid = b.uid;
    pod.requests.pods = 1;
  }
  pod.node_name = b.node;
  pod.phase = policy::PodPhase::kRunning;
  {
    std::lock_guard lock(mu_);
    by_uid_[pod.uid] = pod;
  }
  engine_->UpsertPod(std::move(pod), clock_());
  return Status::Ok();
}

}  // namespace mlsched::extender
