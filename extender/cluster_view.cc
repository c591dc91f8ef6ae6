#include "extender/cluster_view.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <memory>
#include <set>
#include <tuple>
#include <unordered_map>
#include <unordered_set>

namespace mlsched::extender {

namespace {

// A thin layer over rapidjson's writer for string_views and key/value pairs.
class Json {
 public:
  Json() : w_(sb_) {}
  void Str(std::string_view s) { w_.String(s.data(), static_cast<rapidjson::SizeType>(s.size())); }
  Json& Key(std::string_view k) {
    w_.Key(k.data(), static_cast<rapidjson::SizeType>(k.size()));
    return *this;
  }
  void Int(int64_t v) { w_.Int64(v); }
  void Bool(bool v) { w_.Bool(v); }
  void Null() { w_.Null(); }
  // Milliseconds with three decimals: enough for latencies, and stable in tests.
  void Ms(double v) { w_.Double(std::round(v * 1000) / 1000); }
  void StartObject() { w_.StartObject(); }
  void EndObject() { w_.EndObject(); }
  void StartArray() { w_.StartArray(); }
  void EndArray() { w_.EndArray(); }
  std::string Done() { return std::string(sb_.GetString(), sb_.GetSize()); }

 private:
  rapidjson::StringBuffer sb_;
  rapidjson::Writer<rapidjson::StringBuffer> w_;
};

// "rack-2" before "rack-10": digit runs compare as numbers.
bool NaturalLess(std::string_view a, std::string_view b) {
  size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    if (std::isdigit(static_cast<unsigned char>(a[i])) &&
        std::isdigit(static_cast<unsigned char>(b[j]))) {
      size_t i2 = i, j2 = j;
      while (i2 < a.size() && a[i2] == '0') ++i2;
      while (j2 < b.size() && b[j2] == '0') ++j2;
      size_t ie = i2, je = j2;
      while (ie < a.size() && std::isdigit(static_cast<unsigned char>(a[ie]))) ++ie;
      while (je < b.size() && std::isdigit(static_cast<unsigned char>(b[je]))) ++je;
      if (ie - i2 != je - j2) return ie - i2 < je - j2;
      int c = a.substr(i2, ie - i2).compare(b.substr(j2, je - j2));
      if (c != 0) return c < 0;
      i = ie;
      j = je;
      continue;
    }
    if (a[i] != b[j]) return a[i] < b[j];
    ++i;
    ++j;
  }
  return a.size() - i < b.size() - j;
}

struct NaturalOrder {
  using is_transparent = void;  // lookups by string_view allocate nothing
  bool operator()(std::string_view a, std::string_view b) const { return NaturalLess(a, b); }
};

constexpr std::string_view kNoLabel = "(none)";

// The GPU counts a cell colour stands for. A node that is not schedulable (NotReady or
// cordoned) has no free GPUs: what is neither used nor reserved on it is unavailable.
struct Counts {
  int64_t nodes = 0;
  int64_t gpus = 0;
  int64_t free = 0;
  int64_t used = 0;
  int64_t reserved = 0;
  int64_t unavailable = 0;

