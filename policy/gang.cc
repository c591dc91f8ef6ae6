#include "policy/gang.h"

#include <algorithm>
#include <charconv>
#include <limits>
#include <span>

namespace mlsched::policy {
namespace {

constexpr std::string_view kPodGroupLabel = "scheduling.x-k8s.io/pod-group";
constexpr std::string_view kVolcanoGroup = "scheduling.k8s.io/group-name";
constexpr std::string_view kVolcanoGroupNew = "scheduling.volcano.sh/group-name";
constexpr std::string_view kKueueGroup = "kueue.x-k8s.io/pod-group-name";
constexpr std::string_view kKueueCount = "kueue.x-k8s.io/pod-group-total-count";
constexpr std::string_view kKubeflowJob = "training.kubeflow.org/job-name";
constexpr std::string_view kJobSet = "jobset.sigs.k8s.io/jobset-name";
constexpr std::string_view kMlschedGang = "mlsched.io/gang";
constexpr std::string_view kMlschedGangSize = "mlsched.io/gang-size";

// A label first, then an annotation of the same key.
std::string_view Meta(const Pod& p, std::string_view key) {
  if (const std::string* v = p.labels.Find(key)) return *v;
  if (const std::string* v = p.annotations.Find(key)) return *v;
  return {};
}

// A positive gang size, or 0 when the text is not one.
int32_t ParseSize(std::string_view s) {
  int32_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size() || v <= 0 || v > 100000) return 0;
  return v;
}

std::string GpuWords(int64_t gpus) {
  return std::to_string(gpus) + (gpus == 1 ? " GPU" : " GPUs");
}

std::string Seconds(int64_t ms) { return std::to_string((ms + 999) / 1000) + "s"; }

}  // namespace

int64_t GpuCount(const Resources& r, const Options& options) {
  int64_t n = 0;
  for (const std::string& name : options.gpu_resources) n += r.Scalar(name);
  return n;
}

std::optional<GangSpec> RecognizeGang(const Pod& pod, const ClusterModel& model,
                                      const Options& options) {
  if (!pod.native_gang.empty()) return std::nullopt;  // never fight the scheduler's own gangs
  const int32_t annotated_size = ParseSize(Meta(pod, kMlschedGangSize));
  GangSpec spec;
  spec.ns = pod.ns;
  const PodGroup* group = nullptr;
  auto from_group = [&](std::string_view name, const char* source) {
    spec.name = std::string(name);
    spec.source = source;
    group = model.FindPodGroup(pod.ns, name);
    spec.min_member = group ? group->min_member : annotated_size;
  };
  if (std::string_view pg = Meta(pod, kPodGroupLabel); !pg.empty()) {
    from_group(pg, "pod-group");
  } else if (std::string_view vg = pod.annotations.Get(kVolcanoGroup); !vg.empty()) {
    from_group(vg, "volcano");
  } else if (std::string_view vg2 = pod.annotations.Get(kVolcanoGroupNew); !vg2.empty()) {
    from_group(vg2, "volcano");
  } else if (std::string_view kg = pod.labels.Get(kKueueGroup); !kg.empty()) {
    spec.name = std::string(kg);
    spec.source = "kueue";
    spec.min_member = ParseSize(Meta(pod, kKueueCount));
    if (spec.min_member == 0) spec.min_member = annotated_size;
  } else if (std::string_view job = pod.labels.Get(kKubeflowJob); !job.empty()) {
    from_group(job, "kubeflow");
  } else if (std::string_view js = pod.labels.Get(kJobSet); !js.empty()) {
    spec.name = std::string(js);
    spec.source = "jobset";
    spec.min_member = annotated_size;
  } else if (std::string_view own = Meta(pod, kMlschedGang); !own.empty()) {
    spec.name = std::string(own);
    spec.source = "mlsched";
    spec.min_member = annotated_size;
  } else {
    return std::nullopt;
  }
  if (spec.min_member <= 0) return std::nullopt;  // size unknown: not a gang
  if (annotated_size > 0 && annotated_size != spec.min_member) {
    spec.conflict = std::string(kMlschedGangSize) + "=" + std::to_string(annotated_size) +
                    " disagrees with " + spec.source + " size " +
                    std::to_string(spec.min_member) + "; using " + spec.source;
  }
  spec.timeout_ms = group && group->schedule_timeout_seconds > 0
                        ? int64_t{group->schedule_timeout_seconds} * 1000
                        : options.gang_timeout_ms;
  return spec;
}

