#include "policy/resources.h"

#include <algorithm>

namespace mlsched::policy {
namespace {

template <typename Vec>
auto FindScalar(Vec& v, std::string_view name) {
  return std::lower_bound(v.begin(), v.end(), name,
                          [](const ScalarQuantity& q, std::string_view n) {
                            return q.name.compare(n) < 0;  // clang 14 + libstdc++ 12: not `<`
                          });
}

// Merges `b` into `a` with op(a_value, b_value), dropping zeros.
template <typename Op>
void MergeScalars(std::vector<ScalarQuantity>& a, const std::vector<ScalarQuantity>& b, Op op) {
  if (b.empty()) return;
  std::vector<ScalarQuantity> out;
  out.reserve(a.size() + b.size());
  size_t i = 0, j = 0;
  while (i < a.size() || j < b.size()) {
    if (j == b.size() || (i < a.size() && a[i].name < b[j].name)) {
      out.push_back(std::move(a[i++]));
    } else if (i == a.size() || b[j].name < a[i].name) {
      int64_t v = op(0, b[j].value);
      if (v != 0) out.push_back({b[j].name, v});
      ++j;
    } else {
      int64_t v = op(a[i].value, b[j].value);
      if (v != 0) out.push_back({std::move(a[i].name), v});
      ++i;
      ++j;
    }
  }
  a = std::move(out);
}

std::string Bytes(int64_t b) {
  static constexpr const char* kUnits[] = {"", "Ki", "Mi", "Gi", "Ti", "Pi"};
  int u = 0;
  while (u < 5 && b != 0 && b % 1024 == 0) {
    b /= 1024;
    ++u;
  }
  return std::to_string(b) + kUnits[u];
}

}  // namespace

int64_t Resources::Scalar(std::string_view name) const {
  auto it = FindScalar(scalars, name);
  return it != scalars.end() && it->name == name ? it->value : 0;
}

void Resources::SetScalar(std::string_view name, int64_t value) {
  auto it = FindScalar(scalars, name);
  if (it != scalars.end() && it->name == name) {
    if (value == 0) {
      scalars.erase(it);
    } else {
      it->value = value;
    }
  } else if (value != 0) {
    scalars.insert(it, ScalarQuantity{std::string(name), value});
  }
}

void Resources::AddScalar(std::string_view name, int64_t delta) {
  SetScalar(name, Scalar(name) + delta);
}

Resources& Resources::operator+=(const Resources& o) {
  milli_cpu += o.milli_cpu;
  memory += o.memory;
  ephemeral_storage += o.ephemeral_storage;
  pods += o.pods;
  MergeScalars(scalars, o.scalars, [](int64_t x, int64_t y) { return x + y; });
  return *this;
}

Resources& Resources::operator-=(const Resources& o) {
  milli_cpu -= o.milli_cpu;
  memory -= o.memory;
  ephemeral_storage -= o.ephemeral_storage;
  pods -= o.pods;
  MergeScalars(scalars, o.scalars, [](int64_t x, int64_t y) { return x - y; });
  return *this;
}

void Resources::MaxWith(const Resources& o) {
  milli_cpu = std::max(milli_cpu, o.milli_cpu);
  memory = std::max(memory, o.memory);
  ephemeral_storage = std::max(ephemeral_storage, o.ephemeral_storage);
  pods = std::max(pods, o.pods);
  MergeScalars(scalars, o.scalars, [](int64_t x, int64_t y) { return std::max(x, y); });
}

bool Resources::IsZero() const {
  return milli_cpu == 0 && memory == 0 && ephemeral_storage == 0 && pods == 0 && scalars.empty();
}

std::string InsufficientReason(std::string_view resource) {
  return "Insufficient " + std::string(resource);
}

bool Resources::Fits(const Resources& req, std::string* why) const {
  auto fail = [why](std::string_view what) {
    if (why) *why = InsufficientReason(what);
    return false;
  };
  if (req.pods > 0 && req.pods > pods) {
    if (why) *why = kTooManyPods;
    return false;
  }
  if (req.milli_cpu > 0 && req.milli_cpu > milli_cpu) return fail("cpu");
  if (req.memory > 0 && req.memory > memory) return fail("memory");
  if (req.ephemeral_storage > 0 && req.ephemeral_storage > ephemeral_storage) {
    return fail("ephemeral-storage");
  }
  for (const auto& q : req.scalars) {
    if (q.value > 0 && q.value > Scalar(q.name)) return fail(q.name);
  }
  return true;
}

Resources operator+(Resources a, const Resources& b) { return a += b; }
Resources operator-(Resources a, const Resources& b) { return a -= b; }

std::string ToString(const Resources& r) {
  std::string s;
  auto add = [&s](std::string_view k, const std::string& v) {
    if (!s.empty()) s += ' ';
    s.append(k).append("=").append(v);
  };
  if (r.milli_cpu) add("cpu", std::to_string(r.milli_cpu) + "m");
  if (r.memory) add("memory", Bytes(r.memory));
  if (r.ephemeral_storage) add("ephemeral-storage", Bytes(r.ephemeral_storage));
  if (r.pods) add("pods", std::to_string(r.pods));
  for (const auto& q : r.scalars) add(q.name, std::to_string(q.value));
  return s;
}

}  // namespace mlsched::policy
