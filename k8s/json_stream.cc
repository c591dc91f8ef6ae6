#include "k8s/json_stream.h"

namespace mlsched::k8s {

void JsonStreamSplitter::Reset() {
  buf_.clear();
  depth_ = 0;
  in_string_ = false;
  escape_ = false;
}

Status JsonStreamSplitter::Feed(std::string_view chunk,
                                const std::function<bool(std::string_view)>& on_value) {
  size_t start = 0;  // where the part of the current value inside `chunk` begins
  for (size_t i = 0; i < chunk.size(); ++i) {
    char c = chunk[i];
    if (depth_ == 0) {
      if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
      if (c != '{' && c != '[') {
        return Status::InvalidArgument("watch stream: unexpected byte " + std::to_string(
                                           static_cast<unsigned char>(c)) +
                                       " between values");
      }
      depth_ = 1;
      start = i;
      continue;
    }
    if (in_string_) {
      if (escape_) {
        escape_ = false;
      } else if (c == '\\') {
        escape_ = true;
      } else if (c == '"') {
        in_string_ = false;
      }
      continue;
    }
    if (c == '"') {
      in_string_ = true;
    } else if (c == '{' || c == '[') {
      ++depth_;
    } else if (c == '}' || c == ']') {
      if (--depth_ == 0) {
        std::string_view part = chunk.substr(start, i + 1 - start);
        bool go_on;
        if (buf_.empty()) {
          go_on = on_value(part);  // the common case: no copy
        } else {
          buf_.append(part);
          if (buf_.size() > max_value_bytes_) {
            return Status::InvalidArgument("watch stream: value larger than " +
                                           std::to_string(max_value_bytes_) + " bytes");
          }
          go_on = on_value(buf_);
          buf_.clear();
        }
        if (!go_on) return Status::Ok();
      }
    }
  }
  if (depth_ > 0) {
    buf_.append(chunk.substr(start));
    if (buf_.size() > max_value_bytes_) {
      return Status::InvalidArgument("watch stream: value larger than " +
                                     std::to_string(max_value_bytes_) + " bytes");
    }
  }
  return Status::Ok();
}

}  // namespace mlsched::k8s
