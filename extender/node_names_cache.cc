#include "extender/node_names_cache.h"

#include <cstring>

#include "extender/name_order.h"

namespace mlsched::extender {

const std::vector<uint32_t>& NodeNamesList::NameOrder() const {
  std::call_once(order_once_, [this] {
    std::vector<std::string_view> names;
    names.reserve(candidates.size());
    for (const policy::Candidate& c : candidates) names.push_back(c.name);
    name_order_ = OrderByName(names);
    for (size_t k = 1; k < name_order_.size(); ++k) {
      if (names[name_order_[k]] == names[name_order_[k - 1]]) {
        name_order_.clear();
        break;
      }
    }
    order_made_.store(true, std::memory_order_release);
  });
  return name_order_;
}

std::shared_ptr<const NodeNamesList> NodeNamesCache::Find(std::string_view body,
                                                         size_t at) const {
  std::array<std::shared_ptr<const NodeNamesList>, kEntries> entries;
  {
    std::lock_guard lock(mu_);
    entries = entries_;
  }
  if (at > body.size()) return nullptr;
  const std::string_view rest = body.substr(at);
  for (const auto& e : entries) {
    if (e && rest.size() >= e->array_text.size() &&
        std::memcmp(rest.data(), e->array_text.data(), e->array_text.size()) == 0) {
      return e;
    }
  }
  return nullptr;
}

void NodeNamesCache::Remember(std::shared_ptr<const NodeNamesList> list) {
  std::lock_guard lock(mu_);
  for (const auto& e : entries_) {
    if (e && e->array_text == list->array_text) return;
  }
  entries_[next_] = std::move(list);
  next_ = (next_ + 1) % kEntries;
}

}  // namespace mlsched::extender
