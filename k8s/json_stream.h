#pragma once

// Splits a byte stream (a watch response) into complete top-level JSON values, whatever the
// chunk boundaries: a value may arrive split over many chunks and a chunk may hold many values.

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

#include "policy/status.h"

namespace mlsched::k8s {

class JsonStreamSplitter {
 public:
  // Values larger than `max_value_bytes` are an error (a watch event is one object; a bound
  // keeps a broken stream from eating memory).
  explicit JsonStreamSplitter(size_t max_value_bytes = 64 << 20)
      : max_value_bytes_(max_value_bytes) {}

  // Feeds one chunk. Calls `on_value` with each complete top-level value (an object or array;
  // the view is valid during the call only) in order. Returns an error when the stream is not
  // a sequence of objects/arrays separated by whitespace, or a value is too large; after an
  // error the splitter must be Reset() before reuse. `on_value` returning false stops feeding
  // (the rest of the chunk is dropped) and Feed returns Ok.
  Status Feed(std::string_view chunk, const std::function<bool(std::string_view)>& on_value);

  // Forgets any partial value (a new connection).
  void Reset();
  // True when a value has started but not finished (a stream cut mid-event).
  bool InValue() const { return depth_ > 0; }

 private:
  const size_t max_value_bytes_;
  std::string buf_;    // the current partial value
  int depth_ = 0;      // nesting depth inside the current value
  bool in_string_ = false;
  bool escape_ = false;
};

}  // namespace mlsched::k8s
