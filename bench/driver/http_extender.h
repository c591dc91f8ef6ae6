#pragma once

// The HTTP transport: POSTs real extender/v1 JSON to a running mlsched-extender (libcurl) and
// decodes its answers; the extender learns the cluster from an API server that the driver
// writes through a ClusterWriter (in bench/, the fake API server of test/fakes).
//
// Filter and prioritize are synchronous on the driver's thread with one kept-alive
// connection, as kube-scheduler's serial scheduling cycle; each bind runs on its own thread
// (a gang member's bind is held open by the extender until its gang is complete), and its
// answer is picked up by TakeBindOutcomes. Time is real: virtual `now` is not sent.

#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "bench/driver/extender.h"

namespace mlsched::bench {

// Where the driver writes the cluster for the extender's watch. Thread-compatible: called
// from the driver's thread only.
class ClusterWriter {
 public:
  enum class Kind { kNode, kPod, kPodGroup };
  virtual ~ClusterWriter() = default;
  virtual Status Upsert(Kind kind, const std::string& json) = 0;
  virtual Status Delete(Kind kind, const std::string& ns, const std::string& name) = 0;
  // The node a pod (with that uid) is bound to in the API server, "" when unbound or absent.
  virtual std::string BoundNode(const std::string& ns, const std::string& name,
                                const std::string& uid) = 0;
};

// Kubernetes JSON of the policy objects (what the API server would hold).
std::string NodeJson(const policy::Node& node);
std::string PodJson(const policy::Pod& pod);
std::string PodGroupJson(const policy::PodGroup& group);

class HttpExtender : public Extender {
 public:
  // `url` is the extender's urlPrefix ("http://127.0.0.1:8888"); `writer` may be null (the
  // extender then knows the cluster some other way) and must outlive this object.
  HttpExtender(std::string url, ClusterWriter* writer, long timeout_ms = 30'000);
  ~HttpExtender() override;  // joins the bind threads

  std::string Name() const override { return "http"; }
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
  // Outcomes that arrived but were not taken yet are due now: without this, a bind finishing
  // between the driver's take and its in-flight check looked like quiescence, and its pod was
  // never counted as bound.
  std::optional<TimeMs> NextDue() const override;
  size_t InFlight() const override;
  void WaitForOutcome(int64_t timeout_ms) override;

  // Errors writing to the cluster writer (counted, not fatal).
  int64_t write_errors() const { return write_errors_; }
  // Wall time spent in filter and prioritize calls (driver's thread), and their counts.
  double filter_seconds() const { return filter_seconds_; }
  double prioritize_seconds() const { return prioritize_seconds_; }
  int64_t filter_calls() const { return filter_calls_; }
  int64_t prioritize_calls() const { return prioritize_calls_; }

 private:
  Status Post(void* curl, const std::string& verb, const std::string& body, std::string* answer);

  std::string url_;
  ClusterWriter* writer_;
  long timeout_ms_;
  void* curl_ = nullptr;  // the kept-alive handle of the driver's thread
  int64_t write_errors_ = 0;
  double filter_seconds_ = 0, prioritize_seconds_ = 0;
  int64_t filter_calls_ = 0, prioritize_calls_ = 0;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<BindOutcome> outcomes_;  // guarded by mu_
  size_t in_flight_ = 0;              // guarded by mu_
  std::vector<std::thread> threads_;
  std::unordered_map<std::string, policy::PodBinding> binding_of_;  // binds in flight, by uid
};

}  // namespace mlsched::bench