  void Add(const policy::NodeGpuRow& r) {
    ++nodes;
    gpus += r.gpus;
    int64_t u = std::min(r.gpus_used, r.gpus);
    int64_t rs = std::min(r.gpus_reserved, r.gpus - u);
    int64_t rest = r.gpus - u - rs;
    used += u;
    reserved += rs;
    (r.schedulable ? free : unavailable) += rest;
  }
  void Write(Json& j) const {
    j.Key("nodes").Int(nodes);
    j.Key("gpus").Int(gpus);
    j.Key("free").Int(free);
    j.Key("used").Int(used);
    j.Key("reserved").Int(reserved);
    j.Key("unavailable").Int(unavailable);
  }
};

std::string_view LevelValue(const policy::NodeGpuRow& r, size_t level) {
  std::string_view v = level < r.labels.size() ? std::string_view(r.labels[level]) : "";
  return v.empty() ? kNoLabel : v;
}

std::string PathOf(const ViewLayout& layout, const policy::NodeGpuRow& r) {
  std::string path;
  for (size_t l = 0; l < layout.level_keys.size(); ++l) {
    if (l) path += '/';
    path += LevelValue(r, l);
  }
  return path;
}

std::string_view ModelOf(const ViewLayout& layout, const policy::NodeGpuRow& r) {
  for (size_t k = 0; k < layout.model_keys.size(); ++k) {
    size_t i = layout.level_keys.size() + k;
    if (i < r.labels.size() && !r.labels[i].empty()) return r.labels[i];
  }
  return r.gpus > 0 ? "(unknown GPU)" : "(no GPU)";
}

// The nodes a gang's plan names (planned, waiting at the barrier, or bound).
std::unordered_set<std::string> GangNodes(const std::vector<policy::GangView>& gangs,
                                          std::string_view gang) {
  std::unordered_set<std::string> out;
  for (const auto& g : gangs) {
    if (g.ns + "/" + g.name != gang) continue;
    for (const auto& m : g.plan) {
      if (!m.node.empty()) out.insert(m.node);
    }
  }
  return out;
}

// Applies a NodeFilter to rows; `path` is computed once per row by the caller when needed.
class Matcher {
 public:
  Matcher(const ViewLayout& layout, const NodeFilter& f, const std::vector<policy::GangView>& gangs)
      : layout_(layout), f_(f) {
    if (!f.gang.empty()) gang_nodes_ = GangNodes(gangs, f.gang);
  }
  bool operator()(const policy::NodeGpuRow& r, const std::string& path) const {
    for (const auto& [level, value] : f_.levels) {
      if (LevelValue(r, static_cast<size_t>(level)) != value) return false;
    }
    if (!f_.model.empty() && ModelOf(layout_, r) != f_.model) return false;
    if (!f_.gang.empty() && !gang_nodes_.count(r.name)) return false;
    if (!f_.domains.empty()) {
      bool any = false;
      for (const std::string& d : f_.domains) {
        // A prefix that ends at a '/' boundary (or is the whole path).
        if (path.compare(0, d.size(), d) == 0 &&
            (path.size() == d.size() || path[d.size()] == '/')) {
          any = true;
          break;
        }
      }
      if (!any) return false;
    }
    return true;
  }
  bool needs_path() const { return !f_.domains.empty(); }

 private:
  const ViewLayout& layout_;
  const NodeFilter& f_;
  std::unordered_set<std::string> gang_nodes_;
};

struct Domain {
  Counts counts;
  std::vector<std::pair<std::string, int64_t>> reserved_by_gang;
  std::map<std::string, std::unique_ptr<Domain>, NaturalOrder> children;

