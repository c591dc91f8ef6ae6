#include "extender/wire.h"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/reader.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <optional>
#include <utility>

#include "extender/name_order.h"
#include "extender/node_names_scan.h"
#include "k8s/decode.h"

namespace mlsched::extender {
namespace {

using rapidjson::Document;
using rapidjson::SizeType;
using rapidjson::Value;

constexpr unsigned kParseFlags = rapidjson::kParseInsituFlag | rapidjson::kParseIterativeFlag;

// RapidJSON's iterative parser calls StartObject before it takes the '{' and EndObject before
// it takes the '}', so an object spans [Tell() at StartObject, Tell() at EndObject + 1).
//
// A SAX handler that builds a Document (forwarding every event to it), enforces the depth
// limit, and, when `spans` is given, records the byte ranges of `Nodes.items[*]` and
// `Nodes.metadata` at the top level (keys matched as Go matches them).
//
// It also leaves `metadata.managedFields` out of the DOM: nothing reads it, and in real Node and
// Pod objects it is a third to a half of the bytes and most of the little objects. The parser
// still checks its syntax and depth; the raw Node bytes copied into answers keep it.
class TrackingHandler {
 public:
  TrackingHandler(Document* doc, rapidjson::InsituStringStream* stream, int max_depth,
                  std::vector<Span>* spans, Span* list_metadata)
      : doc_(doc), stream_(stream), max_depth_(max_depth), spans_(spans), meta_(list_metadata),
        frames_(static_cast<size_t>(std::max(max_depth, 0)) + 2) {}

  bool too_deep() const { return too_deep_; }
  // NodeNames captured without a DOM (ExtenderArgs only): `captured` is true when the last
  // NodeNames value was an array; a non-string element stops the parse and is named here.
  bool names_captured() const { return names_captured_; }
  std::vector<std::string_view>& names() { return names_; }
  const std::string& names_error() const { return names_error_; }
  size_t names_begin() const { return names_begin_; }

  bool Null() { return NotName("null") && (Scalar() || doc_->Null()); }
  bool Bool(bool b) { return NotName("a boolean") && (Scalar() || doc_->Bool(b)); }
  bool Int(int i) { return NotName("a number") && (Scalar() || doc_->Int(i)); }
  bool Uint(unsigned u) { return NotName("a number") && (Scalar() || doc_->Uint(u)); }
  bool Int64(int64_t i) { return NotName("a number") && (Scalar() || doc_->Int64(i)); }
  bool Uint64(uint64_t u) { return NotName("a number") && (Scalar() || doc_->Uint64(u)); }
  bool Double(double d) { return NotName("a number") && (Scalar() || doc_->Double(d)); }
  bool RawNumber(const char* s, SizeType n, bool copy) {
    return NotName("a number") && (Scalar() || doc_->RawNumber(s, n, copy));
  }
  bool String(const char* s, SizeType n, bool copy) {
    if (capturing_ && depth_ == 2) {
      names_.emplace_back(s, n);  // in situ: points into the parse buffer
      return true;
    }
    return Scalar() || doc_->String(s, n, copy);
  }

  bool Key(const char* s, SizeType n, bool copy) {
    if (skip_depth_ >= 0) return true;
    std::string_view key(s, n);
    if (frames_[depth_].metadata && key == "managedFields") {
      // Skip this member: its value's events are swallowed until it is complete.
      ++frames_[depth_].skipped;
      skip_depth_ = depth_;
      return true;
    }
    key_metadata_ = key == "metadata";
    if (spans_ != nullptr) {
      if (depth_ == 1) {
        key1_names_ = KeyMatches(key, "nodenames");
        if (key1_names_) {
          // A later NodeNames replaces an earlier one, as in Go.
          names_captured_ = false;
          names_.clear();
        }
        key1_nodes_ = KeyMatches(key, "nodes");
      } else if (depth_ == 2 && in_nodes_) {
        key2_items_ = KeyMatches(key, "items");
        key2_meta_ = KeyMatches(key, "metadata");
      }
    }
    return doc_->Key(s, n, copy);
  }

  bool StartObject() {
    if (!NotName("an object")) return false;
    if (!Enter()) return false;
    frames_[depth_] = Frame{key_metadata_ && skip_depth_ < 0, 0};
    key_metadata_ = false;
    if (skip_depth_ >= 0) return true;
    if (spans_ != nullptr) {
      if (depth_ == 2 && key1_nodes_) {
        // A later "Nodes" key replaces an earlier one, as in Go.
        in_nodes_ = true;
        spans_->clear();
        *meta_ = Span{};
      } else if (depth_ == 3 && in_nodes_ && key2_meta_) {
        meta_begin_ = stream_->Tell();
      } else if (depth_ == 4 && in_items_) {
        item_begin_ = stream_->Tell();
      }
    }
    return doc_->StartObject();
  }