bool Overcommitted(const NodeState& s) {
  const Resources& a = s.node.allocatable;
  const Resources& u = s.requested;
  const Resources& r = s.reserved;
  if (u.milli_cpu + r.milli_cpu > a.milli_cpu || u.memory + r.memory > a.memory ||
      u.pods + r.pods > a.pods || u.ephemeral_storage + r.ephemeral_storage > a.ephemeral_storage) {
    return true;
  }
  for (const ScalarQuantity& q : r.scalars) {
    if (u.Scalar(q.name) + q.value > a.Scalar(q.name)) return true;
  }
  for (const ScalarQuantity& q : u.scalars) {
    if (q.value + r.Scalar(q.name) > a.Scalar(q.name)) return true;
  }
  return false;
}

bool NodeEligible(const NodeState& s, const Pod& pod) {
  if (!s.present || !s.node.ready || s.node.unschedulable) return false;
  if (!MatchesNodeSelector(pod.node_selector, s.node.labels)) return false;
  return ToleratesAll(pod.tolerations, s.node.taints);
}

bool FitsOnNode(const NodeState& s, const Resources& req, const Resources* give_back,
                std::string* why) {
  const Resources& a = s.node.allocatable;
  const Resources& u = s.requested;
  const Resources& r = s.reserved;
  auto gb = [give_back](auto field) -> int64_t { return give_back ? give_back->*field : 0; };
  auto check = [&](int64_t want, int64_t alloc, int64_t used, int64_t held, int64_t back,
                   std::string_view resource) {
    if (want <= 0 || want <= alloc - used - held + back) return true;
    if (why) *why = InsufficientReason(resource);
    return false;
  };
  int64_t pods_req = req.pods > 0 ? req.pods : 1;
  if (pods_req > a.pods - u.pods - r.pods + gb(&Resources::pods)) {
    if (why) *why = kTooManyPods;
    return false;
  }
  if (!check(req.milli_cpu, a.milli_cpu, u.milli_cpu, r.milli_cpu, gb(&Resources::milli_cpu),
             "cpu") ||
      !check(req.memory, a.memory, u.memory, r.memory, gb(&Resources::memory), "memory") ||
      !check(req.ephemeral_storage, a.ephemeral_storage, u.ephemeral_storage,
             r.ephemeral_storage, gb(&Resources::ephemeral_storage), "ephemeral-storage")) {
    return false;
  }
  for (const ScalarQuantity& q : req.scalars) {
    int64_t back = give_back ? give_back->Scalar(q.name) : 0;
    if (q.value > a.Scalar(q.name) - u.Scalar(q.name) - r.Scalar(q.name) + back) {
      if (why) *why = InsufficientReason(q.name);
      return false;
    }
  }
  return true;
}

// ---------------------------------------------------------------------------------------------

GangBook::GangBook(ClusterModel& model, const Options& options)
    : model_(model), options_(options) {}

GangState* GangBook::StateFor(const GangSpec& spec) {
  GangState& g = gangs_[spec.Key()];
  g.spec = spec;
  return &g;
}

void GangBook::OnPod(const PodEntry* before, const PodEntry* after) {
  const std::string& uid = after ? after->pod.uid : before->pod.uid;
  std::string old_key;
  if (auto it = gang_of_uid_.find(uid); it != gang_of_uid_.end()) old_key = it->second;
  std::string new_key;
  std::optional<GangSpec> spec;
  if (after && !after->pod.IsTerminal()) {
    spec = RecognizeGang(after->pod, model_, options_);
    if (spec) new_key = spec->Key();
  }
  if (!old_key.empty() && old_key != new_key) {
    auto git = gangs_.find(old_key);
    if (git != gangs_.end()) {
      GangState& g = git->second;
      Unreserve(g, uid);
      g.members.erase(uid);
      // A parked bind of a pod that left the gang is failed by the next Expire.
    }
    gang_of_uid_.erase(uid);
    MaybeForget(old_key);
  }
  if (new_key.empty()) return;
  GangState* g;
  if (auto git = gangs_.find(new_key); git != gangs_.end()) {
    g = &git->second;
    // Membership changes never shrink a known size (a PodGroup may arrive after its pods).
    if (spec->min_member != g->spec.min_member || spec->timeout_ms != g->spec.timeout_ms) {
      g->spec = *spec;
    }
  } else {
    g = StateFor(*spec);
  }
  g->members.insert(uid);
  gang_of_uid_[uid] = new_key;
  // Once the pod is counted on a node (bound or assumed) its reservation is no longer needed.
  if (!after->counted_node.empty()) {
    if (g->plan.count(uid)) Unreserve(*g, uid);
  }
}