  void AddGangs(const policy::NodeGpuRow& r) {
    for (const auto& [gang, gpus] : r.gpus_reserved_by_gang) {
      auto it = std::find_if(reserved_by_gang.begin(), reserved_by_gang.end(),
                             [&](const auto& p) { return p.first == gang; });
      if (it == reserved_by_gang.end()) {
        reserved_by_gang.emplace_back(gang, gpus);
      } else {
        it->second += gpus;
      }
    }
  }
};

void WriteDomain(Json& j, const std::string& name, const std::string& path, const Domain& d,
                 int level) {
  j.StartObject();
  j.Key("name").Str(name);
  j.Key("path").Str(path);
  j.Key("level").Int(level);
  d.counts.Write(j);
  j.Key("reserved_by_gang").StartObject();
  for (const auto& [gang, gpus] : d.reserved_by_gang) j.Key(gang).Int(gpus);
  j.EndObject();
  if (!d.children.empty()) {
    j.Key("children").StartArray();
    for (const auto& [child, c] : d.children) {
      WriteDomain(j, child, path + "/" + child, *c, level + 1);
    }
    j.EndArray();
  }
  j.EndObject();
}

int StateRank(std::string_view state) {
  if (state == "waiting") return 0;
  if (state == "planned") return 1;
  if (state == "binding") return 2;
  return 3;
}

bool ParseSize(const std::string& s, size_t* out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

std::vector<std::string> SplitCommas(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t end = s.find(',', start);
    if (end == std::string::npos) end = s.size();
    if (end > start) out.push_back(s.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

}  // namespace

// ---- ServiceHistory ----

void ServiceHistory::Record(std::string_view verb, bool error, double seconds, int64_t now_ms) {
  size_t v = 0;
  while (v < kVerbs.size() && kVerbs[v] != verb) ++v;
  if (v == kVerbs.size()) return;
  int64_t epoch = now_ms / kSlotMs;
  int bucket = 0;
  for (double bound = 10e-6; bucket + 1 < kBuckets && seconds >= bound; bound *= 2) ++bucket;
  std::lock_guard lock(mu_);
  Slot& s = slots_[v][static_cast<size_t>(epoch % kSlots)];
  if (s.epoch != epoch) s = Slot{.epoch = epoch};
  ++s.count;
  s.errors += error;
  s.sum += seconds;
  s.max = std::max(s.max, seconds);
  ++s.buckets[static_cast<size_t>(bucket)];
}

ServiceHistory::SlotStats ServiceHistory::Stats(const std::vector<const Slot*>& slots,
                                                int64_t start_ms) {
  SlotStats st;
  st.start_ms = start_ms;
  std::array<uint64_t, kBuckets> buckets{};
  double sum = 0, max = 0;
  for (const Slot* s : slots) {
    st.count += s->count;
    st.errors += s->errors;
    sum += s->sum;
    max = std::max(max, s->max);
    for (int b = 0; b < kBuckets; ++b) buckets[b] += s->buckets[b];
  }
  if (st.count == 0) return st;
  auto quantile = [&](double q) {
    uint64_t rank = static_cast<uint64_t>(std::ceil(q * static_cast<double>(st.count)));
    uint64_t seen = 0;
    double upper = 10e-6;
    for (int b = 0; b < kBuckets; ++b, upper *= 2) {
      seen += buckets[b];
      if (seen >= rank) return std::min(upper, max);
    }
    return max;
  };
  st.mean_ms = sum / static_cast<double>(st.count) * 1e3;
  st.p50_ms = quantile(0.5) * 1e3;
  st.p99_ms = quantile(0.99) * 1e3;
  st.max_ms = max * 1e3;
  return st;
}

std::vector<ServiceHistory::VerbSeries> ServiceHistory::Snapshot(int64_t now_ms) const {
  const int64_t current = now_ms / kSlotMs;
  std::vector<VerbSeries> out;
  std::lock_guard lock(mu_);
  for (size_t v = 0; v < kVerbs.size(); ++v) {
    VerbSeries series;
    series.verb = std::string(kVerbs[v]);
    std::vector<const Slot*> all;
    const Slot empty;
    for (int64_t e = current - kSlots + 1; e <= current; ++e) {
      const Slot& s = slots_[v][static_cast<size_t>(((e % kSlots) + kSlots) % kSlots)];
      const Slot* use = s.epoch == e ? &s : &empty;
      series.slots.push_back(Stats({use}, e * kSlotMs));
      all.push_back(use);
    }
    series.window = Stats(all, (current - kSlots + 1) * kSlotMs);
    out.push_back(std::move(series));
  }
  return out;
}

// ---- Layout and filters ----

std::vector<std::string> ViewLayout::RowKeys() const {
  std::vector<std::string> keys = level_keys;
  keys.insert(keys.end(), model_keys.begin(), model_keys.end());
  return keys;
}

ViewLayout LayoutFor(const policy::Options& options) {
  ViewLayout layout;
  // As Topology::Build reads them: the node level is implicit; empty and repeated keys skipped.
  for (const std::string& k : options.topology_levels) {
    if (k.empty() || k == "kubernetes.io/hostname") continue;
    if (std::find(layout.level_keys.begin(), layout.level_keys.end(), k) !=
        layout.level_keys.end()) {
      continue;
    }
    layout.level_keys.push_back(k);
    size_t slash = k.rfind('/');
    layout.level_names.push_back(slash == std::string::npos ? k : k.substr(slash + 1));
  }
  return layout;
}

Status ParseNodeFilter(const ViewLayout& layout, const Params& params, bool paged,
                       NodeFilter* out) {
  NodeFilter f;
  for (const auto& [key, value] : params) {
    auto level = std::find(layout.level_names.begin(), layout.level_names.end(), key);
    if (level != layout.level_names.end()) {
      if (!value.empty()) {
        f.levels.emplace_back(static_cast<int>(level - layout.level_names.begin()), value);
      }
    } else if (key == "model") {
      f.model = value;
    } else if (key == "domains" || key == "domain") {
      for (std::string& d : SplitCommas(value)) f.domains.push_back(std::move(d));
    } else if (key == "gang") {
      f.gang = value;
    } else if (paged && (key == "offset" || key == "limit")) {
      size_t n = 0;
      if (!ParseSize(value, &n)) {
        return Status::InvalidArgument(key + " must be a non-negative integer, not \"" + value +
                                       "\"");
      }
      if (key == "offset") {
        f.offset = n;
      } else {
        f.limit = std::min<size_t>(n, 5000);
      }
    } else {
      std::string known;
      for (const std::string& n : layout.level_names) known += n + ", ";
      return Status::InvalidArgument("unknown parameter \"" + key + "\" (known: " + known +
                                     "model, domains, gang" + (paged ? ", offset, limit" : "") +
                                     ")");
    }
  }
  *out = std::move(f);
  return Status::Ok();
}

// ---- Builders ----

std::string SummaryJson(const ViewLayout& layout, const std::vector<policy::NodeGpuRow>& rows,
                        const std::vector<policy::GangView>& gangs, const NodeFilter& filter) {
  Matcher match(layout, filter, gangs);
  Domain root;
  Counts all;
  const size_t levels = layout.level_keys.size();
  // Filter choices over every node (not only the matching ones), so the page can widen again.
  std::vector<std::set<std::string, NaturalOrder>> values(levels);
  std::map<std::string, Counts, NaturalOrder> models;
  std::string path;
  // Nodes of a rack usually come one after another: the domains and the model of the previous
  // row are reused while the label values stay the same, so most rows cost no map lookup.
  std::vector<std::string_view> last_value(levels);
  std::vector<Domain*> last_domain(levels, nullptr);
  bool first = true;
  std::string_view last_model;
  Counts* model_counts = nullptr;
  for (const auto& r : rows) {
    all.Add(r);
    std::string_view model = ModelOf(layout, r);
    if (!model_counts || model != last_model) {
      auto it = models.find(model);
      if (it == models.end()) it = models.emplace(std::string(model), Counts()).first;
      model_counts = &it->second;
      last_model = model;
    }
    model_counts->Add(r);
    if (match.needs_path()) path = PathOf(layout, r);
    const bool matches = match(r, path);
    Domain* d = &root;
    if (matches) {
      d->counts.Add(r);
      d->AddGangs(r);
    }
    bool same = !first;  // the same label values as the previous row down to this level
    first = false;
    for (size_t l = 0; l < levels; ++l) {
      std::string_view v = LevelValue(r, l);
      same = same && v == last_value[l];
      if (!same) {
        if (values[l].find(v) == values[l].end()) values[l].emplace(v);
        last_value[l] = v;
        last_domain[l] = nullptr;
      }
      if (!matches) continue;
      if (!last_domain[l]) {
        auto it = d->children.find(v);
        if (it == d->children.end()) {
          it = d->children.emplace(std::string(v), std::make_unique<Domain>()).first;
        }
        last_domain[l] = it->second.get();
      }
      d = last_domain[l];
      d->counts.Add(r);
      d->AddGangs(r);
    }
  }
  int64_t states[4] = {0, 0, 0, 0};
  for (const auto& g : gangs) ++states[StateRank(g.state)];

  Json j;
  j.StartObject();
  j.Key("levels").StartArray();
  for (size_t l = 0; l < levels; ++l) {
    j.StartObject();
    j.Key("key").Str(layout.level_keys[l]);
    j.Key("name").Str(layout.level_names[l]);
    j.Key("values").StartArray();
    for (const std::string& v : values[l]) j.Str(v);
    j.EndArray();
    j.EndObject();
  }
  j.EndArray();
  j.Key("cluster").StartObject();
  all.Write(j);
  j.EndObject();
  j.Key("selected").StartObject();
  root.counts.Write(j);
  j.EndObject();
  j.Key("models").StartArray();
  for (const auto& [model, c] : models) {
    j.StartObject();
    j.Key("model").Str(model);
    c.Write(j);
    j.EndObject();
  }
  j.EndArray();
  j.Key("gangs").StartObject();
  j.Key("waiting").Int(states[0]);
  j.Key("planned").Int(states[1]);
  j.Key("binding").Int(states[2]);
  j.Key("running").Int(states[3]);
  j.EndObject();
  j.Key("tree").StartArray();
  for (const auto& [name, d] : root.children) WriteDomain(j, name, name, *d, 0);
  j.EndArray();
  j.EndObject();
  return j.Done();
}

std::string NodesJson(const ViewLayout& layout, const std::vector<policy::NodeGpuRow>& rows,
                      const std::vector<policy::GangView>& gangs, const NodeFilter& filter) {
  Matcher match(layout, filter, gangs);
  Json j;
  j.StartObject();
  j.Key("nodes").StartArray();
  size_t matched = 0, written = 0;
  for (const auto& r : rows) {
    std::string path = PathOf(layout, r);
    if (!match(r, path)) continue;
    if (matched++ < filter.offset || written >= filter.limit) continue;
    ++written;
    Counts c;
    c.Add(r);
    j.StartObject();
    j.Key("name").Str(r.name);
    j.Key("path").Str(path);
    j.Key("model").Str(ModelOf(layout, r));
    j.Key("schedulable").Bool(r.schedulable);
    j.Key("gpus").Int(c.gpus);
    j.Key("free").Int(c.free);
    j.Key("used").Int(c.used);
    j.Key("reserved").Int(c.reserved);
    j.Key("unavailable").Int(c.unavailable);
    j.Key("reserved_by_gang").StartArray();
    for (const auto& [gang, gpus] : r.gpus_reserved_by_gang) {
      j.StartObject();
      j.Key("gang").Str(gang);
      j.Key("gpus").Int(gpus);
      j.EndObject();
    }
    j.EndArray();
    j.EndObject();
  }
  j.EndArray();
  j.Key("total").Int(static_cast<int64_t>(matched));
  j.Key("offset").Int(static_cast<int64_t>(filter.offset));
  j.Key("limit").Int(static_cast<int64_t>(filter.limit));
  j.EndObject();
  return j.Done();
}

std::string GangsJson(const ViewLayout& layout, const std::vector<policy::NodeGpuRow>& rows,
                      const std::vector<policy::GangView>& gangs, size_t limit) {
  std::vector<const policy::GangView*> order;
  std::unordered_map<std::string, std::string> path_of;  // only the nodes plans name
  for (const auto& g : gangs) {
    order.push_back(&g);
    for (const auto& m : g.plan) {
      if (!m.node.empty()) path_of.emplace(m.node, std::string());
    }
  }
  std::unordered_map<std::string, int64_t> reserved;  // "ns/gang" -> GPUs
  for (const auto& r : rows) {
    if (auto it = path_of.find(r.name); it != path_of.end()) it->second = PathOf(layout, r);
    for (const auto& [gang, gpus] : r.gpus_reserved_by_gang) reserved[gang] += gpus;
  }
  std::stable_sort(order.begin(), order.end(), [](const auto* a, const auto* b) {
    int ra = StateRank(a->state), rb = StateRank(b->state);
    if (ra != rb) return ra < rb;
    return std::tie(a->ns, a->name) < std::tie(b->ns, b->name);
  });
  Json j;
  j.StartObject();
  j.Key("total").Int(static_cast<int64_t>(gangs.size()));
  j.Key("gangs").StartArray();
  for (size_t i = 0; i < order.size() && i < limit; ++i) {
    const policy::GangView& g = *order[i];
    const std::string key = g.ns + "/" + g.name;
    j.StartObject();
    j.Key("gang").Str(key);
    j.Key("source").Str(g.source);
    j.Key("state").Str(g.state);
    j.Key("min_member").Int(g.min_member);
    j.Key("members").Int(g.members);
    j.Key("bound").Int(g.bound);
    j.Key("reason").Str(g.reason);
    auto rv = reserved.find(key);
    j.Key("reserved_gpus").Int(rv == reserved.end() ? 0 : rv->second);
    j.Key("plan").StartArray();
    for (const auto& m : g.plan) {
      j.StartObject();
      j.Key("pod").Str(m.pod);
      j.Key("node").Str(m.node);
      auto p = m.node.empty() ? path_of.end() : path_of.find(m.node);
      j.Key("path").Str(p == path_of.end() ? std::string() : p->second);
      j.Key("bound").Bool(m.bound);
      j.Key("waiting_bind").Bool(m.waiting_bind);
      j.EndObject();
    }
    j.EndArray();
    j.Key("domains").StartArray();
    for (const auto& d : g.domains) j.Str(d);
    j.EndArray();
    j.EndObject();
  }
  j.EndArray();
  j.EndObject();
  return j.Done();
}

std::string PipelinesJson(const std::vector<policy::PipelineRunView>& runs, int64_t now_ms) {
  Json j;
  j.StartObject();
  j.Key("runs").StartArray();
  for (const auto& r : runs) {
    j.StartObject();
    j.Key("run").Str(r.run);
    if (r.last > 0) {
      j.Key("idle_seconds").Int(std::max<int64_t>(0, (now_ms - r.last) / 1000));
    } else {
      j.Key("idle_seconds").Null();
    }
    j.Key("steps").StartArray();
    for (const auto& s : r.steps) {
      j.StartObject();
      j.Key("step").Str(s.step);
      j.Key("node").Str(s.node);
      j.Key("seconds_ago").Int(std::max<int64_t>(0, (now_ms - s.at) / 1000));
      j.EndObject();
    }
    j.EndArray();
    j.Key("pending").StartArray();
    for (const auto& n : r.pending) {
      j.StartObject();
      j.Key("pod").Str(n.pod);
      j.Key("step").Str(n.step);
      j.Key("locality").Str(n.locality_key.empty() ? "none" : n.locality_key);
      j.Key("required").Bool(n.required);
      j.Key("after").StartArray();
      for (const auto& a : n.after) j.Str(a);
      j.EndArray();
      j.Key("steered_to").StartArray();
      for (const auto& node : n.steered_to) j.Str(node);
      j.EndArray();
      j.EndObject();
    }
    j.EndArray();
    j.EndObject();
  }
  j.EndArray();
  j.EndObject();
  return j.Done();
}

std::string ServiceJson(const std::vector<ServiceHistory::VerbSeries>& series,
                        const policy::ModelStats& stats, const ApiWatchState& api) {
  Json j;
  j.StartObject();
  j.Key("slot_seconds").Int(ServiceHistory::kSlotMs / 1000);
  j.Key("verbs").StartArray();
  auto write_stats = [&](const ServiceHistory::SlotStats& s, double seconds) {
    j.Key("count").Int(s.count);
    j.Key("errors").Int(s.errors);
    j.Key("rate").Ms(static_cast<double>(s.count) / seconds);
    j.Key("mean_ms").Ms(s.mean_ms);
    j.Key("p50_ms").Ms(s.p50_ms);
    j.Key("p99_ms").Ms(s.p99_ms);
    j.Key("max_ms").Ms(s.max_ms);
  };
  const double slot_s = ServiceHistory::kSlotMs / 1000.0;
  for (const auto& v : series) {
    j.StartObject();
    j.Key("verb").Str(v.verb);
    j.Key("window").StartObject();
    write_stats(v.window, slot_s * static_cast<double>(v.slots.size()));
    j.EndObject();
    j.Key("slots").StartArray();
    for (const auto& s : v.slots) {
      j.StartObject();
      write_stats(s, slot_s);
      j.EndObject();
    }
    j.EndArray();
    j.EndObject();
  }
  j.EndArray();
  j.Key("model").StartObject();
  j.Key("nodes").Int(stats.nodes);
  j.Key("pods").Int(stats.pods);
  j.Key("bound_pods").Int(stats.bound_pods);
  j.Key("assumed_pods").Int(stats.assumed_pods);
  j.Key("pod_groups").Int(stats.pod_groups);
  j.Key("gangs").Int(stats.gangs);
  j.Key("gangs_waiting").Int(stats.gangs_waiting);
  j.Key("reservations").Int(stats.reservations);
  j.Key("pipeline_runs").Int(stats.pipeline_runs);
  j.Key("waiting_binds").Int(stats.waiting_binds);
  j.EndObject();
  j.Key("api").StartObject();
  j.Key("source").Str(api.source);
  j.Key("detail").Str(api.detail);
  j.Key("synced").Bool(api.synced);
  j.Key("connected").Bool(api.connected);
  j.Key("pod_groups_known").Bool(api.pod_groups_known);
  j.Key("relists").Int(api.relists);
  j.Key("watch_restarts").Int(api.watch_restarts);
  j.Key("events_applied").Int(api.events_applied);
  j.Key("errors").Int(api.errors);
  j.Key("seconds_since_last_contact").Ms(api.seconds_since_last_contact);
  j.Key("last_error").Str(api.last_error);
  j.EndObject();
  j.EndObject();
  return j.Done();
}

// ---- ClusterView ----

ClusterView::ClusterView(const policy::Engine* engine, const ServiceHistory* history,
                         std::function<ApiWatchState()> api)
    : engine_(engine),
      history_(history),
      api_(std::move(api)),
      layout_(LayoutFor(engine->options())) {}

ViewAnswer ClusterView::Serve(std::string_view path, const Params& params, int64_t wall_ms,
                              int64_t mono_ms) const {
  auto bad = [](int code, const std::string& message) {
    Json j;
    j.StartObject();
    j.Key("error").Str(message);
    j.EndObject();
    return ViewAnswer{code, j.Done()};
  };
  auto no_params = [&]() -> Status {
    if (params.empty()) return Status::Ok();
    return Status::InvalidArgument("unknown parameter \"" + params.begin()->first + "\"");
  };
  auto limit_param = [&](size_t def, size_t* out) -> Status {
    *out = def;
    for (const auto& [k, v] : params) {
      if (k != "limit") {
        return Status::InvalidArgument("unknown parameter \"" + k + "\" (known: limit)");
      }
      if (!ParseSize(v, out)) {
        return Status::InvalidArgument("limit must be a non-negative integer, not \"" + v + "\"");
      }
    }
    *out = std::min<size_t>(*out, 1000);
    return Status::Ok();
  };
  if (path == "/debug/view/summary" || path == "/debug/view/nodes") {
    const bool nodes = path == "/debug/view/nodes";
    NodeFilter filter;
    if (Status s = ParseNodeFilter(layout_, params, nodes, &filter); !s.ok()) {
      return bad(400, s.message());
    }
    std::vector<policy::NodeGpuRow> rows = engine_->GpuRows(layout_.RowKeys());
    // Gangs only when a gang filter needs their plans, or for the summary's counts.
    std::vector<policy::GangView> gangs;
    if (!nodes || !filter.gang.empty()) gangs = engine_->Gangs();
    return {200, nodes ? NodesJson(layout_, rows, gangs, filter)
                       : SummaryJson(layout_, rows, gangs, filter)};
  }
  if (path == "/debug/view/gangs") {
    size_t limit = 0;
    if (Status s = limit_param(200, &limit); !s.ok()) return bad(400, s.message());
    std::vector<policy::GangView> gangs = engine_->Gangs();
    return {200, GangsJson(layout_, engine_->GpuRows(layout_.RowKeys()), gangs, limit)};
  }
  if (path == "/debug/view/pipelines") {
    size_t limit = 0;
    if (Status s = limit_param(50, &limit); !s.ok()) return bad(400, s.message());
    return {200, PipelinesJson(engine_->PipelineRuns(limit), wall_ms)};
  }
  if (path == "/debug/view/service") {
    if (Status s = no_params(); !s.ok()) return bad(400, s.message());
    ApiWatchState api = api_ ? api_() : ApiWatchState{};
    return {200, ServiceJson(history_->Snapshot(mono_ms), engine_->Stats(), api)};
  }
  return bad(404, "no such view: " + std::string(path) +
                      " (try /debug/view/summary, nodes, gangs, pipelines, service)");
}

}  // namespace mlsched::extender
