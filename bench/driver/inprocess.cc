#include "bench/driver/inprocess.h"

#include <algorithm>

namespace mlsched::bench {

InProcessExtender::InProcessExtender(policy::Options options, BindingSink* sink,
                                     TimeMs bind_latency_ms)
    : engine_(std::make_unique<policy::Engine>(std::move(options))),
      sink_(sink),
      bind_latency_ms_(bind_latency_ms) {}

void InProcessExtender::NodeChanged(const policy::Node& node, TimeMs now) {
  engine_->UpsertNode(node);
}

void InProcessExtender::PodChanged(const policy::Pod& pod, TimeMs now) {
  engine_->UpsertPod(pod, now);
}

void InProcessExtender::PodDeleted(const policy::Pod& pod, TimeMs now) {
  engine_->DeletePod(pod, now);
}

void InProcessExtender::PodGroupChanged(const policy::PodGroup& group, TimeMs now) {
  engine_->UpsertPodGroup(group);
}

Status InProcessExtender::Filter(const policy::Pod& pod, const std::vector<std::string_view>& nodes,
                                 TimeMs now, FilterAnswer* out) {
  std::vector<policy::Candidate> candidates;
  candidates.reserve(nodes.size());
  for (std::string_view n : nodes) candidates.push_back({n, nullptr});
  policy::FilterResult r = engine_->Filter(pod, candidates, now);
  *out = FilterAnswer{};
  out->error = std::move(r.error);
  for (uint32_t i : r.passed) {
    if (i >= nodes.size()) return Status::Internal("engine passed an index out of range");
    out->passed.emplace_back(nodes[i]);
  }
  for (auto& f : r.failed) {
    if (f.index >= nodes.size()) return Status::Internal("engine failed an index out of range");
    out->failed.emplace_back(std::string(nodes[f.index]), f.reason.str());
  }
  for (auto& f : r.unresolvable) {
    if (f.index >= nodes.size()) return Status::Internal("engine failed an index out of range");
    out->unresolvable.emplace_back(std::string(nodes[f.index]), f.reason.str());
  }
  return Status::Ok();
}

Status InProcessExtender::Prioritize(const policy::Pod& pod,
                                     const std::vector<std::string_view>& nodes, TimeMs now,
                                     std::vector<int64_t>* scores) {
  std::vector<policy::Candidate> candidates;
  candidates.reserve(nodes.size());
  for (std::string_view n : nodes) candidates.push_back({n, nullptr});
  *scores = engine_->Prioritize(pod, candidates, now);
  if (scores->size() != nodes.size()) {
    return Status::Internal("engine returned " + std::to_string(scores->size()) + " scores for " +
                            std::to_string(nodes.size()) + " nodes");
  }
  for (int64_t& s : *scores) s = std::clamp<int64_t>(s, 0, 10);
  return Status::Ok();
}

void InProcessExtender::Bind(const policy::PodBinding& binding, TimeMs now) {
  policy::BindDecision d = engine_->Bind(binding, now);
  switch (d.kind) {
    case policy::BindDecision::Kind::kBindNow:
      for (auto& b : d.bindings) creates_.push_back({now + bind_latency_ms_, std::move(b)});
      // Stable: equal due times keep the engine's order (this pod first).
      std::stable_sort(
          creates_.begin(), creates_.end(),
          [](const PendingCreate& a, const PendingCreate& b) { return a.due < b.due; });
      break;
    case policy::BindDecision::Kind::kWait:
      break;  // parked: released by a later Bind or failed by ExpireBinds
    case policy::BindDecision::Kind::kFail:
      ready_.push_back(
          {binding.uid, binding.node, false, d.error.empty() ? "bind refused" : d.error, ""});
      break;
  }
}

std::vector<BindOutcome> InProcessExtender::TakeBindOutcomes(TimeMs now) {
  std::vector<BindOutcome> out = std::move(ready_);
  ready_.clear();
  for (policy::BindExpiry& e : engine_->ExpireBinds(now)) {
    out.push_back({std::move(e.uid), "", false, std::move(e.error), ""});
  }
  size_t done = 0;
  while (done < creates_.size() && creates_[done].due <= now) {
    const policy::PodBinding& b = creates_[done].binding;
    Status s = sink_->CreateBinding(b, now);
    engine_->BindDone(b, s.ok(), s.message(), now);
    out.push_back({b.uid, b.node, s.ok(), s.ok() ? "" : "binding rejected: " + s.message(), ""});
    ++done;
  }
  creates_.erase(creates_.begin(), creates_.begin() + done);
  return out;
}

std::optional<TimeMs> InProcessExtender::NextDue() const {
  std::optional<TimeMs> due = engine_->NextBindDeadline();
  if (!ready_.empty()) due = due ? std::min<TimeMs>(*due, 0) : 0;
  if (!creates_.empty()) due = due ? std::min(*due, creates_.front().due) : creates_.front().due;
  return due;
}

std::vector<policy::NodeVictims> InProcessExtender::Preempt(
    const policy::Pod& preemptor, std::vector<policy::NodeVictims> candidates, TimeMs now) {
  return engine_->Preempt(preemptor, std::move(candidates), now);
}

}  // namespace mlsched::bench
