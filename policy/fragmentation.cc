#include "policy/fragmentation.h"

#include <algorithm>
#include <bit>
#include <climits>
#include <cmath>
#include <vector>

#include "policy/scoring.h"

namespace mlsched::policy {
namespace {

// A quarter-octave bucket of a non-negative quantity: 0 for 0, then 1, 2, ... with four
// buckets per power of two (bucket widths 14-25 % of their value). Pods of a shape seldom ask
// for exactly the same CPU and memory, and a few percent make no difference to what fits.
uint64_t QuarterOctave(int64_t v) {
  if (v <= 0) return 0;
  const uint64_t x = static_cast<uint64_t>(v);
  const int e = std::bit_width(x) - 1;  // 2^e <= x
  const uint64_t sub = e >= 2 ? (x >> (e - 2)) & 3 : (x << (2 - e)) & 3;
  return (static_cast<uint64_t>(e) << 2 | sub) + 1;
}

constexpr int64_t kMiB = 1024 * 1024;

// why: a node's free memory rounds down (FreeOf) and a shape's request rounds up, so whole MiB
// never make a shape look as if it fitted where it does not.
int64_t CeilMiB(int64_t bytes) { return bytes > 0 ? (bytes + kMiB - 1) / kMiB : 0; }

// Nearest integer, inline (std::llround is a libm call, and this runs once per node).
int64_t RoundToInt(float v) { return static_cast<int64_t>(v < 0 ? v - 0.5f : v + 0.5f); }

}  // namespace

// ---- FragmentationProfile ----

FragmentationProfile FragmentationProfile::FromShapes(const Shape* shapes, size_t n,
                                                      size_t max_shapes) {
  std::vector<Shape> kept;
  kept.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    if (shapes[i].weight > 0 && shapes[i].gpus > 0) kept.push_back(shapes[i]);
  }
  const size_t k = std::min(kept.size(), std::clamp<size_t>(max_shapes, 1, kMaxShapes));
  // The heaviest first; equal weights in a fixed order, so the profile is deterministic.
  auto heavier = [](const Shape& a, const Shape& b) {
    if (a.weight != b.weight) return a.weight > b.weight;
    if (a.gpus != b.gpus) return a.gpus < b.gpus;
    if (a.milli_cpu != b.milli_cpu) return a.milli_cpu < b.milli_cpu;
    return a.memory < b.memory;
  };
  std::partial_sort(kept.begin(), kept.begin() + static_cast<std::ptrdiff_t>(k), kept.end(),
                    heavier);
  double total = 0;
  for (size_t i = 0; i < k; ++i) total += static_cast<double>(kept[i].weight);
  FragmentationProfile p;
  for (size_t i = 0; i < k; ++i) {
    Shape s = kept[i];
    // why: every kept shape weighs at least 1, or a rare shape would vanish from the sum while
    // still being listed (and tests could not tell the two apart).
    s.weight = std::max<int64_t>(
        1, std::llround(static_cast<double>(s.weight) * kWeightScale / total));
    s.gpus = std::min<int64_t>(s.gpus, INT32_MAX);
    s.milli_cpu = std::clamp<int64_t>(s.milli_cpu, 0, INT32_MAX);
    s.memory = std::clamp<int64_t>(CeilMiB(s.memory), 0, INT32_MAX) * kMiB;
    p.shapes_[i] = s;
    // A shape asking for none of a resource is limited by it as if it asked for the least
    // unit: 1 millicore, 1 MiB (kube-scheduler gives such pods 100m and 200 MiB anyway).
    // why the nudge: 88000 x (1/11000) can come out a hair under 8 in floats; exact multiples
    // are the common case (whole cores), and one more copy counted for a node a few
    // millicores short of it is harmless.
    constexpr double kNudge = 1.0 + 1.0 / (1 << 20);
    auto inv = [](int64_t v) { return static_cast<float>(kNudge / static_cast<double>(v)); };
    p.inv_cpu_[i] = inv(std::max<int64_t>(s.milli_cpu, 1));
    p.inv_mem_[i] = inv(std::max<int64_t>(s.memory / kMiB, 1));
    p.inv_gpus_[i] = inv(s.gpus);
    p.weight_gpus_[i] = static_cast<float>(s.weight * s.gpus);
    p.total_weight_ += static_cast<float>(s.weight);
  }
  p.size_ = k;
  return p;
}

