#pragma once

// The transports through which the driver talks to an extender, behind one interface:
// in process (policy::Engine called directly, inprocess.h), over HTTP (a running
// mlsched-extender, http_extender.h), or none (the driver passes a null Extender*: the
// "without mlsched" baseline).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "policy/engine.h"
#include "policy/objects.h"
#include "policy/status.h"

namespace mlsched::bench {

using policy::TimeMs;

// The API server as the extender's binder sees it: the driver implements it, so a binding the
// extender creates lands in the driver's view of the cluster.
class BindingSink {
 public:
  virtual ~BindingSink() = default;
  // Creates the pods/binding. NotFound when the pod (with that uid) no longer exists,
  // Conflict when it is already bound elsewhere. Called on the driver's thread.
  virtual Status CreateBinding(const policy::PodBinding& binding, TimeMs now) = 0;
};

struct FilterAnswer {
  std::vector<std::string> passed;                          // node names, a subset of the input
  std::vector<std::pair<std::string, std::string>> failed;  // node, reason
  std::vector<std::pair<std::string, std::string>> unresolvable;  // node, reason
  std::string error;  // non-empty: the call failed (the scheduler treats it as an error)
};

// The answer to one bind request, delivered when it is ready.
struct BindOutcome {
  std::string uid;
  std::string node;
  bool ok = false;
  std::string error;
  // A failed bind whose pod the API shows bound anyway (a bind that timed out on the
  // scheduler's side and completed later): the node it is bound to. The scheduler's informer
  // would see that binding and drop the pod from its queue; the driver does the same.
  std::string bound_node;
};

// Not thread-safe: the driver calls every method from its own thread.
class Extender {
 public:
  virtual ~Extender() = default;
  virtual std::string Name() const = 0;

  // What the extender's watch would deliver. `now` is the driver's virtual time.
  virtual void NodeChanged(const policy::Node& node, TimeMs now) = 0;
  virtual void PodChanged(const policy::Pod& pod, TimeMs now) = 0;
  virtual void PodDeleted(const policy::Pod& pod, TimeMs now) = 0;
  virtual void PodGroupChanged(const policy::PodGroup& group, TimeMs now) = 0;

  // The filter and prioritize verbs on the nodes that passed the stock filter.
  // A transport failure (connection refused, bad answer) is a non-ok Status.
  virtual Status Filter(const policy::Pod& pod, const std::vector<std::string_view>& nodes,
                        TimeMs now, FilterAnswer* out) = 0;
  // `scores` gets one 0..10 score per input node, in order.
  virtual Status Prioritize(const policy::Pod& pod, const std::vector<std::string_view>& nodes,
                            TimeMs now, std::vector<int64_t>* scores) = 0;

  // Asks the extender to bind; the answer comes later from TakeBindOutcomes (a gang member's
  // bind may wait for its gang). The extender creates the binding through `sink`.
  virtual void Bind(const policy::PodBinding& binding, TimeMs now) = 0;
  // The bind answers ready at virtual time `now` (the in-process transport also expires
  // parked binds here). Real-time transports return what has arrived so far.
  virtual std::vector<BindOutcome> TakeBindOutcomes(TimeMs now) = 0;
  // The earliest virtual time TakeBindOutcomes has work, if any.
  virtual std::optional<TimeMs> NextDue() const = 0;
  // Real-time transports: binds still in flight (the driver waits for them before it ends).
  virtual size_t InFlight() const { return 0; }
  // Real-time transports: blocks up to `timeout_ms` of wall time for an answer.
  virtual void WaitForOutcome(int64_t timeout_ms) {}

  // The preempt verb (optional). Returns the candidates the extender keeps.
  virtual std::vector<policy::NodeVictims> Preempt(const policy::Pod& preemptor,
                                                   std::vector<policy::NodeVictims> candidates,
                                                   TimeMs now) {
    return candidates;
  }

  // GPUs held for gangs on each node (introspection for reports; {} when unknown).
  virtual std::optional<policy::ModelStats> Stats() const { return std::nullopt; }
};

}  // namespace mlsched::bench