  bool EndObject(SizeType members) {
    const SizeType kept = members - frames_[depth_].skipped;
    --depth_;
    if (skip_depth_ >= 0) {
      if (depth_ == skip_depth_) skip_depth_ = -1;  // the skipped value is complete
      return true;
    }
    if (spans_ != nullptr) {
      const int d = depth_ + 1;
      if (d == 4 && in_items_) {
        spans_->push_back(Span{item_begin_, stream_->Tell() + 1});
      } else if (d == 3 && in_nodes_ && key2_meta_) {
        *meta_ = Span{meta_begin_, stream_->Tell() + 1};
      } else if (d == 2) {
        in_nodes_ = false;
      }
    }
    return doc_->EndObject(kept);
  }

  bool StartArray() {
    if (!NotName("an array")) return false;
    if (!Enter()) return false;
    frames_[depth_] = Frame{false, 0};
    key_metadata_ = false;
    if (skip_depth_ >= 0) return true;
    if (spans_ != nullptr && depth_ == 2 && key1_names_) {
      // NodeNames: thousands of names, read straight from the parser into string_views; the
      // DOM gets an empty array in its place.
      capturing_ = true;
      names_captured_ = true;
      names_begin_ = stream_->Tell();
      names_.clear();
      return doc_->StartArray();
    }
    if (spans_ != nullptr && depth_ == 3 && in_nodes_ && key2_items_) {
      in_items_ = true;
      spans_->clear();
    }
    return doc_->StartArray();
  }

  bool EndArray(SizeType elements) {
    if (capturing_ && depth_ == 2) {
      capturing_ = false;
      --depth_;
      return doc_->EndArray(0);
    }
    --depth_;
    if (skip_depth_ >= 0) {
      if (depth_ == skip_depth_) skip_depth_ = -1;
      return true;
    }
    if (depth_ + 1 == 3) in_items_ = false;
    return doc_->EndArray(elements);
  }

 private:
  struct Frame {
    bool metadata = false;  // the object is the value of a "metadata" key
    SizeType skipped = 0;   // members left out of the DOM
  };

  bool Enter() {
    if (++depth_ > max_depth_) {
      too_deep_ = true;
      return false;
    }
    return true;
  }

  // False (stopping the parse) for a value inside NodeNames that is not a string.
  bool NotName(const char* type) {
    if (!(capturing_ && depth_ == 2)) return true;
    names_error_ = "NodeNames[" + std::to_string(names_.size()) + "]: expected a string, got " + type;
    return false;
  }

  // True when a scalar is swallowed (it may complete a skipped member).
  bool Scalar() {
    key_metadata_ = false;
    if (skip_depth_ < 0) return false;
    if (depth_ == skip_depth_) skip_depth_ = -1;  // the skipped member's value was a scalar
    return true;
  }

