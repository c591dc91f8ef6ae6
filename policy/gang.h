#pragma once

// Gangs: recognition of the conventions ML job operators use, and the book of gang state that
// makes gangs all-or-nothing through the stock scheduler (DESIGN §4): admission at filter,
// plan + reservation, the bind barrier, timeouts.
//
// Recognition precedence (first match wins; a pod matched by several conventions that disagree
// on the size is reported in the gang's `conflict` field and in the explain view):
//   0. spec.workloadRef / spec.schedulingGroup (Kubernetes native gang scheduling): not ours —
//      the scheduler's own gang logic owns the pod and mlsched treats it as an ordinary pod.
//   1. scheduler-plugins: label `scheduling.x-k8s.io/pod-group` (or the older annotation of the
//      same key); size = PodGroup.minMember, else `mlsched.io/gang-size`.
//   2. Volcano: annotation `scheduling.k8s.io/group-name` (or `scheduling.volcano.sh/group-name`);
//      size = the Volcano PodGroup's minMember, else `mlsched.io/gang-size`.
//   3. Kueue plain-pod groups: label `kueue.x-k8s.io/pod-group-name` + annotation
//      `kueue.x-k8s.io/pod-group-total-count`.
//   4. Kubeflow training jobs: label `training.kubeflow.org/job-name`; the size is known from a
//      PodGroup of the job's name (the training operator creates one when gang scheduling is
//      on) or from `mlsched.io/gang-size`; otherwise the pod is not treated as a gang member.
//   5. JobSet (`jobset.sigs.k8s.io/jobset-name`) with `mlsched.io/gang-size`.
//   6. mlsched: annotations `mlsched.io/gang` (name, unique in the namespace) +
//      `mlsched.io/gang-size` (minMember); labels of the same keys are accepted too.
// A gang whose size cannot be determined is no gang: its pods are scheduled one by one.

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "policy/cluster_model.h"
#include "policy/engine.h"
#include "policy/objects.h"
#include "policy/options.h"
#include "policy/topology.h"

namespace mlsched::policy {

struct GangSpec {
  std::string ns;
  std::string name;
  std::string source;          // "pod-group", "volcano", "kueue", "kubeflow", "jobset", "mlsched"
  int32_t min_member = 0;
  int64_t timeout_ms = 0;      // reservation lifetime without progress
  std::string conflict;        // non-empty when conventions disagree
  std::string Key() const { return ns + "/" + name; }
};

// Recognises the gang of `pod`; nullopt for an ordinary pod. `groups` may be null.
std::optional<GangSpec> RecognizeGang(const Pod& pod, const ClusterModel& model,
                                      const Options& options);

struct WaitingBind {
  std::string ns;
  std::string name;
  std::string node;
  TimeMs deadline = 0;
};

struct GangState {
  GangSpec spec;
  std::set<std::string> members;           // uids of non-terminal member pods
  std::map<std::string, std::string> plan; // uid -> reserved node (unbound members only)
  std::map<std::string, WaitingBind> waiting;  // uid -> bind parked at the barrier
  std::map<std::string, Resources> reservation_requests;  // uid -> what is reserved
  TimeMs planned_at = 0;
  TimeMs last_progress = 0;
  std::string reason;           // why it waits (last admission verdict)
  std::vector<std::string> plan_domains;
  bool ever_complete = false;   // reached minMember given nodes once (a running gang)
};

// A filter verdict for one gang member.
struct GangAdmission {
  enum class Kind : uint8_t { kNotGang, kPass, kWait };
  Kind kind = Kind::kNotGang;
  std::string planned_node;   // kPass: the only node to pass
  std::string reason;         // kWait: every node fails with this
  bool unresolvable = false;  // kWait: preemption cannot help
};

class GangBook {
 public:
  GangBook(ClusterModel& model, const Options& options);

  // Keeps membership and reservations in step with pod changes (a ClusterModel listener).
  void OnPod(const PodEntry* before, const PodEntry* after);
  // Re-recognises every pod's gang: PodGroups arrived, changed size or went away.
  void Refresh();

  // Filter-time admission for `pod` (known to the model). May plan and reserve.
  GangAdmission Admit(const Pod& pod, const Topology& topology, TimeMs now);
  // Whether `pod` is a gang member that must go through Admit (cheap; read-only).
  const GangState* GangOfPod(const Pod& pod) const;
  // The planned node of a member, or "".
  std::string PlannedNode(const Pod& pod) const;

  BindDecision Bind(const PodBinding& b, TimeMs now);
  void BindDone(const PodBinding& b, bool ok, const std::string& error, TimeMs now);
  std::vector<BindExpiry> Expire(TimeMs now);
  std::optional<TimeMs> NextDeadline() const;

  // True when `victim_uid` belongs to a gang with members on nodes other than `node`.
  bool SplitsGang(std::string_view victim_uid, std::string_view node,
                  std::vector<std::string>* same_node_members) const;

  const std::map<std::string, GangState>& gangs() const { return gangs_; }
  int64_t reservations() const;
  int64_t waiting_binds() const;
  GangView View(const GangState& g) const;

 private:
  GangState* StateFor(const GangSpec& spec);
  int32_t GivenNodes(const GangState& g) const;  // bound or assumed + waiting at the barrier
  void Reserve(GangState& g, const std::string& uid, const std::string& node,
               const Resources& req);
  void Unreserve(GangState& g, const std::string& uid);
  void ReleasePlan(GangState& g);
  bool PlanValid(const GangState& g, const std::string& uid) const;
  // Plans every unplaced member at once in the narrowest topology domain that holds them
  // (tightest fit among those), within the gang's required level. `pod` carries the gang's
  // topology annotations.
  bool Plan(GangState& g, const Pod& pod, const Topology& topology, TimeMs now,
            std::string* reason, bool* unresolvable);
  void MaybeForget(const std::string& key);

  ClusterModel& model_;
  const Options& options_;
  std::map<std::string, GangState> gangs_;          // by "ns/name"
  StringMap<std::string> gang_of_uid_;              // member uid -> gang key
};

// True when requests plus reservations exceed allocatable in some resource.
bool Overcommitted(const NodeState& s);

// True when the node may take pods of `pod` at all (schedulable, ready, taints, selector).
bool NodeEligible(const NodeState& s, const Pod& pod);

// Fits `req` into the node's free capacity (allocatable − requested − reserved + `give_back`)
// without allocating. `give_back` may be null.
bool FitsOnNode(const NodeState& s, const Resources& req, const Resources* give_back,
                std::string* why);

int64_t GpuCount(const Resources& r, const Options& options);

}  // namespace mlsched::policy
