// libFuzzer: DecodeExtenderArgs (filter/prioritize bodies), then every encoder on the result.

#include <cstdint>
#include <string>

#include "test/fuzz/fuzz_wire.h"

using namespace mlsched;
using namespace mlsched::extender;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view body = fuzz::AsView(data, size);
  ExtenderArgs args;
  Status s = DecodeExtenderArgs(body, fuzz::Limits(), &args);
  // With the node-names cache (shared across inputs, as in the server), twice: the second
  // decode may come from the cache. Both must agree with the uncached decode.
  static NodeNamesCache cache;
  for (int k = 0; k < 2; ++k) {
    ExtenderArgs cached;
    Status c = DecodeExtenderArgs(body, fuzz::Limits(), &cached, &cache);
    if (c.ok() != s.ok() || (!s.ok() && c.message() != s.message())) __builtin_trap();
    if (!s.ok()) continue;
    if (cached.candidates.size() != args.candidates.size()) __builtin_trap();
    for (size_t i = 0; i < args.candidates.size(); ++i) {
      if (cached.candidates[i].name != args.candidates[i].name) __builtin_trap();
    }
  }
  std::string out;
  if (!s.ok()) {
    EncodeBadRequest(s.message(), &out);
    return 0;
  }
  // Pass the even candidates, fail the odd ones (half of them unresolvable), plus an index out
  // of range that must be dropped.
  policy::FilterResult r;
  for (uint32_t i = 0; i < args.candidates.size(); ++i) {
    if (i % 2 == 0) {
      r.passed.push_back(i);
    } else {
      (i % 4 == 1 ? r.failed : r.unresolvable).push_back({i, std::string(args.candidates[i].name)});
    }
  }
  r.passed.push_back(static_cast<uint32_t>(args.candidates.size()));
  EncodeFilterResult(args, body, r, &out);
  if (args.names_) {
    // Every candidate failed: the failure maps come from the list's kept name order; they
    // must be the bytes the sort gives without the list.
    policy::FilterResult all;
    for (uint32_t i = 0; i < args.candidates.size(); ++i) all.failed.push_back({i, "no"});
    std::string kept, sorted;
    EncodeFilterResult(args, body, all, &kept);
    const auto list = args.names_;  // holds the names while the args forget their list
    args.names_.reset();
    EncodeFilterResult(args, body, all, &sorted);
    args.names_ = list;
    if (kept != sorted) __builtin_trap();
  }
  if (args.full_nodes) {
    // Every span lies inside the body and starts and ends an object.
    for (const Span& sp : args.item_spans) {
      if (sp.end > body.size() || sp.begin >= sp.end || body[sp.begin] != '{' ||
          body[sp.end - 1] != '}') {
        __builtin_trap();
      }
    }
  }
  policy::Scores scores(args.candidates.size(), 42);
  // The decoder's "no name needs escaping" must be true: trusting it must change nothing.
  std::string trusted, checked;
  EncodeHostPriorityList(args.candidates, scores, &trusted, args.names_plain);
  EncodeHostPriorityList(args.candidates, scores, &checked, false);
  if (trusted != checked) __builtin_trap();
  return 0;
}
