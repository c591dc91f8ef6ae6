#include "policy/name_table.h"

#include <cstring>

namespace mlsched::policy {

uint64_t NameTable::Hash(std::string_view s) {
  // Eight bytes at a time with a multiply-xorshift mix (node names are 8 to 60 bytes).
  uint64_t h = 0x9E3779B97F4A7C15ULL ^ (s.size() * 0xFF51AFD7ED558CCDULL);
  size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    uint64_t w;
    std::memcpy(&w, s.data() + i, 8);
    h = (h ^ w) * 0xBF58476D1CE4E5B9ULL;
    h ^= h >> 31;
  }
  uint64_t tail = 0;
  for (size_t k = 0; i + k < s.size(); ++k) {
    tail |= static_cast<uint64_t>(static_cast<unsigned char>(s[i + k])) << (8 * k);
  }
  h = (h ^ tail) * 0x94D049BB133111EBULL;
  return h ^ (h >> 29);
}

void NameTable::Append(std::string_view name) {
  const uint32_t slot = static_cast<uint32_t>(names_.size());
  names_.emplace_back(name);
  if ((names_.size() + 1) * 2 > table_.size()) {
    Grow();  // re-places every name, this one included
  } else {
    Place(Hash(name), slot);
  }
}

void NameTable::Grow() {
  size_t capacity = 16;
  while (capacity < names_.size() * 4) capacity *= 2;  // at most half full after growing
  table_.assign(capacity, 0);
  for (uint32_t slot = 0; slot < names_.size(); ++slot) Place(Hash(names_[slot]), slot);
}

void NameTable::Place(uint64_t hash, uint32_t slot) {
  const size_t mask = table_.size() - 1;
  size_t at = static_cast<size_t>(hash) & mask;
  while (table_[at] != 0) at = (at + 1) & mask;
  table_[at] = (hash >> 32 << 32) | (static_cast<uint64_t>(slot) + 1);
}

int32_t NameTable::Find(std::string_view name) const {
  if (table_.empty()) return -1;
  const uint64_t hash = Hash(name);
  const uint64_t tag = hash >> 32 << 32;
  const size_t mask = table_.size() - 1;
  for (size_t at = static_cast<size_t>(hash) & mask;; at = (at + 1) & mask) {
    const uint64_t e = table_[at];
    if (e == 0) return -1;
    if ((e & 0xFFFFFFFF00000000ULL) == tag) {
      const uint32_t slot = static_cast<uint32_t>(e & 0xFFFFFFFFULL) - 1;
      if (names_[slot] == name) return static_cast<int32_t>(slot);
    }
  }
}

}  // namespace mlsched::policy