FragmentationProfile::Shape FragmentationProfile::shape(size_t i) const {
  return i < size_ ? shapes_[i] : Shape{};
}

FragmentationProfile::Free FragmentationProfile::FreeOf(int64_t milli_cpu, int64_t memory,
                                                        int64_t gpus) {
  // Negative (overcommitted) amounts are none; floats hold these integers exactly up to 2^24
  // (16,000 cores, 16 TiB), and a larger node is no less free for being rounded.
  return {static_cast<float>(std::max<int64_t>(milli_cpu, 0)),
          static_cast<float>(std::max<int64_t>(memory, 0) >> 20),  // whole MiB, rounded down
          static_cast<float>(std::max<int64_t>(gpus, 0))};
}

template <size_t kN>
void FragmentationProfile::UsableTwo(const Free& a, const Free& b, float* usable_a,
                                     float* usable_b) const {
  // Per-lane sums, added up at the end: a trip count known at compile time and no reduction
  // across lanes, so the compiler emits SIMD for it even at -O2, without -ffast-math.
  float sa[kLanes] = {}, sb[kLanes] = {};
  for (size_t base = 0; base < kN; base += kLanes) {
    for (size_t j = 0; j < kLanes; ++j) {
      const size_t i = base + j;
      const float ic = inv_cpu_[i], im = inv_mem_[i], ig = inv_gpus_[i];
      float ka = a.cpu * ic, kb = b.cpu * ic;
      const float ma = a.mem_mib * im, mb = b.mem_mib * im;
      const float ga = a.gpus * ig, gb = b.gpus * ig;
      ka = ma < ka ? ma : ka;
      kb = mb < kb ? mb : kb;
      ka = ga < ka ? ga : ka;
      kb = gb < kb ? gb : kb;
      // Whole copies: truncation is the floor of these non-negative counts.
      sa[j] += static_cast<float>(static_cast<int32_t>(ka)) * weight_gpus_[i];
      sb[j] += static_cast<float>(static_cast<int32_t>(kb)) * weight_gpus_[i];
    }
  }
  *usable_a = (sa[0] + sa[1]) + (sa[2] + sa[3]);
  *usable_b = (sb[0] + sb[1]) + (sb[2] + sb[3]);
}

void FragmentationProfile::Usable(const Free& a, const Free& b, float* usable_a,
                                  float* usable_b) const {
  // Only as many lanes as the profile fills (unused slots weigh 0 and cost nothing else).
  if (size_ <= 8) {
    UsableTwo<8>(a, b, usable_a, usable_b);
  } else if (size_ <= 16) {
    UsableTwo<16>(a, b, usable_a, usable_b);
  } else {
    UsableTwo<kMaxShapes>(a, b, usable_a, usable_b);
  }
}

int64_t FragmentationProfile::ExpectedFragment(int64_t free_milli_cpu, int64_t free_memory,
                                               int64_t free_gpus) const {
  if (free_gpus <= 0 || size_ == 0) return 0;
  const Free f = FreeOf(free_milli_cpu, free_memory, free_gpus);
  float usable = 0, unused = 0;
  Usable(f, f, &usable, &unused);
  return RoundToInt(f.gpus * total_weight_ - usable);
}

int64_t FragmentationProfile::Growth(int64_t free_milli_cpu, int64_t free_memory,
                                     int64_t free_gpus, const ResourceView& pod) const {
  if (free_gpus <= 0 || size_ == 0) return 0;  // no free GPU before, so none after either
  const Free before = FreeOf(free_milli_cpu, free_memory, free_gpus);
  const Free after = FreeOf(free_milli_cpu - pod.milli_cpu, free_memory - pod.memory,
                            free_gpus - pod.gpus);
  float usable_before = 0, usable_after = 0;
  Usable(before, after, &usable_before, &usable_after);
  const float fragment_before = before.gpus * total_weight_ - usable_before;
  const float fragment_after = after.gpus * total_weight_ - usable_after;
  return RoundToInt(fragment_after - fragment_before);
}

// ---- The rule ----

