#pragma once

// Node name -> model slot, for the verbs' hot path. Filter and prioritize look up every
// candidate name of a list they have not seen (kube-scheduler hands its feasible nodes over in
// an order that changes from cycle to cycle): 5,000 lookups per call. std::unordered_map pays
// a division, a pointer chase and a string compare in a node of its own per lookup; this table
// is open addressing over one array of (hash tag, slot) words with the names stored by slot in
// one vector, so a lookup is a hash, one probe or two, and one compare. Slots are only ever
// appended (the model never reuses or removes one).

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace mlsched::policy {

class NameTable {
 public:
  // Adds `name` as the next slot (slot == size()).
  void Append(std::string_view name);
  // The slot of `name`, or -1.
  int32_t Find(std::string_view name) const;
  // out[i] = Find(name(i)) for i in [0, n), faster for long lists: names are hashed a batch at
  // a time and their table words fetched ahead, so the cache misses of a batch overlap
  // instead of following one another (a list of 5,000 new names is mostly misses: the table
  // is larger than L1).
  template <typename NameAt>
  void FindMany(size_t n, NameAt&& name, int32_t* out) const;
  size_t size() const { return names_.size(); }
  // The most table words a lookup of a present name reads: the hash's quality, for tests
  // (names that differ in a few trailing digits, the common case, must not pile up).
  size_t LongestProbe() const;

  static uint64_t Hash(std::string_view s);
  // a == b, inline: two overlapping 8-byte words compare most node names with no call.
  static bool SameName(std::string_view a, std::string_view b);

 private:
  int32_t Probe(uint64_t hash, std::string_view name) const;
  void Place(uint64_t hash, uint32_t slot);
  void Grow();

  std::vector<std::string> names_;  // by slot
  std::vector<uint64_t> table_;     // (hash >> 32) << 32 | (slot + 1); 0: empty
};

inline uint64_t NameTable::Hash(std::string_view s) {
  // Eight bytes at a time with a multiply-xorshift mix (node names are 8 to 60 bytes); the
  // last 0 to 7 bytes as one load of the last eight, which overlaps bytes already mixed.
  uint64_t h = 0x9E3779B97F4A7C15ULL ^ (s.size() * 0xFF51AFD7ED558CCDULL);
  size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    uint64_t w;
    std::memcpy(&w, s.data() + i, 8);
    h = (h ^ w) * 0xBF58476D1CE4E5B9ULL;
    h ^= h >> 31;
  }
  uint64_t tail = 0;
  if (i < s.size() && s.size() >= 8) {
    std::memcpy(&tail, s.data() + s.size() - 8, 8);
  } else {
    for (size_t k = 0; i + k < s.size(); ++k) {
      tail |= static_cast<uint64_t>(static_cast<unsigned char>(s[i + k])) << (8 * k);
    }
  }
  // The final mix (MurmurHash3's fmix64) carries every input bit into the low bits, which
  // pick the slot: names that differ only in their last digits must not share slots.
  h ^= tail;
  h ^= h >> 33;
  h *= 0xFF51AFD7ED558CCDULL;
  h ^= h >> 33;
  h *= 0xC4CEB9FE1A85EC53ULL;
  return h ^ (h >> 33);
}

inline bool NameTable::SameName(std::string_view a, std::string_view b) {
  const size_t n = a.size();
  if (n != b.size()) return false;
  if (n < 8) return std::memcmp(a.data(), b.data(), n) == 0;
  uint64_t a0, b0, a1, b1;
  std::memcpy(&a0, a.data(), 8);
  std::memcpy(&b0, b.data(), 8);
  std::memcpy(&a1, a.data() + n - 8, 8);
  std::memcpy(&b1, b.data() + n - 8, 8);
  if (a0 != b0 || a1 != b1) return false;
  return n <= 16 || std::memcmp(a.data() + 8, b.data() + 8, n - 16) == 0;
}

inline int32_t NameTable::Probe(uint64_t hash, std::string_view name) const {
  const uint64_t tag = hash >> 32 << 32;
  const size_t mask = table_.size() - 1;
  for (size_t at = static_cast<size_t>(hash) & mask;; at = (at + 1) & mask) {
    const uint64_t e = table_[at];
    if (e == 0) return -1;
    if ((e & 0xFFFFFFFF00000000ULL) == tag) {
      const uint32_t slot = static_cast<uint32_t>(e & 0xFFFFFFFFULL) - 1;
      if (SameName(names_[slot], name)) return static_cast<int32_t>(slot);
    }
  }
}

template <typename NameAt>
void NameTable::FindMany(size_t n, NameAt&& name, int32_t* out) const {
  if (table_.empty()) {
    for (size_t i = 0; i < n; ++i) out[i] = -1;
    return;
  }
  constexpr size_t kBatch = 16;
  const size_t mask = table_.size() - 1;
  uint64_t hashes[kBatch];
  for (size_t begin = 0; begin < n; begin += kBatch) {
    const size_t end = begin + kBatch < n ? begin + kBatch : n;
    for (size_t i = begin; i < end; ++i) {
      hashes[i - begin] = Hash(name(i));
      __builtin_prefetch(&table_[static_cast<size_t>(hashes[i - begin]) & mask]);
    }
    for (size_t i = begin; i < end; ++i) out[i] = Probe(hashes[i - begin], name(i));
  }
}

}  // namespace mlsched::policy
