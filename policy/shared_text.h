#pragma once

// An immutable string that copies share: a filter reason repeated for thousands of nodes (a
// gang waiting for capacity, a pod that fits nowhere) is one allocation, not one per node.
// Reads as a std::string (str(), or implicitly where a string_view is wanted).

#include <memory>
#include <ostream>
#include <string>
#include <string_view>

namespace mlsched::policy {

class SharedText {
 public:
  SharedText() = default;
  // Implicit on purpose: a reason is written where it is made as a string or a literal.
  SharedText(std::string text) : text_(std::make_shared<const std::string>(std::move(text))) {}
  SharedText(const char* text) : SharedText(std::string(text)) {}

  const std::string& str() const { return text_ ? *text_ : Empty(); }
  operator std::string_view() const { return str(); }
  size_t size() const { return str().size(); }
  bool empty() const { return str().empty(); }
  size_t find(std::string_view s, size_t from = 0) const { return str().find(s, from); }

  friend bool operator==(const SharedText& a, std::string_view b) { return a.str() == b; }
  friend std::ostream& operator<<(std::ostream& os, const SharedText& t) { return os << t.str(); }

 private:
  static const std::string& Empty() {
    static const std::string empty;
    return empty;
  }
  std::shared_ptr<const std::string> text_;
};

}  // namespace mlsched::policy
