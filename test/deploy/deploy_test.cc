// Renders the kustomize base in deploy/scheduler and its mutual-TLS overlay deploy/scheduler-tls
// (with `kubectl kustomize` when kubectl is on PATH, and always with a small built-in renderer
// that supports what they use: `resources` (files and directories), `namespace` and strategic
// merge `patches`) and checks that the pieces fit: the extender stanza names the verbs, port,
// prefix and scheme mlsched serves; the flags and the policy file load with mlsched's own
// parsers and pass its serving guard; probes, names, service account, RBAC (exactly what the
// code calls) and the scheduler's lease agree; every container runs non-root, read-only, without
// privilege escalation or capabilities, with requests and limits; in the TLS variant the
// scheduler's client certificate and mlsched's serving certificate come from one cert-manager
// CA, mounted where the flags and the scheduler's tlsConfig read them.

#include <doctest/doctest.h>
#include <yaml-cpp/yaml.h>

#include <array>
#include <cstdio>
#include <filesystem>
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

const std::string kDeploy = std::string(MLSCHED_SOURCE_DIR) + "/deploy";
const std::string kBase = kDeploy + "/scheduler";
const std::string kTls = kDeploy + "/scheduler-tls";

using test_files::ReadFile;

bool ClusterScoped(const std::string& kind) {
  static const std::set<std::string> kinds = {"Namespace", "ClusterRole", "ClusterRoleBinding",
                                              "CustomResourceDefinition", "PriorityClass",
                                              "ClusterIssuer"};
  return kinds.count(kind) > 0;
}

// Strategic merge as kustomize applies it to what these manifests use: maps merge key by key;
// lists whose items are maps with a `name` merge item by item (patch items first, as kustomize
// orders them); other lists and scalars are replaced.
YAML::Node Merge(const YAML::Node& base, const YAML::Node& patch) {
  if (!patch.IsMap() && !patch.IsSequence()) return YAML::Clone(patch);
  if (patch.IsMap() && base.IsMap()) {
    YAML::Node out = YAML::Clone(base);
    for (const auto& kv : patch) {
      std::string key = kv.first.as<std::string>();
      out[key] = out[key] ? Merge(out[key], kv.second) : YAML::Clone(kv.second);
    }
    return out;
  }
  auto named = [](const YAML::Node& seq) {
    if (!seq.IsSequence() || seq.size() == 0) return false;
    for (const auto& item : seq) {
      if (!item.IsMap() || !item["name"]) return false;
    }
    return true;
  };
  if (patch.IsSequence() && base.IsSequence() && named(patch) && named(base)) {
    YAML::Node out(YAML::NodeType::Sequence);
    std::set<std::string> patched;
    for (const auto& p : patch) {
      std::string name = p["name"].as<std::string>();
      patched.insert(name);
      YAML::Node merged = YAML::Clone(p);
      for (const auto& b : base) {
        if (b["name"].as<std::string>() == name) merged = Merge(b, p);
      }
      // kustomize keeps a merged item where the base had it; a new one goes first.
      bool in_base = false;
      for (const auto& b : base) in_base |= b["name"].as<std::string>() == name;
      if (!in_base) out.push_back(merged);
    }
    for (const auto& b : base) {
      std::string name = b["name"].as<std::string>();
      YAML::Node item = YAML::Clone(b);
      for (const auto& p : patch) {
        if (p["name"].as<std::string>() == name) item = Merge(b, p);
      }
      out.push_back(item);
    }
    return out;
  }
  return YAML::Clone(patch);
}