void GangBook::Refresh() {
  for (const auto& [uid, e] : model_.pods()) OnPod(&e, &e);
}

void GangBook::MaybeForget(const std::string& key) {
  auto it = gangs_.find(key);
  if (it == gangs_.end()) return;
  GangState& g = it->second;
  if (g.members.empty() && g.waiting.empty()) {
    ReleasePlan(g);
    gangs_.erase(it);
  }
}

int32_t GangBook::GivenNodes(const GangState& g) const {
  int32_t n = 0;
  for (const std::string& uid : g.members) {
    const PodEntry* e = model_.FindPod(uid);
    if (e && !e->counted_node.empty()) {
      ++n;
    } else if (g.waiting.count(uid)) {
      ++n;
    }
  }
  return n;
}

void GangBook::Reserve(GangState& g, const std::string& uid, const std::string& node,
                       const Resources& req) {
  int32_t idx = model_.NodeIndex(node);
  if (idx < 0) return;
  Unreserve(g, uid);
  Resources held = req;
  if (held.pods == 0) held.pods = 1;
  model_.AddReserved(idx, held, +1);
  g.plan[uid] = node;
  g.reservation_requests[uid] = std::move(held);
}

void GangBook::Unreserve(GangState& g, const std::string& uid) {
  auto it = g.plan.find(uid);
  if (it == g.plan.end()) return;
  auto rq = g.reservation_requests.find(uid);
  int32_t idx = model_.NodeIndex(it->second);
  if (idx >= 0 && rq != g.reservation_requests.end()) {
    model_.AddReserved(idx, rq->second, -1);
  }
  if (rq != g.reservation_requests.end()) g.reservation_requests.erase(rq);
  g.plan.erase(it);
}

void GangBook::ReleasePlan(GangState& g) {
  std::vector<std::string> uids;
  for (const auto& [uid, node] : g.plan) {
    if (!g.waiting.count(uid)) uids.push_back(uid);
  }
  for (const std::string& uid : uids) Unreserve(g, uid);
  if (g.plan.empty()) g.plan_domains.clear();
}

bool GangBook::PlanValid(const GangState& g, const std::string& uid) const {
  auto it = g.plan.find(uid);
  if (it == g.plan.end()) return false;
  int32_t idx = model_.NodeIndex(it->second);
  if (idx < 0) return false;
  const NodeState& s = model_.node(idx);
  const PodEntry* e = model_.FindPod(uid);
  if (!e || !NodeEligible(s, e->pod)) return false;
  // The reservation is already subtracted: the node is still good while nothing on it is
  // overcommitted (capacity taken by pods mlsched never planned shows up here).
  return !Overcommitted(s);
}

const GangState* GangBook::GangOfPod(const Pod& pod) const {
  auto it = gang_of_uid_.find(pod.uid);
  if (it == gang_of_uid_.end()) return nullptr;
  auto git = gangs_.find(it->second);
  return git == gangs_.end() ? nullptr : &git->second;
}

std::string GangBook::PlannedNode(const Pod& pod) const {
  const GangState* g = GangOfPod(pod);
  if (!g) return {};
  auto it = g->plan.find(pod.uid);
  return it == g->plan.end() ? std::string() : it->second;
}

