#pragma once

// The last node-name lists the decoder read, kept by their exact bytes. kube-scheduler sends
// the same list call after call (every node that passed its own filters, then the ones that
// passed ours), so a body whose NodeNames array is byte for byte one of these skips reading
// 5,000 names: one memcmp of the array instead. A list that differs by one byte is read as
// usual and replaces the oldest entry. Thread-safe; entries are immutable and shared.

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "policy/engine.h"

namespace mlsched::extender {

struct NodeNamesList {
  std::string array_text;                     // the NodeNames array, `[` to `]`
  std::vector<policy::Candidate> candidates;  // names view array_text; node is null
  bool go_plain = false;                      // see TrailingNodeNames::go_plain

  // The candidates' positions ordered by name (extender/name_order.h), made on first use and
  // kept with the list: the failure maps of a repeated list are then written in one pass, with
  // no sort. Empty when two candidates share a name (the maps then sort for themselves).
  // Thread-safe.
  const std::vector<uint32_t>& NameOrder() const;
  bool HasNameOrder() const { return order_made_.load(std::memory_order_acquire); }

 private:
  mutable std::once_flag order_once_;
  mutable std::atomic<bool> order_made_{false};
  mutable std::vector<uint32_t> name_order_;
};

class NodeNamesCache {
 public:
  // The entry whose array_text is a prefix of body.substr(at), or null.
  std::shared_ptr<const NodeNamesList> Find(std::string_view body, size_t at) const;
  void Remember(std::shared_ptr<const NodeNamesList> list);

 private:
  // Two: the filter list and the (usually shorter) prioritize list of the same cycle.
  static constexpr size_t kEntries = 2;
  mutable std::mutex mu_;
  std::array<std::shared_ptr<const NodeNamesList>, kEntries> entries_;
  size_t next_ = 0;
};

}  // namespace mlsched::extender