  Document* doc_;
  rapidjson::InsituStringStream* stream_;
  const int max_depth_;
  std::vector<Span>* spans_;
  Span* meta_;
  std::vector<Frame> frames_;  // by depth
  int depth_ = 0;
  int skip_depth_ = -1;  // depth of the object whose member is being skipped; -1: none
  bool key_metadata_ = false;
  bool too_deep_ = false;
  bool key1_nodes_ = false;
  bool key1_names_ = false;
  bool capturing_ = false;
  bool names_captured_ = false;
  std::vector<std::string_view> names_;
  size_t names_begin_ = 0;
  std::string names_error_;
  bool in_nodes_ = false;
  bool key2_items_ = false;
  bool key2_meta_ = false;
  bool in_items_ = false;
  size_t item_begin_ = 0;
  size_t meta_begin_ = 0;
};

// What one pass of the general parser saw.
struct ParseOutcome {
  Status status;
  bool names_captured = false;  // the last top-level NodeNames was an array
  size_t names_begin = 0;       // where that array began
};

// Parses the NUL-terminated `text` (`size` bytes) in situ into `doc` (strings of the DOM point
// into `text`). Records spans when `spans` is not null, and then captures NodeNames into *names
// (when it was an array) without a DOM.
ParseOutcome ParseText(char* text, size_t size, const DecodeLimits& limits, Document* doc,
                       std::vector<Span>* spans, Span* list_metadata,
                       std::optional<std::vector<std::string_view>>* names) {
  ParseOutcome out;
  rapidjson::InsituStringStream stream(text);
  rapidjson::Reader reader;
  TrackingHandler handler(doc, &stream, limits.max_depth, spans, list_metadata);
  rapidjson::ParseResult result;
  auto generate = [&](Document&) {
    result = reader.Parse<kParseFlags>(stream, handler);
    return !result.IsError();
  };
  doc->Populate(generate);
  if (!handler.names_error().empty()) {
    out.status = Status::InvalidArgument(handler.names_error());
    return out;
  }
  if (handler.too_deep()) {
    out.status = Status::InvalidArgument("JSON nested deeper than " +
                                         std::to_string(limits.max_depth) + " levels");
    return out;
  }
  if (result.IsError()) {
    out.status = Status::InvalidArgument(std::string("malformed JSON at offset ") +
                                         std::to_string(result.Offset()) + ": " +
                                         rapidjson::GetParseError_En(result.Code()));
    return out;
  }
  // A NUL byte inside the body ends the in-situ stream early: the rest is unparsed garbage.
  if (stream.Tell() != size) {
    size_t at = stream.Tell();
    bool only_space = true;
    for (size_t i = at; i < size && only_space; ++i) {
      only_space = text[i] == ' ' || text[i] == '\n' || text[i] == '\r' || text[i] == '\t';
    }
    if (!only_space) {
      out.status = Status::InvalidArgument("malformed JSON at offset " + std::to_string(at) +
                                           ": unexpected byte");
      return out;
    }
  }
  if (!doc->IsObject()) {
    out.status = Status::InvalidArgument("body is not a JSON object");
    return out;
  }
  out.names_captured = handler.names_captured();
  out.names_begin = handler.names_begin();
  if (names != nullptr && handler.names_captured()) *names = std::move(handler.names());
  return out;
}

// The fast path for node-name bodies (see node_names_scan.h): the names come from `list` (read
// by the scanner, or found in the cache), and the general parser reads the body with `[]` in
// the array's place, [begin, end). The parser must then see that empty array as the top-level
// NodeNames, exactly at `begin`; otherwise (or on any error) false, and the caller parses the
// whole body the general way, which also words the errors.
bool ParseAroundNames(std::string_view body, size_t begin, size_t end, const DecodeLimits& limits,
                      Document* doc, std::unique_ptr<char[]>* buffer, std::vector<Span>* spans,
                      Span* list_metadata) {
  const size_t size = body.size() - (end - begin) + 2;
  buffer->reset(new char[size + 1]);
  char* text = buffer->get();
  std::memcpy(text, body.data(), begin);
  text[begin] = '[';
  text[begin + 1] = ']';
  std::memcpy(text + begin + 2, body.data() + end, body.size() - end);
  text[size] = '\0';
  std::optional<std::vector<std::string_view>> empty;
  ParseOutcome parsed = ParseText(text, size, limits, doc, spans, list_metadata, &empty);
  return parsed.status.ok() && parsed.names_captured && parsed.names_begin == begin && empty &&
         empty->empty();
}

// A list of the scanner's names in storage of its own (the array's bytes, copied).
std::shared_ptr<const NodeNamesList> MakeList(std::string_view body, const TrailingNodeNames& scan) {
  auto list = std::make_shared<NodeNamesList>();
  list->array_text.assign(body.data() + scan.begin, scan.end - scan.begin);
  list->go_plain = scan.go_plain;
  list->candidates.reserve(scan.names.size());
  for (std::string_view n : scan.names) {
    const size_t offset = static_cast<size_t>(n.data() - body.data()) - scan.begin;
    list->candidates.push_back(policy::Candidate{
        std::string_view(list->array_text.data() + offset, n.size()), nullptr});
  }
  return list;
}

// Parses `body` into `doc` in situ in a copy owned by *buffer (strings of the DOM point into
// it). Records spans when `spans` is not null.
// With `spans`, also captures NodeNames into *names (when it was an array) without a DOM, or,
// for the usual node-names body, sets *list instead (`cache`, when given, is asked first and
// learns lists it did not have).
Status Parse(std::string_view body, const DecodeLimits& limits, Document* doc,
             std::unique_ptr<char[]>* buffer, std::vector<Span>* spans, Span* list_metadata,
             std::optional<std::vector<std::string_view>>* names = nullptr,
             std::shared_ptr<const NodeNamesList>* list = nullptr,
             NodeNamesCache* cache = nullptr) {
  if (body.size() > limits.max_body_bytes) {
    return Status::InvalidArgument("body of " + std::to_string(body.size()) +
                                   " bytes exceeds the limit of " +
                                   std::to_string(limits.max_body_bytes) + " bytes");
  }
  if (body.empty()) return Status::InvalidArgument("empty body");
  if (names != nullptr && spans != nullptr && list != nullptr) {
    std::shared_ptr<const NodeNamesList> found;
    const std::optional<size_t> at = LocateTrailingNodeNames(body);
    size_t begin = at.value_or(0);
    if (at && cache != nullptr) {
      found = cache->Find(body, begin);
      if (found && !EndsObjectAt(body, begin + found->array_text.size())) found = nullptr;
    }
    if (at && !found) {
      if (std::optional<TrailingNodeNames> scan = ScanNodeNamesAt(body, begin)) {
        found = MakeList(body, *scan);
        if (cache != nullptr) cache->Remember(found);
      }
    }
    if (found && ParseAroundNames(body, begin, begin + found->array_text.size(), limits, doc,
                                  buffer, spans, list_metadata)) {
      *list = std::move(found);
      return Status::Ok();
    }
    spans->clear();
    if (list_metadata != nullptr) *list_metadata = Span{};
  }
  buffer->reset(new char[body.size() + 1]);
  std::memcpy(buffer->get(), body.data(), body.size());
  (*buffer)[body.size()] = '\0';
  return ParseText(buffer->get(), body.size(), limits, doc, spans, list_metadata, names).status;
}

const char* TypeName(const Value& v) {
  switch (v.GetType()) {
    case rapidjson::kNullType: return "null";
    case rapidjson::kFalseType:
    case rapidjson::kTrueType: return "a boolean";
    case rapidjson::kObjectType: return "an object";
    case rapidjson::kArrayType: return "an array";
    case rapidjson::kStringType: return "a string";
    case rapidjson::kNumberType: return "a number";
  }
  return "?";
}

Status WrongType(std::string_view field, const char* want, const Value& got) {
  return Status::InvalidArgument(std::string(field) + ": expected " + want + ", got " +
                                 TypeName(got));
}

// The last member of `obj` whose key matches `field` (Go: the last duplicate wins), or null.
const Value* FindField(const Value& obj, std::string_view field) {
  const Value* found = nullptr;
  for (auto it = obj.MemberBegin(); it != obj.MemberEnd(); ++it) {
    if (KeyMatches(std::string_view(it->name.GetString(), it->name.GetStringLength()), field)) {
      found = &it->value;
    }
  }
  return found;
}

Status DecodePodField(const Value& root, policy::Pod* pod) {
  const Value* v = FindField(root, "pod");
  if (v == nullptr || v->IsNull()) return Status::InvalidArgument("Pod: missing");
  if (!v->IsObject()) return WrongType("Pod", "an object", *v);
  Status s = k8s::DecodePod(*v, pod);
  if (!s.ok()) return Status::InvalidArgument("Pod: " + s.message());
  return Status::Ok();
}

// Reads a string field into *out; absent or null leave "" (as Go leaves the zero value).
Status StringField(const Value& obj, std::string_view field, std::string_view name,
                   std::string* out) {
  const Value* v = FindField(obj, field);
  out->clear();
  if (v == nullptr || v->IsNull()) return Status::Ok();
  if (!v->IsString()) return WrongType(name, "a string", *v);
  out->assign(v->GetString(), v->GetStringLength());
  return Status::Ok();
}

Status Int64Field(const Value& obj, std::string_view field, std::string_view name,
                  int64_t* out) {
  const Value* v = FindField(obj, field);
  *out = 0;
  if (v == nullptr || v->IsNull()) return Status::Ok();
  if (!v->IsInt64()) return WrongType(name, "an integer", *v);
  *out = v->GetInt64();
  return Status::Ok();
}

// Go's encoding/json escapes: hex digits are lower-case.
constexpr char kHex[] = "0123456789abcdef";

// Length of the valid UTF-8 sequence at s[i], or 0 when invalid (Go's utf8.DecodeRuneInString
// rules: no overlongs, no surrogates, at most U+10FFFF).
size_t Utf8Length(std::string_view s, size_t i, uint32_t* rune) {
  auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = b(i);
  size_t n = s.size() - i;
  if (c < 0xC2) return 0;
  if (c < 0xE0) {
    if (n < 2 || (b(i + 1) & 0xC0) != 0x80) return 0;
    *rune = ((c & 0x1F) << 6) | (b(i + 1) & 0x3F);
    return 2;
  }
  if (c < 0xF0) {
    if (n < 3 || (b(i + 1) & 0xC0) != 0x80 || (b(i + 2) & 0xC0) != 0x80) return 0;
    uint32_t r = ((c & 0x0F) << 12) | ((b(i + 1) & 0x3F) << 6) | (b(i + 2) & 0x3F);
    if (r < 0x800 || (r >= 0xD800 && r <= 0xDFFF)) return 0;
    *rune = r;
    return 3;
  }
  if (c < 0xF5) {
    if (n < 4 || (b(i + 1) & 0xC0) != 0x80 || (b(i + 2) & 0xC0) != 0x80 ||
        (b(i + 3) & 0xC0) != 0x80) {
      return 0;
    }
    uint32_t r = ((c & 0x07) << 18) | ((b(i + 1) & 0x3F) << 12) | ((b(i + 2) & 0x3F) << 6) |
                 (b(i + 3) & 0x3F);
    if (r < 0x10000 || r > 0x10FFFF) return 0;
    *rune = r;
    return 4;
  }
  return 0;
}

}  // namespace

bool KeyMatches(std::string_view key, std::string_view field) {
  size_t i = 0;
  for (char want : field) {
    if (i >= key.size()) return false;
    unsigned char c = static_cast<unsigned char>(key[i]);
    if (c < 0x80) {
      if (c >= 'A' && c <= 'Z') c = static_cast<unsigned char>(c - 'A' + 'a');
      if (c != static_cast<unsigned char>(want)) return false;
      ++i;
    } else if (want == 's' && key.substr(i, 2) == "\xC5\xBF") {
      i += 2;
    } else if (want == 'k' && key.substr(i, 3) == "\xE2\x84\xAA") {
      i += 3;
    } else {
      return false;
    }
  }
  return i == key.size();
}

// Bytes that are not copied as they are: control characters, the quote, the backslash, the
// HTML-sensitive <, >, & (Go escapes them by default) and every non-ASCII byte (checked as UTF-8).
constexpr std::array<bool, 256> kSpecial = [] {
  std::array<bool, 256> t{};
  for (int c = 0; c < 256; ++c) {
    t[c] = c < 0x20 || c >= 0x80 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&';
  }
  return t;
}();

void AppendGoString(std::string_view s, std::string* out) {
  out->push_back('"');
  size_t start = 0;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && !kSpecial[static_cast<unsigned char>(s[i])]) ++i;
    if (i >= s.size()) break;
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      out->append(s.data() + start, i - start);
      switch (c) {
        case '"': out->append("\\\""); break;
        case '\\': out->append("\\\\"); break;
        case '\n': out->append("\\n"); break;
        case '\r': out->append("\\r"); break;
        case '\t': out->append("\\t"); break;
        default:
          out->append("\\u00");
          out->push_back(kHex[c >> 4]);
          out->push_back(kHex[c & 0xF]);
      }
      start = ++i;
      continue;
    }
    uint32_t rune = 0;
    size_t n = Utf8Length(s, i, &rune);
    if (n == 0) {
      out->append(s.data() + start, i - start);
      out->append("\\ufffd");
      start = ++i;
      continue;
    }
    if (rune == 0x2028 || rune == 0x2029) {
      out->append(s.data() + start, i - start);
      out->append(rune == 0x2028 ? "\\u2028" : "\\u2029");
      i += n;
      start = i;
      continue;
    }
    i += n;
  }
  out->append(s.data() + start, s.size() - start);
  out->push_back('"');
}