// The built-in renderer: every document of every `resources` file (a directory is rendered as
// a kustomization of its own), `patches` merged into the object of the same kind and name, and
// `namespace` set on namespaced objects and on ServiceAccount subjects of bindings (as
// kustomize does).
std::vector<YAML::Node> RenderBuiltin(const std::string& dir = kBase) {
  YAML::Node k = YAML::LoadFile(dir + "/kustomization.yaml");
  for (const auto& kv : k) {
    std::string key = kv.first.as<std::string>();
    INFO("kustomization key " << key);
    CHECK((key == "apiVersion" || key == "kind" || key == "namespace" || key == "resources" ||
           key == "patches"));
  }
  std::string ns = k["namespace"] ? k["namespace"].as<std::string>() : "";
  std::vector<YAML::Node> out;
  for (const auto& r : k["resources"]) {
    std::string path = dir + "/" + r.as<std::string>();
    std::vector<YAML::Node> docs;
    if (std::filesystem::is_directory(path)) {
      docs = RenderBuiltin(path);
    } else {
      for (YAML::Node doc : YAML::LoadAllFromFile(path)) {
        if (doc && !doc.IsNull()) docs.push_back(doc);
      }
    }
    for (auto& doc : docs) out.push_back(doc);
  }
  for (const auto& p : k["patches"]) {
    YAML::Node patch = YAML::LoadFile(dir + "/" + p["path"].as<std::string>());
    bool applied = false;
    for (auto& o : out) {
      if (o["kind"].as<std::string>() == patch["kind"].as<std::string>() &&
          o["metadata"]["name"].as<std::string>() == patch["metadata"]["name"].as<std::string>()) {
        o = Merge(o, patch);
        applied = true;
      }
    }
    CHECK_MESSAGE(applied, "patch " << p["path"].as<std::string>() << " matches no object");
  }
  for (auto& doc : out) {
    std::string kind = doc["kind"].as<std::string>();
    if (!ns.empty() && !ClusterScoped(kind)) doc["metadata"]["namespace"] = ns;
    if (!ns.empty() && doc["subjects"]) {
      for (auto s : doc["subjects"]) {
        if (s["kind"].as<std::string>() == "ServiceAccount") s["namespace"] = ns;
      }
    }
  }
  return out;
}

bool HaveKubectl() { return std::system("command -v kubectl >/dev/null 2>&1") == 0; }

