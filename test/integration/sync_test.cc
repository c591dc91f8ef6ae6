// ClusterSync against the fake API server: the model must equal the server's state exactly
// after quiescence, through random churn and every injected fault.

#include <doctest/doctest.h>

#include <atomic>
#include <random>
#include <thread>

#include "k8s/cluster_sync.h"
#include "test/integration/sync_helpers.h"

namespace mlsched::testing {
namespace {

using fakes::FakeApiServer;
using fakes::Kind;

k8s::ClientConfig ConfigFor(const FakeApiServer& s) {
  k8s::ClientConfig c;
  c.server = s.url();
  c.request_timeout_ms = 10'000;
  return c;
}

// Short timeouts so faults heal within the test's bounds.
k8s::SyncOptions FastOptions(uint64_t seed) {
  k8s::SyncOptions o;
  o.reflector.page_size = 37;
  o.reflector.min_watch_timeout_s = 2;
  o.reflector.backoff_initial_ms = 10;
  o.reflector.backoff_max_ms = 200;
  o.reflector.watch_idle_timeout_ms = 1000;
  o.reflector.min_healthy_watch_ms = 20;
  o.crd_recheck_ms = 100;
  o.seed = seed;
  o.clock = [] { return policy::TimeMs{1'800'000'000'000}; };
  return o;
}

// Random creates/updates/deletes of nodes, pods and podgroups.
class Churn {
 public:
  Churn(FakeApiServer& s, uint64_t seed) : s_(s), rng_(seed) {}

  void Step() {
    int what = Uniform(0, 99);
    if (what < 15) {
      std::string name = "node-" + std::to_string(Uniform(0, 59));
      if (Uniform(0, 9) == 0) {
        s_.Delete(Kind::kNode, "", name);
      } else {
        REQUIRE(s_.Upsert(Kind::kNode, NodeJson(name, 8 * Uniform(1, 16), 8 * Uniform(0, 1),
                                                "zone-" + std::to_string(Uniform(0, 2)),
                                                Uniform(0, 9) > 0, Uniform(0, 19) == 0))
                    .ok());
      }
    } else if (what < 92) {
      std::string ns = "ns-" + std::to_string(Uniform(0, 3));
      std::string name = "pod-" + std::to_string(Uniform(0, 499));
      if (Uniform(0, 5) == 0) {
        s_.Delete(Kind::kPod, ns, name);
      } else {
        static const char* kPhases[] = {"Pending", "Running", "Running", "Succeeded", "Failed"};
        std::string node = Uniform(0, 2) ? "node-" + std::to_string(Uniform(0, 59)) : "";
        std::string gang = Uniform(0, 3) == 0 ? "g-" + std::to_string(Uniform(0, 9)) : "";
        REQUIRE(s_.Upsert(Kind::kPod, PodJson(ns, name, node, 100 * Uniform(1, 40),
                                              Uniform(0, 3) == 0 ? 8 : 0, kPhases[Uniform(0, 4)],
                                              gang))
                    .ok());
      }
    } else {
      std::string ns = "ns-" + std::to_string(Uniform(0, 3));
      std::string name = "g-" + std::to_string(Uniform(0, 9));
      if (Uniform(0, 3) == 0) {
        s_.Delete(Kind::kPodGroup, ns, name);
      } else {
        REQUIRE(s_.Upsert(Kind::kPodGroup, PodGroupJson(ns, name, Uniform(1, 16))).ok());
      }
    }
  }

  int Uniform(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }

