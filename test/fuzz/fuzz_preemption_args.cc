// libFuzzer: DecodePreemptionArgs (preempt bodies, both shapes), then the result encoder.

#include <cstdint>
#include <string>

#include "test/fuzz/fuzz_wire.h"

using namespace mlsched;
using namespace mlsched::extender;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  PreemptionArgs args;
  Status s = DecodePreemptionArgs(fuzz::AsView(data, size), fuzz::Limits(), &args);
  std::string out;
  if (!s.ok()) {
    EncodeBadRequest(s.message(), &out);
    return 0;
  }
  EncodePreemptionResult(args.candidates, &out);
  return 0;
}
