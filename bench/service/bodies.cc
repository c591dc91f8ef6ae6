#include "bench/service/bodies.h"

#include <cstdio>
#include <vector>

#include "extender/wire.h"

namespace mlsched::bench {
namespace {

// Requests of the replayed pods, the image they run and the tolerations of GPU nodes.
constexpr char kPodSpec[] =
    R"("spec":{"containers":[{"name":"main","image":"registry.example.com/ml/pytorch-train:2.3.0-cuda12.1",)"
    R"("resources":{"requests":{"cpu":"8","memory":"64Gi","nvidia.com/gpu":"1"},)"
    R"("limits":{"nvidia.com/gpu":"1"}}}],"schedulerName":"mlsched","tolerations":)"
    R"([{"key":"nvidia.com/gpu","operator":"Exists","effect":"NoSchedule"}]},)"
    R"("status":{"phase":"Pending","qosClass":"Burstable"}})";

// The five steps of every recorded pipeline run; the replayed step is "train" of run-7, after
// "prep" and "features".
constexpr const char* kSteps[] = {"prep", "features", "train", "eval", "push"};
constexpr int kRuns = 200;
constexpr int kFunctions = 50;
constexpr int kWarmNodesPerFunction = 16;

// Where step `s` of run `r` ran (spread over the cluster, deterministic).
int StepNode(int r, int s, int nodes) { return (r * 37 + s * 5) % nodes; }
int FunctionNode(int f, int k, int nodes) { return (f * 53 + k * 11) % nodes; }

}  // namespace

std::string NodeName(int i) {
  char b[32];
  std::snprintf(b, sizeof b, "gpu-node-%05d", i);
  return b;
}

static policy::Node ModelNode(int i) {
  policy::Node n;
  n.name = NodeName(i);
  n.labels.Set("kubernetes.io/hostname", n.name);
  n.labels.Set("topology.kubernetes.io/region", "region-1");
  n.labels.Set("topology.kubernetes.io/zone", "zone-" + std::to_string(i / 1000));
  n.labels.Set("mlsched.io/block", "block-" + std::to_string(i / 250));
  n.labels.Set("mlsched.io/rack", "rack-" + std::to_string(i / 16));
  n.labels.Set("nvidia.com/gpu.clique", "clique-" + std::to_string(i / 16));
  n.labels.Set("nvidia.com/gpu.product", "NVIDIA-H100-80GB-HBM3");
  n.allocatable.milli_cpu = 96'000;
  n.allocatable.memory = int64_t{1000} << 30;
  n.allocatable.ephemeral_storage = int64_t{3} << 40;
  n.allocatable.pods = 110;
  n.allocatable.SetScalar("nvidia.com/gpu", 8);
  return n;
}

// A v1 Node as the scheduler sends it with nodeCacheCapable: false: labels, managedFields,
// capacity/allocatable, conditions, addresses, nodeInfo and images (about 5 KB).
static std::string NodeJson(int i) {
  const std::string name = NodeName(i);
  const std::string zone = "zone-" + std::to_string(i / 1000);
  const std::string block = "block-" + std::to_string(i / 250);
  const std::string rack = "rack-" + std::to_string(i / 16);
  const std::string ts = "2026-11-28T16:26:17Z";
  std::string s;
  s.reserve(6000);
  s += R"({"metadata":{"name":")" + name + R"(","uid":"ad1f6aac-e5e5-453b-be66-)" +
       std::to_string(100000000000 + i) + R"(","resourceVersion":")" + std::to_string(1000 + i) +
       R"(","creationTimestamp":")" + ts + R"(","labels":{"kubernetes.io/arch":"amd64",)"
       R"("kubernetes.io/hostname":")" + name + R"(","kubernetes.io/os":"linux",)"
       R"("mlsched.io/block":")" + block + R"(","mlsched.io/rack":")" + rack +
       R"(","node.kubernetes.io/instance-type":"gpu-8x-h100","nvidia.com/gpu.clique":"clique-)" +
       std::to_string(i / 16) + R"(","nvidia.com/gpu.count":"8","nvidia.com/gpu.present":"true",)"
       R"("nvidia.com/gpu.product":"NVIDIA-H100-80GB-HBM3","topology.kubernetes.io/region":"region-1",)"
       R"("topology.kubernetes.io/zone":")" + zone + R"("},"annotations":{"node.alpha.kubernetes.io/ttl":"0",)"
       R"("volumes.kubernetes.io/controller-managed-attach-detach":"true"},)"
       R"("managedFields":[{"manager":"kubelet","operation":"Update","apiVersion":"v1","time":")" +
       ts + R"(","fieldsType":"FieldsV1","fieldsV1":{"f:metadata":{"f:annotations":{".":{},)"
       R"("f:volumes.kubernetes.io/controller-managed-attach-detach":{}},"f:labels":{".":{},)"
       R"("f:kubernetes.io/arch":{},"f:kubernetes.io/hostname":{},"f:kubernetes.io/os":{}}}}},)"
       R"({"manager":"kubelet","operation":"Update","apiVersion":"v1","time":")" + ts +
       R"(","fieldsType":"FieldsV1","fieldsV1":{"f:status":{"f:allocatable":{"f:nvidia.com/gpu":{}},)"
       R"("f:capacity":{"f:nvidia.com/gpu":{}},"f:conditions":{"k:{\"type\":\"DiskPressure\"}":)"
       R"({"f:lastHeartbeatTime":{}},"k:{\"type\":\"MemoryPressure\"}":{"f:lastHeartbeatTime":{}},)"
       R"("k:{\"type\":\"PIDPressure\"}":{"f:lastHeartbeatTime":{}},"k:{\"type\":\"Ready\"}":)"
       R"({"f:lastHeartbeatTime":{}}},"f:images":{}}},"subresource":"status"}]},)"
       R"("spec":{"podCIDR":"10.244.)" + std::to_string(i % 256) + R"(.0/24","podCIDRs":["10.244.)" +
       std::to_string(i % 256) + R"(.0/24"],"providerID":"aws:///us-east-1a/i-0)" +
       std::to_string(1000000 + i) + R"(","taints":[{"key":"nvidia.com/gpu","value":"present","effect":"NoSchedule"}]},)"
       R"("status":{"capacity":{"cpu":"96","ephemeral-storage":"3Ti","hugepages-1Gi":"0",)"
       R"("hugepages-2Mi":"0","memory":"1056440040Ki","nvidia.com/gpu":"8","pods":"110"},)"
       R"("allocatable":{"cpu":"96","ephemeral-storage":"3Ti","hugepages-1Gi":"0","hugepages-2Mi":"0",)"
       R"("memory":"1000Gi","nvidia.com/gpu":"8","pods":"110"},"conditions":[)";
  const char* conds[][3] = {{"MemoryPressure", "False", "KubeletHasSufficientMemory"},
                            {"DiskPressure", "False", "KubeletHasNoDiskPressure"},
                            {"PIDPressure", "False", "KubeletHasSufficientPID"},
                            {"Ready", "True", "KubeletReady"}};
  for (int c = 0; c < 4; ++c) {
    if (c) s += ",";
    s += R"({"type":")" + std::string(conds[c][0]) + R"(","status":")" + conds[c][1] +
         R"(","lastHeartbeatTime":")" + ts + R"(","lastTransitionTime":")" + ts +
         R"(","reason":")" + conds[c][2] + R"(","message":"kubelet is posting ready status"})";
  }
  s += R"(],"addresses":[{"type":"InternalIP","address":"10.0.)" + std::to_string(i / 256) + "." +
       std::to_string(i % 256) + R"("},{"type":"Hostname","address":")" + name +
       R"("}],"daemonEndpoints":{"kubeletEndpoint":{"Port":10250}},"nodeInfo":{"machineID":"ec2)" +
       std::to_string(i) + R"(","systemUUID":"ec2)" + std::to_string(i) +
       R"(","bootID":"5c3c2a1e-0000-4000-8000-000000000000","kernelVersion":"5.15.0-1051-aws",)"
       R"("osImage":"Ubuntu 22.04.3 LTS","containerRuntimeVersion":"containerd://1.7.2",)"
       R"("kubeletVersion":"v1.29.3","kubeProxyVersion":"v1.29.3","operatingSystem":"linux",)"
       R"("architecture":"amd64"},"images":[)";
  const char* images[] = {"nvcr.io/nvidia/pytorch:24.01-py3", "nvcr.io/nvidia/tritonserver:24.01-py3",
                          "registry.example.com/ml/pytorch-train:2.3.0-cuda12.1",
                          "registry.k8s.io/kube-proxy:v1.29.3", "nvcr.io/nvidia/k8s-device-plugin:v0.14.5",
                          "docker.io/calico/node:v3.27.0", "registry.k8s.io/pause:3.9"};
  for (int k = 0; k < 7; ++k) {
    if (k) s += ",";
    s += R"({"names":[")" + std::string(images[k]) + R"(@sha256:4b2e1f0c9d8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c",")" +
         images[k] + R"("],"sizeBytes":)" + std::to_string(300000000 + 1000000 * k) + "}";
  }
  s += "]}}";
  return s;
}

