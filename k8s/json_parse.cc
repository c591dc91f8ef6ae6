#include "k8s/json_parse.h"

namespace mlsched::k8s {
namespace {

// Forwards SAX events to the document and refuses to open a level deeper than the limit, which
// stops the (recursive) reader before its recursion gets deep.
class DepthLimiter {
 public:
  DepthLimiter(rapidjson::Document& d, int max_depth) : d_(d), max_depth_(max_depth) {}
  bool Null() { return d_.Null(); }
  bool Bool(bool b) { return d_.Bool(b); }
  bool Int(int i) { return d_.Int(i); }
  bool Uint(unsigned u) { return d_.Uint(u); }
  bool Int64(int64_t i) { return d_.Int64(i); }
  bool Uint64(uint64_t u) { return d_.Uint64(u); }
  bool Double(double x) { return d_.Double(x); }
  bool RawNumber(const char* s, rapidjson::SizeType n, bool copy) { return d_.RawNumber(s, n, copy); }
  bool String(const char* s, rapidjson::SizeType n, bool copy) { return d_.String(s, n, copy); }
  bool Key(const char* s, rapidjson::SizeType n, bool copy) { return d_.Key(s, n, copy); }
  bool StartObject() {
    if (++depth_ > max_depth_) return too_deep_ = true, false;
    return d_.StartObject();
  }
  bool EndObject(rapidjson::SizeType n) {
    --depth_;
    return d_.EndObject(n);
  }
  bool StartArray() {
    if (++depth_ > max_depth_) return too_deep_ = true, false;
    return d_.StartArray();
  }
  bool EndArray(rapidjson::SizeType n) {
    --depth_;
    return d_.EndArray(n);
  }
  bool too_deep() const { return too_deep_; }

 private:
  rapidjson::Document& d_;
  const int max_depth_;
  int depth_ = 0;
  bool too_deep_ = false;
};

}  // namespace

Status ParseJsonInsitu(char* text, rapidjson::Document* doc, int max_depth) {
  rapidjson::ParseResult result;
  bool too_deep = false;
  auto generator = [&](rapidjson::Document& d) {
    DepthLimiter limiter(d, max_depth);
    rapidjson::InsituStringStream is(text);
    rapidjson::Reader reader;
    result = reader.Parse<rapidjson::kParseInsituFlag>(is, limiter);
    too_deep = limiter.too_deep();
    return !result.IsError();
  };
  doc->Populate(generator);
  if (too_deep) {
    return Status::InvalidArgument("JSON nested deeper than " + std::to_string(max_depth) +
                                   " levels");
  }
  if (result.IsError()) {
    return Status::InvalidArgument(std::string("JSON error at offset ") +
                                   std::to_string(result.Offset()) + ": " +
                                   rapidjson::GetParseError_En(result.Code()));
  }
  return Status::Ok();
}

}  // namespace mlsched::k8s