int GpuFragmentationScore(const ResourceView& pod, const NodeLoad& node,
                          const FragmentationProfile& profile) {
  if (profile.empty()) return kNotApplicable;
  const int64_t cpu = node.allocatable.milli_cpu - node.used.milli_cpu;
  const int64_t mem = node.allocatable.memory - node.used.memory;
  const int64_t gpus = node.allocatable.gpus - node.used.gpus;
  const int64_t cpu_after = cpu - pod.milli_cpu, mem_after = mem - pod.memory,
                gpus_after = gpus - pod.gpus;
  if (cpu_after < 0 || mem_after < 0 || gpus_after < 0) return 0;
  const int64_t growth = profile.Growth(cpu, mem, gpus, pod);
  // 50 points per GPU of expected fragmentation (growth is in GPUs x kWeightScale).
  constexpr int64_t kHalf = kMaxRuleScore / 2;
  const int64_t score = kHalf - growth * kHalf / FragmentationProfile::kWeightScale;
  return static_cast<int>(std::clamp<int64_t>(score, 0, kMaxRuleScore));
}

// ---- WorkloadMix ----

WorkloadMix::WorkloadMix(int max_shapes, int half_life)
    : max_shapes_(static_cast<size_t>(
          std::clamp<int>(max_shapes, 1, static_cast<int>(FragmentationProfile::kMaxShapes)))),
      growth_(std::exp2(1.0 / std::max(half_life, 1))) {}

void WorkloadMix::Observe(const ResourceView& pod) {
  if (pod.gpus <= 0) return;
  // Exponential decay without touching every bucket: each new pod counts `increment_`, which
  // grows by 2^(1/half_life) per pod; everything is rescaled before the doubles overflow.
  increment_ *= growth_;
  if (increment_ > 1e100) {
    for (auto& [key, b] : buckets_) {
      b.weight /= increment_;
      b.count /= increment_;
      b.milli_cpu_sum /= increment_;
      b.memory_sum /= increment_;
    }
    increment_ = 1;
  }
  const uint64_t key = static_cast<uint64_t>(std::min<int64_t>(pod.gpus, 0xffff)) << 48 |
                       QuarterOctave(pod.milli_cpu) << 24 | QuarterOctave(pod.memory);
  auto it = buckets_.find(key);
  if (it == buckets_.end()) {
    if (buckets_.size() >= kMaxBuckets) {
      auto lightest = std::min_element(buckets_.begin(), buckets_.end(), [](auto& a, auto& b) {
        return a.second.weight < b.second.weight;
      });
      buckets_.erase(lightest);
    }
    it = buckets_.emplace(key, Bucket{}).first;
    it->second.gpus = pod.gpus;
  }
  Bucket& b = it->second;
  b.weight += increment_ * static_cast<double>(pod.gpus);
  b.count += increment_;
  b.milli_cpu_sum += increment_ * static_cast<double>(pod.milli_cpu);
  b.memory_sum += increment_ * static_cast<double>(pod.memory);
  ++observed_;
  // why: while few pods have been seen every one changes the picture; later, rebuilding every
  // few pods keeps the writer path cheap and the profile at most a few pods behind.
  if (++since_rebuild_ >= kRebuildEvery || observed_ <= static_cast<int64_t>(kMaxBuckets)) {
    Rebuild();
  }
}

void WorkloadMix::Rebuild() {
  since_rebuild_ = 0;
  double heaviest = 0;
  for (const auto& [key, b] : buckets_) heaviest = std::max(heaviest, b.weight);
  std::vector<FragmentationProfile::Shape> shapes;
  shapes.reserve(buckets_.size());
  for (const auto& [key, b] : buckets_) {
    if (b.weight <= 0) continue;
    FragmentationProfile::Shape s;
    s.gpus = b.gpus;
    s.milli_cpu = std::llround(b.milli_cpu_sum / b.count);
    s.memory = std::llround(b.memory_sum / b.count);
    // Relative weights on a fixed integer scale (the heaviest bucket is 2^30).
    s.weight = std::llround(b.weight / heaviest * static_cast<double>(1 << 30));
    shapes.push_back(s);
  }
  profile_ = FragmentationProfile::FromShapes(shapes.data(), shapes.size(), max_shapes_);
}

}  // namespace mlsched::policy
