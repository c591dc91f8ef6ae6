#include "policy/topology.h"

#include <algorithm>
#include <cassert>
#include <utility>

namespace mlsched::policy {
namespace {

// Key of a labelled domain while building: (parent domain id, label value). The value views
// the node's own label storage, which outlives Build; no string is copied per node.
struct DomainKey {
  uint32_t parent;
  std::string_view value;
  bool operator==(const DomainKey&) const = default;
};
struct DomainKeyHash {
  size_t operator()(const DomainKey& k) const {
    return std::hash<std::string_view>{}(k.value) * 31 + k.parent;
  }
};

std::string UnlabeledName(std::string_view node_name) {
  std::string s = "(unlabeled:";
  s.append(node_name);
  s.push_back(')');
  return s;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

Topology::Topology() : Topology(Build(Options{}, std::vector<const Node*>{})) {}

Topology Topology::Build(const Options& options, const std::vector<Node>& nodes) {
  std::vector<const Node*> ptrs;
  ptrs.reserve(nodes.size());
  for (const Node& n : nodes) ptrs.push_back(&n);
  return Build(options, ptrs);
}

Topology Topology::Build(const Options& options, const std::vector<const Node*>& nodes) {
  Topology t{Bare{}};
  for (const std::string& key : options.topology_levels) {
    // why: Kueue/KAI topologies end with the hostname level; it is our implicit node level.
    if (key.empty() || key == kHostnameLabel) continue;
    if (std::find(t.level_keys_.begin(), t.level_keys_.end(), key) != t.level_keys_.end()) {
      continue;
    }
    t.level_keys_.push_back(key);
  }
  t.level_keys_.emplace_back(kHostnameLabel);
  const int num_levels = t.NumLevels();
  const int node_level = num_levels - 1;
  const size_t n = nodes.size();

  t.levels_.resize(num_levels);
  t.domains_.assign(n * num_levels, kNoDomain);
  t.nvlink_.assign(n, kNoDomain);
  t.node_names_.resize(n);
  t.present_.assign(n, 0);
  t.index_by_name_.reserve(n);

  std::vector<std::unordered_map<DomainKey, uint32_t, DomainKeyHash>> by_key(num_levels - 1);
  for (auto& m : by_key) m.reserve(64);
  std::unordered_map<std::string_view, uint32_t> nvlink_by_value;

  for (size_t i = 0; i < n; ++i) {
    const Node* node = nodes[i];
    if (node == nullptr) continue;
    // why: a duplicate name would make IndexOf ambiguous; the first one keeps the name and the
    // later one stays an empty slot rather than corrupting the tree.
    if (!t.index_by_name_.emplace(node->name, static_cast<uint32_t>(i)).second) continue;
    t.present_[i] = 1;
    t.node_names_[i] = node->name;
    uint32_t* row = &t.domains_[i * num_levels];
    uint32_t parent = kNoDomain;
    bool labeled = true;
    for (int l = 0; l < node_level; ++l) {
      Level& level = t.levels_[l];
      const std::string* value = labeled ? node->labels.Find(t.level_keys_[l]) : nullptr;
      if (value == nullptr || value->empty()) labeled = false;
      uint32_t id;
      if (labeled) {
        auto [it, inserted] = by_key[l].try_emplace(DomainKey{parent, *value},
                                                    static_cast<uint32_t>(level.names.size()));
        id = it->second;
        if (inserted) {
          level.names.push_back(*value);
          level.parents.push_back(parent);
          level.labeled.push_back(1);
        }
      } else {
        // why: a node missing a level forms its own domain there and below, so it is never
        // packed with strangers on the strength of a label it does not have.
        id = static_cast<uint32_t>(level.names.size());
        level.names.push_back(UnlabeledName(node->name));
        level.parents.push_back(parent);
        level.labeled.push_back(0);
      }
      row[l] = id;
      parent = id;
    }
    Level& leaf = t.levels_[node_level];
    row[node_level] = static_cast<uint32_t>(leaf.names.size());
    leaf.names.push_back(node->name);
    leaf.parents.push_back(parent);
    leaf.labeled.push_back(1);

    const std::string* clique =
        options.nvlink_label.empty() ? nullptr : node->labels.Find(options.nvlink_label);
    if (clique != nullptr && !clique->empty()) {
      auto [it, inserted] =
          nvlink_by_value.try_emplace(*clique, static_cast<uint32_t>(t.nvlink_level_.names.size()));
      if (inserted) {
        t.nvlink_level_.names.push_back(*clique);
        t.nvlink_level_.parents.push_back(kNoDomain);
        t.nvlink_level_.labeled.push_back(1);
      }
      t.nvlink_[i] = it->second;
    }
  }

  for (int l = 0; l < num_levels; ++l) {
    FillMembers(t.levels_[l], t.domains_.data() + l, num_levels, n);
  }
  FillMembers(t.nvlink_level_, t.nvlink_.data(), 1, n);
  return t;
}

// Counting sort of node indices by domain: members come out ascending within each domain.
void Topology::FillMembers(Level& level, const uint32_t* domain_of, size_t stride,
                           size_t num_nodes) {
  const size_t num_domains = level.names.size();
  level.offsets.assign(num_domains + 1, 0);
  for (size_t i = 0; i < num_nodes; ++i) {
    uint32_t d = domain_of[i * stride];
    if (d != kNoDomain) ++level.offsets[d + 1];
  }
  for (size_t d = 0; d < num_domains; ++d) level.offsets[d + 1] += level.offsets[d];
  level.members.resize(level.offsets[num_domains]);
  std::vector<uint32_t> cursor(level.offsets.begin(), level.offsets.end() - 1);
  for (size_t i = 0; i < num_nodes; ++i) {
    uint32_t d = domain_of[i * stride];
    if (d != kNoDomain) level.members[cursor[d]++] = static_cast<uint32_t>(i);
  }
}

int Topology::LevelIndex(std::string_view label_key) const {
  for (int l = 0; l < NumLevels(); ++l) {
    if (level_keys_[l] == label_key) return l;
  }
  return -1;
}

uint32_t Topology::IndexOf(std::string_view node_name) const {
  auto it = index_by_name_.find(node_name);
  return it == index_by_name_.end() ? kNoDomain : it->second;
}

int Topology::SharedLevels(uint32_t a, uint32_t b) const {
  // why: checked, not asserted: a stale index from a caller must not read out of bounds.
  if (!HasNode(a) || !HasNode(b)) return 0;
  const int num_levels = NumLevels();
  const uint32_t* ra = &domains_[static_cast<size_t>(a) * num_levels];
  const uint32_t* rb = &domains_[static_cast<size_t>(b) * num_levels];
  // why: ids are tree paths, so the first differing level ends the shared prefix.
  int l = 0;
  while (l < num_levels && ra[l] == rb[l]) ++l;
  return l;
}

std::span<const uint32_t> Topology::DomainNodes(int level, uint32_t domain) const {
  const Level& lv = levels_[level];
  assert(domain < lv.names.size());
  return {lv.members.data() + lv.offsets[domain], lv.offsets[domain + 1] - lv.offsets[domain]};
}

std::span<const uint32_t> Topology::NvlinkNodes(uint32_t domain) const {
  const Level& lv = nvlink_level_;
  assert(domain < lv.names.size());
  return {lv.members.data() + lv.offsets[domain], lv.offsets[domain + 1] - lv.offsets[domain]};
}

std::string Topology::DomainPath(int level, uint32_t domain) const {
  std::vector<const std::string*> parts;
  for (int l = level; l >= 0 && domain != kNoDomain; --l) {
    parts.push_back(&levels_[l].names[domain]);
    domain = levels_[l].parents[domain];
  }
  std::string path;
  for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
    if (!path.empty()) path.push_back('/');
    path += **it;
  }
  return path;
}

Status ParseTopologyRequest(const Labels& annotations, const Topology& topology,
                            TopologyRequest* out) {
  TopologyRequest req;
  auto parse = [&](std::span<const std::string_view> keys, int* level,
                   std::string* source) -> Status {
    for (std::string_view key : keys) {
      const std::string* raw = annotations.Find(key);
      if (raw == nullptr) continue;
      std::string_view value = Trim(*raw);
      if (value.empty()) {
        return Status::InvalidArgument(std::string(key) + ": empty topology level");
      }
      int l = topology.LevelIndex(value);
      if (l < 0) {
        return Status::InvalidArgument(std::string(key) + ": unknown topology level \"" +
                                       std::string(value) + "\"");
      }
      *level = l;
      *source = std::string(key);
      return Status::Ok();
    }
    return Status::Ok();
  };
  Status s = parse(kTopologyRequiredKeys, &req.required_level, &req.required_source);
  if (!s.ok()) return s;
  s = parse(kTopologyPreferredKeys, &req.preferred_level, &req.preferred_source);
  if (!s.ok()) return s;
  // why: a preference at or above the required level is already implied by the requirement.
  if (req.required_level >= 0 && req.preferred_level >= 0 &&
      req.preferred_level <= req.required_level) {
    req.preferred_level = -1;
    req.preferred_source.clear();
  }
  *out = std::move(req);
  return Status::Ok();
}

}  // namespace mlsched::policy
