#pragma once

// Errors as values, after leveldb's Status: a named kind and a message. Used across module
// boundaries instead of exceptions.

#include <string>
#include <utility>

namespace mlsched {

class Status {
 public:
  enum class Code : unsigned char {
    kOk,
    kInvalidArgument,  // the input is wrong; retrying will not help
    kNotFound,
    kUnavailable,      // a dependency is away; retrying may help
    kConflict,
    kInternal,
  };

  Status() = default;
  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string m) { return Status(Code::kInvalidArgument, std::move(m)); }
  static Status NotFound(std::string m) { return Status(Code::kNotFound, std::move(m)); }
  static Status Unavailable(std::string m) { return Status(Code::kUnavailable, std::move(m)); }
  static Status Conflict(std::string m) { return Status(Code::kConflict, std::move(m)); }
  static Status Internal(std::string m) { return Status(Code::kInternal, std::move(m)); }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }

 private:
  Status(Code c, std::string m) : code_(c), message_(std::move(m)) {}
  Code code_ = Code::kOk;
  std::string message_;
};

}  // namespace mlsched
