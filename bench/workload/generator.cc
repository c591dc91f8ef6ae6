// The workload generator. Figures used (see /work/shared/traces/README.md):
//
// Microsoft Philly (Jeon et al., ATC'19; the Pollux per-job summary, 82,247 jobs):
//   GPUs per job: 1: 93.17%, 2: 2.21%, 4: 2.27%, 8: 2.00%, 16: 0.24%, 32: 67 jobs, 64: 6,
//   128: 3 (0.09% together), 12 and 24: 7 each (0.02%).
//   Duration percentiles (s): p10 61, p25 115, p50 1,144, p75 2,932, p90 11,266,
//   p99 254,884, max 4,628,226; sampled log-linearly between them.
// Alibaba PAI GPU v2023 (Weng et al., ATC'23, 8,152 pods):
//   13.35% of pods are CPU-only; their cpu request p10 8 cores, p25-p50 12.5, p75+ 32;
//   memory p10 30 GiB, p50 50 GiB, p75+ 56 GiB. Time in system p10 80 s, p25 167, p50 540,
//   p75 1,974, p90 6,574, p99 99,719.
//   GPU pods per GPU: cpu p25 4 cores, p50 9.8; memory p25 10.4 GiB, p50 30.5 GiB (capped here
//   at 11 cores and 45 GiB per GPU so that an 8-GPU pod fits the common 96-core/384 GiB node).
// Arrivals are Poisson at the rate that offers `load` of the cluster's GPU-time (the rate is
// calibrated by sampling the job mix itself, so the caps above are accounted for).

#include <algorithm>
#include <cmath>
#include <random>

#include "bench/workload/workload.h"

namespace mlsched::bench {
namespace {

constexpr int64_t kMiB = 1LL << 20;
constexpr int64_t kGiB = 1LL << 30;
constexpr TimeMs kMinuteMs = 60'000;

// (cumulative share, value) points; values interpolated in log space.
double LogInterp(const std::vector<std::pair<double, double>>& pts, double u) {
  if (u <= pts.front().first) return pts.front().second;
  for (size_t k = 1; k < pts.size(); ++k) {
    if (u <= pts[k].first) {
      double f = (u - pts[k - 1].first) / (pts[k].first - pts[k - 1].first);
      return std::exp(std::log(pts[k - 1].second) * (1 - f) + std::log(pts[k].second) * f);
    }
  }
  return pts.back().second;
}

TimeMs Clamp(double seconds, TimeMs max_ms) {
  return std::clamp<TimeMs>(static_cast<TimeMs>(seconds * 1000), 1000, max_ms);
}

struct Gen {
  const GeneratorOptions& o;
  std::mt19937_64 rng;
  std::uniform_real_distribution<double> uni{0.0, 1.0};
  double U() { return uni(rng); }