const char* PodKindName(PodKind kind) {
  switch (kind) {
    case PodKind::kGpu:
      return "gpu";
    case PodKind::kStep:
      return "step";
    case PodKind::kFunction:
      return "function";
    case PodKind::kNoFit:
      return "nofit";
  }
  return "?";
}

std::string PodJson(PodKind kind) {
  std::string meta;
  switch (kind) {
    case PodKind::kGpu:
      meta = R"("name":"train-0","namespace":"ml","uid":"6f1c2d3e-0000-4000-8000-000000000001",)"
             R"("creationTimestamp":"2026-11-28T16:25:54Z","labels":{"app":"train"})";
      break;
    case PodKind::kStep:
      // Step "train" of run-7 (Argo-style pod name), reading what "prep" and "features" wrote.
      meta = R"("name":"run-7-train-2761839","namespace":"ml","uid":"6f1c2d3e-0000-4000-8000-000000000002",)"
             R"("creationTimestamp":"2026-11-28T16:25:54Z","labels":{"app":"pipeline"},)"
             R"("annotations":{"mlsched.io/pipeline":"run-7","mlsched.io/step":"train",)"
             R"("mlsched.io/after":"prep,features","mlsched.io/data-locality":"node"})";
      break;
    case PodKind::kFunction:
      meta = R"("name":"embed-3-7d9f8b6c4-x2k9q","namespace":"ml","uid":"6f1c2d3e-0000-4000-8000-000000000003",)"
             R"("creationTimestamp":"2026-11-28T16:25:54Z","labels":{"app":"embed-3"},)"
             R"("annotations":{"mlsched.io/function":"embed-3"})";
      break;
    case PodKind::kNoFit: {
      meta = R"("name":"train-big-0","namespace":"ml","uid":"6f1c2d3e-0000-4000-8000-000000000004",)"
             R"("creationTimestamp":"2026-11-28T16:25:54Z","labels":{"app":"train-big"})";
      std::string spec = kPodSpec;
      for (size_t at; (at = spec.find(R"("nvidia.com/gpu":"1")")) != std::string::npos;) {
        spec.replace(at, 20, R"("nvidia.com/gpu":"16")");
      }
      return R"({"metadata":{)" + meta + "}," + spec;
    }
  }
  return R"({"metadata":{)" + meta + "}," + kPodSpec;
}

