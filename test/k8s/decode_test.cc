#include "k8s/decode.h"

#include <doctest/doctest.h>
#include <rapidjson/document.h>

#include <fstream>
#include <map>
#include <sstream>
#include <string>

namespace mlsched::k8s {
namespace {

const std::string kFixtures =
    std::string(MLSCHED_SHARED_DIR) + "/fixtures/kube-scheduler-v1.24.3/nodecache-false/";

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  REQUIRE_MESSAGE(in.good(), "cannot open " << path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

rapidjson::Document Parse(const std::string& text) {
  rapidjson::Document d;
  d.Parse(text.c_str());
  REQUIRE_MESSAGE(!d.HasParseError(), "bad JSON in test: " << text);
  return d;
}

constexpr int64_t kGi = int64_t{1} << 30;

TEST_CASE("DecodeNode: every node of the real API list") {
  rapidjson::Document list = Parse(ReadFile(kFixtures + "api-nodes.json"));
  REQUIRE(list["items"].Size() == 8);
  for (const auto& item : list["items"].GetArray()) {
    policy::Node n;
    Status s = DecodeNode(item, &n);
    REQUIRE_MESSAGE(s.ok(), s.message());
    CAPTURE(n.name);
    CHECK(n.allocatable.milli_cpu == 64000);
    CHECK(n.allocatable.memory == 512 * kGi);
    CHECK(n.allocatable.ephemeral_storage == 1024 * kGi);
    CHECK(n.allocatable.pods == 110);
    CHECK(n.allocatable.Scalar("nvidia.com/gpu") == 8);
    CHECK(n.allocatable.scalars.size() == 1);
    CHECK(n.ready);
    CHECK_FALSE(n.unschedulable);
    CHECK(n.taints.empty());
    CHECK(n.labels.Get("kubernetes.io/hostname") == n.name);
    CHECK(n.labels.Get("topology.kubernetes.io/region") == "region-1");
    CHECK(n.labels.size() == 11);  // node labels are kept whole
  }
  policy::Node n0;
  REQUIRE(DecodeNode(list["items"][0], &n0).ok());
  CHECK(n0.name == "node-000");
  CHECK(n0.labels.Get("topology.kubernetes.io/zone") == "zone-a");
  CHECK(n0.labels.Get("mlsched.io/rack") == "zone-a-block1-rack1");
  CHECK(n0.labels.Get("nvidia.com/gpu.product") == "NVIDIA-H100-80GB-HBM3");
}

struct PodWant {
  std::string name;
  std::string node;
  int32_t priority;
  int64_t milli_cpu;
  int64_t memory;
  int64_t gpus;
  size_t labels;  // policy labels kept
  std::string nominated;
};

TEST_CASE("DecodePod: every pod of the real API list") {
  const PodWant wants[] = {
      {"bert-sweep-master-0", "node-003", 1000, 16000, 128 * kGi, 8, 6, ""},
      {"bert-sweep-worker-0", "node-001", 1000, 16000, 128 * kGi, 8, 5, ""},
      {"bert-sweep-worker-1", "node-004", 1000, 16000, 128 * kGi, 8, 5, ""},
      {"bert-sweep-worker-2", "node-000", 1000, 16000, 128 * kGi, 8, 5, ""},
      {"data-prep-000", "node-004", 0, 2000, 4 * kGi, 0, 0, ""},
      {"llama-ft-master-0", "node-006", 1000, 16000, 128 * kGi, 8, 6, ""},
      {"llama-ft-worker-1", "node-007", 1000, 16000, 128 * kGi, 8, 5, ""},
      {"llama-ft-worker-2", "node-002", 1000, 16000, 128 * kGi, 8, 5, ""},
      {"urgent-eval-000", "node-005", 1000000, 8000, 64 * kGi, 8, 0, "node-005"},
  };
  rapidjson::Document list = Parse(ReadFile(kFixtures + "api-pods.json"));
  REQUIRE(list["items"].Size() == std::size(wants));
  for (rapidjson::SizeType i = 0; i < list["items"].Size(); ++i) {
    const PodWant& w = wants[i];
    CAPTURE(w.name);
    policy::Pod p;
    Status s = DecodePod(list["items"][i], &p);
    REQUIRE_MESSAGE(s.ok(), s.message());
    CHECK(p.ns == "ml");
    CHECK(p.name == w.name);
    CHECK(p.uid.size() == 36);
    CHECK(p.node_name == w.node);
    CHECK(p.priority == w.priority);
    CHECK(p.scheduler_name == "mlsched-test");
    CHECK(p.phase == policy::PodPhase::kPending);
    CHECK_FALSE(p.terminating);
    CHECK(p.requests.milli_cpu == w.milli_cpu);
    CHECK(p.requests.memory == w.memory);
    CHECK(p.requests.Scalar("nvidia.com/gpu") == w.gpus);
    CHECK(p.requests.pods == 1);
    CHECK(p.labels.size() == w.labels);
    CHECK(p.nominated_node_name == w.nominated);
    CHECK(p.images.size() == 1);
    CHECK(p.creation_ms > 1700000000000);
    CHECK(p.native_gang.empty());
    if (w.gpus > 0) {
      CHECK(p.tolerations.size() == 3);
      CHECK(p.tolerations[0].key == "nvidia.com/gpu");
      CHECK(p.tolerations[0].op == policy::Toleration::Op::kExists);
      CHECK(p.tolerations[0].effect == policy::TaintEffect::kNoSchedule);
    }
  }
  policy::Pod master;
  REQUIRE(DecodePod(list["items"][0], &master).ok());
  CHECK(master.owner.kind == "PyTorchJob");
  CHECK(master.owner.name == "bert-sweep");
  CHECK(master.labels.Get("scheduling.x-k8s.io/pod-group") == "bert-sweep");
  CHECK(master.creation_ms == 1795883179000);  // 2026-11-28T16:26:19Z
}

TEST_CASE("DecodePod: requests as the scheduler sums them") {
  struct Case {
    std::string name;
    std::string spec;
    int64_t milli_cpu;
    int64_t memory;
  };
  const Case cases[] = {
      {"two containers add",
       R"({"containers":[{"resources":{"requests":{"cpu":"1","memory":"1Gi"}}},
                          {"resources":{"requests":{"cpu":"500m"}}}]})",
       1500, kGi},
      {"init container larger than the sum wins per resource",
       R"({"containers":[{"resources":{"requests":{"cpu":"1","memory":"1Gi"}}}],
           "initContainers":[{"resources":{"requests":{"cpu":"4","memory":"512Mi"}}}]})",
       4000, kGi},
      {"sidecar init containers add to the app and to later init containers",
       R"({"containers":[{"resources":{"requests":{"cpu":"1"}}}],
           "initContainers":[{"restartPolicy":"Always","resources":{"requests":{"cpu":"1"}}},
                             {"resources":{"requests":{"cpu":"2500m"}}}]})",
       3500, 0},
      {"overhead is added",
       R"({"containers":[{"resources":{"requests":{"cpu":"1"}}}],"overhead":{"cpu":"250m",
           "memory":"64Mi"}})",
       1250, 64 << 20},
      {"pod-level resources win for cpu and memory",
       R"({"containers":[{"resources":{"requests":{"cpu":"1"}}}],
           "resources":{"requests":{"cpu":"3","memory":"2Gi"}}})",
       3000, 2 * kGi},
      {"no resources at all", R"({"containers":[{"name":"a"}]})", 0, 0},
      {"numbers as quantities (YAML)", R"({"containers":[{"resources":{"requests":{"cpu":2}}}]})",
       2000, 0},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    std::string obj = R"({"metadata":{"name":"p","namespace":"n"},"spec":)" + c.spec + "}";
    rapidjson::Document d = Parse(obj);
    policy::Pod p;
    Status s = DecodePod(d, &p);
    REQUIRE_MESSAGE(s.ok(), s.message());
    CHECK(p.requests.milli_cpu == c.milli_cpu);
    CHECK(p.requests.memory == c.memory);
    CHECK(p.requests.pods == 1);
  }
}

