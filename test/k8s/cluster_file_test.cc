#include "k8s/cluster_file.h"

#include <doctest/doctest.h>

#include <cstdio>
#include <fstream>
#include <string>

namespace mlsched::k8s {
namespace {

const std::string kFixtures =
    std::string(MLSCHED_SHARED_DIR) + "/fixtures/kube-scheduler-v1.24.3/nodecache-false/";

TEST_CASE("LoadClusterFile: the real NodeList and PodList") {
  ClusterObjects objs;
  Status s = LoadClusterFile(kFixtures + "api-nodes.json", &objs);
  REQUIRE_MESSAGE(s.ok(), s.message());
  s = LoadClusterFile(kFixtures + "api-pods.json", &objs);
  REQUIRE_MESSAGE(s.ok(), s.message());
  CHECK(objs.nodes.size() == 8);
  CHECK(objs.pods.size() == 9);
  CHECK(objs.pod_groups.empty());
  CHECK(objs.nodes[7].name == "node-007");
}

TEST_CASE("ParseClusterList: a YAML List with every kind, several documents") {
  const char* yaml = R"(
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Node
  metadata:
    name: gpu-1
    labels: {topology.kubernetes.io/zone: a, nvidia.com/gpu.count: "8"}
  status:
    allocatable: {cpu: 64, memory: 512Gi, nvidia.com/gpu: 8, pods: 110}
    conditions: [{type: Ready, status: "True"}]
- apiVersion: scheduling.x-k8s.io/v1alpha1
  kind: PodGroup
  metadata: {name: llama, namespace: ml}
  spec: {minMember: 4, scheduleTimeoutSeconds: 30}
---
kind: Pod
apiVersion: v1
metadata:
  name: llama-0
  namespace: ml
  labels: {scheduling.x-k8s.io/pod-group: llama, team: x}
spec:
  containers:
  - name: main
    image: train:1
    resources:
      requests: {cpu: 1.5, memory: 4Gi, nvidia.com/gpu: 8}
---
)";
  ClusterObjects objs;
  Status s = ParseClusterList(yaml, &objs);
  REQUIRE_MESSAGE(s.ok(), s.message());
  REQUIRE(objs.nodes.size() == 1);
  REQUIRE(objs.pods.size() == 1);
  REQUIRE(objs.pod_groups.size() == 1);
  CHECK(objs.nodes[0].allocatable.milli_cpu == 64000);
  CHECK(objs.nodes[0].allocatable.Scalar("nvidia.com/gpu") == 8);
  CHECK(objs.nodes[0].ready);
  CHECK(objs.pods[0].requests.milli_cpu == 1500);
  CHECK(objs.pods[0].labels.size() == 1);
  CHECK(objs.pod_groups[0].min_member == 4);
}

TEST_CASE("ParseClusterList: errors name the item and change nothing") {
  struct Case {
    std::string text;
    std::string want;
  };
  const Case cases[] = {
      {"", "empty"},
      {"{", "JSON error"},
      {"{\"kind\":\"List\",\"items\":{}}", "items: want an array"},
      {"{\"kind\":\"List\",\"items\":[{\"metadata\":{\"name\":\"x\"}}]}", "missing kind"},
      {"{\"kind\":\"List\",\"items\":[{\"kind\":\"Service\",\"metadata\":{\"name\":\"x\"}}]}",
       "unsupported kind \"Service\""},
      {"{\"kind\":\"NodeList\",\"items\":[{\"metadata\":{\"name\":\"ok\"}},"
       "{\"metadata\":{\"name\":\"bad\"},\"status\":{\"allocatable\":{\"cpu\":\"x\"}}}]}",
       "items[1] (Node bad): status.allocatable.cpu"},
      {"kind: List\nitems:\n- kind: Node\n  metadata: {name: n, labels: {a: 1}}\n",
       "metadata.labels.a: want a string"},
      {"kind: List\nitems: [\n", "YAML error"},
      {"- 1\n- 2\n", "want a JSON/YAML object"},
      {"kind: PodList\nitems:\n- metadata: {name: p}\n  spec: {}\n",
       "items[0] (Pod p): metadata.namespace: missing"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.text);
    ClusterObjects objs;
    objs.nodes.emplace_back();  // pre-existing content must survive a failed parse
    Status s = ParseClusterList(c.text, &objs);
    CHECK_FALSE(s.ok());
    CHECK_MESSAGE(s.message().find(c.want) != std::string::npos, s.message());
    CHECK(objs.nodes.size() == 1);
    CHECK(objs.pods.empty());
  }
}

TEST_CASE("LoadClusterFile: a missing file and a file name in errors") {
  ClusterObjects objs;
  Status s = LoadClusterFile("/nonexistent/cluster.yaml", &objs);
  CHECK(s.code() == Status::Code::kNotFound);
  CHECK(s.message().find("/nonexistent/cluster.yaml") != std::string::npos);

  std::string path = "cluster_file_test_bad.json";
  {
    std::ofstream out(path);
    out << R"({"kind":"List","items":[{"kind":"Pod","metadata":{"name":"p","namespace":"n"},
              "spec":{"containers":[{"resources":{"requests":{"cpu":[]}}}]}}]})";
  }
  s = LoadClusterFile(path, &objs);
  std::remove(path.c_str());
  CHECK_FALSE(s.ok());
  CHECK(s.message().find(path) != std::string::npos);
  CHECK(s.message().find("items[0] (Pod p)") != std::string::npos);
}

}  // namespace
}  // namespace mlsched::k8s
