#include "policy/cluster_model.h"

#include <unordered_set>

namespace mlsched::policy {
namespace {

std::string NameKey(std::string_view ns, std::string_view name) {
  std::string k;
  k.reserve(ns.size() + 1 + name.size());
  k.append(ns).append("/").append(name);
  return k;
}

// The by-name index stores a hash, not the name (a string per pod costs ~100 bytes at
// 150,000 pods); lookups compare the entry's own namespace and name.
uint64_t NameHash(std::string_view ns, std::string_view name) {
  uint64_t h = std::hash<std::string_view>{}(ns);
  return h ^ (std::hash<std::string_view>{}(name) + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2));
}

// The per-pod request counted on a node: a pod always takes one pod slot.
Resources CountedRequests(const Pod& p) {
  Resources r = p.requests;
  if (r.pods == 0) r.pods = 1;
  return r;
}

// A bound pod keeps only what accounting, gangs, pipelines and preemption read: the fields
// that matter while it is pending (images, tolerations, selector, scheduler) are dropped so
// that 150,000 pods fit in well under a KiB each.
void Compact(Pod& p) {
  if (p.node_name.empty()) return;
  std::vector<std::string>().swap(p.images);
  std::vector<Toleration>().swap(p.tolerations);
  std::string().swap(p.owner.uid);
  p.node_selector = Labels();
  std::string().swap(p.scheduler_name);
  std::string().swap(p.nominated_node_name);
}

}  // namespace

ClusterModel::ClusterModel(std::vector<std::string> gpu_resources)
    : gpu_resources_(std::move(gpu_resources)) {}

Totals ClusterModel::TotalsOf(const Resources& r) const {
  Totals t{r.milli_cpu, r.memory, r.ephemeral_storage, r.pods, 0};
  for (const std::string& g : gpu_resources_) t.gpus += r.Scalar(g);
  return t;
}

void ClusterModel::AddUsed(NodeState& s, const Resources& r, int sign) {
  Totals t = TotalsOf(r);
  Totals& used = totals_[static_cast<size_t>(&s - nodes_.data())].used;
  used.milli_cpu += sign * t.milli_cpu;
  used.memory += sign * t.memory;
  used.ephemeral_storage += sign * t.ephemeral_storage;
  used.pods += sign * t.pods;
  used.gpus += sign * t.gpus;
}

void ClusterModel::AddReserved(uint32_t index, const Resources& r, int sign) {
  NodeState& s = nodes_[index];
  if (sign > 0) {
    s.reserved += r;
  } else {
    s.reserved -= r;
  }
  AddUsed(s, r, sign);
  const Totals t = TotalsOf(r);
  Totals& held = totals_[index].reserved;
  held.milli_cpu += sign * t.milli_cpu;
  held.memory += sign * t.memory;
  held.ephemeral_storage += sign * t.ephemeral_storage;
  held.pods += sign * t.pods;
  held.gpus += sign * t.gpus;
}

// ---- nodes ----

uint32_t ClusterModel::SlotFor(std::string_view name) {
  if (int32_t known = name_table_.Find(name); known >= 0) return static_cast<uint32_t>(known);
  uint32_t idx = static_cast<uint32_t>(nodes_.size());
  nodes_.emplace_back();
  totals_.emplace_back();
  nodes_.back().node.name = std::string(name);
  name_table_.Append(name);
  return idx;
}

void ClusterModel::UpsertNode(Node node) {
  uint32_t idx = SlotFor(node.name);
  NodeState& s = nodes_[idx];
  if (!s.present) {
    ++present_nodes_;
    ++node_generation_;
    ++node_status_generation_;
  } else {
    if (s.node.labels != node.labels) ++node_generation_;
    if (s.node.allocatable != node.allocatable || s.node.images != node.images) {
      ++node_status_generation_;
    }
  }
  s.present = true;
  s.node = std::move(node);
  totals_[idx].alloc = TotalsOf(s.node.allocatable);
  totals_[idx].present = true;
}

void ClusterModel::DeleteNode(std::string_view name) {
  const int32_t slot = name_table_.Find(name);
  if (slot < 0) return;
  NodeState& s = nodes_[slot];
  if (!s.present) return;
  s.present = false;
  s.node = Node{};
  s.node.name = std::string(name);
  totals_[slot].alloc = Totals{};
  totals_[slot].present = false;
  --present_nodes_;
  ++node_generation_;
  ++node_status_generation_;
}

void ClusterModel::ReplaceNodes(std::vector<Node> nodes) {
  std::unordered_set<std::string_view> keep;
  for (const Node& n : nodes) keep.insert(n.name);
  std::vector<std::string> gone;
  for (const NodeState& s : nodes_) {
    if (s.present && !keep.count(s.node.name)) gone.push_back(s.node.name);
  }
  for (const std::string& g : gone) DeleteNode(g);
  for (Node& n : nodes) UpsertNode(std::move(n));
}

int32_t ClusterModel::NodeIndex(std::string_view name) const {
  return name_table_.Find(name);
}

Resources ClusterModel::Free(uint32_t index) const {
  const NodeState& s = nodes_[index];
  Resources f = s.node.allocatable;
  f -= s.requested;
  f -= s.reserved;
  return f;
}

// ---- pods ----

void ClusterModel::Uncount(PodEntry& e) {
  if (e.counted_node.empty()) return;
  if (int32_t slot = name_table_.Find(e.counted_node); slot >= 0) {
    NodeState& s = nodes_[slot];
    Resources r = CountedRequests(e.pod);
    s.requested -= r;
    AddUsed(s, r, -1);
    --s.pod_count;
  }
  e.counted_node.clear();
  --counted_pods_;
}