TEST_CASE("DecodePod: native gangs, policy keys, terminal and terminating pods") {
  rapidjson::Document d = Parse(R"({
    "metadata":{"name":"w-0","namespace":"ml","deletionTimestamp":"2026-01-01T00:00:00Z",
      "labels":{"app":"x","mlsched.io/gang":"g","kueue.x-k8s.io/pod-group-name":"q"},
      "annotations":{"kubectl.kubernetes.io/last-applied-configuration":"{}",
                     "mlsched.io/gang-size":"4"}},
    "spec":{"containers":[{"image":"a"}],"initContainers":[{"image":"b"}],
      "workloadRef":{"name":"job","podGroup":"workers","podGroupReplicaKey":"0"},
      "nodeSelector":{"nvidia.com/gpu.product":"H100"}},
    "status":{"phase":"Succeeded"}})");
  policy::Pod p;
  Status s = DecodePod(d, &p);
  REQUIRE_MESSAGE(s.ok(), s.message());
  CHECK(p.native_gang == "workload/job/workers/0");
  CHECK(p.terminating);
  CHECK(p.IsTerminal());
  CHECK(p.labels.size() == 2);
  CHECK_FALSE(p.labels.Has("app"));
  CHECK(p.annotations.size() == 1);
  CHECK(p.node_selector.Get("nvidia.com/gpu.product") == "H100");
  CHECK(p.images == std::vector<std::string>{"a", "b"});

  rapidjson::Document d2 = Parse(R"({"metadata":{"name":"w","namespace":"ml"},
    "spec":{"schedulingGroup":{"podGroupName":"pg-1"}}})");
  REQUIRE(DecodePod(d2, &p).ok());
  CHECK(p.native_gang == "podgroup/pg-1");
}