 private:
  FakeApiServer& s_;
  std::mt19937_64 rng_;
};

void ExpectConverges(const MirrorWriter& mirror, const FakeApiServer& server) {
  bool same = WaitFor([&] { return mirror.State() == ServerState(server); });
  ModelState want = ServerState(server);
  ModelState got = mirror.State();
  CHECK(same);
  CHECK(got.nodes.size() == want.nodes.size());
  CHECK(got.pods.size() == want.pods.size());
  CHECK(got.groups.size() == want.groups.size());
  if (!same) {
    for (const auto& [k, p] : want.pods) {
      auto it = got.pods.find(k);
      if (it == got.pods.end() || !(it->second == p)) {
        FAIL_CHECK("pod differs or missing: " << k);
        break;
      }
    }
  }
}

TEST_CASE("ClusterSync: initial list (paged), then watch events") {
  FakeApiServer server;
  REQUIRE(server.Start().ok());
  Churn churn(server, 1);
  for (int i = 0; i < 400; ++i) churn.Step();
  MirrorWriter mirror;
  k8s::ClusterSync sync(ConfigFor(server), mirror, FastOptions(11));
  CHECK_FALSE(sync.Synced());
  sync.Start();
  REQUIRE(WaitFor([&] { return sync.Synced(); }));
  ExpectConverges(mirror, server);
  CHECK(mirror.groups_known());
  CHECK(server.counters().list_pages > 3);  // paging was used
  for (int i = 0; i < 400; ++i) churn.Step();
  ExpectConverges(mirror, server);
  k8s::SyncStats st = sync.Stats();
  CHECK(st.synced);
  CHECK(st.connected);
  CHECK(st.pod_groups_known);
  CHECK(st.events_applied > 0);
  CHECK(st.relists == 0);
  CHECK(st.objects_skipped == 0);
  CHECK(st.list_bytes > 0);
  CHECK(st.seconds_since_last_contact >= 0);
  sync.Stop();
  sync.Stop();  // idempotent
}

TEST_CASE("ClusterSync: thousands of random changes with faults injected converge exactly") {
  fakes::FakeApiServerOptions so;
  so.bookmark_interval_ms = 100;
  so.retained_events = 400;  // small window: slow or cut watches hit 410 for real
  FakeApiServer server(so);
  REQUIRE(server.Start().ok());
  Churn churn(server, 2);
  for (int i = 0; i < 300; ++i) churn.Step();
  MirrorWriter mirror;
  k8s::ClusterSync sync(ConfigFor(server), mirror, FastOptions(22));
  sync.Start();
  REQUIRE(WaitFor([&] { return sync.Synced(); }));

  std::mt19937_64 rng(99);
  const int kSteps = 4000;
  for (int i = 0; i < kSteps; ++i) {
    churn.Step();
    if (i % 200 == 100) {
      switch (std::uniform_int_distribution<int>(0, 8)(rng)) {
        case 0: server.DropWatches(); break;
        case 1:
          server.StallWatches(true);
          std::this_thread::sleep_for(std::chrono::milliseconds(150));
          server.StallWatches(false);
          break;
        case 2: server.FailRequests(3, 500); break;
        case 3: server.ExpireVersions(); break;
        case 4: server.SendWatchError(410); break;
        case 5: server.SetWatchChunking(std::uniform_int_distribution<size_t>(1, 64)(rng), 0); break;
        case 6: server.SetWatchChunking(0, 0); break;
        case 7: server.SetFailureRate(0.2, static_cast<uint64_t>(i)); break;
        case 8: server.SetFailureRate(0); break;
      }
    }
    if (i % 50 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  // Every fault kind at least once more, back to back, then quiescence.
  server.DropWatches();
  server.SendWatchError(410);
  server.ExpireVersions();
  server.FailRequests(5, 503);
  server.SetFailureRate(0.3, 7);
  for (int i = 0; i < 100; ++i) churn.Step();
  server.SetWatchChunking(0, 0);
  server.SetFailureRate(0);
  ExpectConverges(mirror, server);
  k8s::SyncStats st = sync.Stats();
  MESSAGE("relists=" << st.relists << " watch_restarts=" << st.watch_restarts
                     << " events=" << st.events_applied << " errors=" << st.errors);
  CHECK(st.relists > 0);
  CHECK(st.watch_restarts > 0);
  CHECK(st.errors > 0);
  CHECK(st.objects_skipped == 0);
  CHECK(mirror.replaces() > 3);
}

TEST_CASE("ClusterSync: HTTP 410 on watch, stalled stream detected by the idle timeout") {
  fakes::FakeApiServerOptions so;
  so.expired_watch_as_http_410 = true;
  so.bookmark_interval_ms = 100;
  FakeApiServer server(so);
  REQUIRE(server.Start().ok());
  Churn churn(server, 3);
  for (int i = 0; i < 200; ++i) churn.Step();
  MirrorWriter mirror;
  k8s::ClusterSync sync(ConfigFor(server), mirror, FastOptions(33));
  sync.Start();
  REQUIRE(WaitFor([&] { return sync.Synced(); }));
  // Hold the watches, change things, expire every version, then cut the watches: they come
  // back from versions that are gone and get HTTP 410 -> relist.
  server.StallWatches(true);
  for (int i = 0; i < 200; ++i) churn.Step();
  server.ExpireVersions();
  server.DropWatches();
  REQUIRE(WaitFor([&] { return server.counters().watches_gone > 0; }));
  server.StallWatches(false);
  ExpectConverges(mirror, server);
  CHECK(server.counters().watches_gone > 0);
  CHECK(sync.Stats().relists > 0);
  // A stalled stream (no bytes, no bookmarks) is abandoned after watch_idle_timeout_ms.
  int64_t before = sync.Stats().watch_restarts;
  server.StallWatches(true);
  for (int i = 0; i < 50; ++i) churn.Step();
  REQUIRE(WaitFor([&] { return sync.Stats().watch_restarts >= before + 2; }));
  server.StallWatches(false);
  ExpectConverges(mirror, server);
}

TEST_CASE("ClusterSync: a restart mid-stream rebuilds the model from the server") {
  FakeApiServer server;
  REQUIRE(server.Start().ok());
  Churn churn(server, 4);
  for (int i = 0; i < 300; ++i) churn.Step();
  std::atomic<bool> done{false};
  std::thread writer([&] {
    Churn c(server, 5);
    while (!done) {
      c.Step();
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  });
  {
    MirrorWriter first;
    k8s::ClusterSync sync(ConfigFor(server), first, FastOptions(44));
    sync.Start();
    REQUIRE(WaitFor([&] { return sync.Synced(); }));
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    sync.Stop();  // mid-stream: events keep coming
  }
  MirrorWriter second;  // a fresh process: nothing kept from before
  k8s::ClusterSync sync(ConfigFor(server), second, FastOptions(55));
  sync.Start();
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  done = true;
  writer.join();
  ExpectConverges(second, server);
}

TEST_CASE("ClusterSync: PodGroup CRD discovery, installed later and removed") {
  fakes::FakeApiServerOptions so;
  so.podgroup_crd_installed = false;
  FakeApiServer server(so);
  REQUIRE(server.Start().ok());
  REQUIRE(server.Upsert(Kind::kNode, NodeJson("n1", 8, 0, "a")).ok());
  MirrorWriter mirror;
  k8s::ClusterSync sync(ConfigFor(server), mirror, FastOptions(66));
  sync.Start();
  REQUIRE(WaitFor([&] { return sync.Synced(); }));
  CHECK_FALSE(sync.Stats().pod_groups_known);
  CHECK_FALSE(mirror.groups_known());

  REQUIRE(server.Upsert(Kind::kPodGroup, PodGroupJson("ml", "llama", 4)).ok());
  server.SetPodGroupCrdInstalled(true);
  REQUIRE(WaitFor([&] { return mirror.State().groups.size() == 1; }));
  CHECK(mirror.groups_known());
  CHECK(sync.Stats().pod_groups_known);
  REQUIRE(server.Upsert(Kind::kPodGroup, PodGroupJson("ml", "bert", 2)).ok());
  ExpectConverges(mirror, server);

  server.SetPodGroupCrdInstalled(false);
  REQUIRE(WaitFor([&] { return !mirror.groups_known() && mirror.State().groups.empty(); }));
  CHECK(sync.Synced());  // readiness does not flap
}

TEST_CASE("ClusterSync: malformed objects are skipped and counted, the rest syncs") {
  FakeApiServer server;
  REQUIRE(server.Start().ok());
  REQUIRE(server.Upsert(Kind::kNode, NodeJson("n1", 8, 0, "a")).ok());
  REQUIRE(server.Upsert(Kind::kPod,
                        R"({"metadata":{"name":"bad","namespace":"x"},"spec":{"containers":[)"
                        R"({"resources":{"requests":{"cpu":"lots"}}}]}})")
              .ok());
  REQUIRE(server.Upsert(Kind::kPod, PodJson("x", "good", "n1", 100, 0, "Running")).ok());
  MirrorWriter mirror;
  k8s::ClusterSync sync(ConfigFor(server), mirror, FastOptions(77));
  sync.Start();
  REQUIRE(WaitFor([&] { return sync.Synced(); }));
  ExpectConverges(mirror, server);  // ServerState leaves the malformed pod out too
  CHECK(mirror.State().pods.count("x/good") == 1);
  CHECK(sync.Stats().objects_skipped == 1);
  // Deleting the malformed pod is not an error; a later bad update is skipped again.
  REQUIRE(server.Upsert(Kind::kNode, R"({"metadata":{"name":"n2"},"spec":{"taints":7}})").ok());
  REQUIRE(WaitFor([&] { return sync.Stats().objects_skipped == 2; }));
  CHECK(server.Delete(Kind::kPod, "x", "bad"));
  CHECK(server.Delete(Kind::kNode, "", "n1"));
  REQUIRE(WaitFor([&] { return mirror.State().nodes.empty(); }));
}

TEST_CASE("ClusterSync: the API server away keeps the last state and says so") {
  auto server = std::make_unique<FakeApiServer>();
  REQUIRE(server->Start().ok());
  REQUIRE(server->Upsert(Kind::kNode, NodeJson("n1", 8, 0, "a")).ok());
  MirrorWriter mirror;
  k8s::ClusterSync sync(ConfigFor(*server), mirror, FastOptions(88));
  sync.Start();
  REQUIRE(WaitFor([&] { return sync.Synced(); }));
  server->Stop();
  REQUIRE(WaitFor([&] { return !sync.Stats().connected; }));
  k8s::SyncStats st = sync.Stats();
  CHECK(st.synced);
  CHECK_FALSE(st.last_error.empty());
  CHECK(mirror.State().nodes.size() == 1);  // last known state kept
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  // Backoff, not a busy loop: a few hundred ms with 10..200 ms backoff is a handful of tries.
  CHECK(sync.Stats().errors < 40);
  auto t0 = std::chrono::steady_clock::now();
  sync.Stop();
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(5));  // safety bound
}

}  // namespace
}  // namespace mlsched::testing