namespace {

struct Member {
  std::string uid;
  const Pod* pod = nullptr;
  int64_t gpus = 0;
};

// Best-fit packing of `members` onto the node slots `nodes`, given per-slot free capacity.
// Places as many members as it can; returns the count placed, the slot chosen per member (-1:
// none) and, in `left`, what stays free on each of `nodes` afterwards. Copies only the
// domain's capacity, so trying every domain of a level stays linear in the cluster size.
int PackMembers(const std::vector<Member>& members, std::span<const uint32_t> nodes,
                const std::vector<Resources>& free, const ClusterModel& model,
                const Options& options, std::vector<int32_t>* chosen,
                std::vector<Resources>* left) {
  chosen->assign(members.size(), -1);
  left->resize(nodes.size());
  for (size_t i = 0; i < nodes.size(); ++i) (*left)[i] = free[nodes[i]];
  int placed = 0;
  for (size_t m = 0; m < members.size(); ++m) {
    const Member& mem = members[m];
    int best = -1;
    int64_t best_gpu_left = std::numeric_limits<int64_t>::max();
    int64_t best_cpu_left = std::numeric_limits<int64_t>::max();
    for (size_t i = 0; i < nodes.size(); ++i) {
      const Resources& f = (*left)[i];
      if (f.pods < 1 || !f.Fits(mem.pod->requests)) continue;
      if (!NodeEligible(model.node(nodes[i]), *mem.pod)) continue;
      int64_t gpu_left = GpuCount(f, options) - mem.gpus;
      int64_t cpu_left = f.milli_cpu - mem.pod->requests.milli_cpu;
      // Best fit: fewest GPUs left (exact fits first), then least cpu left, then slot order.
      if (gpu_left < best_gpu_left || (gpu_left == best_gpu_left && cpu_left < best_cpu_left)) {
        best = static_cast<int>(i);
        best_gpu_left = gpu_left;
        best_cpu_left = cpu_left;
      }
    }
    if (best >= 0) {
      Resources take = mem.pod->requests;
      take.pods = 1;
      (*left)[best] -= take;
      (*chosen)[m] = static_cast<int32_t>(nodes[best]);
      ++placed;
    }
  }
  return placed;
}

}  // namespace

bool GangBook::Plan(GangState& g, const Pod& pod, const Topology& topology, TimeMs now,
                    std::string* reason, bool* unresolvable) {
  *unresolvable = false;
  ReleasePlan(g);
  const std::string who = "gang " + g.spec.Key();

  std::vector<Member> members;
  for (const std::string& uid : g.members) {
    const PodEntry* e = model_.FindPod(uid);
    if (!e || !e->counted_node.empty() || g.waiting.count(uid)) continue;
    members.push_back({uid, &e->pod, GpuCount(e->pod.requests, options_)});
  }
  const int32_t need = g.spec.min_member - GivenNodes(g);
  if (need <= 0 || members.empty()) return true;
  // Biggest first: GPUs, then cpu, then memory; name for determinism.
  std::sort(members.begin(), members.end(), [](const Member& a, const Member& b) {
    if (a.gpus != b.gpus) return a.gpus > b.gpus;
    if (a.pod->requests.milli_cpu != b.pod->requests.milli_cpu) {
      return a.pod->requests.milli_cpu > b.pod->requests.milli_cpu;
    }
    if (a.pod->requests.memory != b.pod->requests.memory) {
      return a.pod->requests.memory > b.pod->requests.memory;
    }
    return a.pod->name < b.pod->name;
  });
  int64_t gpus_wanted = 0;
  for (const Member& m : members) gpus_wanted += m.gpus;

  std::vector<Resources> free(model_.node_slots());
  for (uint32_t i = 0; i < free.size(); ++i) {
    if (model_.node(i).present) free[i] = model_.Free(i);
  }

  // The widest level a required topology lets us use; the cluster when nothing is required.
  TopologyRequest req;
  if (Status st = ParseTopologyRequest(pod.annotations, topology, &req); !st.ok()) {
    *reason = who + ": " + st.message();
    *unresolvable = true;
    return false;
  }
  const bool required = req.required_level >= 0;
  std::vector<uint32_t> all_nodes;
  for (uint32_t i = 0; i < topology.NumNodes(); ++i) {
    if (topology.HasNode(i)) all_nodes.push_back(i);
  }
  // Domains of level `l`; level -1 is the whole cluster.
  auto domains_at = [&](int l, auto&& visit) {
    if (l < 0) {
      visit(std::span<const uint32_t>(all_nodes), std::string("cluster"));
      return;
    }
    for (uint32_t d = 0; d < topology.NumDomains(l); ++d) {
      visit(topology.DomainNodes(l, d), topology.LevelKey(l) + "=" + topology.DomainPath(l, d));
    }
  };
  const int widest = required ? req.required_level : -1;

  std::vector<int32_t> chosen, best_chosen;
  std::vector<Resources> scratch;
  for (int l = topology.NodeLevel(); l >= widest; --l) {
    int64_t best_left = std::numeric_limits<int64_t>::max();
    std::string best_name;
    domains_at(l, [&](std::span<const uint32_t> nodes, std::string name) {
      int64_t domain_gpus = 0;
      for (uint32_t slot : nodes) domain_gpus += GpuCount(free[slot], options_);
      if (domain_gpus < gpus_wanted && static_cast<int32_t>(members.size()) <= need) return;
      int placed = PackMembers(members, nodes, free, model_, options_, &chosen, &scratch);
      if (placed < need) return;
      // Tightest fit: fewest GPUs (then cores) left free in the domain afterwards, so big
      // domains stay whole for big gangs.
      int64_t left = 0;
      for (const Resources& r : scratch) {
        left += GpuCount(r, options_) * 1'000'000 + r.milli_cpu / 1000;
      }
      if (left < best_left) {
        best_left = left;
        best_name = std::move(name);
        best_chosen = chosen;
      }
    });
    if (!best_name.empty()) {
      for (size_t m = 0; m < members.size(); ++m) {
        if (best_chosen[m] < 0) continue;
        Reserve(g, members[m].uid, model_.node(best_chosen[m]).node.name,
                members[m].pod->requests);
      }
      g.plan_domains = {best_name};
      g.planned_at = now;
      g.last_progress = now;
      g.reason.clear();
      return true;
    }
  }

  // How close the best domain of the widest allowed level comes, and what is missing there.
  int best_placed = 0;
  int64_t missing_gpus = gpus_wanted;
  domains_at(widest, [&](std::span<const uint32_t> nodes, const std::string&) {
    int placed = PackMembers(members, nodes, free, model_, options_, &chosen, &scratch);
    if (placed < best_placed) return;
    best_placed = placed;
    missing_gpus = 0;
    for (size_t m = 0; m < members.size(); ++m) {
      if (chosen[m] < 0) missing_gpus += members[m].gpus;
    }
  });
  const int32_t given = GivenNodes(g);
  std::string what = missing_gpus > 0 ? "waiting for " + GpuWords(missing_gpus)
                                      : std::string("waiting for capacity");
  std::string scope = required ? " in one " + topology.LevelKey(widest) : std::string();
  *reason = who + ": " + std::to_string(given + best_placed) + " of " +
            std::to_string(g.spec.min_member) + " members fit" + scope + ", " + what;

  // Would it fit on an empty cluster? If not, preemption cannot help.
  std::vector<Resources> empty(model_.node_slots());
  for (uint32_t i = 0; i < empty.size(); ++i) {
    if (model_.node(i).present) empty[i] = model_.node(i).node.allocatable;
  }
  bool could = false;
  domains_at(widest, [&](std::span<const uint32_t> nodes, const std::string&) {
    if (!could) could = PackMembers(members, nodes, empty, model_, options_, &chosen, &scratch) >= need;
  });
  if (!could) {
    *unresolvable = true;
    *reason += " (the gang is larger than " +
               (required ? "any " + topology.LevelKey(widest) : std::string("the cluster")) + ")";
  }
  return false;
}