std::string NamesBody(PodKind kind, int n, int rotate) {
  std::string b = R"({"Pod":)" + PodJson(kind) + R"(,"Nodes":null,"NodeNames":[)";
  for (int i = 0; i < n; ++i) b += (i ? ",\"" : "\"") + NodeName((i + rotate) % n) + "\"";
  return b + "]}";
}

std::string FullBody(PodKind kind, int n) {
  std::string b = R"({"Pod":)" + PodJson(kind) + R"(,"Nodes":{"metadata":{},"items":[)";
  for (int i = 0; i < n; ++i) {
    if (i) b += ",";
    b += NodeJson(i);
  }
  return b + R"(]},"NodeNames":null})";
}

std::string BindBody(int k, int nodes) {
  k %= kPendingPods;
  return R"({"PodName":"pending-)" + std::to_string(k) + R"(","PodNamespace":"ml","PodUID":"uid-pending-)" +
         std::to_string(k) + R"(","Node":")" + NodeName(k % nodes) + R"("})";
}

void FillModel(policy::Engine& engine, int n, policy::TimeMs now) {
  std::vector<policy::Node> nodes;
  for (int i = 0; i < n; ++i) nodes.push_back(ModelNode(i));
  engine.ReplaceNodes(nodes);
  // Two running pods per node so that usage is not trivially zero, and pending pods for bind.
  std::vector<policy::Pod> pods;
  for (int i = 0; i < n; ++i) {
    for (int k = 0; k < 2; ++k) {
      policy::Pod p;
      p.ns = "ml";
      p.name = "run-" + std::to_string(i) + "-" + std::to_string(k);
      p.uid = "uid-" + p.name;
      p.node_name = NodeName(i);
      p.phase = policy::PodPhase::kRunning;
      p.requests.milli_cpu = 8000;
      p.requests.memory = int64_t{64} << 30;
      p.requests.pods = 1;
      p.requests.SetScalar("nvidia.com/gpu", (i + k) % 3);
      pods.push_back(std::move(p));
    }
  }
  for (int k = 0; k < kPendingPods; ++k) {
    policy::Pod p;
    p.ns = "ml";
    p.name = "pending-" + std::to_string(k);
    p.uid = "uid-" + p.name;
    p.phase = policy::PodPhase::kPending;
    p.requests.milli_cpu = 100;
    p.requests.memory = int64_t{256} << 20;
    p.requests.pods = 1;
    pods.push_back(std::move(p));
  }
  engine.ReplacePods(std::move(pods), now);

  // Pipeline history: finished steps leave the pod watch as Succeeded pods with their node.
  // Runs are recorded oldest first, each step a minute after the previous one; the replayed
  // run (run-7) has finished prep and features, the others every step but push.
  for (int r = 0; r < kRuns; ++r) {
    const int done = r == 7 ? 2 : 4;
    for (int s = 0; s < done; ++s) {
      policy::Pod p;
      p.ns = "ml";
      p.name = "run-" + std::to_string(r) + "-" + kSteps[s];
      p.uid = "uid-" + p.name;
      p.node_name = NodeName(StepNode(r, s, n));
      p.phase = policy::PodPhase::kSucceeded;
      p.annotations.Set("mlsched.io/pipeline", "run-" + std::to_string(r));
      p.annotations.Set("mlsched.io/step", kSteps[s]);
      if (s > 0) p.annotations.Set("mlsched.io/after", kSteps[s - 1]);
      engine.UpsertPod(std::move(p), now - (kRuns - r) * 60'000 + s * 10'000);
    }
  }
  // Function history: each function ran on kWarmNodesPerFunction nodes in the last minutes.
  for (int f = 0; f < kFunctions; ++f) {
    for (int k = 0; k < kWarmNodesPerFunction; ++k) {
      policy::Pod p;
      p.ns = "ml";
      p.name = "embed-" + std::to_string(f) + "-" + std::to_string(k);
      p.uid = "uid-" + p.name;
      p.node_name = NodeName(FunctionNode(f, k, n));
      p.phase = policy::PodPhase::kSucceeded;
      p.annotations.Set("mlsched.io/function", "embed-" + std::to_string(f));
      engine.UpsertPod(std::move(p), now - 600'000 + f * 1000 + k * 100);
    }
  }
}

std::string CheckHistory(const policy::Engine& engine, int n, policy::TimeMs now) {
  struct Case {
    PodKind kind;
    const char* rule;
    int node;
  };
  const Case cases[] = {{PodKind::kStep, "pipeline_locality", StepNode(7, 0, n)},
                        {PodKind::kFunction, "function_warm", FunctionNode(3, 0, n)}};
  for (const Case& c : cases) {
    const std::string body = NamesBody(c.kind, n);
    extender::ExtenderArgs args;
    Status s = extender::DecodeExtenderArgs(body, extender::DecodeLimits(), &args);
    if (!s.ok()) return s.message();
    std::vector<policy::ScoreExplanation> ex = engine.ExplainScores(args.pod, args.candidates, now);
    int64_t score = -1;
    for (const policy::RuleScore& r : ex.at(static_cast<size_t>(c.node)).rules) {
      if (r.rule == c.rule) score = r.score;
    }
    if (score <= 0) {
      return std::string(PodKindName(c.kind)) + " pod: " + c.rule + " scores " +
             std::to_string(score) + " on " + NodeName(c.node) + ", where its history is";
    }
  }
  return "";
}

}  // namespace mlsched::bench
