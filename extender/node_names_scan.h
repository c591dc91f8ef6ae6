#pragma once

// A fast path for the body kube-scheduler sends most: ExtenderArgs with thousands of node names,
// `{"Pod":{...},"Nodes":null,"NodeNames":["n1","n2",...]}`. Go writes the struct's fields in
// order, so NodeNames is the last member. A general JSON parser spends most of such a call on
// the names (one small string at a time, through its escape machinery); this scanner reads them
// as plain strings in one pass, and the caller parses the rest of the body with the general
// parser, with the array cut out. Anything unusual (escapes, control bytes, NodeNames not last,
// twice, or not an array) returns nullopt and the caller takes the general path, which also
// reports errors; so this scanner never decides that a body is bad.

#include <cstddef>
#include <optional>
#include <string_view>
#include <vector>

namespace mlsched::extender {

struct TrailingNodeNames {
  // The array value, `[` to `]` inclusive, as byte offsets into the body.
  size_t begin = 0;
  size_t end = 0;
  // The names, pointing into the body.
  std::vector<std::string_view> names;
  // No name holds a byte that Go's encoding/json would escape (see AppendGoString): answers
  // can copy the names as they are.
  bool go_plain = false;
};

// Finds the top-level NodeNames array when it is the body object's last member and holds only
// strings without escapes or control bytes. Keys match as Go matches them (KeyMatches).
// Pure; never reads outside `body`.
std::optional<TrailingNodeNames> ScanTrailingNodeNames(std::string_view body);

// The first steps of ScanTrailingNodeNames: where the top-level NodeNames array's `[` is, when
// it can be found without reading the names (nullopt in the same cases as above, and when
// NodeNames is not an array).
std::optional<size_t> LocateTrailingNodeNames(std::string_view body);
// The rest of ScanTrailingNodeNames, for an array that LocateTrailingNodeNames found at `begin`.
std::optional<TrailingNodeNames> ScanNodeNamesAt(std::string_view body, size_t begin);
// Whether only white space and the closing `}` of the body's object follow offset `at`.
bool EndsObjectAt(std::string_view body, size_t at);

}  // namespace mlsched::extender