namespace {

bool NeedsEscape(std::string_view s) {
  bool any = false;
  for (unsigned char c : s) any |= kSpecial[c];
  return any;
}

char* Put(char* p, std::string_view s) {
  std::memcpy(p, s.data(), s.size());
  return p + s.size();
}

// Writes lists of node names (thousands per answer) straight into pre-sized storage: at 5,000
// names, std::string::append per piece cost more than the bytes themselves. Measure each name
// once, Grow the output by the total, then Write. Names that need escaping (none that Kubernetes
// accepts as a node name, but the request may say anything) take AppendGoString's path.
class NameWriter {
 public:
  // `plain`: the caller knows that no name needs escaping (the decoder checked).
  NameWriter(size_t n, bool plain) : plain_(plain), escaped_index_(plain ? 0 : n, -1) {}

  // Bytes `name` (candidate i) takes, quotes included.
  size_t Measure(size_t i, std::string_view name) {
    if (plain_ || !NeedsEscape(name)) return name.size() + 2;
    escaped_index_[i] = static_cast<int32_t>(escaped_.size());
    AppendGoString(name, &escaped_.emplace_back());
    return escaped_.back().size();
  }
  // Makes room for `size` more bytes at the end of *out; returns where they start. The caller
  // trims what it did not use.
  char* Grow(std::string* out, size_t size) const {
    const size_t at = out->size();
    out->resize(at + size);
    return out->data() + at;
  }
  char* Write(size_t i, std::string_view name, char* p) const {
    if (!plain_ && escaped_index_[i] >= 0) {
      return Put(p, escaped_[static_cast<size_t>(escaped_index_[i])]);
    }
    *p++ = '"';
    p = Put(p, name);
    *p++ = '"';
    return p;
  }

