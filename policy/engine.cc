#include "policy/engine.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <mutex>

#include "policy/cluster_model.h"
#include "policy/fragmentation.h"
#include "policy/gang.h"
#include "policy/pipeline.h"
#include "policy/scoring.h"
#include "policy/topology.h"

namespace mlsched::policy {
namespace {

}  // namespace

Engine::Engine(Options options)
    : options_(std::move(options)),
      model_(std::make_unique<ClusterModel>(options_.gpu_resources)),
      gangs_(std::make_unique<GangBook>(*model_, options_)),
      pipelines_(std::make_unique<PipelineHistory>(options_)),
      mix_(std::make_unique<WorkloadMix>(options_.fragmentation_shapes,
                                         options_.fragmentation_half_life)) {
  model_->AddPodListener([this](const PodEntry* before, const PodEntry* after) {
    gangs_->OnPod(before, after);
    // Each pod's shape once, when the model first learns of it (under the writer lock).
    if (!before && after) mix_->Observe(ViewOf(after->pod.requests, options_.gpu_resources));
  });
}

Engine::~Engine() = default;

std::shared_ptr<const Topology> Engine::CurrentTopology() const {
  std::lock_guard lock(topology_mu_);
  if (!topology_ || topology_generation_ != model_->node_generation()) {
    std::vector<const Node*> slots(model_->node_slots(), nullptr);
    for (uint32_t i = 0; i < slots.size(); ++i) {
      if (model_->node(i).present) slots[i] = &model_->node(i).node;
    }
    topology_ = std::make_shared<const Topology>(Topology::Build(options_, slots));
    topology_generation_ = model_->node_generation();
  }
  return topology_;
}

struct Engine::ResolvedNames {
  size_t slots = 0;            // model slots when resolved: new names invalidate misses
  // The names one after another (one allocation for the list, not one per long name), and
  // where each ends.
  std::string bytes;
  std::vector<uint32_t> ends;
  std::vector<int32_t> index;  // model slot per name, -1 when unknown

  size_t size() const { return ends.size(); }
  std::string_view name(size_t i) const {
    const uint32_t begin = i == 0 ? 0 : ends[i - 1];
    return std::string_view(bytes.data() + begin, ends[i] - begin);
  }
};

// Added to a failure reason when the node would fit without the capacity held for gangs.
constexpr std::string_view kReservedForGang = " (capacity reserved for a gang)";

struct Engine::FastReasons {
  enum Kind { kFits, kPods, kCpu, kMemory, kStorage, kGpus, kKinds };
  // FailFast runs only when the options name one GPU resource: gpu_resources[0] is read then.
  explicit FastReasons(const std::vector<std::string>& gpu_resources) : gpus(gpu_resources) {}

  const SharedText& Text(Kind kind, bool reserved) {
    std::optional<SharedText>& t = text[kind][reserved];
    if (!t) {
      static constexpr std::string_view kResources[kKinds] = {"", "", "cpu", "memory",
                                                               "ephemeral-storage", ""};
      std::string s = kind == kPods   ? std::string(kTooManyPods)
                      : kind == kGpus ? InsufficientReason(gpus[0])
                                      : InsufficientReason(kResources[kind]);
      if (reserved) s += kReservedForGang;
      t.emplace(std::move(s));
    }
    return *t;
  }

