#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mlsched::policy {

// One extended ("scalar") resource such as nvidia.com/gpu, in whole units as the
// scheduler counts them (Quantity.Value()).
struct ScalarQuantity {
  std::string name;
  int64_t value = 0;
  bool operator==(const ScalarQuantity&) const = default;
};

// A set of resource quantities in the kube-scheduler's own units: cpu in millicores, memory
// and ephemeral storage in bytes, pods as a count, extended resources in whole units.
// Used both for node allocatable/free capacity and for pod requests (a pod requests pods=1).
struct Resources {
  int64_t milli_cpu = 0;
  int64_t memory = 0;
  int64_t ephemeral_storage = 0;
  int64_t pods = 0;
  std::vector<ScalarQuantity> scalars;  // sorted by name, no zero entries

  // Value of an extended resource; 0 when absent.
  int64_t Scalar(std::string_view name) const;
  // Sets an extended resource, keeping `scalars` sorted; a zero value removes it.
  void SetScalar(std::string_view name, int64_t value);
  void AddScalar(std::string_view name, int64_t delta);

  Resources& operator+=(const Resources& other);
  Resources& operator-=(const Resources& other);
  // Component-wise maximum (init containers and the sum of app containers).
  void MaxWith(const Resources& other);
  bool IsZero() const;
  bool operator==(const Resources&) const = default;

  // True when `request` fits in `*this` taken as free capacity. On failure, when `why` is not
  // null, names the first insufficient resource in the scheduler's words ("Insufficient cpu").
  // Resources the request does not ask for are not checked, as the scheduler does.
  bool Fits(const Resources& request, std::string* why = nullptr) const;
};

// The scheduler's words for a request that does not fit, as Resources::Fits, FitsOnNode and
// Filter's integer path give them: "Too many pods" and "Insufficient <resource>".
inline constexpr std::string_view kTooManyPods = "Too many pods";
std::string InsufficientReason(std::string_view resource);

Resources operator+(Resources a, const Resources& b);
Resources operator-(Resources a, const Resources& b);

// Human form for reasons and logs: "cpu=2000m memory=4Gi nvidia.com/gpu=8".
std::string ToString(const Resources& r);

}  // namespace mlsched::policy
