// Renders the kustomize base in deploy/scheduler (with `kubectl kustomize` when kubectl is on
// PATH, and always with a small built-in renderer that supports what the base uses:
// `resources` and `namespace`) and checks that the pieces fit: the extender stanza names the
// verbs, port and prefix mlsched serves; the flags and the policy file load with mlsched's own
// parsers; probes, names, service account, RBAC and the scheduler's lease agree.

#include <doctest/doctest.h>
#include <yaml-cpp/yaml.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "test/test_files.h"
#include "extender/config.h"
#include "k8s/cluster_file.h"

#ifndef MLSCHED_SOURCE_DIR
#error "MLSCHED_SOURCE_DIR must name the repository root"
#endif

namespace mlsched::extender {
namespace {

const std::string kBase = std::string(MLSCHED_SOURCE_DIR) + "/deploy/scheduler";

using test_files::ReadFile;

bool ClusterScoped(const std::string& kind) {
  static const std::set<std::string> kinds = {"Namespace", "ClusterRole", "ClusterRoleBinding",
                                              "CustomResourceDefinition", "PriorityClass"};
  return kinds.count(kind) > 0;
}

// The built-in renderer: every document of every `resources` file, with `namespace` set on
// namespaced objects and on ServiceAccount subjects of bindings (as kustomize does).
std::vector<YAML::Node> RenderBuiltin() {
  YAML::Node k = YAML::LoadFile(kBase + "/kustomization.yaml");
  for (const auto& kv : k) {
    std::string key = kv.first.as<std::string>();
    INFO("kustomization key " << key);
    CHECK((key == "apiVersion" || key == "kind" || key == "namespace" || key == "resources"));
  }
  std::string ns = k["namespace"] ? k["namespace"].as<std::string>() : "";
  std::vector<YAML::Node> out;
  for (const auto& r : k["resources"]) {
    for (YAML::Node doc : YAML::LoadAllFromFile(kBase + "/" + r.as<std::string>())) {
      if (!doc || doc.IsNull()) continue;
      std::string kind = doc["kind"].as<std::string>();
      if (!ns.empty() && !ClusterScoped(kind)) doc["metadata"]["namespace"] = ns;
      if (!ns.empty() && doc["subjects"]) {
        for (auto s : doc["subjects"]) {
          if (s["kind"].as<std::string>() == "ServiceAccount") s["namespace"] = ns;
        }
      }
      out.push_back(doc);
    }
  }
  return out;
}

bool HaveKubectl() { return std::system("command -v kubectl >/dev/null 2>&1") == 0; }

std::vector<YAML::Node> RenderKubectl() {
  std::string cmd = "kubectl kustomize '" + kBase + "' 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  std::string text;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) text.append(buf.data(), n);
  int rc = pclose(p);
  REQUIRE_MESSAGE(rc == 0, "kubectl kustomize failed: " << text);
  std::vector<YAML::Node> out;
  for (auto& d : YAML::LoadAll(text)) {
    if (d && !d.IsNull()) out.push_back(d);
  }
  return out;
}

std::string Id(const YAML::Node& o) {
  std::string ns = o["metadata"]["namespace"] ? o["metadata"]["namespace"].as<std::string>() : "";
  return o["kind"].as<std::string>() + "/" + ns + "/" + o["metadata"]["name"].as<std::string>();
}

const YAML::Node* Find(const std::vector<YAML::Node>& objs, const std::string& kind,
                       const std::string& name) {
  for (const auto& o : objs) {
    if (o["kind"].as<std::string>() == kind && o["metadata"]["name"].as<std::string>() == name) {
      return &o;
    }
  }
  return nullptr;
}

YAML::Node Container(const YAML::Node& deployment, const std::string& name) {
  for (const auto& c : deployment["spec"]["template"]["spec"]["containers"]) {
    if (c["name"].as<std::string>() == name) return c;
  }
  FAIL("no container " << name);
  return YAML::Node();
}

std::vector<std::string> Strings(const YAML::Node& seq) {
  std::vector<std::string> out;
  if (seq) {
    for (const auto& s : seq) out.push_back(s.as<std::string>());
  }
  return out;
}

bool Has(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

// True when some rule of `role` grants `verb` on `group`/`resource`.
bool Allows(const YAML::Node& role, const std::string& group, const std::string& resource,
            const std::string& verb) {
  for (const auto& rule : role["rules"]) {
    if (Has(Strings(rule["apiGroups"]), group) && Has(Strings(rule["resources"]), resource) &&
        Has(Strings(rule["verbs"]), verb)) {
      return true;
    }
  }
  return false;
}

void CheckRendered(const std::vector<YAML::Node>& objs) {
  const std::string ns = "mlsched";
  for (const auto& o : objs) {
    if (!ClusterScoped(o["kind"].as<std::string>())) {
      CHECK_MESSAGE(o["metadata"]["namespace"].as<std::string>() == ns, Id(o));
    }
  }
  const YAML::Node* dep = Find(objs, "Deployment", "mlsched-scheduler");
  const YAML::Node* cm = Find(objs, "ConfigMap", "mlsched-config");
  const YAML::Node* sa = Find(objs, "ServiceAccount", "mlsched-scheduler");
  REQUIRE(dep);
  REQUIRE(cm);
  REQUIRE(sa);
  REQUIRE(Find(objs, "Namespace", ns));
  const YAML::Node pod = (*dep)["spec"]["template"]["spec"];
  CHECK(pod["serviceAccountName"].as<std::string>() == "mlsched-scheduler");

  // The scheduler configuration, as mounted.
  YAML::Node sched = YAML::Load((*cm)["data"]["scheduler-config.yaml"].as<std::string>());
  CHECK((*cm)["data"]["scheduler-config.yaml"].as<std::string>() ==
        ReadFile(kBase + "/scheduler-config.yaml"));
  CHECK(sched["apiVersion"].as<std::string>() == "kubescheduler.config.k8s.io/v1");
  CHECK(sched["kind"].as<std::string>() == "KubeSchedulerConfiguration");
  CHECK(sched["percentageOfNodesToScore"].as<int>() == 100);
  REQUIRE(sched["profiles"].size() == 1);
  const std::string scheduler_name = sched["profiles"][0]["schedulerName"].as<std::string>();
  REQUIRE(sched["extenders"].size() == 1);
  YAML::Node ext = sched["extenders"][0];
  CHECK(ext["filterVerb"].as<std::string>() == "filter");
  CHECK(ext["prioritizeVerb"].as<std::string>() == "prioritize");
  CHECK(ext["bindVerb"].as<std::string>() == "bind");
  CHECK(ext["preemptVerb"].as<std::string>() == "preempt");
  CHECK(ext["nodeCacheCapable"].as<bool>());
  CHECK(ext["weight"].as<int>() > 0);
  CHECK_FALSE(ext["enableHTTPS"].as<bool>());
  int64_t http_timeout_ms = 0;
  REQUIRE(ParseDurationMs(ext["httpTimeout"].as<std::string>(), &http_timeout_ms));

  // The extender's flags, parsed by mlsched's own parser, serve what the stanza calls.
  YAML::Node mlsched = Container(*dep, "mlsched-extender");
  std::vector<std::string> args = Strings(mlsched["args"]);
  std::vector<const char*> argv = {"mlsched-extender"};
  for (const auto& a : args) argv.push_back(a.c_str());
  Flags flags;
  auto errors = ParseFlags(static_cast<int>(argv.size()), argv.data(), &flags);
  CHECK_MESSAGE(errors.empty(), errors.front());
  CHECK(flags.cluster_file.empty());
  const std::string url = ext["urlPrefix"].as<std::string>();
  CHECK(url == "http://127.0.0.1:" + std::to_string(flags.port) + flags.url_prefix);
  CHECK(mlsched["ports"][0]["containerPort"].as<int>() == flags.port);
  CHECK(mlsched["livenessProbe"]["httpGet"]["path"].as<std::string>() == "/healthz");
  CHECK(mlsched["livenessProbe"]["httpGet"]["port"].as<int>() == flags.port);
  CHECK(mlsched["readinessProbe"]["httpGet"]["path"].as<std::string>() == "/readyz");
  CHECK(mlsched["readinessProbe"]["httpGet"]["port"].as<int>() == flags.port);
  // Probes reach the pod IP: the server must listen beyond loopback.
  CHECK(flags.bind_address == "0.0.0.0");
  CHECK(pod["terminationGracePeriodSeconds"].as<int64_t>() * 1000 > flags.shutdown_grace_ms);

  // The policy options load with mlsched's loader, and the bind barrier fits the timeout.
  const std::string mount = "/etc/mlsched/";
  REQUIRE(flags.config.rfind(mount, 0) == 0);
  std::string policy_key = flags.config.substr(mount.size());
  REQUIRE((*cm)["data"][policy_key]);
  CHECK((*cm)["data"][policy_key].as<std::string>() == ReadFile(kBase + "/policy.yaml"));
  policy::Options options;
  auto policy_errors =
      ParsePolicyOptions((*cm)["data"][policy_key].as<std::string>(), policy_key, &options);
  CHECK_MESSAGE(policy_errors.empty(), policy_errors.front());
  CHECK(options.barrier_timeout_ms + 5'000 <= http_timeout_ms);
  CHECK(Has(options.scheduler_names, scheduler_name));

  // kube-scheduler reads the same mount.
  YAML::Node ks = Container(*dep, "kube-scheduler");
  CHECK(ks["image"].as<std::string>().rfind("registry.k8s.io/kube-scheduler:", 0) == 0);
  CHECK(Has(Strings(ks["command"]), "--config=" + mount + "scheduler-config.yaml"));
  for (const YAML::Node& c : {ks, mlsched}) {
    INFO("container " << c["name"].as<std::string>());
    CHECK(c["volumeMounts"][0]["mountPath"].as<std::string>() + "/" == mount);
    CHECK(c["volumeMounts"][0]["readOnly"].as<bool>());
    CHECK(c["securityContext"]["readOnlyRootFilesystem"].as<bool>());
    CHECK_FALSE(c["securityContext"]["allowPrivilegeEscalation"].as<bool>());
    CHECK(Strings(c["securityContext"]["capabilities"]["drop"]) == std::vector<std::string>{"ALL"});
    CHECK(c["resources"]["requests"]["cpu"]);
    CHECK(c["resources"]["requests"]["memory"]);
    CHECK(c["resources"]["limits"]["memory"]);
    CHECK(c["livenessProbe"]);
    CHECK(c["readinessProbe"]);
  }
  CHECK(pod["securityContext"]["runAsNonRoot"].as<bool>());
  CHECK(pod["volumes"][0]["configMap"]["name"].as<std::string>() == "mlsched-config");

  // RBAC: every binding names our service account in our namespace; the roles grant what
  // mlsched and a second scheduler need, and no wildcard or secret access.
  std::set<std::string> bound_roles;
  for (const auto& o : objs) {
    std::string kind = o["kind"].as<std::string>();
    if (kind != "RoleBinding" && kind != "ClusterRoleBinding") continue;
    INFO(Id(o));
    REQUIRE(o["subjects"].size() == 1);
    CHECK(o["subjects"][0]["kind"].as<std::string>() == "ServiceAccount");
    CHECK(o["subjects"][0]["name"].as<std::string>() == "mlsched-scheduler");
    CHECK(o["subjects"][0]["namespace"].as<std::string>() == ns);
    bound_roles.insert(o["roleRef"]["kind"].as<std::string>() + "/" +
                       o["roleRef"]["name"].as<std::string>());
  }
  CHECK(bound_roles.count("ClusterRole/system:kube-scheduler"));
  CHECK(bound_roles.count("ClusterRole/system:volume-scheduler"));
  CHECK(bound_roles.count("ClusterRole/mlsched-extender"));
  CHECK(bound_roles.count("Role/mlsched-scheduler-lease"));
  const YAML::Node* role = Find(objs, "ClusterRole", "mlsched-extender");
  REQUIRE(role);
  CHECK(Allows(*role, "", "nodes", "watch"));
  CHECK(Allows(*role, "", "pods", "list"));
  CHECK(Allows(*role, "", "pods", "watch"));
  CHECK(Allows(*role, "", "pods/binding", "create"));
  CHECK(Allows(*role, "scheduling.x-k8s.io", "podgroups", "watch"));
  CHECK_FALSE(Allows(*role, "", "pods", "delete"));
  CHECK_FALSE(Allows(*role, "", "nodes", "update"));
  for (const auto& o : objs) {
    std::string kind = o["kind"].as<std::string>();
    if (kind != "Role" && kind != "ClusterRole") continue;
    for (const auto& rule : o["rules"]) {
      for (const char* field : {"apiGroups", "resources", "verbs"}) {
        CHECK_FALSE(Has(Strings(rule[field]), "*"));
      }
      CHECK_FALSE(Has(Strings(rule["resources"]), "secrets"));
    }
  }
  // The lease the scheduler elects with is the one the Role lets it update.
  const YAML::Node* lease = Find(objs, "Role", "mlsched-scheduler-lease");
  REQUIRE(lease);
  CHECK(sched["leaderElection"]["resourceNamespace"].as<std::string>() == ns);
  std::string lease_name = sched["leaderElection"]["resourceName"].as<std::string>();
  bool lease_ok = false;
  for (const auto& rule : (*lease)["rules"]) {
    if (Has(Strings(rule["resourceNames"]), lease_name) && Has(Strings(rule["verbs"]), "update")) {
      lease_ok = true;
    }
  }
  CHECK(lease_ok);

  // The NetworkPolicy selects this pod.
  const YAML::Node* np = Find(objs, "NetworkPolicy", "mlsched-scheduler-deny-ingress");
  REQUIRE(np);
  for (const auto& kv : (*np)["spec"]["podSelector"]["matchLabels"]) {
    CHECK(pod.IsMap());
    CHECK((*dep)["spec"]["template"]["metadata"]["labels"][kv.first.as<std::string>()].as<std::string>() ==
          kv.second.as<std::string>());
  }
}

TEST_CASE("the kustomize base renders (built-in renderer) and its pieces fit") {
  CheckRendered(RenderBuiltin());
}

TEST_CASE("kubectl kustomize renders the same objects, and they fit") {
  if (!HaveKubectl()) {
    MESSAGE("kubectl is not on PATH: only the built-in renderer was checked");
    return;
  }
  auto rendered = RenderKubectl();
  CheckRendered(rendered);
  std::set<std::string> a, b;
  for (const auto& o : rendered) a.insert(Id(o));
  for (const auto& o : RenderBuiltin()) b.insert(Id(o));
  CHECK(a == b);
}

TEST_CASE("the demo cluster file loads and has the documented shape") {
  // Loaded as --cluster-file loads it.
  k8s::ClusterObjects c;
  Status s = k8s::LoadClusterFile(std::string(MLSCHED_SOURCE_DIR) + "/deploy/demo/cluster.yaml", &c);
  REQUIRE_MESSAGE(s.ok(), s.message());
  int gpu_nodes = 0, pending = 0, running = 0;
  std::set<std::string> zones, blocks, racks;
  for (const auto& n : c.nodes) {
    zones.insert(n.labels.Get("topology.kubernetes.io/zone").data());
    blocks.insert(std::string(n.labels.Get("mlsched.io/block")));
    racks.insert(std::string(n.labels.Get("mlsched.io/rack")));
    if (n.allocatable.Scalar("nvidia.com/gpu") == 8) {
      ++gpu_nodes;
      CHECK(n.labels.Has("nvidia.com/gpu.product"));
      CHECK(n.labels.Has("nvidia.com/gpu.clique"));
    }
    CHECK(n.ready);
  }
  for (const auto& p : c.pods) (p.node_name.empty() ? pending : running)++;
  CHECK(c.nodes.size() == 16);
  CHECK(zones.size() == 2);
  CHECK(blocks.size() == 4);
  CHECK(racks.size() == 4);
  CHECK(gpu_nodes > 0);
  CHECK(gpu_nodes < 16);
  CHECK(running > 0);
  CHECK(pending >= 2);
  CHECK(c.pod_groups.size() >= 1);
}

}  // namespace
}  // namespace mlsched::extender