TEST_CASE("DecodeNode: taints, cordon, not ready, images") {
  rapidjson::Document d = Parse(R"({"metadata":{"name":"n1"},
    "spec":{"unschedulable":true,"taints":[{"key":"nvidia.com/gpu","effect":"NoSchedule"},
      {"key":"k","value":"v","effect":"PreferNoSchedule"}]},
    "status":{"allocatable":{"cpu":"7900m","memory":"31Gi","hugepages-2Mi":"0",
        "example.com/foo":"3"},
      "conditions":[{"type":"Ready","status":"False"}],
      "images":[{"names":["r/a@sha256:1","r/a:1"],"sizeBytes":123456789}]}})");
  policy::Node n;
  Status s = DecodeNode(d, &n);
  REQUIRE_MESSAGE(s.ok(), s.message());
  CHECK(n.unschedulable);
  CHECK_FALSE(n.ready);
  REQUIRE(n.taints.size() == 2);
  CHECK(n.taints[1].effect == policy::TaintEffect::kPreferNoSchedule);
  CHECK(n.taints[1].value == "v");
  CHECK(n.allocatable.milli_cpu == 7900);
  CHECK(n.allocatable.Scalar("example.com/foo") == 3);
  CHECK(n.allocatable.Scalar("hugepages-2Mi") == 0);
  REQUIRE(n.images.size() == 1);
  CHECK(n.images[0].names.size() == 2);
  CHECK(n.images[0].size_bytes == 123456789);
  // No conditions at all: not ready.
  rapidjson::Document bare = Parse(R"({"metadata":{"name":"n2"}})");
  REQUIRE(DecodeNode(bare, &n).ok());
  CHECK_FALSE(n.ready);
}

TEST_CASE("DecodePodGroup: scheduler-plugins and Volcano") {
  rapidjson::Document sp = Parse(R"({"apiVersion":"scheduling.x-k8s.io/v1alpha1",
    "kind":"PodGroup","metadata":{"name":"llama","namespace":"ml"},
    "spec":{"minMember":8,"scheduleTimeoutSeconds":60,
            "minResources":{"nvidia.com/gpu":"64","cpu":"128"}}})");
  policy::PodGroup g;
  REQUIRE(DecodePodGroup(sp, &g).ok());
  CHECK(g.ns == "ml");
  CHECK(g.name == "llama");
  CHECK(g.min_member == 8);
  CHECK(g.schedule_timeout_seconds == 60);
  CHECK(g.min_resources.Scalar("nvidia.com/gpu") == 64);
  CHECK(g.min_resources.milli_cpu == 128000);
  rapidjson::Document vc = Parse(R"({"apiVersion":"scheduling.volcano.sh/v1beta1",
    "kind":"PodGroup","metadata":{"name":"job-1","namespace":"default"},
    "spec":{"minMember":2,"queue":"default","minResources":{"memory":"8Gi"}},
    "status":{"phase":"Running"}})");
  REQUIRE(DecodePodGroup(vc, &g).ok());
  CHECK(g.min_member == 2);
  CHECK(g.min_resources.memory == 8 * kGi);
  CHECK(g.schedule_timeout_seconds == 0);
}