  const std::vector<std::string>& gpus;
  std::array<std::array<std::optional<SharedText>, 2>, kKinds> text;
};

std::shared_ptr<const Engine::ResolvedNames> Engine::Resolve(
    const std::vector<Candidate>& nodes) const {
  // kube-scheduler sends the same node lists, in the same order, call after call: comparing a
  // list with a remembered one is a sequential scan, far cheaper than 5,000 hash probes. Two
  // are remembered because a scheduling cycle alternates between two: filter's (the nodes that
  // passed the scheduler's own filters) and prioritize's (those that passed ours as well).
  std::array<std::shared_ptr<const ResolvedNames>, kResolvedLists> known;
  {
    std::lock_guard lock(names_mu_);
    known = resolved_;
  }
  const size_t slots = model_->node_slots();
  for (const auto& last : known) {
    if (!last || last->slots != slots || last->size() != nodes.size()) continue;
    bool same = true;
    for (size_t i = 0; i < nodes.size() && same; ++i) {
      same = NameTable::SameName(last->name(i), nodes[i].name);
    }
    if (same) return last;
  }
  auto fresh = std::make_shared<ResolvedNames>();
  fresh->slots = slots;
  size_t bytes = 0;
  for (const Candidate& c : nodes) bytes += c.name.size();
  // Offsets are 32-bit: the decoder's body limit (64 MiB by default) keeps lists far below 4 GiB.
  fresh->bytes.reserve(bytes);
  fresh->ends.reserve(nodes.size());
  for (const Candidate& c : nodes) {
    fresh->bytes.append(c.name);
    fresh->ends.push_back(static_cast<uint32_t>(fresh->bytes.size()));
  }
  fresh->index.resize(nodes.size());
  model_->NodeIndices(nodes.size(), [&](size_t i) { return nodes[i].name; }, fresh->index.data());
  std::lock_guard lock(names_mu_);
  resolved_[resolved_next_] = fresh;
  resolved_next_ = (resolved_next_ + 1) % kResolvedLists;
  return fresh;
}

struct Engine::NodeStatusIndex {
  ImageIndex images;
  int64_t max_node_gpus = 0;
};

std::shared_ptr<const Engine::NodeStatusIndex> Engine::CurrentStatusIndex(TimeMs now) const {
  std::lock_guard lock(topology_mu_);
  // Image lists change whenever a kubelet pulls an image; rebuilding the index costs tens of
  // milliseconds on 5,000 nodes. Image locality is a soft preference, so a change is taken in
  // at most every kStatusIndexRefreshMs and prioritize stays fast meanwhile.
  constexpr TimeMs kStatusIndexRefreshMs = 10'000;
  const bool stale = status_generation_ != model_->node_status_generation();
  if (!status_index_ || (stale && now - status_built_at_ >= kStatusIndexRefreshMs)) {
    auto idx = std::make_shared<NodeStatusIndex>();
    std::vector<const Node*> slots(model_->node_slots(), nullptr);
    for (uint32_t i = 0; i < slots.size(); ++i) {
      if (!model_->node(i).present) continue;
      slots[i] = &model_->node(i).node;
      idx->max_node_gpus =
          std::max(idx->max_node_gpus, GpuCount(slots[i]->allocatable, options_));
    }
    idx->images = ImageIndex::Build(slots);
    status_index_ = std::move(idx);
    status_generation_ = model_->node_status_generation();
    status_built_at_ = now;
  }
  return status_index_;
}

// ---- model updates ----

void Engine::UpsertNode(Node node) {
  std::unique_lock lock(mu_);
  model_->UpsertNode(std::move(node));
}

void Engine::DeleteNode(std::string_view name) {
  std::unique_lock lock(mu_);
  model_->DeleteNode(name);
}

void Engine::ReplaceNodes(std::vector<Node> nodes) {
  std::unique_lock lock(mu_);
  model_->ReplaceNodes(std::move(nodes));
}

void Engine::UpsertPod(Pod pod, TimeMs now) {
  std::unique_lock lock(mu_);
  // Steps leave the watch when they finish: record where they ran before the pod goes.
  pipelines_->Observe(pod, now);
  if (pod.IsTerminal()) {
    // Terminal pods hold nothing: drop them (listeners see the last state go).
    model_->DeletePod(pod.uid);
    return;
  }
  model_->UpsertPod(std::move(pod), /*from_watch=*/true);
}

void Engine::DeletePod(const Pod& last_state, TimeMs now) {
  std::unique_lock lock(mu_);
  pipelines_->Observe(last_state, now);
  model_->DeletePod(last_state.uid);
}

void Engine::ReplacePods(std::vector<Pod> pods, TimeMs now) {
  std::unique_lock lock(mu_);
  for (const Pod& p : pods) pipelines_->Observe(p, now);
  std::erase_if(pods, [](const Pod& p) { return p.IsTerminal(); });
  model_->ReplacePods(std::move(pods));
}

void Engine::UpsertPodGroup(PodGroup group) {
  std::unique_lock lock(mu_);
  const PodGroup* old = model_->FindPodGroup(group.ns, group.name);
  // PodGroup status changes often; only a new size or timeout changes who is in which gang.
  bool changed = !old || old->min_member != group.min_member ||
                 old->schedule_timeout_seconds != group.schedule_timeout_seconds;
  model_->UpsertPodGroup(std::move(group));
  if (changed) gangs_->Refresh();
}

void Engine::DeletePodGroup(std::string_view ns, std::string_view name) {
  std::unique_lock lock(mu_);
  if (!model_->FindPodGroup(ns, name)) return;
  model_->DeletePodGroup(ns, name);
  gangs_->Refresh();
}

void Engine::ReplacePodGroups(std::vector<PodGroup> groups) {
  std::unique_lock lock(mu_);
  model_->ReplacePodGroups(std::move(groups));
  gangs_->Refresh();
}

void Engine::SetPodGroupsKnown(bool known) {
  std::unique_lock lock(mu_);
  model_->set_pod_groups_known(known);
}

// ---- verbs ----

FilterResult Engine::Filter(const Pod& pod, const std::vector<Candidate>& nodes, TimeMs now) {
  FilterResult out;
  // A pod the model has not seen yet (the watch lags, or there is no watch) is recorded so
  // that its gang can count it and its bind knows its requests.
  std::unique_lock write_lock(mu_, std::defer_lock);
  std::shared_lock read_lock(mu_, std::defer_lock);
  bool needs_write;
  {
    std::shared_lock probe(mu_);
    const PodEntry* known = model_->FindPod(pod.uid);
    needs_write = !known || gangs_->GangOfPod(pod) != nullptr ||
                  RecognizeGang(pod, *model_, options_).has_value();
  }
  GangAdmission admission;
  if (needs_write) {
    write_lock.lock();
    const PodEntry* known = model_->FindPod(pod.uid);
    if (!known) model_->UpsertPod(pod, /*from_watch=*/false);
    admission = gangs_->Admit(pod, *CurrentTopology(), now);
  } else {
    read_lock.lock();
  }

  const std::string* planned =
      admission.kind == GangAdmission::Kind::kPass ? &admission.planned_node : nullptr;
  if (admission.kind == GangAdmission::Kind::kWait) {
    auto& into = admission.unresolvable ? out.unresolvable : out.failed;
    const SharedText reason(admission.reason);
    into.reserve(nodes.size());
    for (uint32_t i = 0; i < nodes.size(); ++i) into.push_back({i, reason});
    return out;
  }
  if (planned) {
    const SharedText elsewhere("gang member planned on node " + *planned);
    for (uint32_t i = 0; i < nodes.size(); ++i) {
      if (nodes[i].name == *planned) {
        out.passed.push_back(i);
      } else {
        out.failed.push_back({i, elsewhere});
      }
    }
    // A planned node the scheduler did not offer: the plan no longer suits this pod.
    if (out.passed.empty()) {
      const SharedText gone("gang member planned on node " + *planned +
                            ", which the scheduler did not offer; re-planning");
      for (auto& f : out.failed) f.reason = gone;
    }
    return out;
  }

  // The pod's requests as plain integers. Pods asking only for cpu, memory, storage and the
  // (single) GPU resource are checked on integers; others take the named-resource path.
  const Totals want = model_->TotalsOf(pod.requests);
  bool fast = options_.gpu_resources.size() == 1;
  for (const ScalarQuantity& q : pod.requests.scalars) fast &= q.name == options_.gpu_resources[0];
  auto fits_fast = [&want](const SlotTotals& t) {
    const Totals& a = t.alloc;
    const Totals& u = t.used;
    return u.pods + 1 <= a.pods && want.milli_cpu <= a.milli_cpu - u.milli_cpu &&
           want.memory <= a.memory - u.memory &&
           want.ephemeral_storage <= a.ephemeral_storage - u.ephemeral_storage &&
           want.gpus <= a.gpus - u.gpus;
  };

  std::shared_ptr<const ResolvedNames> resolved = Resolve(nodes);
  out.passed.reserve(nodes.size());
  FastReasons reasons(options_.gpu_resources);
  NodeState view;  // for full Node objects: their allocatable with the model's usage
  for (uint32_t i = 0; i < nodes.size(); ++i) {
    const Candidate& c = nodes[i];
    int32_t idx = resolved->index[i];
    if (!c.node) {
      // Names mode: the slot's integers decide most nodes without touching its NodeState.
      const SlotTotals* t = idx >= 0 ? &model_->totals(idx) : nullptr;
      if (!t || !t->present) {
        out.failed.push_back({i, "node " + std::string(c.name) + " is not known to mlsched yet"});
        continue;
      }
      if (fast) {
        if (fits_fast(*t)) {
          out.passed.push_back(i);
        } else {
          FailFast(*t, want, i, &reasons, &out);
        }
        continue;
      }
    }
    const NodeState* s = idx >= 0 ? &model_->node(idx) : nullptr;
    if (c.node) {
      // Full Node object from the request: its allocatable wins, usage comes from the model.
      view.node.allocatable = c.node->allocatable;
      view.requested = s ? s->requested : Resources{};
      view.reserved = s ? s->reserved : Resources{};
      s = &view;
    }
    std::string why;
    if (FitsOnNode(*s, pod.requests, nullptr, &why)) {
      out.passed.push_back(i);
      continue;
    }
    // Would it fit on the empty node, or without gang reservations?
    std::string why_alloc;
    if (!s->node.allocatable.Fits(pod.requests, &why_alloc)) {
      out.unresolvable.push_back({i, why_alloc});
      continue;
    }
    if (!s->reserved.IsZero()) {
      NodeState unreserved;
      unreserved.node.allocatable = s->node.allocatable;
      unreserved.requested = s->requested;
      if (FitsOnNode(unreserved, pod.requests, nullptr, nullptr)) {
        why += kReservedForGang;
      }
    }
    out.failed.push_back({i, why});
  }
  if (options_.cpu_off_gpu_filter && want.gpus == 0) KeepGpuNodesForGpuPods(*resolved, nodes, &out);
  if (!out.passed.empty()) ApplyDataLocality(pod, *resolved, &out);
  return out;
}

void Engine::FailFast(const SlotTotals& t, const Totals& want, uint32_t index,
                      FastReasons* reasons, FilterResult* out) const {
  // The same reasons, in the same order, as FitsOnNode and Resources::Fits give on the named
  // resources (the pod asks for nothing but these five): a busy cluster fails thousands of nodes
  // per call, and the named path built each reason from copies of the node's Resources.
  using Kind = FastReasons::Kind;
  auto lacking = [&](const Totals& free, int64_t pods_wanted) -> Kind {
    if (pods_wanted > free.pods) return Kind::kPods;
    if (want.milli_cpu > 0 && want.milli_cpu > free.milli_cpu) return Kind::kCpu;
    if (want.memory > 0 && want.memory > free.memory) return Kind::kMemory;
    if (want.ephemeral_storage > 0 && want.ephemeral_storage > free.ephemeral_storage) {
      return Kind::kStorage;
    }
    if (want.gpus > 0 && want.gpus > free.gpus) return Kind::kGpus;
    return Kind::kFits;
  };
  auto minus = [](const Totals& a, const Totals& b) {
    return Totals{a.milli_cpu - b.milli_cpu, a.memory - b.memory,
                  a.ephemeral_storage - b.ephemeral_storage, a.pods - b.pods, a.gpus - b.gpus};
  };
  const int64_t pods_wanted = want.pods > 0 ? want.pods : 1;
  const Kind why = lacking(minus(t.alloc, t.used), pods_wanted);
  if (why == Kind::kFits) {
    // The integer check is stricter than FitsOnNode for a request of 0 on an overcommitted node.
    out->passed.push_back(index);
    return;
  }
  // On the empty node: preemption cannot help.
  if (const Kind alloc_why = lacking(t.alloc, want.pods); alloc_why != Kind::kFits) {
    out->unresolvable.push_back({index, reasons->Text(alloc_why, false)});
    return;
  }
  bool reserved = false;
  if (t.reserved.milli_cpu != 0 || t.reserved.memory != 0 || t.reserved.ephemeral_storage != 0 ||
      t.reserved.pods != 0 || t.reserved.gpus != 0) {
    reserved = lacking(minus(t.alloc, minus(t.used, t.reserved)), pods_wanted) == Kind::kFits;
  }
  out->failed.push_back({index, reasons->Text(why, reserved)});
}

template <typename Visit>
void Engine::ScoreEach(const Pod& pod, const std::vector<Candidate>& nodes, TimeMs now,
                       Visit&& visit) const {
  std::shared_ptr<const Topology> topology = CurrentTopology();
  std::shared_ptr<const NodeStatusIndex> status = CurrentStatusIndex(now);
  PodScorer scorer(options_, *topology, status->images, pod);
  scorer.SetMaxNodeGpus(status->max_node_gpus);
  scorer.SetFragmentationProfile(&mix_->profile());

  // A gang member: its plan, and where the rest of its gang already is.
  const std::string planned = gangs_->PlannedNode(pod);
  if (!planned.empty()) {
    int32_t idx = model_->NodeIndex(planned);
    if (idx >= 0) scorer.SetPlannedNode(static_cast<uint32_t>(idx));
  }
  if (const GangState* g = gangs_->GangOfPod(pod)) {
    std::vector<uint32_t> anchors;
    for (const std::string& uid : g->members) {
      const PodEntry* e = model_->FindPod(uid);
      if (!e || e->counted_node.empty() || uid == pod.uid) continue;
      if (int32_t idx = model_->NodeIndex(e->counted_node); idx >= 0) anchors.push_back(idx);
    }
    if (!anchors.empty()) scorer.SetTopologyAnchors(anchors);
  }
  // A pipeline step: where its predecessors left their data.
  StepInfo step;
  if (RecognizeStep(pod, options_, &step)) {
    std::vector<uint32_t> where;
    for (const auto& p : pipelines_->Predecessors(step)) {
      if (int32_t idx = model_->NodeIndex(p.node); idx >= 0) where.push_back(idx);
    }
    int level = LocalityLevel(step, *topology);
    if (!where.empty() && level >= 0) scorer.SetPipelinePredecessors(where, level);
  }
  // An ML function: where it ran recently.
  FunctionInfo fn;
  if (RecognizeFunction(pod, &fn)) {
    std::vector<std::pair<uint32_t, int64_t>> warm;
    for (const auto& [node, at] : pipelines_->WarmNodes(fn.key, now)) {
      if (int32_t idx = model_->NodeIndex(node); idx >= 0) warm.emplace_back(idx, at);
    }
    scorer.SetFunctionWarmth(std::move(warm), now);
  }

  std::shared_ptr<const ResolvedNames> resolved = Resolve(nodes);
  for (size_t i = 0; i < nodes.size(); ++i) {
    const Candidate& c = nodes[i];
    int32_t idx = resolved->index[i];
    const SlotTotals* t = idx >= 0 ? &model_->totals(idx) : nullptr;
    if (!t || (!t->present && !c.node)) {
      visit(scorer, planned, i, 0u, static_cast<const NodeLoad*>(nullptr));
      continue;
    }
    NodeLoad load;
    load.allocatable = c.node ? ViewOf(c.node->allocatable, options_.gpu_resources)
                              : ResourceView{t->alloc.milli_cpu, t->alloc.memory, t->alloc.gpus};
    load.used = {t->used.milli_cpu, t->used.memory, t->used.gpus};
    visit(scorer, planned, i, static_cast<uint32_t>(idx), &load);
  }
}

void Engine::KeepGpuNodesForGpuPods(const ResolvedNames& resolved,
                                    const std::vector<Candidate>& nodes,
                                    FilterResult* out) const {
  auto gpus_of = [&](uint32_t i) -> int64_t {
    if (nodes[i].node) return model_->TotalsOf(nodes[i].node->allocatable).gpus;
    return resolved.index[i] >= 0 ? model_->totals(resolved.index[i]).alloc.gpus : 0;
  };
  bool cpu_node_fits = false;
  for (uint32_t i : out->passed) cpu_node_fits |= gpus_of(i) == 0;
  if (!cpu_node_fits) return;  // only GPU nodes can take it: let it use them
  std::vector<uint32_t> kept;
  std::string why;
  SharedText reason;  // the last reason given, shared while it repeats
  for (uint32_t i : out->passed) {
    if (PassesCpuOffGpuFilter(true, 0, gpus_of(i), cpu_node_fits, &why)) {
      kept.push_back(i);
    } else {
      if (reason.str() != why) reason = SharedText(why);
      out->failed.push_back({i, reason});
    }
  }
  out->passed = std::move(kept);
}

void Engine::ApplyDataLocality(const Pod& pod, const ResolvedNames& resolved,
                               FilterResult* out) const {
  StepInfo step;
  if (!RecognizeStep(pod, options_, &step) || !step.locality_required) return;
  std::shared_ptr<const Topology> topology = CurrentTopology();
  const int level = LocalityLevel(step, *topology);
  if (level < 0) return;
  std::vector<PipelineHistory::Predecessor> preds = pipelines_->Predecessors(step);
  // The candidates' model slots, as Filter resolved them (kNoDomain for unknown names).
  std::vector<uint32_t> candidates(resolved.size(), kNoDomain);
  std::vector<uint8_t> fits(resolved.size(), 0);
  for (size_t i = 0; i < resolved.size(); ++i) {
    if (resolved.index[i] >= 0) candidates[i] = static_cast<uint32_t>(resolved.index[i]);
  }
  for (uint32_t i : out->passed) fits[i] = 1;
  LocalityDecision d = DecideDataLocality(*topology, preds, level, candidates, fits);
  if (!d.fallback.empty()) return;  // nowhere local to go: stay schedulable
  std::vector<uint32_t> kept;
  const SharedText reason(d.reason);
  for (uint32_t i : out->passed) {
    if (d.pass[i]) {
      kept.push_back(i);
    } else {
      out->failed.push_back({i, reason});
    }
  }
  out->passed = std::move(kept);
}

Scores Engine::Prioritize(const Pod& pod, const std::vector<Candidate>& nodes, TimeMs now) const {
  std::shared_lock lock(mu_);
  Scores out(nodes.size(), 0);
  ScoreEach(pod, nodes, now, [&](const PodScorer& scorer, const std::string& planned, size_t i,
                                 uint32_t slot, const NodeLoad* load) {
    if (!load) return;
    // The plan is not a preference among others: planned nodes rank first, always.
    out[i] = !planned.empty()
                 ? (nodes[i].name == planned ? kMaxExtenderScore : 0)
                 : scorer.Total(slot, *load);
  });
  return out;
}

std::vector<ScoreExplanation> Engine::ExplainScores(const Pod& pod,
                                                    const std::vector<Candidate>& nodes,
                                                    TimeMs now) const {
  std::shared_lock lock(mu_);
  std::vector<ScoreExplanation> out(nodes.size());
  ScoreEach(pod, nodes, now, [&](const PodScorer& scorer, const std::string& planned, size_t i,
                                 uint32_t slot, const NodeLoad* load) {
    if (!load) {
      out[i].node = std::string(nodes[i].name);  // unknown to the model: no opinion, 0
      return;
    }
    const RuleScores rules = scorer.ScoreNode(slot, *load);
    out[i] = policy::ExplainScores(nodes[i].name, options_.weights, rules);
    if (!planned.empty()) out[i].total = nodes[i].name == planned ? kMaxExtenderScore : 0;
  });
  return out;
}

BindDecision Engine::Bind(const PodBinding& binding, TimeMs now) {
  std::unique_lock lock(mu_);
  BindDecision d = gangs_->Bind(binding, now);
  for (const PodBinding& b : d.bindings) {
    if (const PodEntry* e = model_->FindPod(b.uid)) pipelines_->ObserveBind(e->pod, b.node, now);
  }
  return d;
}

void Engine::BindDone(const PodBinding& binding, bool ok, const std::string& error, TimeMs now) {
  std::unique_lock lock(mu_);
  gangs_->BindDone(binding, ok, error, now);
}

std::vector<BindExpiry> Engine::ExpireBinds(TimeMs now) {
  std::unique_lock lock(mu_);
  pipelines_->Expire(now);
  return gangs_->Expire(now);
}

std::optional<TimeMs> Engine::NextBindDeadline() const {
  std::shared_lock lock(mu_);
  return gangs_->NextDeadline();
}

std::vector<NodeVictims> Engine::Preempt(const Pod& preemptor,
                                         std::vector<NodeVictims> candidates, TimeMs now) const {
  std::shared_lock lock(mu_);
  std::vector<NodeVictims> out;
  // For a gang member: only preempt where the whole gang fits afterwards. Approximated by
  // GPUs (the scarce resource): free GPUs in the cluster plus the victims' GPUs on that node
  // must cover the gang's unplaced members.
  int64_t gang_gpus_needed = 0;
  int64_t cluster_free_gpus = 0;
  const GangState* gang = gangs_->GangOfPod(preemptor);
  if (gang && !gang->ever_complete) {
    for (const std::string& uid : gang->members) {
      const PodEntry* e = model_->FindPod(uid);
      if (e && e->counted_node.empty()) gang_gpus_needed += GpuCount(e->pod.requests, options_);
    }
    for (uint32_t i = 0; i < model_->node_slots(); ++i) {
      const NodeState& s = model_->node(i);
      if (s.present) cluster_free_gpus += std::max<int64_t>(0, GpuCount(model_->Free(i), options_));
    }
  }
  for (NodeVictims& nv : candidates) {
    bool keep = true;
    std::vector<std::string> extra;
    for (const std::string& v : nv.victim_uids) {
      std::vector<std::string> same;
      if (gangs_->SplitsGang(v, nv.node, &same)) {
        keep = false;  // evicting it would leave its gang half-running elsewhere
        break;
      }
      for (std::string& u : same) {
        if (std::find(nv.victim_uids.begin(), nv.victim_uids.end(), u) == nv.victim_uids.end() &&
            std::find(extra.begin(), extra.end(), u) == extra.end()) {
          extra.push_back(std::move(u));
        }
      }
    }
    if (!keep) continue;
    for (std::string& u : extra) nv.victim_uids.push_back(std::move(u));
    if (gang_gpus_needed > 0) {
      int64_t freed = 0;
      for (const std::string& v : nv.victim_uids) {
        if (const PodEntry* e = model_->FindPod(v)) freed += GpuCount(e->pod.requests, options_);
      }
      if (cluster_free_gpus + freed < gang_gpus_needed) continue;
    }
    out.push_back(std::move(nv));
  }
  return out;
}

// ---- introspection ----

ModelStats Engine::Stats() const {
  std::shared_lock lock(mu_);
  ModelStats s;
  s.nodes = model_->present_nodes();
  for (const auto& [uid, e] : model_->pods()) {
    ++s.pods;
    s.bound_pods += !e.pod.node_name.empty();
    s.assumed_pods += !e.assumed_node.empty();
  }
  s.pod_groups = static_cast<int64_t>(model_->pod_group_count());
  s.gangs = static_cast<int64_t>(gangs_->gangs().size());
  for (const auto& [k, g] : gangs_->gangs()) {
    s.gangs_waiting += !g.ever_complete && !g.reason.empty();
  }
  s.reservations = gangs_->reservations();
  s.waiting_binds = gangs_->waiting_binds();
  s.pipeline_runs = static_cast<int64_t>(pipelines_->NumRuns());
  return s;
}

std::vector<GangView> Engine::Gangs() const {
  std::shared_lock lock(mu_);
  std::vector<GangView> out;
  for (const auto& [k, g] : gangs_->gangs()) out.push_back(gangs_->View(g));
  return out;
}

std::optional<GangView> Engine::GangOf(std::string_view ns, std::string_view pod_name) const {
  std::shared_lock lock(mu_);
  const PodEntry* e = model_->FindPodByName(ns, pod_name);
  if (!e) return std::nullopt;
  const GangState* g = gangs_->GangOfPod(e->pod);
  if (!g) return std::nullopt;
  return gangs_->View(*g);
}

std::vector<NodeView> Engine::Nodes(size_t offset, size_t limit) const {
  std::shared_lock lock(mu_);
  std::vector<NodeView> out;
  size_t seen = 0;
  // Reserved GPUs per node and gang, for the map.
  std::unordered_map<std::string, std::vector<std::pair<std::string, int64_t>>> by_node;
  for (const auto& [key, g] : gangs_->gangs()) {
    for (const auto& [uid, node] : g.plan) {
      auto rq = g.reservation_requests.find(uid);
      if (rq == g.reservation_requests.end()) continue;
      auto& v = by_node[node];
      int64_t gpus = GpuCount(rq->second, options_);
      auto it = std::find_if(v.begin(), v.end(), [&](const auto& p) { return p.first == key; });
      if (it == v.end()) {
        v.emplace_back(key, gpus);
      } else {
        it->second += gpus;
      }
    }
  }
  for (uint32_t i = 0; i < model_->node_slots() && out.size() < limit; ++i) {
    const NodeState& s = model_->node(i);
    if (!s.present) continue;
    if (seen++ < offset) continue;
    NodeView v;
    v.name = s.node.name;
    for (const std::string& l : options_.topology_levels) {
      if (const std::string* val = s.node.labels.Find(l)) v.labels.Set(l, *val);
    }
    if (const std::string* val = s.node.labels.Find(options_.nvlink_label)) {
      v.labels.Set(options_.nvlink_label, *val);
    }
    v.allocatable = s.node.allocatable;
    v.requested = s.requested;
    v.reserved = s.reserved;
    if (auto it = by_node.find(s.node.name); it != by_node.end()) v.gpu_reserved_by_gang = it->second;
    v.schedulable = s.node.ready && !s.node.unschedulable;
    out.push_back(std::move(v));
  }
  return out;
}

std::optional<Pod> Engine::PodByUid(std::string_view uid) const {
  std::shared_lock lock(mu_);
  const PodEntry* e = model_->FindPod(uid);
  if (!e) return std::nullopt;
  return e->pod;
}

std::vector<Pod> Engine::Pods() const {
  std::shared_lock lock(mu_);
  std::vector<Pod> out;
  out.reserve(model_->pods().size());
  for (const auto& [uid, e] : model_->pods()) out.push_back(e.pod);
  return out;
}

std::string Engine::WhyWaiting(std::string_view ns, std::string_view pod_name, TimeMs now) const {
  std::shared_lock lock(mu_);
  const PodEntry* e = model_->FindPodByName(ns, pod_name);
  if (!e) return {};
  if (const GangState* g = gangs_->GangOfPod(e->pod)) {
    if (!g->reason.empty()) return g->reason;
  }
  return {};
}

// ---- cluster view ----

std::vector<NodeGpuRow> Engine::GpuRows(const std::vector<std::string>& label_keys) const {
  std::shared_lock lock(mu_);
  // Reserved GPUs per node and gang, as Nodes() computes them.
  std::unordered_map<std::string, std::vector<std::pair<std::string, int64_t>>> by_node;
  for (const auto& [key, g] : gangs_->gangs()) {
    for (const auto& [uid, node] : g.plan) {
      auto rq = g.reservation_requests.find(uid);
      if (rq == g.reservation_requests.end()) continue;
      int64_t gpus = GpuCount(rq->second, options_);
      if (gpus == 0) continue;
      auto& v = by_node[node];
      auto it = std::find_if(v.begin(), v.end(), [&](const auto& p) { return p.first == key; });
      if (it == v.end()) {
        v.emplace_back(key, gpus);
      } else {
        it->second += gpus;
      }
    }
  }
  // The keys in label order, so that each node's (sorted) labels are read in one merge pass
  // instead of one binary search per key.
  std::vector<size_t> order(label_keys.size());
  for (size_t k = 0; k < order.size(); ++k) order[k] = k;
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return label_keys[a] < label_keys[b]; });
  std::vector<NodeGpuRow> out;
  out.reserve(static_cast<size_t>(model_->present_nodes()));
  for (uint32_t i = 0; i < model_->node_slots(); ++i) {
    const NodeState& s = model_->node(i);
    if (!s.present) continue;
    NodeGpuRow r;
    r.name = s.node.name;
    r.labels.resize(label_keys.size());
    auto l = s.node.labels.begin();
    for (size_t k : order) {
      while (l != s.node.labels.end() && l->first < label_keys[k]) ++l;
      if (l == s.node.labels.end()) break;
      if (l->first == label_keys[k]) r.labels[k] = l->second;
    }
    r.gpus = model_->totals(i).alloc.gpus;
    r.gpus_reserved = GpuCount(s.reserved, options_);
    r.gpus_used = GpuCount(s.requested, options_);
    if (auto it = by_node.find(s.node.name); it != by_node.end()) {
      r.gpus_reserved_by_gang = std::move(it->second);
    }
    r.schedulable = s.node.ready && !s.node.unschedulable;
    out.push_back(std::move(r));
  }
  return out;
}