GangAdmission GangBook::Admit(const Pod& pod, const Topology& topology, TimeMs now) {
  GangAdmission out;
  auto spec = RecognizeGang(pod, model_, options_);
  if (!spec) return out;
  auto it = gangs_.find(spec->Key());
  if (it == gangs_.end() || !it->second.members.count(pod.uid)) return out;
  GangState& g = it->second;
  g.spec = *spec;
  const PodEntry* self = model_.FindPod(pod.uid);
  if (self && !self->counted_node.empty()) return out;  // already placed
  const int32_t given = GivenNodes(g);
  if (g.ever_complete || given >= g.spec.min_member) return out;  // a running gang

  const std::string who = "gang " + g.spec.Key();
  const int32_t members = static_cast<int32_t>(g.members.size());
  out.kind = GangAdmission::Kind::kWait;
  if (members < g.spec.min_member) {
    ReleasePlan(g);  // hold nothing while members are missing
    out.reason = who + ": " + std::to_string(members) + " of " +
                 std::to_string(g.spec.min_member) + " members created; waiting for the rest";
    out.unresolvable = true;
    g.reason = out.reason;
    return out;
  }
  if (auto w = g.waiting.find(pod.uid); w != g.waiting.end()) {
    out.kind = GangAdmission::Kind::kPass;
    out.planned_node = w->second.node;
    return out;
  }
  if (!PlanValid(g, pod.uid)) {
    bool unresolvable = false;
    std::string reason;
    if (!Plan(g, pod, topology, now, &reason, &unresolvable)) {
      out.reason = reason;
      out.unresolvable = unresolvable;
      g.reason = reason;
      return out;
    }
  }
  auto p = g.plan.find(pod.uid);
  if (p == g.plan.end()) {
    out.reason = who + ": member not needed to reach minMember " +
                 std::to_string(g.spec.min_member) + " and no room reserved for it; waiting";
    g.reason = out.reason;
    return out;
  }
  out.kind = GangAdmission::Kind::kPass;
  out.planned_node = p->second;
  return out;
}

