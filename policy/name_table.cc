#include "policy/name_table.h"

#include <algorithm>
#include <cstring>

namespace mlsched::policy {

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

size_t NameTable::LongestProbe() const {
  size_t longest = 0;
  const size_t mask = table_.size() - 1;
  for (uint32_t slot = 0; slot < names_.size(); ++slot) {
    // From the name's home word to the word holding its slot (there is exactly one).
    size_t words = 1;
    for (size_t at = static_cast<size_t>(Hash(names_[slot])) & mask;
         (table_[at] & 0xFFFFFFFFULL) != uint64_t{slot} + 1; at = (at + 1) & mask) {
      ++words;
    }
    longest = std::max(longest, words);
  }
  return longest;
}

int32_t NameTable::Find(std::string_view name) const {
  if (table_.empty()) return -1;
  return Probe(Hash(name), name);
}

}  // namespace mlsched::policy
