#pragma once

// GPU fragmentation, measured in the spirit of FGD (Weng et al., "Beware of Fragmentation:
// Scheduling GPU-Sharing Workloads with Fragmentation Gradient Descent", USENIX ATC'23): a
// node's free GPUs are fragmented, for one pod shape, when that shape cannot use them. The
// node's expected fragmentation is the mean over the workload's shapes, weighted by how much
// GPU demand each shape brings; the rule prefers the node where placing the pod makes that
// expectation grow the least (or shrink the most).
//
// For one shape (g GPUs, c CPU, m memory) on a node with G GPUs, C CPU and M memory free, the
// shape can run k = min(G/g, C/c, M/m) times (whole copies), using k*g GPUs; the other
// G - k*g free GPUs are fragments. FGD only asks whether one copy fits; counting copies also
// sees the slow starvation that strands most GPUs in practice: each CPU-only pod leaves "one
// more pod still fits", until the node's last GPUs have no CPU left to go with them.
//
// Why not GPU best-fit alone: best-fit only counts GPUs, so it fills a node's CPU and memory
// with no regard to the GPUs still free there. Those GPUs are stranded.
//
// Shapes weigh by GPU demand (pods x GPUs per pod), not by pod count: an 8-GPU job that
// cannot start leaves 8 GPUs of demand unserved, and weighing by count would let a stream of
// 1-GPU pods break up every whole node.
//
// GPUs are whole units here (the sum of Options::gpu_resources, as everywhere in policy/).
// Fractional GPU sharing (gpu-milli) is only modelled when a node advertises the shares as
// its GPU resource (time-slicing replicas); see README.
//
// Speed: the profile holds at most kMaxShapes shapes in flat float arrays (reciprocals, so no
// division); scoring one node is one pass over them with a compile-time trip count, which
// compilers turn into SIMD, and no allocation.
//
// Thread-safety: FragmentationProfile is an immutable value. WorkloadMix is not thread-safe:
// the Engine calls Observe under its writer lock and reads profile() under its reader lock.

#include <array>
#include <cstddef>
#include <cstdint>
#include <unordered_map>

namespace mlsched::policy {

struct ResourceView;
struct NodeLoad;

// The pod shapes of the workload with their popularity: an immutable snapshot.
class FragmentationProfile {
 public:
  static constexpr size_t kMaxShapes = 32;
  // The shapes' weights add up to this: fragmentation comes out in GPUs x kWeightScale, whole
  // numbers that tests can compare exactly.
  static constexpr int64_t kWeightScale = 1024;

  struct Shape {
    int64_t milli_cpu = 0;
    int64_t memory = 0;  // bytes (kept in whole MiB, rounded up)
    int64_t gpus = 0;    // > 0: only GPU pods measure GPU fragmentation
    int64_t weight = 0;  // share of the GPU demand, any positive scale
  };

  FragmentationProfile() = default;
  // The `shapes` with weight > 0 and gpus > 0, the heaviest first, at most `max_shapes`
  // (clamped to 1..kMaxShapes); weights are rescaled to add up to kWeightScale.
  static FragmentationProfile FromShapes(const Shape* shapes, size_t n, size_t max_shapes);

  bool empty() const { return size_ == 0; }
  size_t size() const { return size_; }
  // Shape i, its weight on the kWeightScale scale.
  Shape shape(size_t i) const;

  // Expected fragmented GPUs of a node with this much free, in GPUs x kWeightScale: the
  // weighted sum over the shapes of the free GPUs the shape cannot use.
  int64_t ExpectedFragment(int64_t free_milli_cpu, int64_t free_memory, int64_t free_gpus) const;
  // ExpectedFragment after placing `pod` minus before. One pass over the shapes; no
  // allocation.
  int64_t Growth(int64_t free_milli_cpu, int64_t free_memory, int64_t free_gpus,
                 const ResourceView& pod) const;

