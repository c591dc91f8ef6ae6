#include "extender/node_names_scan.h"

#include <algorithm>
#include <array>
#include <cstdint>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

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

// Bytes Go's encoding/json escapes that a plain JSON string may hold: non-ASCII (checked as
// UTF-8 when written) and the HTML-sensitive <, >, &.
constexpr std::array<bool, 256> kGoSpecial = [] {
  std::array<bool, 256> t{};
  for (int c = 0; c < 256; ++c) t[c] = c >= 0x80 || c == '<' || c == '>' || c == '&';
  return t;
}();

// The first stop byte (kStop) in [p, e), or e; sets *go_special when a byte before it is one
// of kGoSpecial. Sixteen bytes at a time with SSE2 (every x86-64 has it): a node name then
// takes one step with no branch per byte, where a byte loop mispredicts its exit once per name.
[[gnu::always_inline]] inline const char* FindStop(const char* p, const char* e, bool* go_special) {
#if defined(__SSE2__)
  const __m128i quote = _mm_set1_epi8('"');
  const __m128i backslash = _mm_set1_epi8('\\');
  const __m128i high3 = _mm_set1_epi8(static_cast<char>(0xE0));
  const __m128i zero = _mm_setzero_si128();
  const __m128i lt = _mm_set1_epi8('<');
  const __m128i gt = _mm_set1_epi8('>');
  const __m128i amp = _mm_set1_epi8('&');
  while (e - p >= 16) {
    const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    // c < 0x20 as unsigned bytes: its top three bits are clear.
    const __m128i control = _mm_cmpeq_epi8(_mm_and_si128(x, high3), zero);
    const __m128i stop =
        _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, quote), _mm_cmpeq_epi8(x, backslash)), control);
    const __m128i html =
        _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, lt), _mm_cmpeq_epi8(x, gt)), _mm_cmpeq_epi8(x, amp));
    const unsigned stops = static_cast<unsigned>(_mm_movemask_epi8(stop));
    // movemask of x itself is the top bit of each byte: the non-ASCII ones.
    unsigned special = static_cast<unsigned>(_mm_movemask_epi8(html) | _mm_movemask_epi8(x));
    if (stops != 0) {
      const unsigned at = static_cast<unsigned>(__builtin_ctz(stops));
      special &= (1u << at) - 1;
      *go_special |= special != 0;
      return p + at;
    }
    *go_special |= special != 0;
    p += 16;
  }
#endif
  bool special = false;
  for (; p < e && !kStop[static_cast<unsigned char>(*p)]; ++p) {
    special |= kGoSpecial[static_cast<unsigned char>(*p)];
  }
  *go_special |= special;
  return p;
}

// A string without escapes or control bytes at p; on success *out views its content and the
// result points past the closing quote; null otherwise. Sets *go_special as FindStop does.
[[gnu::always_inline]] inline const char* PlainString(const char* p, const char* e, std::string_view* out,
                        bool* go_special) {
  if (p >= e || *p != '"') return nullptr;
  const char* start = ++p;
  p = FindStop(p, e, go_special);
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

std::optional<size_t> LocateTrailingNodeNames(std::string_view body) {
  const char* const b = body.data();
  const char* const e = b + body.size();
  const char* p = SkipSpace(b, e);
  if (p >= e || *p != '{') return std::nullopt;
  ++p;
  while (true) {
    std::string_view key;
    bool key_special = false;
    if (!(p = PlainString(SkipSpace(p, e), e, &key, &key_special))) return std::nullopt;
    p = SkipSpace(p, e);
    if (p >= e || *p != ':') return std::nullopt;
    p = SkipSpace(p + 1, e);
    if (KeyMatches(key, "nodenames")) {
      if (p >= e || *p != '[') return std::nullopt;
      return static_cast<size_t>(p - b);
    }
    // Full Node objects (nodeCacheCapable: false) are megabytes that the general parser
    // reads anyway: do not walk them twice.
    if (KeyMatches(key, "nodes") && (p >= e || *p != 'n')) return std::nullopt;
    if (!(p = SkipValue(p, e))) return std::nullopt;
    p = SkipSpace(p, e);
    if (p >= e || *p != ',') return std::nullopt;  // the object ends before a NodeNames member
    ++p;
  }
}

bool EndsObjectAt(std::string_view body, size_t at) {
  const char* const e = body.data() + body.size();
  const char* p = SkipSpace(body.data() + std::min(at, body.size()), e);
  return p < e && *p == '}';
}

std::optional<TrailingNodeNames> ScanTrailingNodeNames(std::string_view body) {
  std::optional<size_t> begin = LocateTrailingNodeNames(body);
  if (!begin) return std::nullopt;
  return ScanNodeNamesAt(body, *begin);
}

std::optional<TrailingNodeNames> ScanNodeNamesAt(std::string_view body, size_t begin) {
  if (begin >= body.size() || body[begin] != '[') return std::nullopt;
  const char* const b = body.data();
  const char* const e = b + body.size();
  const char* p = b + begin;
  TrailingNodeNames out;
  bool go_special = false;
  out.begin = begin;
  p = SkipSpace(p + 1, e);
  if (p < e && *p == ']') {
    ++p;
  } else {
    // why: a guess from the bytes left (a name and its punctuation take 10 or more), capped
    // so that a huge hostile body does not reserve memory up front.
    out.names.reserve(std::min<size_t>(static_cast<size_t>(e - p) / 10, size_t{1} << 14));
    while (true) {
      std::string_view name;
      if (!(p = PlainString(p, e, &name, &go_special))) return std::nullopt;
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
  out.go_plain = !go_special;
  // Only the end of the object may follow: a member after NodeNames could be another
  // NodeNames (the last one wins in Go), so that case goes the general way.
  if (!EndsObjectAt(body, out.end)) return std::nullopt;
  return out;
}

}  // namespace mlsched::extender
