// Unit tests of the scheduler driver itself (no policy rules involved): queue order, the
// stock filter and score, backoff, binds, the calling pattern toward an extender.

#include <doctest/doctest.h>

#include <map>
#include <set>

#include "test/scenarios/scenario_util.h"

namespace mlsched::bench::scenario {
namespace {

// A scripted extender: passes the nodes in `allow` (all when empty), scores by `score`,
// binds through the sink, and counts calls.
class FakeExtender : public Extender {
 public:
  explicit FakeExtender(BindingSink* sink) : sink_(sink) {}
  std::string Name() const override { return "fake"; }
  void NodeChanged(const policy::Node&, TimeMs) override { ++node_events; }
  void PodChanged(const policy::Pod& p, TimeMs) override { pods[p.uid] = p; }
  void PodDeleted(const policy::Pod& p, TimeMs) override { pods.erase(p.uid); }
  void PodGroupChanged(const policy::PodGroup&, TimeMs) override {}
  Status Filter(const policy::Pod&, const std::vector<std::string_view>& nodes, TimeMs,
                FilterAnswer* out) override {
    ++filters;
    *out = {};
    if (!error.empty()) {
      out->error = error;
      return Status::Ok();
    }
    for (std::string_view n : nodes) {
      if (allow.empty() || allow.count(std::string(n))) {
        out->passed.emplace_back(n);
      } else {
        out->failed.emplace_back(std::string(n), "not allowed");
      }
    }
    if (bogus) out->passed.push_back("no-such-node");
    return Status::Ok();
  }
  Status Prioritize(const policy::Pod&, const std::vector<std::string_view>& nodes, TimeMs,
                    std::vector<int64_t>* scores) override {
    ++prioritizes;
    scores->clear();
    for (std::string_view n : nodes) {
      auto it = score.find(std::string(n));
      scores->push_back(it == score.end() ? 0 : it->second);
    }
    return Status::Ok();
  }
  void Bind(const policy::PodBinding& b, TimeMs now) override {
    ++binds;
    queued.push_back(b);
  }
  std::vector<BindOutcome> TakeBindOutcomes(TimeMs now) override {
    std::vector<BindOutcome> out;
    for (const policy::PodBinding& b : queued) {
      if (fail_binds > 0) {
        --fail_binds;
        out.push_back({b.uid, b.node, false, "scripted failure", ""});
        continue;
      }
      Status s = sink_->CreateBinding(b, now);
      out.push_back({b.uid, b.node, s.ok(), s.message(), ""});
    }
    queued.clear();
    return out;
  }
  std::optional<TimeMs> NextDue() const override {
    return queued.empty() ? std::nullopt : std::optional<TimeMs>(0);
  }

