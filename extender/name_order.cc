#include "extender/name_order.h"

#include <algorithm>
#include <array>
#include <cstring>

namespace mlsched::extender {
namespace {

// Bytes [from, from + 8) of s as a big-endian integer, bytes past its end as 0. Integer order
// of two keys agrees with byte order of the names (a missing byte orders like a NUL byte, and
// the full compare breaks such ties).
uint64_t KeyAt(std::string_view s, size_t from) {
  uint64_t k = 0;
  for (size_t i = 0; i < 8; ++i) {
    const size_t at = from + i;
    k = (k << 8) | (at < s.size() ? static_cast<unsigned char>(s[at]) : 0u);
  }
  return k;
}

// The length of the prefix a and b share, eight bytes a step.
size_t SharedPrefix(std::string_view a, std::string_view b) {
  const size_t n = std::min(a.size(), b.size());
  size_t k = 0;
  for (; k + 8 <= n; k += 8) {
    uint64_t x, y;
    std::memcpy(&x, a.data() + k, 8);
    std::memcpy(&y, b.data() + k, 8);
    if (x != y) return k + static_cast<size_t>(__builtin_ctzll(x ^ y)) / 8;  // little-endian
  }
  while (k < n && a[k] == b[k]) ++k;
  return k;
}

}  // namespace

std::vector<uint32_t> OrderByName(std::span<const std::string_view> names) {
  const size_t n = names.size();
  std::vector<uint32_t> order(n);
  for (size_t i = 0; i < n; ++i) order[i] = static_cast<uint32_t>(i);
  if (n < 2) return order;

  // The prefix every name shares: it decides nothing.
  size_t shared = names[0].size();
  for (size_t i = 1; i < n && shared > 0; ++i) {
    shared = std::min(shared, SharedPrefix(names[0].substr(0, shared), names[i]));
  }
  // (key, position) pairs, sorted in place of positions alone: no indirection per step.
  struct Item {
    uint64_t key;
    uint32_t at;
  };
  std::vector<Item> items(n), buffer(n);
  uint64_t differ = 0;  // bits set where some key differs from the first
  for (size_t i = 0; i < n; ++i) {
    items[i] = {KeyAt(names[i], shared), static_cast<uint32_t>(i)};
    differ |= items[i].key ^ items[0].key;
  }
  // Stable LSD radix sort, a byte per pass from the least significant; the counts of every
  // pass come from one read.
  std::array<std::array<uint32_t, 256>, 8> counts{};
  for (const Item& it : items) {
    for (int byte = 0; byte < 8; ++byte) ++counts[byte][(it.key >> (8 * byte)) & 0xFF];
  }
  for (int byte = 0; byte < 8; ++byte) {
    const int shift = 8 * byte;
    if (((differ >> shift) & 0xFF) == 0) continue;  // the same byte in every key
    std::array<uint32_t, 256> start;
    uint32_t sum = 0;
    for (size_t b = 0; b < 256; ++b) {
      start[b] = sum;
      sum += counts[byte][b];
    }
    for (const Item& it : items) buffer[start[(it.key >> shift) & 0xFF]++] = it;
    items.swap(buffer);
  }
  for (size_t i = 0; i < n; ++i) order[i] = items[i].at;

  // Runs of equal keys: by the whole name, stably.
  for (size_t begin = 0; begin < n;) {
    size_t end = begin + 1;
    while (end < n && items[end].key == items[begin].key) ++end;
    if (end - begin > 1) {
      std::stable_sort(order.begin() + static_cast<std::ptrdiff_t>(begin),
                       order.begin() + static_cast<std::ptrdiff_t>(end),
                       [&](uint32_t a, uint32_t b) { return names[a] < names[b]; });
    }
    begin = end;
  }
  return order;
}

}  // namespace mlsched::extender
