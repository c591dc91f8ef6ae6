#pragma once

// The in-process transport: calls policy::Engine directly, with the driver's virtual clock.
// Bindings the engine releases are created through the BindingSink after `bind_latency_ms`
// of virtual time (the API round trip), then reported to the engine with BindDone, as
// extender/ does with the real API.

#include <memory>
#include <vector>

#include "bench/driver/extender.h"
#include "policy/engine.h"

namespace mlsched::bench {

class InProcessExtender : public Extender {
 public:
  // `sink` is not owned and must outlive this object.
  InProcessExtender(policy::Options options, BindingSink* sink, TimeMs bind_latency_ms = 5);

  std::string Name() const override { return "in-process"; }
  void NodeChanged(const policy::Node& node, TimeMs now) override;
  void PodChanged(const policy::Pod& pod, TimeMs now) override;
  void PodDeleted(const policy::Pod& pod, TimeMs now) override;
  void PodGroupChanged(const policy::PodGroup& group, TimeMs now) override;
  Status Filter(const policy::Pod& pod, const std::vector<std::string_view>& nodes, TimeMs now,
                FilterAnswer* out) override;
  Status Prioritize(const policy::Pod& pod, const std::vector<std::string_view>& nodes, TimeMs now,
                    std::vector<int64_t>* scores) override;
  void Bind(const policy::PodBinding& binding, TimeMs now) override;
  std::vector<BindOutcome> TakeBindOutcomes(TimeMs now) override;
  std::optional<TimeMs> NextDue() const override;
  std::vector<policy::NodeVictims> Preempt(const policy::Pod& preemptor,
                                           std::vector<policy::NodeVictims> candidates,
                                           TimeMs now) override;
  std::optional<policy::ModelStats> Stats() const override { return engine_->Stats(); }

  policy::Engine& engine() { return *engine_; }

 private:
  struct PendingCreate {
    TimeMs due;
    policy::PodBinding binding;
  };

  std::unique_ptr<policy::Engine> engine_;
  BindingSink* sink_;
  TimeMs bind_latency_ms_;
  std::vector<PendingCreate> creates_;  // bindings to create, in due order
  std::vector<BindOutcome> ready_;      // failures to report at the next Take
};

}  // namespace mlsched::bench