 private:
  const bool plain_;
  std::vector<int32_t> escaped_index_;
  std::vector<std::string> escaped_;
};

// Sorted by node name (extender/name_order.h) with duplicates collapsed to the last one, as a
// Go map would hold them.
// `list`: the args' node-names list (or null); its name order, when it has made one or when
// most candidates failed, replaces the sort.
std::vector<const policy::FailedNode*> SortedFailures(const std::vector<policy::FailedNode>& in,
                                                      const std::vector<policy::Candidate>& c,
                                                      const NodeNamesList* list) {
  if (list != nullptr && list->candidates.size() == c.size() && !in.empty() &&
      (list->HasNameOrder() || in.size() * 2 >= c.size())) {
    if (const std::vector<uint32_t>& order = list->NameOrder(); !order.empty()) {
      // No two candidates share a name: the last failure of each candidate, in name order.
      std::vector<const policy::FailedNode*> at(c.size(), nullptr);
      for (const auto& f : in) {
        if (f.index < c.size()) at[f.index] = &f;
      }
      std::vector<const policy::FailedNode*> out;
      out.reserve(in.size());
      for (uint32_t k : order) {
        if (at[k] != nullptr) out.push_back(at[k]);
      }
      return out;
    }
  }
  std::vector<const policy::FailedNode*> v;
  std::vector<std::string_view> names;
  v.reserve(in.size());
  names.reserve(in.size());
  for (const auto& f : in) {
    if (f.index >= c.size()) continue;
    v.push_back(&f);
    names.push_back(c[f.index].name);
  }
  std::vector<const policy::FailedNode*> out;
  out.reserve(v.size());
  std::string_view last;
  for (uint32_t k : OrderByName(names)) {
    if (!out.empty() && names[k] == last) {
      out.back() = v[k];
    } else {
      out.push_back(v[k]);
    }
    last = names[k];
  }
  return out;
}

// `names_plain`: no name needs escaping (ExtenderArgs::names_plain). Reasons repeat (a pod
// that fits nowhere fails 5,000 nodes for the same reason or two): each run of one reason is
// escaped once. Written into storage sized up front, as the other lists.
void AppendFailedMap(const std::vector<policy::FailedNode>& failed,
                     const std::vector<policy::Candidate>& c, bool names_plain,
                     const NodeNamesList* list, std::string* out) {
  const std::vector<const policy::FailedNode*> sorted = SortedFailures(failed, c, list);
  NameWriter names(c.size(), names_plain);
  std::vector<std::string> reasons;  // encoded, one per run of equal reasons
  std::vector<uint32_t> reason_of(sorted.size());
  std::string_view last;
  size_t size = 2;
  for (size_t k = 0; k < sorted.size(); ++k) {
    const policy::FailedNode& f = *sorted[k];
    size += names.Measure(f.index, c[f.index].name) + 2;  // and ':' and ','
    if (reasons.empty() || std::string_view(f.reason) != last) {
      last = f.reason;
      AppendGoString(last, &reasons.emplace_back());
    }
    reason_of[k] = static_cast<uint32_t>(reasons.size() - 1);
    size += reasons.back().size();
  }
  char* p = names.Grow(out, size);
  char* const begin = p;
  *p++ = '{';
  for (size_t k = 0; k < sorted.size(); ++k) {
    if (k > 0) *p++ = ',';
    p = names.Write(sorted[k]->index, c[sorted[k]->index].name, p);
    *p++ = ':';
    p = Put(p, reasons[reason_of[k]]);
  }
  *p++ = '}';
  out->resize(out->size() - size + static_cast<size_t>(p - begin));
}

}  // namespace