  int64_t CpuPerGpu() {
    return std::min<int64_t>(
        11'000,
        static_cast<int64_t>(LogInterp(
            {{0, 2'000}, {0.1, 3'152}, {0.25, 4'000}, {0.5, 9'810}, {0.75, 11'908}, {1, 24'200}},
            U())));
  }
  int64_t MemPerGpu() {
    return std::min<int64_t>(45 * 1024, static_cast<int64_t>(LogInterp({{0, 2'048},
                                                                        {0.1, 5'600},
                                                                        {0.25, 10'600},
                                                                        {0.5, 31'250},
                                                                        {0.75, 48'128},
                                                                        {1, 93'184}},
                                                                       U()))) *
           kMiB;
  }
  double CpuPodSeconds() {
    return LogInterp({{0, 10},
                      {0.1, 80},
                      {0.25, 167},
                      {0.5, 540},
                      {0.75, 1'974},
                      {0.9, 6'574},
                      {0.99, 99'719},
                      {1, 200'000}},
                     U());
  }
};

}  // namespace

int SamplePhillyGpus(double u) {
  // Cumulative shares of the Philly table (12 and 24 GPUs folded into 16 and 32).
  static const std::pair<double, int> kTable[] = {{0.9317, 1},   {0.9538, 2},   {0.9765, 4},
                                                  {0.9965, 8},   {0.99905, 16}, {0.99987, 32},
                                                  {0.99995, 64}, {1.0, 128}};
  for (const auto& [c, g] : kTable) {
    if (u < c) return g;
  }
  return 128;
}

double SamplePhillyDurationSeconds(double u) {
  return LogInterp({{0, 1},
                    {0.10, 61},
                    {0.25, 115},
                    {0.50, 1'144},
                    {0.75, 2'932},
                    {0.90, 11'266},
                    {0.99, 254'884},
                    {1.0, 4'628'226}},
                   u);
}

JobSpec MakeGpuJob(const std::string& name, TimeMs arrival, int64_t gpus, TimeMs duration,
                   int64_t milli_cpu_per_gpu, int64_t memory_per_gpu, int gpus_per_node,
                   bool use_pod_group, TimeMs stagger_ms) {
  JobSpec j;
  j.name = name;
  j.arrival_ms = arrival;
  gpus = std::max<int64_t>(1, gpus);
  gpus_per_node = std::max(1, gpus_per_node);
  int64_t workers = (gpus + gpus_per_node - 1) / gpus_per_node;
  j.kind = workers > 1 ? JobKind::kTraining : JobKind::kGpu;
  for (int64_t w = 0; w < workers; ++w) {
    int64_t g = std::min<int64_t>(gpus_per_node, gpus - w * gpus_per_node);
    PodSpec p;
    p.pod.ns = "ml";
    p.pod.name = workers > 1 ? name + "-worker-" + std::to_string(w) : name;
    p.pod.requests = Request(milli_cpu_per_gpu * g, memory_per_gpu * g, g);
    p.pod.images.push_back("registry.example/train:v1");
    p.duration_ms = duration;
    if (workers > 1) {
      if (use_pod_group) {
        p.pod.labels.Set(kPodGroupLabel, name);
      } else {
        p.pod.annotations.Set(kGangAnnotation, name);
        p.pod.annotations.Set(kGangSizeAnnotation, std::to_string(workers));
      }
      p.create_delay_ms = stagger_ms * w;
    }
    j.pods.push_back(std::move(p));
  }
  if (workers > 1) {
    j.gang_size = static_cast<int32_t>(workers);
    if (use_pod_group) {
      policy::PodGroup pg;
      pg.ns = "ml";
      pg.name = name;
      pg.min_member = static_cast<int32_t>(workers);
      j.pod_group = pg;
    }
  }
  return j;
}

Workload Generate(const GeneratorOptions& o) {
  Workload w;
  Gen g{o, std::mt19937_64(o.seed)};

  // Calibrate the arrival rate: mean GPU-seconds per GPU job, from the mix itself.
  double mean_gpu_s = 0;
  {
    std::mt19937_64 cal(o.seed ^ 0x9e3779b97f4a7c15ULL);
    std::uniform_real_distribution<double> u(0, 1);
    const int n = 200'000;
    const double span = static_cast<double>(o.span_ms) / 1000.0;
    for (int k = 0; k < n; ++k) {
      double gpus = SamplePhillyGpus(u(cal));
      double s =
          static_cast<double>(Clamp(SamplePhillyDurationSeconds(u(cal)), o.max_duration_ms)) /
          1000.0;
      // Only the part of the run inside the window counts: `load` is the GPU-time offered
      // within the simulated span (a long job arriving late adds little to it).
      double left = span * (1.0 - u(cal));
      mean_gpu_s += gpus * std::min(s, left) / n;
    }
  }
  double span_s = static_cast<double>(o.span_ms) / 1000.0;
  // Pipelines and functions take a little GPU-time of their own; the GPU jobs fill the rest.
  double other_gpu_s = o.pipelines_per_hour * (span_s / 3600) * (2.5 * 3'000 + 600) +
                       o.function_bursts_per_hour * (span_s / 3600) * 32 * 120;
  double target =
      std::max(0.0, o.load * static_cast<double>(o.cluster_gpus) * span_s - other_gpu_s);
  double jobs_per_s = mean_gpu_s > 0 ? target / mean_gpu_s / span_s : 0;
  char desc[256];
  std::snprintf(desc, sizeof desc,
                "generated: seed %llu, %.1f h, load %.2f of %lld GPUs (%.0f GPU jobs/h, mean "
                "%.0f GPU-s each inside the window), %.1f pipelines/h, %.1f function bursts/h",
                static_cast<unsigned long long>(o.seed), span_s / 3600, o.load,
                static_cast<long long>(o.cluster_gpus), jobs_per_s * 3600, mean_gpu_s,
                o.pipelines_per_hour, o.function_bursts_per_hour);
  w.description = desc;

  int serial = 0;
  auto next_name = [&serial](const char* prefix) {
    return std::string(prefix) + "-" + std::to_string(serial++);
  };

  // GPU jobs (and CPU pods in proportion).
  if (jobs_per_s > 0) {
    std::exponential_distribution<double> gap(jobs_per_s);
    for (double t = gap(g.rng); t < span_s; t += gap(g.rng)) {
      TimeMs at = static_cast<TimeMs>(t * 1000);
      int gpus = SamplePhillyGpus(g.U());
      TimeMs d = Clamp(SamplePhillyDurationSeconds(g.U()), o.max_duration_ms);
      bool pg = g.U() < o.pod_group_share;
      w.jobs.push_back(MakeGpuJob(next_name(gpus > o.gpus_per_node ? "train" : "gpu"), at, gpus, d,
                                  g.CpuPerGpu(), g.MemPerGpu(), o.gpus_per_node, pg,
                                  o.controller_stagger_ms));
      if (g.U() < o.cpu_pods_per_gpu_job) {
        JobSpec c;
        c.name = next_name("cpu");
        c.kind = JobKind::kCpu;
        c.arrival_ms = at;
        PodSpec p;
        p.pod.ns = "ml";
        p.pod.name = c.name;
        double cu = g.U();
        int64_t cpu = cu < 0.1 ? 8'000 : cu < 0.6 ? 12'500 : 32'000;
        int64_t mem = static_cast<int64_t>(
            LogInterp({{0, 16}, {0.1, 30}, {0.5, 50}, {0.75, 56}, {1, 61}}, g.U()) * kGiB);
        p.pod.requests = Request(cpu, mem, 0);
        p.duration_ms = Clamp(g.CpuPodSeconds(), o.max_duration_ms);
        c.pods.push_back(std::move(p));
        w.jobs.push_back(std::move(c));
      }
    }
  }

  // Pipelines: prep -> features -> train -> eval -> push.
  if (o.pipelines_per_hour > 0) {
    std::exponential_distribution<double> gap(o.pipelines_per_hour / 3600.0);
    static const char* kSteps[] = {"prep", "features", "train", "eval", "push"};
    for (double t = gap(g.rng); t < span_s; t += gap(g.rng)) {
      JobSpec j;
      j.name = next_name("pipeline");
      j.kind = JobKind::kPipeline;
      j.arrival_ms = static_cast<TimeMs>(t * 1000);
      int train_gpus = std::min(o.gpus_per_node, SamplePhillyGpus(g.U() * 0.9965));
      for (int k = 0; k < 5; ++k) {
        PodSpec p;
        p.pod.ns = "ml";
        p.pod.name = j.name + "-" + kSteps[k];
        int64_t gpus = k == 2 ? train_gpus : k == 3 ? 1 : 0;
        int64_t cpu = k == 0 ? 8'000 : k == 1 ? 16'000 : k == 4 ? 2'000 : 4'000 * gpus;
        int64_t mem = k == 1   ? 64 * kGiB
                      : k == 4 ? 4 * kGiB
                               : 16 * kGiB * std::max<int64_t>(1, gpus);
        p.pod.requests = Request(cpu, mem, gpus);
        p.pod.images.push_back(std::string("registry.example/pipeline-") + kSteps[k] + ":v1");
        p.pod.annotations.Set(kPipelineAnnotation, j.name);
        p.pod.annotations.Set(kStepAnnotation, kSteps[k]);
        double minutes = k == 2   ? std::min(240.0, SamplePhillyDurationSeconds(g.U()) / 60)
                         : k == 4 ? 2 + 3 * g.U()
                                  : 10 + 20 * g.U();
        p.duration_ms = std::max<TimeMs>(1000, static_cast<TimeMs>(minutes * kMinuteMs));
        if (k > 0) {
          p.pod.annotations.Set(kAfterAnnotation, kSteps[k - 1]);
          p.after.push_back(j.name + "-" + kSteps[k - 1]);
        }
        j.pods.push_back(std::move(p));
      }
      w.jobs.push_back(std::move(j));
    }
  }

  // Function bursts: Zipf-like popularity among `functions`, 16..48 pods 200 ms apart.
  if (o.function_bursts_per_hour > 0 && o.functions > 0) {
    std::exponential_distribution<double> gap(o.function_bursts_per_hour / 3600.0);
    std::vector<double> weights;
    for (int f = 0; f < o.functions; ++f) weights.push_back(1.0 / (f + 1));
    std::discrete_distribution<int> pick(weights.begin(), weights.end());
    std::uniform_int_distribution<int> size(16, 48);
    for (double t = gap(g.rng); t < span_s; t += gap(g.rng)) {
      int f = pick(g.rng);
      std::string fn = "fn-" + std::to_string(f);
      int n = size(g.rng);
      for (int k = 0; k < n; ++k) {
        JobSpec j;
        j.name = next_name(fn.c_str());
        j.kind = JobKind::kFunction;
        j.arrival_ms = static_cast<TimeMs>(t * 1000) + 200 * k;
        PodSpec p;
        p.pod.ns = "fn";
        p.pod.name = j.name;
        p.pod.requests = Request(4'000, 16 * kGiB, 1);
        p.pod.annotations.Set(kFunctionAnnotation, fn);
        p.pod.images.push_back("registry.example/" + fn + ":v1");
        p.duration_ms = static_cast<TimeMs>((60 + 120 * g.U()) * 1000);
        j.pods.push_back(std::move(p));
        w.jobs.push_back(std::move(j));
      }
    }
  }

  std::stable_sort(w.jobs.begin(), w.jobs.end(),
                   [](const JobSpec& a, const JobSpec& b) { return a.arrival_ms < b.arrival_ms; });
  return w;
}

}  // namespace mlsched::bench
