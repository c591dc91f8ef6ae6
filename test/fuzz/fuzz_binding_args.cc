// libFuzzer: DecodeBindingArgs (bind bodies), then the binding result encoder.

#include <cstdint>
#include <string>

#include "test/fuzz/fuzz_wire.h"

using namespace mlsched;
using namespace mlsched::extender;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  BindingArgs args;
  Status s = DecodeBindingArgs(fuzz::AsView(data, size), fuzz::Limits(), &args);
  std::string out;
  EncodeBindingResult(s.ok() ? args.pod_name + "/" + args.node : s.message(), &out);
  return 0;
}