std::vector<PipelineRunView> Engine::PipelineRuns(size_t limit) const {
  std::shared_lock lock(mu_);
  std::vector<PipelineRunView> out;
  std::unordered_map<std::string, size_t> index;
  for (auto& r : pipelines_->RecentRuns(limit)) {
    PipelineRunView v;
    v.run = std::move(r.key);
    v.last = r.last;
    for (auto& s : r.steps) v.steps.push_back({std::move(s.step), std::move(s.node), s.at});
    index.emplace(v.run, out.size());
    out.push_back(std::move(v));
  }
  StepInfo info;
  for (const auto& [uid, e] : model_->pods()) {
    const Pod& p = e.pod;
    if (!p.node_name.empty() || !e.assumed_node.empty() || p.IsTerminal()) continue;
    if (!RecognizeStep(p, options_, &info)) continue;
    auto it = index.find(info.run);
    if (it == index.end()) {
      if (out.size() >= 2 * limit) continue;  // bounded, whatever the cluster holds
      PipelineRunView v;
      v.run = info.run;
      it = index.emplace(v.run, out.size()).first;
      out.push_back(std::move(v));
    }
    PipelineRunView::Next n;
    n.pod = p.Key();
    n.step = info.step;
    n.locality_key = info.locality_key;
    n.required = info.locality_required;
    for (const auto& pred : pipelines_->Predecessors(info)) {
      if (std::find(n.after.begin(), n.after.end(), pred.step) == n.after.end()) {
        n.after.push_back(pred.step);
      }
      if (std::find(n.steered_to.begin(), n.steered_to.end(), pred.node) == n.steered_to.end()) {
        n.steered_to.push_back(pred.node);
      }
    }
    out[it->second].pending.push_back(std::move(n));
  }
  for (auto& v : out) {
    std::sort(v.pending.begin(), v.pending.end(),
              [](const auto& a, const auto& b) { return a.pod < b.pod; });
  }
  return out;
}

}  // namespace mlsched::policy