Status DecodeExtenderArgs(std::string_view body, const DecodeLimits& limits, ExtenderArgs* out,
                          NodeNamesCache* cache) {
  *out = ExtenderArgs();
  Document doc;
  std::optional<std::vector<std::string_view>> captured;
  std::shared_ptr<const NodeNamesList> list;
  Status s = Parse(body, limits, &doc, &out->buffer_, &out->item_spans, &out->list_metadata,
                   &captured, &list, cache);
  if (!s.ok()) return s;
  s = DecodePodField(doc, &out->pod);
  if (!s.ok()) return s;

  const Value* nodes = FindField(doc, "nodes");
  const Value* names = FindField(doc, "nodenames");
  if (names != nullptr && !names->IsNull()) {
    if (!names->IsArray()) return WrongType("NodeNames", "an array", *names);
    out->has_node_names = true;
  }
  if (nodes != nullptr && !nodes->IsNull()) {
    if (!nodes->IsObject()) return WrongType("Nodes", "an object (v1.NodeList)", *nodes);
    out->full_nodes = true;
    const Value* items = FindField(*nodes, "items");
    if (items != nullptr && !items->IsNull()) {
      if (!items->IsArray()) return WrongType("Nodes.items", "an array", *items);
      out->nodes.resize(items->Size());
      for (SizeType i = 0; i < items->Size(); ++i) {
        const Value& item = (*items)[i];
        std::string field = "Nodes.items[" + std::to_string(i) + "]";
        if (!item.IsObject()) return WrongType(field, "an object", item);
        Status ns = k8s::DecodeNode(item, &out->nodes[i]);
        if (!ns.ok()) return Status::InvalidArgument(field + ": " + ns.message());
      }
    } else {
      out->item_spans.clear();
    }
    if (out->item_spans.size() != out->nodes.size()) {
      return Status::Internal("Nodes.items: byte ranges do not match the items");
    }
    const Value* meta = FindField(*nodes, "metadata");
    if (meta == nullptr || !meta->IsObject()) out->list_metadata = Span{};
    out->candidates.reserve(out->nodes.size());
    for (const auto& n : out->nodes) {
      out->candidates.push_back(policy::Candidate{n.name, &n});
    }
  } else {
    out->item_spans.clear();
    out->list_metadata = Span{};
    if (out->has_node_names && list) {
      out->names_plain = list->go_plain;
      out->candidates = list->candidates;
      out->names_ = std::move(list);
    } else if (out->has_node_names && captured) {
      out->candidates.reserve(captured->size());
      for (std::string_view n : *captured) out->candidates.push_back(policy::Candidate{n, nullptr});
    } else if (out->has_node_names) {
      out->candidates.reserve(names->Size());
      for (SizeType i = 0; i < names->Size(); ++i) {
        const Value& n = (*names)[i];
        if (!n.IsString()) {
          return WrongType("NodeNames[" + std::to_string(i) + "]", "a string", n);
        }
        out->candidates.push_back(
            policy::Candidate{std::string_view(n.GetString(), n.GetStringLength()), nullptr});
      }
    }
  }
  return Status::Ok();
}