std::vector<YAML::Node> RenderKubectl(const std::string& dir = kBase) {
  std::string cmd = "kubectl kustomize '" + dir + "' 2>&1";
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

// The volume of `pod` mounted in `container` at the directory holding `file`, or a null node.
YAML::Node VolumeOf(const YAML::Node& pod, const YAML::Node& container, const std::string& file) {
  for (const auto& m : container["volumeMounts"]) {
    std::string dir = m["mountPath"].as<std::string>() + "/";
    if (file.rfind(dir, 0) == 0 && file.find('/', dir.size()) == std::string::npos) {
      for (const auto& v : pod["volumes"]) {
        if (v["name"].as<std::string>() == m["name"].as<std::string>()) return v;
      }
    }
  }
  return YAML::Node();
}

// The cert-manager Certificate whose Secret `volume` mounts.
const YAML::Node* CertificateOf(const std::vector<YAML::Node>& objs, const YAML::Node& volume) {
  if (!volume || !volume["secret"]) return nullptr;
  for (const auto& o : objs) {
    if (o["kind"].as<std::string>() == "Certificate" &&
        o["spec"]["secretName"].as<std::string>() ==
            volume["secret"]["secretName"].as<std::string>()) {
      return &o;
    }
  }
  return nullptr;
}

void CheckRendered(const std::vector<YAML::Node>& objs, bool tls = false) {
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
        ReadFile((tls ? kTls : kBase) + "/scheduler-config.yaml"));
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
  CHECK(ext["enableHTTPS"].as<bool>() == tls);
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
  CHECK(url == std::string(tls ? "https" : "http") + "://127.0.0.1:" + std::to_string(flags.port) +
                   flags.url_prefix);
  // mlsched's own start-up guard accepts the flags without --insecure-serving or a warning.
  std::vector<std::string> warnings;
  CHECK(CheckServingSecurity(flags, &warnings) == "");
  CHECK(warnings.empty());
  CHECK_FALSE(flags.insecure_serving);
  CHECK(flags.tls_cert_file.empty() != tls);
  CHECK(flags.client_ca_file.empty() != tls);
  // Kubelet probes reach the pod IP: a probe-only port beyond loopback, the probes on it.
  REQUIRE(flags.health_port);
  CHECK(flags.health_bind_address == "0.0.0.0");
  CHECK(mlsched["ports"].size() == 1);
  CHECK(mlsched["ports"][0]["containerPort"].as<int>() == *flags.health_port);
  CHECK(mlsched["livenessProbe"]["httpGet"]["path"].as<std::string>() == "/healthz");
  CHECK(mlsched["livenessProbe"]["httpGet"]["port"].as<int>() == *flags.health_port);
  CHECK(mlsched["readinessProbe"]["httpGet"]["path"].as<std::string>() == "/readyz");
  CHECK(mlsched["readinessProbe"]["httpGet"]["port"].as<int>() == *flags.health_port);
  CHECK_FALSE(flags.debug_port);  // the explain view stays off in the cluster
  if (!tls) CHECK(IsLoopbackAddress(flags.bind_address));
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
    const YAML::Node config = VolumeOf(pod, c, flags.config);
    REQUIRE(config);
    CHECK(config["configMap"]["name"].as<std::string>() == "mlsched-config");
    for (const auto& m : c["volumeMounts"]) CHECK(m["readOnly"].as<bool>());
    CHECK(c["securityContext"]["readOnlyRootFilesystem"].as<bool>());
    CHECK_FALSE(c["securityContext"]["allowPrivilegeEscalation"].as<bool>());
    CHECK_FALSE((c["securityContext"]["privileged"] && c["securityContext"]["privileged"].as<bool>()));
    CHECK(Strings(c["securityContext"]["capabilities"]["drop"]) == std::vector<std::string>{"ALL"});
    CHECK_FALSE(c["securityContext"]["capabilities"]["add"]);
    CHECK_FALSE((c["securityContext"]["runAsUser"] && c["securityContext"]["runAsUser"].as<int>() == 0));
    for (const char* kind : {"requests", "limits"}) {
      for (const char* res : {"cpu", "memory"}) {
        INFO(kind << "." << res);
        CHECK(c["resources"][kind][res]);
      }
    }
    CHECK(c["livenessProbe"]);
    CHECK(c["readinessProbe"]);
  }
  CHECK(pod["securityContext"]["runAsNonRoot"].as<bool>());
  CHECK(pod["securityContext"]["runAsUser"].as<int>() != 0);
  CHECK(pod["securityContext"]["seccompProfile"]["type"].as<std::string>() == "RuntimeDefault");
  CHECK_FALSE((pod["hostNetwork"] && pod["hostNetwork"].as<bool>()));
  CHECK_FALSE((pod["hostPID"] && pod["hostPID"].as<bool>()));
  for (const auto& v : pod["volumes"]) CHECK_FALSE(v["hostPath"]);

  if (tls) {
    // mlsched's serving certificate and the scheduler's client certificate: cert-manager
    // Certificates from one issuer, mounted where the flags and tlsConfig read them.
    const YAML::Node tc = ext["tlsConfig"];
    REQUIRE(tc);
    CHECK_FALSE((tc["insecure"] && tc["insecure"].as<bool>()));
    const YAML::Node* client = CertificateOf(objs, VolumeOf(pod, ks, tc["certFile"].as<std::string>()));
    REQUIRE(client);
    CHECK(VolumeOf(pod, ks, tc["keyFile"].as<std::string>())["name"].as<std::string>() ==
          VolumeOf(pod, ks, tc["certFile"].as<std::string>())["name"].as<std::string>());
    CHECK(CertificateOf(objs, VolumeOf(pod, ks, tc["caFile"].as<std::string>())) == client);
    CHECK(Has(Strings((*client)["spec"]["usages"]), "client auth"));
    const YAML::Node* server = CertificateOf(objs, VolumeOf(pod, mlsched, flags.tls_cert_file));
    REQUIRE(server);
    CHECK(CertificateOf(objs, VolumeOf(pod, mlsched, flags.tls_private_key_file)) == server);
    CHECK(CertificateOf(objs, VolumeOf(pod, mlsched, flags.client_ca_file)) == server);
    CHECK(Has(Strings((*server)["spec"]["usages"]), "server auth"));
    CHECK(Has(Strings((*server)["spec"]["ipAddresses"]), "127.0.0.1"));
    for (const auto& [f, key] : {std::pair{flags.tls_cert_file, "tls.crt"},
                                 {flags.tls_private_key_file, "tls.key"},
                                 {flags.client_ca_file, "ca.crt"},
                                 {tc["certFile"].as<std::string>(), "tls.crt"},
                                 {tc["keyFile"].as<std::string>(), "tls.key"},
                                 {tc["caFile"].as<std::string>(), "ca.crt"}}) {
      CHECK(f.substr(f.rfind('/') + 1) == key);
    }
    // One CA: the client CA mlsched trusts (its Secret's ca.crt) is the client's issuer.
    CHECK((*server)["spec"]["issuerRef"]["name"].as<std::string>() ==
          (*client)["spec"]["issuerRef"]["name"].as<std::string>());
    const YAML::Node* issuer =
        Find(objs, "Issuer", (*server)["spec"]["issuerRef"]["name"].as<std::string>());
    REQUIRE(issuer);
    REQUIRE((*issuer)["spec"]["ca"]);
    const YAML::Node* ca = nullptr;
    for (const auto& o : objs) {
      if (o["kind"].as<std::string>() == "Certificate" &&
          o["spec"]["secretName"].as<std::string>() ==
              (*issuer)["spec"]["ca"]["secretName"].as<std::string>()) {
        ca = &o;
      }
    }
    REQUIRE(ca);
    CHECK((*ca)["spec"]["isCA"].as<bool>());
    for (const auto& v : pod["volumes"]) {
      if (v["secret"]) CHECK((v["secret"]["defaultMode"].as<int>() & 07) == 0);  // not world-readable
    }
    CHECK(pod["securityContext"]["fsGroup"].as<int>() == pod["securityContext"]["runAsUser"].as<int>());
  } else {
    CHECK_FALSE(ext["tlsConfig"]);
  }

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
  // Exactly the calls the code makes (k8s/cluster_sync.cc reflectors, k8s/binder.cc): nothing
  // more, nothing less. mlsched creates no Events.
  std::set<std::string> granted;
  for (const auto& rule : (*role)["rules"]) {
    CHECK_FALSE(rule["resourceNames"]);
    for (const auto& g : Strings(rule["apiGroups"])) {
      for (const auto& r : Strings(rule["resources"])) {
        for (const auto& v : Strings(rule["verbs"])) granted.insert(g + "/" + r + ":" + v);
      }
    }
  }
  CHECK(granted == std::set<std::string>{"/nodes:list", "/nodes:watch", "/pods:get", "/pods:list",
                                         "/pods:watch", "/pods/binding:create",
                                         "scheduling.x-k8s.io/podgroups:list",
                                         "scheduling.x-k8s.io/podgroups:watch"});
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

TEST_CASE("the mutual-TLS overlay renders (built-in renderer) and its pieces fit") {
  CheckRendered(RenderBuiltin(kTls), /*tls=*/true);
  // The patch embeds the TLS scheduler configuration verbatim.
  YAML::Node patch = YAML::LoadFile(kTls + "/configmap-patch.yaml");
  CHECK(patch["data"]["scheduler-config.yaml"].as<std::string>() ==
        ReadFile(kTls + "/scheduler-config.yaml"));
}

TEST_CASE("kubectl kustomize renders the same objects, and they fit") {
  if (!HaveKubectl()) {
    MESSAGE("kubectl is not on PATH: only the built-in renderer was checked");
    return;
  }
  for (bool tls : {false, true}) {
    INFO("variant " << (tls ? "scheduler-tls" : "scheduler"));
    auto rendered = RenderKubectl(tls ? kTls : kBase);
    CheckRendered(rendered, tls);
    std::set<std::string> a, b;
    for (const auto& o : rendered) a.insert(Id(o));
    for (const auto& o : RenderBuiltin(tls ? kTls : kBase)) b.insert(Id(o));
    CHECK(a == b);
  }
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