 private:
  // Lanes of the per-node loop; kMaxShapes is a multiple, unused slots weigh 0.
  static constexpr size_t kLanes = 4;
  static_assert(kMaxShapes % kLanes == 0);
  struct Free {
    float cpu, mem_mib, gpus;
  };
  static Free FreeOf(int64_t milli_cpu, int64_t memory, int64_t gpus);
  // Sum over the shapes of weight x GPUs the shape can use, for two free amounts at once
  // (before and after placing a pod).
  template <size_t kN>
  void UsableTwo(const Free& a, const Free& b, float* usable_a, float* usable_b) const;
  void Usable(const Free& a, const Free& b, float* usable_a, float* usable_b) const;

  size_t size_ = 0;
  float total_weight_ = 0;  // sum of weights
  // Flat arrays, not an array of Shape: the per-node loop takes one field of four shapes at
  // once. Reciprocals of CPU (millicores), memory (MiB, rounded up) and GPUs; weight x GPUs.
  alignas(16) std::array<float, kMaxShapes> inv_cpu_{};
  alignas(16) std::array<float, kMaxShapes> inv_mem_{};
  alignas(16) std::array<float, kMaxShapes> inv_gpus_{};
  alignas(16) std::array<float, kMaxShapes> weight_gpus_{};
  // The shapes as given (for shape() and the explain view), weights on kWeightScale.
  std::array<Shape, kMaxShapes> shapes_{};
};

// The rule for one node, 0..100: 50 when placing the pod leaves the node's expected
// fragmentation unchanged, falling by 50 points per GPU of expected fragmentation it adds
// (0 at one GPU or more) and rising by 50 per GPU it removes (100 at one GPU or more: the pod
// uses GPUs that the workload's shapes could not have used). 0 when the pod does not fit.
// kNotApplicable (-1) for an empty profile: nothing is known about the workload yet.
int GpuFragmentationScore(const ResourceView& pod, const NodeLoad& node,
                          const FragmentationProfile& profile);

// Learns the workload's shapes from the pods the model sees arrive: an exponentially decayed
// histogram of GPU pod shapes, each pod counting its GPUs (GPU count exact; CPU and memory in
// buckets a quarter of an octave wide, each represented by the decayed mean of its pods), and
// a FragmentationProfile of its heaviest buckets, refreshed every few pods.
class WorkloadMix {
 public:
  // `max_shapes`: shapes in the profile (1..kMaxShapes). `half_life`: after this many more GPU
  // pods, a shape seen before weighs half as much (>= 1).
  WorkloadMix(int max_shapes, int half_life);

  // A pod the model has just learnt about. CPU-only pods are ignored (they leave every GPU
  // free, so they measure no GPU fragmentation).
  void Observe(const ResourceView& pod);
  // The current snapshot; empty until a GPU pod has been seen. The reference lives as long as
  // the mix; what it holds changes on Observe (so readers and Observe must not overlap).
  const FragmentationProfile& profile() const { return profile_; }
  int64_t observed() const { return observed_; }

 private:
  // A bounded histogram: beyond this many buckets the lightest is dropped.
  static constexpr size_t kMaxBuckets = 256;
  // The profile is rebuilt after this many GPU pods (every pod while few have been seen).
  static constexpr int64_t kRebuildEvery = 16;

  struct Bucket {
    double weight = 0;         // decayed GPU demand: pods x GPUs
    double count = 0;          // decayed pods
    double milli_cpu_sum = 0;  // decayed sums, for the bucket's mean shape
    double memory_sum = 0;
    int64_t gpus = 0;
  };
  void Rebuild();

  size_t max_shapes_;
  double growth_;     // the increment grows by this per pod: 2^(1/half_life)
  double increment_ = 1;
  int64_t observed_ = 0;
  int64_t since_rebuild_ = 0;
  std::unordered_map<uint64_t, Bucket> buckets_;
  FragmentationProfile profile_;
};

}  // namespace mlsched::policy