  BindingSink* sink_;
  std::set<std::string> allow;
  std::map<std::string, int64_t> score;
  std::string error;
  bool bogus = false;
  int fail_binds = 0;
  int node_events = 0, filters = 0, prioritizes = 0, binds = 0;
  std::map<std::string, policy::Pod> pods;
  std::vector<policy::PodBinding> queued;
};

std::vector<policy::Node> Nodes(int n, int gpus) { return Cluster(1, 1, 1, n, gpus); }

TEST_CASE("the stock filter: resources, selector, taints, unschedulable and not-ready nodes") {
  std::vector<policy::Node> nodes = Nodes(5, 8);
  nodes[0].unschedulable = true;
  nodes[1].ready = false;
  nodes[2].taints.push_back({"dedicated", "infer", policy::TaintEffect::kNoSchedule});
  nodes[3].labels.Set("pool", "a");
  Driver d({}, nodes, nullptr);
  JobSpec j = Single("p", 1, kMinute);
  j.pods[0].pod.node_selector.Set("pool", "a");
  REQUIRE(d.Submit(j).ok());
  JobSpec big = Single("big", 9, kMinute);  // more GPUs than any node
  REQUIRE(d.Submit(big).ok());
  JobSpec tol = Single("tol", 1, kMinute);
  tol.pods[0].pod.node_selector.Set(kHostnameLabel, nodes[2].name);
  tol.pods[0].pod.tolerations.push_back(
      {"dedicated", policy::Toleration::Op::kEqual, "infer", policy::TaintEffect::kAll});
  REQUIRE(d.Submit(tol).ok());
  d.RunUntil(10 * kSecond);
  CHECK(d.Pod("ml", "p")->node == nodes[3].name);
  CHECK(d.Pod("ml", "tol")->node == nodes[2].name);
  const PodRecord* b = d.Pod("ml", "big");
  CHECK(b->bound < 0);
  CHECK(b->last_reason.find("Insufficient nvidia.com/gpu") != std::string::npos);
  CHECK(b->last_reason.find("1 node(s) were unschedulable") != std::string::npos);
  CHECK(b->last_reason.find("1 node(s) were not ready") != std::string::npos);
}

TEST_CASE("the queue: priority first, then arrival") {
  Driver d({}, Nodes(1, 1), nullptr);
  JobSpec low = Single("low", 1, kMinute, 0), high = Single("high", 1, kMinute, 0);
  high.pods[0].pod.priority = 100;
  JobSpec later = Single("later", 1, kMinute, 0);
  REQUIRE(d.Submit(low).ok());
  REQUIRE(d.Submit(later).ok());
  REQUIRE(d.Submit(high).ok());
  d.RunUntil(kHour);
  CHECK(d.Pod("ml", "high")->bound == 5);  // bind latency
  CHECK(d.Pod("ml", "low")->bound < d.Pod("ml", "later")->bound);
  CHECK(d.Pod("ml", "low")->bound >= kMinute);
}

TEST_CASE("stock score spreads pods (least allocated), seeded ties are reproducible") {
  auto place = [](uint64_t seed) {
    DriverOptions o;
    o.seed = seed;
    Driver d(o, Nodes(4, 8), nullptr);
    for (int k = 0; k < 4; ++k) REQUIRE(d.Submit(Single("p" + std::to_string(k), 1, kHour)).ok());
    d.RunUntil(kMinute);
    std::vector<std::string> where;
    for (int k = 0; k < 4; ++k) where.push_back(d.Pod("ml", "p" + std::to_string(k))->node);
    return where;
  };
  std::vector<std::string> a = place(1), b = place(1);
  CHECK(a == b);
  CHECK(std::set<std::string>(a.begin(), a.end()).size() == 4);  // one per node
}

TEST_CASE("the extender: filter on survivors, prioritize skipped for one node, weight scaling") {
  Driver d({}, Nodes(3, 8), nullptr);
  FakeExtender ext(&d);
  d.SetExtender(&ext);
  CHECK(ext.node_events == 3);
  ext.allow = {"node-0001"};
  REQUIRE(d.Submit(Single("one", 1, kMinute)).ok());
  d.RunUntil(kSecond);
  CHECK(ext.filters == 1);
  CHECK(ext.prioritizes == 0);  // only one feasible node
  CHECK(d.Pod("ml", "one")->node == "node-0001");
  // A score of 10 x weight 5 x 10 = 500 beats any stock score (<= 200).
  ext.allow.clear();
  ext.score = {{"node-0001", 10}};
  REQUIRE(d.Submit(Single("two", 1, kMinute, kSecond)).ok());
  d.RunUntil(2 * kSecond);
  CHECK(ext.prioritizes == 1);
  CHECK(d.Pod("ml", "two")->node == "node-0001");
  CHECK(ext.pods.size() == 2);  // the watch saw both pods
  CHECK(ext.pods[d.Pod("ml", "two")->uid].node_name == "node-0001");
}

TEST_CASE("extender errors and foreign nodes fail the attempt; a failed bind requeues") {
  Driver d({}, Nodes(2, 8), nullptr);
  FakeExtender ext(&d);
  d.SetExtender(&ext);
  ext.error = "boom";
  REQUIRE(d.Submit(Single("p", 1, kMinute)).ok());
  d.RunUntil(500);
  CHECK(d.Pod("ml", "p")->bound < 0);
  CHECK(d.Pod("ml", "p")->last_reason.find("boom") != std::string::npos);
  ext.error.clear();
  ext.bogus = true;
  d.RunUntil(1500);
  CHECK(d.Pod("ml", "p")->last_reason.find("not offered") != std::string::npos);
  ext.bogus = false;
  ext.fail_binds = 1;
  d.RunUntil(10 * kSecond);
  const PodRecord* p = d.Pod("ml", "p");
  CHECK(p->bind_failures == 1);
  CHECK(p->bound > 0);
  CHECK(d.Result().extender_errors == 2);
  // Backoff doubles: attempts at 0 s, 1 s, 3 s (after the bind failure's backoff of 4 s: 7 s).
  CHECK(p->attempts == 4);
}

TEST_CASE("submit rejects bad jobs and changes nothing") {
  Driver d({}, Nodes(1, 8), nullptr);
  JobSpec empty;
  empty.name = "empty";
  CHECK(d.Submit(empty).code() == Status::Code::kInvalidArgument);
  JobSpec dup = Single("x", 0, kMinute);
  dup.pods.push_back(dup.pods[0]);
  CHECK(!d.Submit(dup).ok());
  JobSpec unknown = Single("y", 0, kMinute);
  unknown.pods[0].after.push_back("nope");
  CHECK(!d.Submit(unknown).ok());
  JobSpec cycle;
  cycle.name = "cycle";
  cycle.pods = {MakePod("a", 0, 1), MakePod("b", 0, 1)};
  cycle.pods[0].after = {"b"};
  cycle.pods[1].after = {"a"};
  CHECK(!d.Submit(cycle).ok());
  JobSpec gang = Gang("g", 2, 1, kMinute);
  gang.gang_size = 3;
  CHECK(!d.Submit(gang).ok());
  d.RunUntil(kHour);
  CHECK(d.Result().jobs.empty());
  CHECK(d.Result().pods.empty());
}

TEST_CASE("pipeline steps are created when their predecessors finish") {
  Driver d({}, Nodes(2, 8), nullptr);
  JobSpec j;
  j.name = "pipe";
  j.kind = JobKind::kPipeline;
  j.pods = {MakePod("a", 0, kMinute), MakePod("b", 0, kMinute), MakePod("c", 0, kMinute)};
  j.pods[1].after = {"a"};
  j.pods[2].after = {"a", "b"};
  REQUIRE(d.Submit(j).ok());
  d.RunUntil(kHour);
  CHECK(d.Pod("ml", "b")->created == d.Pod("ml", "a")->finished);
  CHECK(d.Pod("ml", "c")->created == d.Pod("ml", "b")->finished);
  auto rec = d.Job("pipe");
  REQUIRE(rec);
  CHECK(rec->finished == 3 * kMinute + 15);  // three steps, 5 ms bind latency each
}

}  // namespace
}  // namespace mlsched::bench::scenario