Status DecodeBindingArgs(std::string_view body, const DecodeLimits& limits, BindingArgs* out) {
  *out = BindingArgs();
  Document doc;
  std::unique_ptr<char[]> buffer;
  Status s = Parse(body, limits, &doc, &buffer, nullptr, nullptr);
  if (!s.ok()) return s;
  if (!(s = StringField(doc, "podname", "PodName", &out->pod_name)).ok()) return s;
  if (!(s = StringField(doc, "podnamespace", "PodNamespace", &out->pod_namespace)).ok()) return s;
  if (!(s = StringField(doc, "poduid", "PodUID", &out->pod_uid)).ok()) return s;
  if (!(s = StringField(doc, "node", "Node", &out->node)).ok()) return s;
  if (out->pod_name.empty()) return Status::InvalidArgument("PodName: missing");
  if (out->node.empty()) return Status::InvalidArgument("Node: missing");
  return Status::Ok();
}

Status DecodePreemptionArgs(std::string_view body, const DecodeLimits& limits,
                            PreemptionArgs* out) {
  *out = PreemptionArgs();
  Document doc;
  std::unique_ptr<char[]> buffer;
  Status s = Parse(body, limits, &doc, &buffer, nullptr, nullptr);
  if (!s.ok()) return s;
  if (!(s = DecodePodField(doc, &out->pod)).ok()) return s;

  const Value* meta = FindField(doc, "nodenametometavictims");
  const Value* full = FindField(doc, "nodenametovictims");
  bool use_meta = meta != nullptr && !meta->IsNull();
  const Value* map = use_meta ? meta : full;
  const char* map_name = use_meta ? "NodeNameToMetaVictims" : "NodeNameToVictims";
  if (map == nullptr || map->IsNull()) return Status::Ok();
  if (!map->IsObject()) return WrongType(map_name, "an object", *map);
  for (auto it = map->MemberBegin(); it != map->MemberEnd(); ++it) {
    std::string node(it->name.GetString(), it->name.GetStringLength());
    std::string field = std::string(map_name) + "[" + node + "]";
    const Value& victims = it->value;
    // A nil *Victims names no victim: the node cannot be kept, so it is left out.
    if (victims.IsNull()) continue;
    if (!victims.IsObject()) return WrongType(field, "an object", victims);
    policy::NodeVictims nv;
    nv.node = node;
    if (!(s = Int64Field(victims, "numpdbviolations", field + ".NumPDBViolations",
                         &nv.num_pdb_violations))
             .ok()) {
      return s;
    }
    const Value* pods = FindField(victims, "pods");
    if (pods != nullptr && !pods->IsNull()) {
      if (!pods->IsArray()) return WrongType(field + ".Pods", "an array", *pods);
      for (SizeType i = 0; i < pods->Size(); ++i) {
        const Value& p = (*pods)[i];
        std::string pfield = field + ".Pods[" + std::to_string(i) + "]";
        if (p.IsNull()) continue;
        if (!p.IsObject()) return WrongType(pfield, "an object", p);
        std::string uid;
        if (use_meta) {
          if (!(s = StringField(p, "uid", pfield + ".UID", &uid)).ok()) return s;
        } else {
          const Value* md = FindField(p, "metadata");
          if (md != nullptr && !md->IsNull()) {
            if (!md->IsObject()) return WrongType(pfield + ".metadata", "an object", *md);
            if (!(s = StringField(*md, "uid", pfield + ".metadata.uid", &uid)).ok()) return s;
          }
        }
        if (uid.empty()) return Status::InvalidArgument(pfield + ": victim without a UID");
        nv.victim_uids.push_back(std::move(uid));
      }
    }
    // Go's map keeps the last duplicate key.
    auto dup = std::find_if(out->candidates.begin(), out->candidates.end(),
                            [&](const policy::NodeVictims& c) { return c.node == nv.node; });
    if (dup != out->candidates.end()) {
      *dup = std::move(nv);
    } else {
      out->candidates.push_back(std::move(nv));
    }
  }
  return Status::Ok();
}