void ClusterModel::Recount(PodEntry& e) {
  // The watch's node wins over our assumption; terminal pods free their node.
  if (!e.pod.node_name.empty()) e.assumed_node.clear();
  std::string want;
  if (!e.pod.IsTerminal()) {
    want = !e.pod.node_name.empty() ? e.pod.node_name : e.assumed_node;
  }
  Uncount(e);
  if (want.empty()) return;
  NodeState& s = nodes_[SlotFor(want)];
  Resources r = CountedRequests(e.pod);
  s.requested += r;
  AddUsed(s, r, +1);
  ++s.pod_count;
  e.counted_node = std::move(want);
  ++counted_pods_;
}

void ClusterModel::Notify(const PodEntry* before, const PodEntry* after) {
  for (auto& l : listeners_) l(before, after);
}

void ClusterModel::UpsertPod(Pod pod, bool from_watch) {
  Compact(pod);
  auto it = pods_.find(pod.uid);
  if (it == pods_.end()) {
    // A pod recreated under the same name has a new uid: drop the old one first.
    if (const PodEntry* same = FindPodByName(pod.ns, pod.name); same && same->pod.uid != pod.uid) {
      std::string old = same->pod.uid;
      DeletePod(old);
    }
    std::string uid = pod.uid;
    PodEntry e;
    e.pod = std::move(pod);
    e.from_watch = from_watch;
    auto [ins, ok] = pods_.emplace(std::move(uid), std::move(e));
    by_name_.emplace(NameHash(ins->second.pod.ns, ins->second.pod.name), &ins->second);
    Recount(ins->second);
    Notify(nullptr, &ins->second);
    return;
  }
  PodEntry& e = it->second;
  if (!from_watch && e.from_watch) return;  // the watch knows better than a request
  PodEntry before = e;
  // Uncount with the old requests: an in-place resize changes them under the same uid.
  Uncount(e);
  e.pod = std::move(pod);
  e.from_watch = e.from_watch || from_watch;
  Recount(e);
  Notify(&before, &e);
}

bool ClusterModel::DeletePod(std::string_view uid) {
  auto it = pods_.find(uid);
  if (it == pods_.end()) return false;
  Uncount(it->second);
  auto [lo, hi] = by_name_.equal_range(NameHash(it->second.pod.ns, it->second.pod.name));
  for (auto b = lo; b != hi; ++b) {
    if (b->second == &it->second) {
      by_name_.erase(b);
      break;
    }
  }
  PodEntry before = std::move(it->second);
  pods_.erase(it);
  Notify(&before, nullptr);
  return true;
}

void ClusterModel::ReplacePods(std::vector<Pod> pods) {
  std::unordered_set<std::string_view> keep;
  for (const Pod& p : pods) keep.insert(p.uid);
  std::vector<std::string> gone;
  for (const auto& [uid, e] : pods_) {
    if (e.from_watch && !keep.count(uid)) gone.push_back(uid);
  }
  for (const std::string& g : gone) DeletePod(g);
  for (Pod& p : pods) UpsertPod(std::move(p), /*from_watch=*/true);
}

const PodEntry* ClusterModel::FindPod(std::string_view uid) const {
  auto it = pods_.find(uid);
  return it == pods_.end() ? nullptr : &it->second;
}

const PodEntry* ClusterModel::FindPodByName(std::string_view ns, std::string_view name) const {
  auto [lo, hi] = by_name_.equal_range(NameHash(ns, name));
  for (auto it = lo; it != hi; ++it) {
    if (it->second->pod.ns == ns && it->second->pod.name == name) return it->second;
  }
  return nullptr;
}

bool ClusterModel::Assume(const std::string& uid, const std::string& ns, const std::string& name,
                          const std::string& node) {
  if (NodeIndex(node) < 0) return false;
  auto it = pods_.find(uid);
  if (it == pods_.end()) {
    Pod p;
    p.uid = uid;
    p.ns = ns;
    p.name = name;
    UpsertPod(std::move(p), /*from_watch=*/false);
    it = pods_.find(uid);
  }
  PodEntry& e = it->second;
  if (!e.pod.node_name.empty()) return e.pod.node_name == node;  // already bound
  PodEntry before = e;
  e.assumed_node = node;
  Recount(e);
  Notify(&before, &e);
  return true;
}

void ClusterModel::Forget(std::string_view uid) {
  auto it = pods_.find(uid);
  if (it == pods_.end() || it->second.assumed_node.empty()) return;
  PodEntry before = it->second;
  it->second.assumed_node.clear();
  Recount(it->second);
  Notify(&before, &it->second);
}

int64_t ClusterModel::assumed_pods() const {
  int64_t n = 0;
  for (const auto& [uid, e] : pods_) n += !e.assumed_node.empty();
  return n;
}

// ---- pod groups ----

void ClusterModel::UpsertPodGroup(PodGroup group) {
  std::string key = NameKey(group.ns, group.name);
  pod_groups_[std::move(key)] = std::move(group);
}

void ClusterModel::DeletePodGroup(std::string_view ns, std::string_view name) {
  pod_groups_.erase(NameKey(ns, name));
}

void ClusterModel::ReplacePodGroups(std::vector<PodGroup> groups) {
  pod_groups_.clear();
  for (PodGroup& g : groups) UpsertPodGroup(std::move(g));
}

const PodGroup* ClusterModel::FindPodGroup(std::string_view ns, std::string_view name) const {
  auto it = pod_groups_.find(NameKey(ns, name));
  return it == pod_groups_.end() ? nullptr : &it->second;
}

}  // namespace mlsched::policy