BindDecision GangBook::Bind(const PodBinding& b, TimeMs now) {
  BindDecision d;
  const PodEntry* e = model_.FindPod(b.uid);
  if (!e) {
    // Never let a stale or mistaken UID replace the pod the model knows under that name.
    const PodEntry* same_name = model_.FindPodByName(b.ns, b.name);
    if (same_name && !b.uid.empty()) {
      d.kind = BindDecision::Kind::kFail;
      d.error = "pod " + b.ns + "/" + b.name + " has uid " + same_name->pod.uid + ", not " + b.uid;
      return d;
    }
  } else if (!e->pod.node_name.empty() && e->pod.node_name != b.node) {
    d.kind = BindDecision::Kind::kFail;
    d.error = "pod " + b.ns + "/" + b.name + " is already bound to " + e->pod.node_name;
    return d;
  }
  GangState* g = nullptr;
  if (e) {
    if (auto it = gang_of_uid_.find(b.uid); it != gang_of_uid_.end()) {
      auto git = gangs_.find(it->second);
      if (git != gangs_.end()) g = &git->second;
    }
  }
  if (!g || g->ever_complete || GivenNodes(*g) >= g->spec.min_member) {
    if (!model_.Assume(b.uid, b.ns, b.name, b.node)) {
      d.kind = BindDecision::Kind::kFail;
      d.error = "node " + b.node + " is not known to mlsched";
      return d;
    }
    d.kind = BindDecision::Kind::kBindNow;
    d.bindings.push_back(b);
    return d;
  }
  if (model_.NodeIndex(b.node) < 0) {
    d.kind = BindDecision::Kind::kFail;
    d.error = "node " + b.node + " is not known to mlsched";
    return d;
  }
  // Keep the reservation where the scheduler actually put the member.
  auto p = g->plan.find(b.uid);
  if (p == g->plan.end() || p->second != b.node) Reserve(*g, b.uid, b.node, e->pod.requests);
  g->waiting[b.uid] = WaitingBind{b.ns, b.name, b.node, now + options_.barrier_timeout_ms};
  g->last_progress = now;
  if (GivenNodes(*g) < g->spec.min_member) {
    d.kind = BindDecision::Kind::kWait;
    return d;
  }
  // The barrier is full: bind the whole gang now, this call's pod first.
  d.kind = BindDecision::Kind::kBindNow;
  d.bindings.push_back(b);
  for (const auto& [uid, w] : g->waiting) {
    if (uid != b.uid) d.bindings.push_back(PodBinding{w.ns, w.name, uid, w.node});
  }
  auto waiting = std::move(g->waiting);
  g->waiting.clear();
  g->ever_complete = true;
  g->reason.clear();
  for (const PodBinding& pb : d.bindings) model_.Assume(pb.uid, pb.ns, pb.name, pb.node);
  return d;
}

void GangBook::BindDone(const PodBinding& b, bool ok, const std::string& error, TimeMs now) {
  if (ok) return;
  model_.Forget(b.uid);
  if (auto it = gang_of_uid_.find(b.uid); it != gang_of_uid_.end()) {
    auto git = gangs_.find(it->second);
    if (git != gangs_.end()) {
      git->second.reason = "gang " + git->first + ": binding " + b.ns + "/" + b.name + " to " +
                           b.node + " failed: " + error;
      git->second.last_progress = now;
    }
  }
}

