#pragma once

// The order Go's encoding/json writes map keys in (byte-wise, as sort.Strings), for the filter
// answer's FailedNodes and FailedAndUnresolvableNodes maps.
//
// Why not std::stable_sort with a string compare: a pod that fits nowhere (a gang waiting for
// GPUs, the usual state of a busy ML cluster) fails every candidate, and node names share long
// prefixes ("gpu-node-", "gke-ml-a100-pool-3f2a9c1e-"), so each of the ~60,000 comparisons of
// 5,000 names was a memcmp call over the shared part; sorting took longer than the filter.
// Here the prefix every name shares is skipped, the next eight bytes become an integer key,
// and a stable LSD radix sort orders the keys (passes over bytes that are the same in every
// key are skipped); names whose keys tie are ordered by a full compare, stably.

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace mlsched::extender {

// Positions 0..names.size()-1, ordered by name byte-wise; equal names keep their relative
// order (so the last of a run of equal names is the latest, the one a Go map keeps).
std::vector<uint32_t> OrderByName(std::span<const std::string_view> names);

}  // namespace mlsched::extender
