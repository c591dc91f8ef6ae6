#include "bench/driver/driver.h"

#include <algorithm>
#include <chrono>
#include <limits>
#include <map>
#include <set>
#include <unordered_set>

namespace mlsched::bench {
namespace {

constexpr int64_t kFullNodeGpus = 8;  // "an 8-GPU job": the node-sized job of the reports
// kube-scheduler's defaults for pods that request no cpu/memory (the scorer's non-zero view).
constexpr int64_t kDefaultMilliCpu = 100;
constexpr int64_t kDefaultMemory = 200LL * 1024 * 1024;

int64_t Gpus(const policy::Resources& r) { return r.Scalar(kGpuResource); }

}  // namespace

Driver::Driver(DriverOptions options, std::vector<policy::Node> nodes, Extender* extender)
    : options_(std::move(options)), extender_(extender), rng_(options_.seed) {
  nodes_.reserve(nodes.size());
  for (policy::Node& n : nodes) {
    if (node_index_.count(n.name)) continue;  // duplicate names: the first wins
    NodeState s;
    s.gpu_alloc = Gpus(n.allocatable);
    s.rack = std::string(n.labels.Get(kRackLabel));
    s.node = std::move(n);
    node_index_[s.node.name] = nodes_.size();
    nodes_.push_back(std::move(s));
  }
  if (extender_) {
    for (const NodeState& n : nodes_) extender_->NodeChanged(n.node, now_);
  }
}

Driver::~Driver() = default;

// ---------------------------------------------------------------------------------------------
// Submitting jobs.

Status Driver::Submit(JobSpec job) {
  if (job.pods.empty()) return Status::InvalidArgument("job " + job.name + " has no pods");
  if (job_by_name_.count(job.name)) {
    return Status::InvalidArgument("duplicate job name " + job.name);
  }
  std::unordered_map<std::string, size_t> by_name;
  for (size_t i = 0; i < job.pods.size(); ++i) {
    PodSpec& ps = job.pods[i];
    if (ps.pod.name.empty()) return Status::InvalidArgument("job " + job.name + ": unnamed pod");
    if (ps.pod.ns.empty()) ps.pod.ns = "default";
    if (!by_name.emplace(ps.pod.name, i).second) {
      return Status::InvalidArgument("job " + job.name + ": duplicate pod " + ps.pod.name);
    }
    if (pod_by_key_.count(ps.pod.Key())) {
      return Status::InvalidArgument("pod " + ps.pod.Key() + " already exists");
    }
    if (ps.duration_ms < 0) return Status::InvalidArgument("negative duration in " + job.name);
  }
  for (const PodSpec& ps : job.pods) {
    for (const std::string& a : ps.after) {
      if (!by_name.count(a) || a == ps.pod.name) {
        return Status::InvalidArgument("job " + job.name + ": pod " + ps.pod.name +
                                       " runs after unknown pod " + a);
      }
    }
  }
  // No cycles: Kahn's algorithm over the `after` edges.
  {
    std::vector<int> indeg(job.pods.size(), 0);
    std::vector<std::vector<size_t>> succ(job.pods.size());
    for (size_t i = 0; i < job.pods.size(); ++i) {
      for (const std::string& a : job.pods[i].after) {
        succ[by_name[a]].push_back(i);
        ++indeg[i];
      }
    }
    std::vector<size_t> ready;
    for (size_t i = 0; i < indeg.size(); ++i) {
      if (indeg[i] == 0) ready.push_back(i);
    }
    size_t seen = 0;
    while (!ready.empty()) {
      size_t i = ready.back();
      ready.pop_back();
      ++seen;
      for (size_t s : succ[i]) {
        if (--indeg[s] == 0) ready.push_back(s);
      }
    }
    if (seen != job.pods.size()) {
      return Status::InvalidArgument("job " + job.name + ": its `after` steps form a cycle");
    }
  }
  if (job.gang_size < 0 || job.gang_size > static_cast<int32_t>(job.pods.size())) {
    return Status::InvalidArgument("job " + job.name + ": gang size " +
                                   std::to_string(job.gang_size) + " but " +
                                   std::to_string(job.pods.size()) + " pods");
  }

  size_t j = jobs_.size();
  JobEntry je;
  je.name = job.name;
  je.kind = job.kind;
  je.arrival = std::max(job.arrival_ms, now_);
  je.gang_size = job.gang_size;
  je.pod_group = job.pod_group;
  size_t first = pods_.size();
  for (PodSpec& ps : job.pods) {
    PodEntry p;
    p.job = j;
    if (ps.pod.requests.pods == 0) ps.pod.requests.pods = 1;
    p.gpus = Gpus(ps.pod.requests);
    p.spec = std::move(ps);
    p.spec.pod.uid.clear();
    p.spec.pod.node_name.clear();
    p.spec.pod.phase = policy::PodPhase::kPending;
    p.rec.job = je.name;
    p.rec.ns = p.spec.pod.ns;
    p.rec.name = p.spec.pod.name;
    p.rec.gpus = p.gpus;
    p.rec.is_function = p.spec.pod.annotations.Has(kFunctionAnnotation);
    je.pods.push_back(pods_.size());
    pods_.push_back(std::move(p));
  }
  for (size_t i = first; i < pods_.size(); ++i) {
    for (const std::string& a : pods_[i].spec.after) pods_[i].preds.push_back(first + by_name[a]);
    pods_[i].rec.has_predecessors = !pods_[i].preds.empty();
  }
  job_by_name_[je.name] = j;
  jobs_.push_back(std::move(je));
  Push(jobs_[j].arrival, kJobArrival, static_cast<int64_t>(j));
  return Status::Ok();
}

// ---------------------------------------------------------------------------------------------
// The event loop.

void Driver::Push(TimeMs t, int type, int64_t a, uint64_t b) {
  if (type != kSample && type != kFlush) ++real_events_;
  events_.push(Event{t, seq_++, type, a, b});
}

TimeMs Driver::RunUntil(TimeMs until) {
  auto wall0 = std::chrono::steady_clock::now();
  if (!sampled_ && options_.sample_interval_ms > 0) {
    sampled_ = true;
    Push(now_, kSample, 0);
  }
  while (true) {
    bool progressed = ProcessDue();
    // The next pod from the active queue, skipping stale entries.
    bool scheduled = false;
    while (!active_.empty()) {
      QueueKey k = active_.top();
      active_.pop();
      if (pods_[k.pod].state != PodState::kActive || pods_[k.pod].gen != k.gen) continue;
      ScheduleOne(k.pod);
      scheduled = true;
      break;
    }
    if (scheduled) {
      if (options_.cycle_ms > 0) {
        now_ += options_.cycle_ms;
        if (now_ >= until) break;
      }
      continue;
    }
    if (extender_ && extender_->InFlight() > 0) {
      extender_->WaitForOutcome(50);
      continue;
    }
    if (Quiescent()) break;
    std::optional<TimeMs> next;
    auto consider = [&next](TimeMs t) { next = next ? std::min(*next, t) : t; };
    if (!events_.empty()) consider(events_.top().t);
    if (!backoff_.empty()) consider(backoff_.top().ready);
    if (extender_) {
      if (auto due = extender_->NextDue()) consider(std::max(*due, now_));
    }
    if (!next) break;
    if (*next > until) {
      now_ = std::max(now_, until);
      break;
    }
    if (*next <= now_ && !progressed) next = now_ + 1;  // never spin on a stale deadline
    now_ = std::max(now_, *next);
  }
  FlushWatch();
  wall_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
  return now_;
}

bool Driver::Quiescent() const {
  if (real_events_ > 0 || !backoff_.empty()) return false;
  if (extender_ && (extender_->NextDue() || extender_->InFlight() > 0)) return false;
  // Pods still wait in the unschedulable queue: stop once two flushes in a row changed nothing
  // (nothing else will ever happen: no arrival, no finish, no bind in flight).
  bool waiting = false;
  for (size_t i : unschedulable_) {
    if (pods_[i].state == PodState::kUnschedulable) {
      waiting = true;
      break;
    }
  }
  return !waiting || stalled_flushes_ >= 2;
}

bool Driver::ProcessDue() {
  bool progressed = false;
  while (!events_.empty() && events_.top().t <= now_) {
    Event e = events_.top();
    events_.pop();
    if (e.type != kSample && e.type != kFlush) {
      --real_events_;
      ++progress_since_flush_;
    }
    HandleEvent(e);
    progressed = true;
  }
  while (!backoff_.empty() && backoff_.top().ready <= now_) {
    BackoffKey k = backoff_.top();
    backoff_.pop();
    if (pods_[k.pod].state == PodState::kBackoff && pods_[k.pod].gen == k.gen) {
      Enqueue(k.pod);
      progressed = true;
    }
  }
  if (extender_) {
    FlushWatch();
    for (BindOutcome& o : extender_->TakeBindOutcomes(now_)) {
      auto it = pod_by_uid_.find(o.uid);
      if (it == pod_by_uid_.end()) continue;
      if (!o.ok && !o.bound_node.empty()) {
        AdoptBinding(it->second, o.bound_node, o.error);
      } else {
        HandleBindOutcome(it->second, o.ok, o.error);
      }
      progressed = true;
      ++progress_since_flush_;
    }
  }
  FlushWatch();
  return progressed;
}

void Driver::FlushWatch() {
  if (!extender_) {
    watch_.clear();
    return;
  }
  // Notifying may make the extender bind (not in this design), so take the list first.
  std::vector<Watch> w = std::move(watch_);
  watch_.clear();
  for (const Watch& x : w) {
    if (x.kind == 0) {
      extender_->PodChanged(x.pod, now_);
    } else {
      extender_->PodDeleted(x.pod, now_);
    }
  }
}

void Driver::HandleEvent(const Event& e) {
  switch (e.type) {
    case kJobArrival:
      JobArrives(static_cast<size_t>(e.a));
      break;
    case kPodCreate: {
      PodEntry& p = pods_[e.a];
      if (p.state == PodState::kNotCreated) CreatePod(e.a);
      break;
    }
    case kPodFinish: {
      PodEntry& p = pods_[e.a];
      if (p.state == PodState::kRunning && p.gen == e.b) {
        FinishPod(e.a);
        MaybeFinishJob(p.job);
        MoveAllToActiveOrBackoff();
      }
      break;
    }
    case kGangFinish: {
      JobEntry& j = jobs_[e.a];
      std::vector<size_t> members = j.pods;
      for (size_t i : members) {
        if (pods_[i].state == PodState::kRunning) FinishPod(i);
      }
      MaybeFinishJob(e.a);
      MoveAllToActiveOrBackoff();
      break;
    }
    case kDriverBind: {
      PodEntry& p = pods_[e.a];
      if (p.state != PodState::kAssumed || p.gen != e.b) break;
      policy::PodBinding b{p.spec.pod.ns, p.spec.pod.name, p.spec.pod.uid,
                           nodes_[p.node].node.name};
      Status s = CreateBinding(b, now_);
      HandleBindOutcome(e.a, s.ok(), s.message());
      break;
    }
    case kSample:
      samples_.push_back(SampleNow());
      if (options_.sample_interval_ms > 0) Push(now_ + options_.sample_interval_ms, kSample, 0);
      break;
    case kFlush:
      flush_scheduled_ = false;
      if (progress_since_flush_ == 0) {
        ++stalled_flushes_;
      } else {
        stalled_flushes_ = 0;
      }
      progress_since_flush_ = 0;
      FlushUnschedulable();
      break;
  }
}

// ---------------------------------------------------------------------------------------------
// Pods through the queues.

void Driver::JobArrives(size_t j) {
  JobEntry& job = jobs_[j];
  job.arrived = true;
  if (job.pod_group && extender_) extender_->PodGroupChanged(*job.pod_group, now_);
  if (job.gang_size > 0) open_gangs_.push_back(j);
  for (size_t i : job.pods) {
    if (!pods_[i].preds.empty()) continue;
    if (pods_[i].spec.create_delay_ms > 0) {
      Push(now_ + pods_[i].spec.create_delay_ms, kPodCreate, static_cast<int64_t>(i));
    } else {
      CreatePod(i);
    }
  }
}

void Driver::AddHeld(int64_t delta) {
  // A value counts for the maximum only once it has lasted: a gang whose members are all
  // bound in one instant (the barrier) holds nothing while incomplete.
  if (now_ > held_since_) max_held_ = std::max(max_held_, held_);
  held_gpu_ms_ += static_cast<double>(held_) * static_cast<double>(now_ - held_since_);
  held_since_ = now_;
  held_ += delta;
}

void Driver::CreatePod(size_t i) {
  PodEntry& p = pods_[i];
  p.spec.pod.uid = "uid-" + std::to_string(++next_uid_);
  p.spec.pod.creation_ms = now_;
  p.spec.pod.phase = policy::PodPhase::kPending;
  p.spec.pod.node_name.clear();
  p.rec.uid = p.spec.pod.uid;
  p.rec.created = now_;
  pod_by_uid_[p.spec.pod.uid] = i;
  pod_by_key_[p.spec.pod.Key()] = i;
  ++pending_;
  Notify(0, p.spec.pod);
  Enqueue(i);
}

void Driver::Enqueue(size_t i) {
  PodEntry& p = pods_[i];
  p.state = PodState::kActive;
  ++p.gen;
  // The queue orders by priority, then by the time the pod (re-)entered it.
  TimeMs ts = p.attempts == 0 ? p.spec.pod.creation_ms : now_;
  active_.push(QueueKey{-static_cast<int64_t>(p.spec.pod.priority), ts, seq_++, i, p.gen});
}

void Driver::ToBackoff(size_t i, TimeMs ready) {
  PodEntry& p = pods_[i];
  p.state = PodState::kBackoff;
  ++p.gen;
  backoff_.push(BackoffKey{ready, seq_++, i, p.gen});
}

TimeMs Driver::Backoff(const PodEntry& p) const {
  TimeMs b = options_.initial_backoff_ms;
  for (int k = 1; k < p.attempts && b < options_.max_backoff_ms; ++k) b *= 2;
  return std::min(b, options_.max_backoff_ms);
}

void Driver::MarkUnschedulable(size_t i, std::string reason) {
  PodEntry& p = pods_[i];
  p.rec.last_reason = std::move(reason);
  if (!options_.retry_unschedulable) {
    p.state = PodState::kGivenUp;
    ++p.gen;
    --pending_;
    return;
  }
  p.state = PodState::kUnschedulable;
  ++p.gen;
  p.unschedulable_since = now_;
  unschedulable_.push_back(i);
  if (!flush_scheduled_) {
    flush_scheduled_ = true;
    Push(now_ + std::max<TimeMs>(1, options_.unschedulable_flush_ms / 2), kFlush, 0);
  }
}

void Driver::MoveAllToActiveOrBackoff() {
  std::vector<size_t> list = std::move(unschedulable_);
  unschedulable_.clear();
  for (size_t i : list) {
    PodEntry& p = pods_[i];
    if (p.state != PodState::kUnschedulable) continue;
    TimeMs ready = p.last_attempt + Backoff(p);
    if (ready <= now_) {
      Enqueue(i);
    } else {
      ToBackoff(i, ready);
    }
  }
}

void Driver::FlushUnschedulable() {
  std::vector<size_t> list = std::move(unschedulable_);
  unschedulable_.clear();
  for (size_t i : list) {
    PodEntry& p = pods_[i];
    if (p.state != PodState::kUnschedulable) continue;
    if (now_ - p.unschedulable_since >= options_.unschedulable_flush_ms) {
      Enqueue(i);
    } else {
      unschedulable_.push_back(i);
    }
  }
  if (!unschedulable_.empty() && !flush_scheduled_) {
    flush_scheduled_ = true;
    Push(now_ + std::max<TimeMs>(1, options_.unschedulable_flush_ms / 2), kFlush, 0);
  }
}

// ---------------------------------------------------------------------------------------------
// The scheduling cycle.

bool Driver::StockFits(const PodEntry& p, const NodeState& n, std::string* why) const {
  const policy::Node& node = n.node;
  if (node.unschedulable) {
    *why = "node(s) were unschedulable";
    return false;
  }
  if (!node.ready) {
    *why = "node(s) were not ready";
    return false;
  }
  const policy::Pod& pod = p.spec.pod;
  if (!policy::MatchesNodeSelector(pod.node_selector, node.labels)) {
    *why = "node(s) didn't match Pod's node affinity/selector";
    return false;
  }
  if (!policy::ToleratesAll(pod.tolerations, node.taints)) {
    *why = "node(s) had untolerated taint";
    return false;
  }
  const policy::Resources& a = node.allocatable;
  const policy::Resources& u = n.requested;
  const policy::Resources& r = pod.requests;
  if (r.pods > 0 && a.pods - u.pods < r.pods) {
    *why = "Too many pods";
    return false;
  }
  if (r.milli_cpu > 0 && a.milli_cpu - u.milli_cpu < r.milli_cpu) {
    *why = "Insufficient cpu";
    return false;
  }
  if (r.memory > 0 && a.memory - u.memory < r.memory) {
    *why = "Insufficient memory";
    return false;
  }
  if (r.ephemeral_storage > 0 && a.ephemeral_storage - u.ephemeral_storage < r.ephemeral_storage) {
    *why = "Insufficient ephemeral-storage";
    return false;
  }
  for (const policy::ScalarQuantity& q : r.scalars) {
    if (q.value > 0 && a.Scalar(q.name) - u.Scalar(q.name) < q.value) {
      *why = "Insufficient " + q.name;
      return false;
    }
  }
  return true;
}

int64_t Driver::StockScore(const PodEntry& p, const NodeState& n) const {
  // NodeResourcesFit (LeastAllocated) and NodeResourcesBalancedAllocation on cpu and memory,
  // weight 1 each, with the scheduler's non-zero requests (100m, 200Mi for pods that ask 0).
  const policy::Resources& r = p.spec.pod.requests;
  int64_t cpu_cap = n.node.allocatable.milli_cpu, mem_cap = n.node.allocatable.memory;
  int64_t cpu = n.nonzero_cpu + (r.milli_cpu > 0 ? r.milli_cpu : kDefaultMilliCpu);
  int64_t mem = n.nonzero_mem + (r.memory > 0 ? r.memory : kDefaultMemory);
  auto least = [](int64_t req, int64_t cap) -> int64_t {
    if (cap <= 0 || req > cap) return 0;
    return (cap - req) * 100 / cap;
  };
  int64_t least_allocated = (least(cpu, cpu_cap) + least(mem, mem_cap)) / 2;
  double fc = cpu_cap > 0 ? std::min(1.0, static_cast<double>(cpu) / cpu_cap) : 1.0;
  double fm = mem_cap > 0 ? std::min(1.0, static_cast<double>(mem) / mem_cap) : 1.0;
  double std_dev = std::abs(fc - fm) / 2;  // of two fractions
  int64_t balanced = static_cast<int64_t>((1 - std_dev) * 100);
  return least_allocated + balanced;
}

void Driver::ScheduleOne(size_t i) {
  FlushWatch();
  PodEntry& p = pods_[i];
  ++p.attempts;
  ++p.rec.attempts;
  ++cycles_;
  p.last_attempt = now_;

  std::vector<size_t> feasible;
  feasible.reserve(nodes_.size());
  std::map<std::string, int> reasons;
  std::string why;
  for (size_t n = 0; n < nodes_.size(); ++n) {
    if (StockFits(p, nodes_[n], &why)) {
      feasible.push_back(n);
    } else {
      ++reasons[why];
    }
  }
  auto summary = [&](const std::map<std::string, int>& rs) {
    std::string s = "0/" + std::to_string(nodes_.size()) + " nodes are available:";
    bool first = true;
    for (const auto& [r, c] : rs) {
      s += (first ? " " : ", ") + std::to_string(c) + " " + r;
      first = false;
    }
    return s + ".";
  };
  if (feasible.empty()) {
    MarkUnschedulable(i, summary(reasons));
    return;
  }

  if (extender_) {
    std::vector<std::string_view> names;
    names.reserve(feasible.size());
    for (size_t n : feasible) names.emplace_back(nodes_[n].node.name);
    FilterAnswer ans;
    ++filter_calls_;
    Status s = extender_->Filter(p.spec.pod, names, now_, &ans);
    if (!s.ok() || !ans.error.empty()) {
      ++extender_errors_;
      p.rec.last_reason = "extender filter error: " + (s.ok() ? ans.error : s.message());
      ToBackoff(i, now_ + Backoff(p));
      return;
    }
    std::vector<size_t> passed;
    passed.reserve(ans.passed.size());
    std::unordered_set<size_t> offered(feasible.begin(), feasible.end());
    for (const std::string& name : ans.passed) {
      auto it = node_index_.find(name);
      if (it == node_index_.end() || !offered.count(it->second)) {
        // The scheduler rejects a node that was not in the input as an extender error.
        ++extender_errors_;
        p.rec.last_reason = "extender returned node " + name + " that was not offered";
        ToBackoff(i, now_ + Backoff(p));
        return;
      }
      passed.push_back(it->second);
    }
    if (passed.empty()) {
      for (const auto& f : ans.failed) ++reasons[f.second];
      for (const auto& f : ans.unresolvable) ++reasons[f.second];
      MarkUnschedulable(i, summary(reasons));
      return;
    }
    feasible = std::move(passed);
  }

  size_t best = feasible.front();
  if (feasible.size() > 1) {
    std::vector<int64_t> total(feasible.size());
    for (size_t k = 0; k < feasible.size(); ++k) total[k] = StockScore(p, nodes_[feasible[k]]);
    if (extender_) {
      std::vector<std::string_view> names;
      names.reserve(feasible.size());
      for (size_t n : feasible) names.emplace_back(nodes_[n].node.name);
      std::vector<int64_t> ext;
      ++prioritize_calls_;
      Status s = extender_->Prioritize(p.spec.pod, names, now_, &ext);
      if (s.ok() && ext.size() == feasible.size()) {
        // Prioritize errors are ignored by the scheduler, as here.
        for (size_t k = 0; k < feasible.size(); ++k) {
          total[k] += std::clamp<int64_t>(ext[k], 0, 10) * options_.extender_weight * 10;
        }
      } else {
        ++extender_errors_;
      }
    }
    // selectHost: the highest score, ties broken uniformly (reservoir sampling).
    int64_t top = std::numeric_limits<int64_t>::min();
    int ties = 0;
    for (size_t k = 0; k < feasible.size(); ++k) {
      if (total[k] > top) {
        top = total[k];
        best = feasible[k];
        ties = 1;
      } else if (total[k] == top) {
        ++ties;
        if (std::uniform_int_distribution<int>(0, ties - 1)(rng_) == 0) best = feasible[k];
      }
    }
  }

  Assume(i, best);
  policy::PodBinding b{p.spec.pod.ns, p.spec.pod.name, p.spec.pod.uid, nodes_[best].node.name};
  ++bind_calls_;
  if (extender_ && options_.extender_binds) {
    extender_->Bind(b, now_);
  } else {
    Push(now_ + options_.bind_latency_ms, kDriverBind, static_cast<int64_t>(i), p.gen);
  }
}

void Driver::Assume(size_t i, size_t n) {
  PodEntry& p = pods_[i];
  NodeState& node = nodes_[n];
  p.state = PodState::kAssumed;
  ++p.gen;
  p.node = n;
  p.api_bound = false;
  const policy::Resources& r = p.spec.pod.requests;
  node.requested += r;
  node.nonzero_cpu += r.milli_cpu > 0 ? r.milli_cpu : kDefaultMilliCpu;
  node.nonzero_mem += r.memory > 0 ? r.memory : kDefaultMemory;
  node.gpu_used += p.gpus;
  ++progress_since_flush_;
}

void Driver::Unassume(size_t i) {
  PodEntry& p = pods_[i];
  if (p.node == SIZE_MAX) return;
  NodeState& node = nodes_[p.node];
  const policy::Resources& r = p.spec.pod.requests;
  node.requested -= r;
  node.nonzero_cpu -= r.milli_cpu > 0 ? r.milli_cpu : kDefaultMilliCpu;
  node.nonzero_mem -= r.memory > 0 ? r.memory : kDefaultMemory;
  node.gpu_used -= p.gpus;
  p.node = SIZE_MAX;
}

Status Driver::CreateBinding(const policy::PodBinding& b, TimeMs now) {
  auto it = pod_by_uid_.find(b.uid);
  if (it == pod_by_uid_.end()) return Status::NotFound("pod " + b.ns + "/" + b.name);
  PodEntry& p = pods_[it->second];
  if (p.state == PodState::kDeleted || p.spec.pod.ns != b.ns || p.spec.pod.name != b.name) {
    return Status::NotFound("pod " + b.ns + "/" + b.name + " (uid " + b.uid + ") not found");
  }
  if (p.api_bound) {
    return p.spec.pod.node_name == b.node
               ? Status::Ok()
               : Status::Conflict("pod " + b.ns + "/" + b.name + " is already bound to " +
                                  p.spec.pod.node_name);
  }
  if (p.state != PodState::kAssumed || p.node == SIZE_MAX || nodes_[p.node].node.name != b.node) {
    // The binder wants a node the scheduler did not choose for this pod: a real API server
    // would accept it, but then the scheduler's cache would be wrong; flag it loudly instead.
    return Status::Conflict("pod " + b.ns + "/" + b.name + " is not assumed on " + b.node);
  }
  Bound(it->second);
  return Status::Ok();
}

void Driver::HandleBindOutcome(size_t i, bool ok, const std::string& error) {
  PodEntry& p = pods_[i];
  if (p.state != PodState::kAssumed) return;  // deleted or already handled
  if (ok) {
    if (!p.api_bound) Bound(i);  // the HTTP extender created it in its own API server
    return;
  }
  ++bind_failures_;
  ++p.rec.bind_failures;
  p.rec.last_reason = "bind failed: " + error;
  Unassume(i);
  ToBackoff(i, now_ + Backoff(p));
  MoveAllToActiveOrBackoff();
}

void Driver::AdoptBinding(size_t i, const std::string& node, const std::string& error) {
  PodEntry& p = pods_[i];
  auto it = node_index_.find(node);
  if (p.state != PodState::kAssumed && p.state != PodState::kActive &&
      p.state != PodState::kBackoff && p.state != PodState::kUnschedulable) {
    return;
  }
  if (it == node_index_.end()) {
    HandleBindOutcome(i, false, error);
    return;
  }
  // The scheduler saw its bind fail, yet the API has the pod bound: like the informer, take
  // the API's word and account the pod where it really is.
  ++bind_failures_;
  ++p.rec.bind_failures;
  p.rec.last_reason = "bind failed (" + error + ") but the pod was bound to " + node;
  Unassume(i);
  Assume(i, it->second);
  Bound(i);
}

void Driver::Bound(size_t i) {
  PodEntry& p = pods_[i];
  JobEntry& job = jobs_[p.job];
  NodeState& node = nodes_[p.node];
  p.api_bound = true;
  p.state = PodState::kRunning;
  ++p.gen;
  --pending_;
  running_gpus_ += p.gpus;
  p.spec.pod.node_name = node.node.name;
  p.spec.pod.phase = policy::PodPhase::kRunning;
  p.rec.bound = now_;
  p.rec.node = node.node.name;
  Notify(0, p.spec.pod);

  // Data locality of pipeline steps: on a predecessor's node, or in its rack.
  if (!p.preds.empty()) {
    for (size_t q : p.preds) {
      const PodEntry& pred = pods_[q];
      if (pred.rec.node.empty()) continue;
      if (pred.rec.node == node.node.name) p.rec.on_pred_node = true;
      auto it = node_index_.find(pred.rec.node);
      if (it != node_index_.end() && !node.rack.empty() && nodes_[it->second].rack == node.rack) {
        p.rec.on_pred_rack = true;
      }
    }
    p.rec.on_pred_rack = p.rec.on_pred_rack || p.rec.on_pred_node;
  }
  if (p.rec.is_function) {
    auto& per_node = warm_[std::string(p.spec.pod.annotations.Get(kFunctionAnnotation))];
    auto& w = per_node[p.node];
    p.rec.warm = w.first > 0 || (w.second > 0 && now_ - w.second <= options_.function_warm_ms);
    ++w.first;
  }

  if (job.gang_size > 0) {
    if (job.started) {
      // A replacement member of a running gang: it runs until the gang ends.
      p.rec.started = now_;
      return;
    }
    AddHeld(p.gpus);
    int running = 0;
    for (size_t k : job.pods) {
      if (pods_[k].state == PodState::kRunning) ++running;
    }
    if (running >= job.gang_size) StartGang(p.job);
    return;
  }
  p.rec.started = now_;
  if (!job.started) {
    job.started = true;
    job.started_at = now_;
  }
  Push(now_ + p.spec.duration_ms, kPodFinish, static_cast<int64_t>(i), p.gen);
}

void Driver::StartGang(size_t j) {
  JobEntry& job = jobs_[j];
  job.started = true;
  job.started_at = now_;
  open_gangs_.erase(std::remove(open_gangs_.begin(), open_gangs_.end(), j), open_gangs_.end());
  TimeMs duration = 0;
  std::set<std::string> racks, nodes;
  for (size_t k : job.pods) {
    PodEntry& m = pods_[k];
    duration = std::max(duration, m.spec.duration_ms);
    if (m.state != PodState::kRunning) continue;
    AddHeld(-m.gpus);
    m.rec.started = now_;
    nodes.insert(m.rec.node);
    racks.insert(nodes_[m.node].rack);
  }
  job.racks = static_cast<int>(racks.size());
  job.nodes = static_cast<int>(nodes.size());
  Push(now_ + duration, kGangFinish, static_cast<int64_t>(j));
}

void Driver::FinishPod(size_t i) {
  PodEntry& p = pods_[i];
  JobEntry& job = jobs_[p.job];
  Unassume(i);
  p.state = PodState::kFinished;
  ++p.gen;
  running_gpus_ -= p.gpus;
  p.rec.finished = now_;
  p.spec.pod.phase = policy::PodPhase::kSucceeded;
  Notify(0, p.spec.pod);
  if (p.rec.is_function) {
    auto& w = warm_[std::string(p.spec.pod.annotations.Get(kFunctionAnnotation))]
                   [node_index_[p.rec.node]];
    w.first = std::max(0, w.first - 1);
    w.second = now_;
  }
  // Steps whose predecessors are now all done are created.
  for (size_t k : job.pods) {
    PodEntry& s = pods_[k];
    if (s.state != PodState::kNotCreated || s.preds.empty()) continue;
    if (std::find(s.preds.begin(), s.preds.end(), i) == s.preds.end()) continue;
    bool all = std::all_of(s.preds.begin(), s.preds.end(),
                           [this](size_t q) { return pods_[q].state == PodState::kFinished; });
    if (all) Push(now_, kPodCreate, static_cast<int64_t>(k));
  }
}

void Driver::MaybeFinishJob(size_t j) {
  JobEntry& job = jobs_[j];
  if (job.finished) return;
  for (size_t k : job.pods) {
    if (pods_[k].state != PodState::kFinished) return;
  }
  job.finished = true;
  job.finished_at = now_;
}

// ---------------------------------------------------------------------------------------------
// Scenario hooks.

Status Driver::DeletePod(const std::string& ns, const std::string& name, bool recreate) {
  auto it = pod_by_key_.find(ns + "/" + name);
  if (it == pod_by_key_.end()) return Status::NotFound("no live pod " + ns + "/" + name);
  size_t i = it->second;
  PodEntry& p = pods_[i];
  if (p.state == PodState::kFinished || p.state == PodState::kDeleted) {
    return Status::NotFound("pod " + ns + "/" + name + " already ended");
  }
  bool was_pending = p.state != PodState::kRunning;
  if (p.state == PodState::kRunning) {
    running_gpus_ -= p.gpus;
    if (jobs_[p.job].gang_size > 0 && !jobs_[p.job].started) AddHeld(-p.gpus);
  }
  Unassume(i);
  if (was_pending && p.state != PodState::kGivenUp) --pending_;
  p.state = PodState::kDeleted;
  ++p.gen;
  p.rec.deleted = now_;
  pod_by_key_.erase(it);
  Notify(1, p.spec.pod);
  if (recreate) {
    size_t k = pods_.size();
    PodEntry copy;
    copy.spec = pods_[i].spec;
    copy.job = pods_[i].job;
    copy.gpus = pods_[i].gpus;
    copy.preds = pods_[i].preds;
    copy.rec = PodRecord{};
    copy.rec.job = pods_[i].rec.job;
    copy.rec.ns = ns;
    copy.rec.name = name;
    copy.rec.gpus = copy.gpus;
    copy.rec.is_function = pods_[i].rec.is_function;
    copy.rec.has_predecessors = pods_[i].rec.has_predecessors;
    pods_.push_back(std::move(copy));
    JobEntry& job = jobs_[pods_[k].job];
    std::replace(job.pods.begin(), job.pods.end(), i, k);
    for (size_t q : job.pods) std::replace(pods_[q].preds.begin(), pods_[q].preds.end(), i, k);
    CreatePod(k);
  }
  MoveAllToActiveOrBackoff();
  FlushWatch();
  return Status::Ok();
}

void Driver::SetExtender(Extender* extender) {
  // Binds parked in the old extender die with it: the scheduler sees the bind call fail.
  for (size_t i = 0; i < pods_.size(); ++i) {
    if (pods_[i].state == PodState::kAssumed && !pods_[i].api_bound && options_.extender_binds &&
        extender_) {
      HandleBindOutcome(i, false, "extender connection lost");
    }
  }
  watch_.clear();
  extender_ = extender;
  if (!extender_) return;
  // A fresh extender lists the cluster: nodes, pod groups, then every pod that exists.
  for (const NodeState& n : nodes_) extender_->NodeChanged(n.node, now_);
  for (const JobEntry& j : jobs_) {
    if (j.arrived && j.pod_group) extender_->PodGroupChanged(*j.pod_group, now_);
  }
  for (const PodEntry& p : pods_) {
    if (p.state == PodState::kNotCreated || p.state == PodState::kDeleted) continue;
    extender_->PodChanged(p.spec.pod, now_);
  }
}

// ---------------------------------------------------------------------------------------------
// Introspection.

Sample Driver::SampleNow() const {
  Sample s;
  s.t = now_;
  for (const NodeState& n : nodes_) {
    if (n.gpu_alloc <= 0) continue;
    s.gpus_total += n.gpu_alloc;
    s.gpus_used += n.gpu_used;
    int64_t free = n.gpu_alloc - n.gpu_used;
    if (n.gpu_used == 0) ++s.whole_free_nodes;
    if (n.gpu_used > 0 && free > 0) {
      ++s.partly_used_nodes;
      s.gpus_free_on_partly_used += free;
    }
    s.full_node_jobs_fit += free / kFullNodeGpus;
  }
  for (size_t j : open_gangs_) {
    for (size_t k : jobs_[j].pods) {
      if (pods_[k].state == PodState::kRunning) s.gpus_held_incomplete += pods_[k].gpus;
    }
  }
  s.gpus_busy = running_gpus_ - s.gpus_held_incomplete;
  s.pending_pods = pending_;
  return s;
}

JobRecord Driver::MakeJobRecord(const JobEntry& j) const {
  JobRecord r;
  r.name = j.name;
  r.kind = j.kind;
  r.arrival = j.arrival;
  r.started = j.started_at;
  r.finished = j.finished_at;
  r.pods = static_cast<int>(j.pods.size());
  r.gang_size = j.gang_size;
  std::set<std::string> racks, nodes;
  TimeMs waits = 0;
  bool all_bound = true;
  for (size_t k : j.pods) {
    const PodEntry& p = pods_[k];
    r.gpus += p.gpus;
    if (p.state == PodState::kRunning || p.state == PodState::kFinished) ++r.bound_members;
    if (!p.rec.node.empty()) {
      nodes.insert(p.rec.node);
      auto it = node_index_.find(p.rec.node);
      if (it != node_index_.end()) racks.insert(nodes_[it->second].rack);
    }
    if (p.rec.bound >= 0) {
      waits += p.rec.bound - p.rec.created;
    } else {
      all_bound = false;
    }
  }
  if (j.gang_size > 0 && j.started) {
    r.racks = j.racks;
    r.nodes = j.nodes;
  } else {
    r.racks = static_cast<int>(racks.size());
    r.nodes = static_cast<int>(nodes.size());
  }
  if (j.kind == JobKind::kPipeline) {
    if (all_bound) r.queue_delay_ms = waits;
  } else if (j.started) {
    r.queue_delay_ms = j.started_at - j.arrival;
  }
  return r;
}

std::optional<JobRecord> Driver::Job(const std::string& name) const {
  auto it = job_by_name_.find(name);
  if (it == job_by_name_.end()) return std::nullopt;
  return MakeJobRecord(jobs_[it->second]);
}

const PodRecord* Driver::Pod(const std::string& ns, const std::string& name) const {
  auto it = pod_by_key_.find(ns + "/" + name);
  if (it != pod_by_key_.end()) return &pods_[it->second].rec;
  // A pod that ended: the last one of that name.
  for (size_t i = pods_.size(); i-- > 0;) {
    if (pods_[i].rec.ns == ns && pods_[i].rec.name == name) return &pods_[i].rec;
  }
  return nullptr;
}

std::vector<std::pair<std::string, int64_t>> Driver::GpusUsedByNode() const {
  std::vector<std::pair<std::string, int64_t>> out;
  out.reserve(nodes_.size());
  for (const NodeState& n : nodes_) out.emplace_back(n.node.name, n.gpu_used);
  return out;
}

RunResult Driver::Result() const {
  RunResult r;
  r.label = options_.label;
  r.extender = extender_ ? extender_->Name() : "none";
  r.pods.reserve(pods_.size());
  for (const PodEntry& p : pods_) {
    if (p.state == PodState::kNotCreated) continue;
    r.pods.push_back(p.rec);
  }
  r.jobs.reserve(jobs_.size());
  for (const JobEntry& j : jobs_) {
    if (j.arrived) r.jobs.push_back(MakeJobRecord(j));
  }
  r.samples = samples_;
  r.end_ms = now_;
  r.cycles = cycles_;
  r.filter_calls = filter_calls_;
  r.prioritize_calls = prioritize_calls_;
  r.bind_calls = bind_calls_;
  r.bind_failures = bind_failures_;
  r.extender_errors = extender_errors_;
  r.wall_seconds = wall_seconds_;
  r.gpu_seconds_held_incomplete =
      (held_gpu_ms_ + static_cast<double>(held_) * static_cast<double>(now_ - held_since_)) /
      1000.0;
  r.max_gpus_held_incomplete = now_ > held_since_ ? std::max(max_held_, held_) : max_held_;
  return r;
}

}  // namespace mlsched::bench
