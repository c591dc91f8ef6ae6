#include "extender/node_names_scan.h"

#include <algorithm>
#include <array>
#include <cstdint>

#include "extender/wire.h"

namespace mlsched::extender {
namespace {

bool IsSpace(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

// Bytes that end the plain part of a JSON string: the quote, the backslash, control bytes.
constexpr std::array<bool, 256> kStop = [] {
  std::array<bool, 256> t{};
  for (int c = 0; c < 256; ++c) t[c] = c < 0x20 || c == '"' || c == '\\';
  return t;
}();

// The scanner works on local pointers, not members: a store through `char*` may alias any
// member, so the compiler would reload the position at every byte otherwise.
const char* SkipSpace(const char* p, const char* e) {
  while (p < e && IsSpace(*p)) ++p;
  return p;
}

// A string without escapes or control bytes at p; on success *out views its content and the
// result points past the closing quote; null otherwise.
const char* PlainString(const char* p, const char* e, std::string_view* out) {
  if (p >= e || *p != '"') return nullptr;
  const char* start = ++p;
  while (p < e && !kStop[static_cast<unsigned char>(*p)]) ++p;
  if (p >= e || *p != '"') return nullptr;
  *out = std::string_view(start, static_cast<size_t>(p - start));
  return p + 1;
}

// Steps over one value of any kind without checking it (the general parser checks it later):
// strings with their escapes, nested objects and arrays by counting brackets outside strings.
// No recursion, whatever the depth. Null when the body ends first.
const char* SkipValue(const char* p, const char* e) {
  size_t depth = 0;
  while (p < e) {
    const char c = *p;
    if (c == '"') {
      for (++p; p < e && *p != '"'; ++p) {
        if (*p == '\\') ++p;
      }
      if (p >= e) return nullptr;
      ++p;  // the closing quote
      if (depth == 0) return p;
      continue;
    }
    if (c == '{' || c == '[') {
      ++depth;
    } else if (c == '}' || c == ']') {
      if (depth == 0) return p;  // a scalar ended by its container
      if (--depth == 0) return p + 1;
    } else if (depth == 0 && (c == ',' || IsSpace(c))) {
      return p;  // a scalar ended
    }
    ++p;
  }
  return nullptr;
}

}  // namespace

std::optional<TrailingNodeNames> ScanTrailingNodeNames(std::string_view body) {
  const char* const b = body.data();
  const char* const e = b + body.size();
  const char* p = SkipSpace(b, e);
  if (p >= e || *p != '{') return std::nullopt;
  ++p;
  while (true) {
    std::string_view key;
    if (!(p = PlainString(SkipSpace(p, e), e, &key))) return std::nullopt;
    p = SkipSpace(p, e);
    if (p >= e || *p != ':') return std::nullopt;
    p = SkipSpace(p + 1, e);
    if (!KeyMatches(key, "nodenames")) {
      if (!(p = SkipValue(p, e))) return std::nullopt;
      p = SkipSpace(p, e);
      if (p >= e || *p != ',') return std::nullopt;  // the object ends before a NodeNames member
      ++p;
      continue;
    }
    TrailingNodeNames out;
    out.begin = static_cast<size_t>(p - b);
    if (p >= e || *p != '[') return std::nullopt;
    p = SkipSpace(p + 1, e);
    if (p < e && *p == ']') {
      ++p;
    } else {
      // why: a guess from the bytes left (a name and its punctuation take 10 or more), capped
      // so that a huge hostile body does not reserve memory up front.
      out.names.reserve(std::min<size_t>(static_cast<size_t>(e - p) / 10, size_t{1} << 14));
      while (true) {
        std::string_view name;
        if (!(p = PlainString(p, e, &name))) return std::nullopt;
        out.names.push_back(name);
        p = SkipSpace(p, e);
        if (p >= e) return std::nullopt;
        if (*p == ']') {
          ++p;
          break;
        }
        if (*p != ',') return std::nullopt;
        p = SkipSpace(p + 1, e);
      }
    }
    out.end = static_cast<size_t>(p - b);
    // Only the end of the object may follow: a member after NodeNames could be another
    // NodeNames (the last one wins in Go), so that case goes the general way.
    p = SkipSpace(p, e);
    if (p >= e || *p != '}') return std::nullopt;
    return out;
  }
}

}  // namespace mlsched::extender