TEST_CASE("Decoders: malformed and wrong-type input is an error naming the field") {
  struct Case {
    std::string kind;
    std::string json;
    std::string want;  // substring of the error
  };
  const Case cases[] = {
      {"Node", R"([])", "object"},
      {"Node", R"("x")", "object"},
      {"Node", R"({})", "metadata: missing"},
      {"Node", R"({"metadata":[]})", "metadata: want an object"},
      {"Node", R"({"metadata":{"name":7}})", "metadata.name: want a string"},
      {"Node", R"({"metadata":{"name":""}})", "metadata.name: missing"},
      {"Node", R"({"metadata":{"name":"n","labels":{"a":1}}})", "metadata.labels.a"},
      {"Node", R"({"metadata":{"name":"n","labels":[]}})", "metadata.labels: want an object"},
      {"Node", R"({"metadata":{"name":"n"},"spec":{"taints":{}}})", "spec.taints: want an array"},
      {"Node", R"({"metadata":{"name":"n"},"spec":{"taints":[{"key":"k","effect":"Bogus"}]}})",
       "spec.taints[0].effect"},
      {"Node", R"({"metadata":{"name":"n"},"spec":{"taints":[7]}})", "spec.taints[0]"},
      {"Node", R"({"metadata":{"name":"n"},"spec":{"unschedulable":"yes"}})",
       "spec.unschedulable"},
      {"Node", R"({"metadata":{"name":"n"},"status":{"allocatable":{"cpu":"lots"}}})",
       "status.allocatable.cpu"},
      {"Node", R"({"metadata":{"name":"n"},"status":{"allocatable":{"cpu":true}}})",
       "status.allocatable.cpu"},
      {"Node", R"({"metadata":{"name":"n"},"status":{"allocatable":{"memory":"-1Gi"}}})",
       "negative"},
      {"Node", R"({"metadata":{"name":"n"},"status":{"allocatable":"64"}})",
       "status.allocatable"},
      {"Node", R"({"metadata":{"name":"n"},"status":{"conditions":[{"type":1}]}})",
       "status.conditions[0].type"},
      {"Node", R"({"metadata":{"name":"n"},"status":{"images":[{"names":[1]}]}})",
       "status.images[0].names[0]"},
      {"Node", R"({"metadata":{"name":"n"},"status":{"images":[{"sizeBytes":"1"}]}})",
       "status.images[0].sizeBytes"},
      {"Node", R"({"metadata":{"name":"n","creationTimestamp":"yesterday"}})",
       "metadata.creationTimestamp"},
      {"Pod", R"({"metadata":{"name":"p"},"spec":{}})", "metadata.namespace: missing"},
      {"Pod", R"({"metadata":{"name":"p","namespace":"n"}})", "spec: missing"},
      {"Pod", R"({"metadata":{"name":"p","namespace":"n"},"spec":{"containers":{}}})",
       "spec.containers: want an array"},
      {"Pod", R"({"metadata":{"name":"p","namespace":"n"},"spec":{"containers":[1]}})",
       "spec.containers[0]"},
      {"Pod",
       R"({"metadata":{"name":"p","namespace":"n"},"spec":{"containers":[{"resources":[]}]}})",
       "spec.containers[0].resources"},
      {"Pod",
       R"({"metadata":{"name":"p","namespace":"n"},"spec":{"containers":[{"resources":{"requests":{"cpu":"1x"}}}]}})",
       "spec.containers[0].resources.requests.cpu"},
      {"Pod",
       R"({"metadata":{"name":"p","namespace":"n"},"spec":{"initContainers":[{"resources":{"requests":{"memory":{}}}}]}})",
       "spec.initContainers[0].resources.requests.memory"},
      {"Pod", R"({"metadata":{"name":"p","namespace":"n"},"spec":{"priority":"high"}})",
       "spec.priority"},
      {"Pod", R"({"metadata":{"name":"p","namespace":"n"},"spec":{"priority":1e20}})",
       "spec.priority"},
      {"Pod", R"({"metadata":{"name":"p","namespace":"n"},"spec":{"nodeName":false}})",
       "spec.nodeName"},
      {"Pod",
       R"({"metadata":{"name":"p","namespace":"n"},"spec":{"tolerations":[{"operator":"Maybe"}]}})",
       "spec.tolerations[0].operator"},
      {"Pod", R"({"metadata":{"name":"p","namespace":"n"},"spec":{"overhead":[]}})",
       "spec.overhead"},
      {"Pod", R"({"metadata":{"name":"p","namespace":"n"},"spec":{"workloadRef":"x"}})",
       "spec.workloadRef"},
      {"Pod", R"({"metadata":{"name":"p","namespace":"n"},"spec":{},"status":{"phase":7}})",
       "status.phase"},
      {"Pod", R"({"metadata":{"name":"p","namespace":"n"},"spec":{},"status":{"phase":"Gone"}})",
       "status.phase"},
      {"Pod",
       R"({"metadata":{"name":"p","namespace":"n","ownerReferences":[{"controller":"yes"}]},"spec":{}})",
       "metadata.ownerReferences[0].controller"},
      {"Pod",
       R"({"metadata":{"name":"p","namespace":"n","annotations":{"mlsched.io/gang":null}},"spec":{}})",
       "metadata.annotations.mlsched.io/gang"},
      {"PodGroup", R"({"metadata":{"name":"g","namespace":"n"},"spec":{"minMember":"8"}})",
       "spec.minMember"},
      {"PodGroup", R"({"metadata":{"name":"g","namespace":"n"},"spec":{"minMember":-1}})",
       "spec.minMember"},
      {"PodGroup", R"({"metadata":{"name":"g","namespace":"n"},"spec":{"minResources":[]}})",
       "spec.minResources"},
      {"PodGroup", R"({"metadata":{"name":"g","namespace":"n"},"spec":7})", "spec"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.json);
    rapidjson::Document d = Parse(c.json);
    Status s;
    if (c.kind == "Node") {
      policy::Node n;
      s = DecodeNode(d, &n);
    } else if (c.kind == "Pod") {
      policy::Pod p;
      s = DecodePod(d, &p);
    } else {
      policy::PodGroup g;
      s = DecodePodGroup(d, &g);
    }
    CHECK_FALSE(s.ok());
    CHECK(s.code() == Status::Code::kInvalidArgument);
    CHECK_MESSAGE(s.message().find(c.want) != std::string::npos, s.message());
  }
}

