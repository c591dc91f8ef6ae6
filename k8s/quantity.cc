#include "k8s/quantity.h"

#include <limits>

namespace mlsched::k8s {
namespace {

using int128 = __int128;

// The grammar of k8s.io/apimachinery/pkg/api/resource:
//   <quantity> ::= <signedNumber><suffix>
//   <suffix>   ::= <binarySI> | <decimalExponent> | <decimalSI>
//   binarySI: Ki Mi Gi Ti Pi Ei; decimalSI: n u m "" k M G T P E; decimalExponent: e|E<signed int>
// The value is M * 10^exp10 * 2^exp2 where M is the digit string without its decimal point.
struct Parsed {
  bool negative = false;
  int128 mantissa = 0;
  int exp10 = 0;
  int exp2 = 0;
};

constexpr int kMaxMantissaDigits = 36;  // keeps M below 10^36 < 2^127

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

bool ParseSuffix(std::string_view s, Parsed* p) {
  if (s.empty()) return true;
  if (s.size() == 2 && s[1] == 'i') {
    switch (s[0]) {
      case 'K': p->exp2 += 10; return true;
      case 'M': p->exp2 += 20; return true;
      case 'G': p->exp2 += 30; return true;
      case 'T': p->exp2 += 40; return true;
      case 'P': p->exp2 += 50; return true;
      case 'E': p->exp2 += 60; return true;
      default: return false;
    }
  }
  if (s.size() == 1) {
    switch (s[0]) {
      case 'n': p->exp10 -= 9; return true;
      case 'u': p->exp10 -= 6; return true;
      case 'm': p->exp10 -= 3; return true;
      case 'k': p->exp10 += 3; return true;
      case 'M': p->exp10 += 6; return true;
      case 'G': p->exp10 += 9; return true;
      case 'T': p->exp10 += 12; return true;
      case 'P': p->exp10 += 15; return true;
      case 'E': p->exp10 += 18; return true;
      default: return false;
    }
  }
  // Decimal exponent: e or E followed by a signed integer with at least one digit.
  if (s[0] != 'e' && s[0] != 'E') return false;
  size_t i = 1;
  bool neg = false;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) neg = s[i++] == '-';
  if (i >= s.size()) return false;
  int e = 0;
  for (; i < s.size(); ++i) {
    if (!IsDigit(s[i])) return false;
    e = e * 10 + (s[i] - '0');
    if (e > 1000) return false;  // far outside int64 either way
  }
  p->exp10 += neg ? -e : e;
  return true;
}

bool Parse(std::string_view s, Parsed* p) {
  size_t i = 0;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) p->negative = s[i++] == '-';
  int digits = 0;       // significant digits kept in the mantissa
  bool any_digit = false;
  bool seen_point = false;
  for (; i < s.size(); ++i) {
    char c = s[i];
    if (c == '.') {
      if (seen_point) return false;
      seen_point = true;
      continue;
    }
    if (!IsDigit(c)) break;
    any_digit = true;
    if (seen_point) --p->exp10;
    if (p->mantissa == 0 && c == '0') continue;  // leading zeros carry no precision
    if (++digits > kMaxMantissaDigits) return false;
    p->mantissa = p->mantissa * 10 + (c - '0');
  }
  if (!any_digit) return false;
  return ParseSuffix(s.substr(i), p);
}

// ceil(value * 10^extra10) as int64, or false when out of range.
bool Scale(const Parsed& p, int extra10, int64_t* out) {
  int128 num = p.mantissa;
  const int128 kLimit = int128(1) << 100;  // headroom below 2^127 for one more *10
  for (int i = 0; i < p.exp2; ++i) {
    num <<= 1;
    if (num > kLimit) return false;
  }
  int e = p.exp10 + extra10;
  // Strip trailing zeros so "1000000000000000000000n" and the like stay exact.
  while (e < 0 && num != 0 && num % 10 == 0) {
    num /= 10;
    ++e;
  }
  int128 result;
  if (num == 0) {
    result = 0;
  } else if (e >= 0) {
    result = num;
    for (int i = 0; i < e; ++i) {
      result *= 10;
      if (result > kLimit) return false;
    }
  } else if (e < -38) {
    // |value| < 1.7e38 / 1e39 < 1: ceil is 1 for positive values, 0 for negative ones.
    *out = p.negative ? 0 : 1;
    return true;
  } else {
    int128 div = 1;
    for (int i = 0; i < -e; ++i) div *= 10;
    int128 q = num / div;
    int128 r = num % div;
    // Ceil toward +infinity: round the magnitude up for positive values, down for negative.
    result = (!p.negative && r != 0) ? q + 1 : q;
  }
  if (p.negative) result = -result;
  if (result > std::numeric_limits<int64_t>::max() ||
      result < std::numeric_limits<int64_t>::min()) {
    return false;
  }
  *out = static_cast<int64_t>(result);
  return true;
}

}  // namespace

bool ParseQuantityMilli(std::string_view s, int64_t* milli_out) {
  Parsed p;
  return Parse(s, &p) && Scale(p, 3, milli_out);
}

bool ParseQuantityValue(std::string_view s, int64_t* value_out) {
  Parsed p;
  return Parse(s, &p) && Scale(p, 0, value_out);
}

}  // namespace mlsched::k8s
