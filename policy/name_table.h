#pragma once

// Node name -> model slot, for the verbs' hot path. Filter and prioritize look up every
// candidate name of a list they have not seen (kube-scheduler hands its feasible nodes over in
// an order that changes from cycle to cycle): 5,000 lookups per call. std::unordered_map pays
// a division, a pointer chase and a string compare in a node of its own per lookup; this table
// is open addressing over one array of (hash tag, slot) words with the names stored by slot in
// one vector, so a lookup is a hash, one probe or two, and one compare. Slots are only ever
// appended (the model never reuses or removes one).

#include <cstdint>
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
  size_t size() const { return names_.size(); }

  static uint64_t Hash(std::string_view s);

 private:
  void Place(uint64_t hash, uint32_t slot);
  void Grow();

  std::vector<std::string> names_;  // by slot
  std::vector<uint64_t> table_;     // (hash >> 32) << 32 | (slot + 1); 0: empty
};

}  // namespace mlsched::policy