TEST_CASE("Decoders: every JSON type at every fixture field never crashes") {
  // Replace each value in the real objects, one at a time, by each JSON type; decoding must
  // return (ok or an error), never assert.
  const char* replacements[] = {"null", "true", "7", "-1.5", "\"s\"", "[]", "{}", "[1]",
                                "{\"a\":1}"};
  for (const char* file : {"api-nodes.json", "api-pods.json"}) {
    rapidjson::Document list = Parse(ReadFile(kFixtures + file));
    bool is_node = std::string(file) == "api-nodes.json";
    rapidjson::Value& item = list["items"][1];
    // Walk every value in the item (iteratively) and mutate it in place.
    std::vector<rapidjson::Value*> all;
    std::vector<rapidjson::Value*> stack{&item};
    while (!stack.empty()) {
      rapidjson::Value* v = stack.back();
      stack.pop_back();
      all.push_back(v);
      if (v->IsObject()) {
        for (auto& m : v->GetObject()) stack.push_back(&m.value);
      } else if (v->IsArray()) {
        for (auto& e : v->GetArray()) stack.push_back(&e);
      }
    }
    int errors = 0;
    for (size_t i = 1; i < all.size(); ++i) {  // all[0] is the item itself
      for (const char* r : replacements) {
        rapidjson::Document copy;
        copy.CopyFrom(item, copy.GetAllocator());
        // Find the same value in the copy by walking in the same order.
        std::vector<rapidjson::Value*> cs{&copy};
        std::vector<rapidjson::Value*> call;
        while (!cs.empty()) {
          rapidjson::Value* v = cs.back();
          cs.pop_back();
          call.push_back(v);
          if (v->IsObject()) {
            for (auto& m : v->GetObject()) cs.push_back(&m.value);
          } else if (v->IsArray()) {
            for (auto& e : v->GetArray()) cs.push_back(&e);
          }
        }
        rapidjson::Document rd;
        rd.Parse(r);
        call[i]->CopyFrom(rd, copy.GetAllocator());
        Status s;
        if (is_node) {
          policy::Node n;
          s = DecodeNode(copy, &n);
        } else {
          policy::Pod p;
          s = DecodePod(copy, &p);
        }
        if (!s.ok()) ++errors;
      }
    }
    CHECK(errors > 0);  // the walk did hit checked fields
  }
}

TEST_CASE("ParseRfc3339Ms") {
  policy::TimeMs t = 0;
  REQUIRE(ParseRfc3339Ms("1970-01-01T00:00:00Z", &t));
  CHECK(t == 0);
  REQUIRE(ParseRfc3339Ms("2026-11-28T16:26:17Z", &t));
  CHECK(t == 1795883177000);
  REQUIRE(ParseRfc3339Ms("2026-11-28T16:26:17.250Z", &t));
  CHECK(t == 1795883177250);
  REQUIRE(ParseRfc3339Ms("2026-11-28T18:26:17+02:00", &t));
  CHECK(t == 1795883177000);
  CHECK_FALSE(ParseRfc3339Ms("2026-11-28T16:26:17", &t));
  CHECK_FALSE(ParseRfc3339Ms("2026-13-28T16:26:17Z", &t));
  CHECK_FALSE(ParseRfc3339Ms("2026-11-28 16:26:17Z", &t));
  CHECK_FALSE(ParseRfc3339Ms("", &t));
  CHECK_FALSE(ParseRfc3339Ms("2026-11-28T16:26:17Zjunk", &t));
}

}  // namespace
}  // namespace mlsched::k8s
