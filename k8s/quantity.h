#pragma once

// Kubernetes resource.Quantity parsing into the integer units the scheduler counts in.

#include <cstdint>
#include <string_view>

namespace mlsched::k8s {

// Parses a Kubernetes resource.Quantity string ("100m", "4Gi", "1.5", "2e3", "1Ki") and returns
// its value in thousandths, rounded up as Quantity.MilliValue() does (ceil toward +infinity).
// Returns false, leaving *milli_out alone, on anything malformed or out of int64 range.
// Pure function; thread-safe.
bool ParseQuantityMilli(std::string_view s, int64_t* milli_out);

// As ParseQuantityMilli, in whole units, rounded up as Quantity.Value() does.
bool ParseQuantityValue(std::string_view s, int64_t* value_out);

}  // namespace mlsched::k8s