std::vector<BindExpiry> GangBook::Expire(TimeMs now) {
  std::vector<BindExpiry> out;
  std::vector<std::string> forget;
  for (auto& [key, g] : gangs_) {
    const int32_t members = static_cast<int32_t>(g.members.size());
    std::vector<std::string> drop;
    for (const auto& [uid, w] : g.waiting) {
      std::string why;
      if (!g.members.count(uid)) {
        why = "gang " + key + ": pod " + w.ns + "/" + w.name + " left the gang while waiting";
      } else if (members < g.spec.min_member) {
        why = "gang " + key + ": only " + std::to_string(members) + " of " +
              std::to_string(g.spec.min_member) + " members exist now; binding abandoned";
      } else if (now >= w.deadline) {
        why = "gang " + key + ": only " + std::to_string(g.waiting.size()) + " of " +
              std::to_string(g.spec.min_member) + " members reached bind within " +
              Seconds(options_.barrier_timeout_ms) + "; the scheduler will retry";
      }
      if (!why.empty()) {
        out.push_back({uid, why});
        drop.push_back(uid);
      }
    }
    for (const std::string& uid : drop) {
      g.waiting.erase(uid);
      if (!g.members.count(uid)) Unreserve(g, uid);
    }
    // A reservation without progress for the gang's timeout is given back.
    if (!g.ever_complete && !g.plan.empty() && g.waiting.empty() &&
        now - g.last_progress >= g.spec.timeout_ms) {
      ReleasePlan(g);
      g.reason = "gang " + key + ": reservation released after " + Seconds(g.spec.timeout_ms) +
                 " without progress; it is planned again on the next attempt";
    }
    // A running gang whose members are all gone starts over.
    if (g.ever_complete && GivenNodes(g) == 0 && g.waiting.empty()) g.ever_complete = false;
    if (g.members.empty() && g.waiting.empty()) forget.push_back(key);
  }
  for (const std::string& k : forget) MaybeForget(k);
  return out;
}

std::optional<TimeMs> GangBook::NextDeadline() const {
  std::optional<TimeMs> next;
  auto consider = [&next](TimeMs t) {
    if (!next || t < *next) next = t;
  };
  for (const auto& [key, g] : gangs_) {
    for (const auto& [uid, w] : g.waiting) consider(w.deadline);
    if (!g.ever_complete && !g.plan.empty()) consider(g.last_progress + g.spec.timeout_ms);
  }
  return next;
}

bool GangBook::SplitsGang(std::string_view victim_uid, std::string_view node,
                          std::vector<std::string>* same_node_members) const {
  auto it = gang_of_uid_.find(victim_uid);
  if (it == gang_of_uid_.end()) return false;
  auto git = gangs_.find(it->second);
  if (git == gangs_.end()) return false;
  bool elsewhere = false;
  for (const std::string& uid : git->second.members) {
    if (uid == victim_uid) continue;
    const PodEntry* e = model_.FindPod(uid);
    if (!e || e->counted_node.empty()) continue;
    if (e->counted_node == node) {
      if (same_node_members) same_node_members->push_back(uid);
    } else {
      elsewhere = true;
    }
  }
  return elsewhere;
}

int64_t GangBook::reservations() const {
  int64_t n = 0;
  for (const auto& [k, g] : gangs_) n += static_cast<int64_t>(g.plan.size());
  return n;
}

int64_t GangBook::waiting_binds() const {
  int64_t n = 0;
  for (const auto& [k, g] : gangs_) n += static_cast<int64_t>(g.waiting.size());
  return n;
}

GangView GangBook::View(const GangState& g) const {
  GangView v;
  v.ns = g.spec.ns;
  v.name = g.spec.name;
  v.source = g.spec.source;
  v.min_member = g.spec.min_member;
  v.members = static_cast<int32_t>(g.members.size());
  for (const std::string& uid : g.members) {
    const PodEntry* e = model_.FindPod(uid);
    GangView::Member m;
    m.uid = uid;
    if (e) {
      m.pod = e->pod.name;
      if (!e->counted_node.empty()) {
        m.node = e->counted_node;
        m.bound = true;
        ++v.bound;
      }
    }
    if (auto w = g.waiting.find(uid); w != g.waiting.end()) {
      m.waiting_bind = true;
      m.node = w->second.node;
    } else if (auto p = g.plan.find(uid); p != g.plan.end() && m.node.empty()) {
      m.node = p->second;
    }
    v.plan.push_back(std::move(m));
  }
  if (v.bound >= v.min_member || g.ever_complete) {
    v.state = "running";
  } else if (!g.waiting.empty()) {
    v.state = "binding";
  } else if (!g.plan.empty()) {
    v.state = "planned";
  } else {
    v.state = "waiting";
  }
  v.reason = g.reason;
  if (!g.spec.conflict.empty()) {
    v.reason += (v.reason.empty() ? "" : "; ") + g.spec.conflict;
  }
  v.domains = g.plan_domains;
  return v;
}

}  // namespace mlsched::policy