void EncodeFilterResult(const ExtenderArgs& args, std::string_view body,
                        const policy::FilterResult& result, std::string* out) {
  const auto& c = args.candidates;
  size_t estimate = 160;
  for (uint32_t i : result.passed) {
    if (i >= c.size()) continue;
    estimate += args.full_nodes ? args.item_spans[i].size() + 1 : c[i].name.size() + 3;
  }
  out->reserve(out->size() + estimate);
  out->append("{\"Nodes\":");
  if (args.full_nodes) {
    out->append("{\"metadata\":");
    const Span& m = args.list_metadata;
    if (m.size() > 0 && m.end <= body.size()) {
      out->append(body.substr(m.begin, m.size()));
    } else {
      out->append("{}");
    }
    out->append(",\"items\":[");
    bool first = true;
    for (uint32_t i : result.passed) {
      if (i >= c.size() || args.item_spans[i].end > body.size()) continue;
      if (!first) out->push_back(',');
      first = false;
      out->append(body.substr(args.item_spans[i].begin, args.item_spans[i].size()));
    }
    out->append("]}");
  } else {
    out->append("null");
  }
  out->append(",\"NodeNames\":");
  if (args.has_node_names || (!args.full_nodes && !result.passed.empty())) {
    NameWriter names(c.size(), args.names_plain);
    size_t size = 2;
    for (uint32_t i : result.passed) {
      if (i < c.size()) size += names.Measure(i, c[i].name) + 1;
    }
    char* p = names.Grow(out, size);
    char* const begin = p;
    *p++ = '[';
    bool first = true;
    for (uint32_t i : result.passed) {
      if (i >= c.size()) continue;
      if (!first) *p++ = ',';
      first = false;
      p = names.Write(i, c[i].name, p);
    }
    *p++ = ']';
    out->resize(out->size() - size + static_cast<size_t>(p - begin));
  } else {
    out->append("null");
  }
  out->append(",\"FailedNodes\":");
  AppendFailedMap(result.failed, c, args.names_plain, args.names_.get(), out);
  out->append(",\"FailedAndUnresolvableNodes\":");
  AppendFailedMap(result.unresolvable, c, args.names_plain, args.names_.get(), out);
  out->append(",\"Error\":");
  AppendGoString(result.error, out);
  out->push_back('}');
}

void EncodeFilterError(std::string_view error, std::string* out) {
  out->append(
      "{\"Nodes\":null,\"NodeNames\":null,\"FailedNodes\":{},\"FailedAndUnresolvableNodes\":{},"
      "\"Error\":");
  AppendGoString(error, out);
  out->push_back('}');
}

void EncodeHostPriorityList(const std::vector<policy::Candidate>& candidates,
                            const policy::Scores& scores, std::string* out, bool names_plain) {
  static constexpr std::string_view kHost = "{\"Host\":";
  static constexpr std::string_view kScore = ",\"Score\":";
  NameWriter names(candidates.size(), names_plain);
  size_t size = 2;
  for (size_t i = 0; i < candidates.size(); ++i) {
    size += names.Measure(i, candidates[i].name) + kHost.size() + kScore.size() + 4;
  }
  char* p = names.Grow(out, size);
  char* const begin = p;
  *p++ = '[';
  for (size_t i = 0; i < candidates.size(); ++i) {
    if (i > 0) *p++ = ',';
    p = Put(p, kHost);
    p = names.Write(i, candidates[i].name, p);
    p = Put(p, kScore);
    const int64_t score = i < scores.size() ? std::clamp<int64_t>(scores[i], 0, 10) : 0;
    if (score == 10) *p++ = '1';
    *p++ = static_cast<char>('0' + score % 10);
    *p++ = '}';
  }
  *p++ = ']';
  out->resize(out->size() - size + static_cast<size_t>(p - begin));
}

void EncodeBindingResult(std::string_view error, std::string* out) {
  out->append("{\"Error\":");
  AppendGoString(error, out);
  out->push_back('}');
}

void EncodePreemptionResult(const std::vector<policy::NodeVictims>& result, std::string* out) {
  std::vector<const policy::NodeVictims*> sorted;
  sorted.reserve(result.size());
  for (const auto& nv : result) sorted.push_back(&nv);
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const auto* a, const auto* b) { return a->node < b->node; });
  out->append("{\"NodeNameToMetaVictims\":{");
  for (size_t i = 0; i < sorted.size(); ++i) {
    // Duplicate nodes collapse to the last, as in a Go map.
    if (i + 1 < sorted.size() && sorted[i + 1]->node == sorted[i]->node) continue;
    if (out->back() != '{') out->push_back(',');
    AppendGoString(sorted[i]->node, out);
    out->append(":{\"Pods\":[");
    for (size_t k = 0; k < sorted[i]->victim_uids.size(); ++k) {
      if (k > 0) out->push_back(',');
      out->append("{\"UID\":");
      AppendGoString(sorted[i]->victim_uids[k], out);
      out->push_back('}');
    }
    out->append("],\"NumPDBViolations\":");
    out->append(std::to_string(sorted[i]->num_pdb_violations));
    out->push_back('}');
  }
  out->append("}}");
}

void EncodeBadRequest(std::string_view message, std::string* out) {
  out->append("{\"error\":");
  AppendGoString(message, out);
  out->push_back('}');
}

}  // namespace mlsched::extender
