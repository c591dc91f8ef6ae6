#pragma once

// Shared by the libFuzzer targets: after a successful decode, every encoder runs over the
// decoded value so that both directions see arbitrary input.

#include <string>
#include <string_view>

#include "extender/wire.h"

namespace mlsched::extender::fuzz {

// Caps kept low so that the fuzzer explores shapes rather than sizes.
inline DecodeLimits Limits() {
  DecodeLimits l;
  l.max_body_bytes = 1 << 20;
  l.max_depth = 64;
  return l;
}

inline std::string_view AsView(const uint8_t* data, size_t size) {
  return std::string_view(reinterpret_cast<const char*>(data), size);
}

}  // namespace mlsched::extender::fuzz
