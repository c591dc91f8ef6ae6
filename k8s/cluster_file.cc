#include "k8s/cluster_file.h"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <yaml-cpp/yaml.h>

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "k8s/decode.h"

namespace mlsched::k8s {
namespace {

using rapidjson::Document;
using rapidjson::Value;

constexpr int kMaxYamlDepth = 100;

bool IsYamlNull(const std::string& s) { return s == "~" || s == "null" || s == "Null" || s == "NULL"; }
bool IsYamlTrue(const std::string& s) { return s == "true" || s == "True" || s == "TRUE"; }
bool IsYamlFalse(const std::string& s) { return s == "false" || s == "False" || s == "FALSE"; }

// Plain (unquoted) YAML scalars get the YAML 1.2 core schema types, as kubectl's YAML-to-JSON
// conversion does: `cpu: 8` is a number, `cpu: "8"` a string.
void ScalarToJson(const YAML::Node& n, Value* out, Document::AllocatorType& a) {
  const std::string& s = n.Scalar();
  if (n.Tag() == "?") {  // plain scalar
    if (IsYamlNull(s) || s.empty()) {
      out->SetNull();
      return;
    }
    if (IsYamlTrue(s)) {
      out->SetBool(true);
      return;
    }
    if (IsYamlFalse(s)) {
      out->SetBool(false);
      return;
    }
    const char* b = s.c_str();
    char* end = nullptr;
    errno = 0;
    long long ll = std::strtoll(b, &end, 10);
    if (*end == '\0' && errno == 0 && (std::isdigit(static_cast<unsigned char>(s[0])) ||
                                      ((s[0] == '-' || s[0] == '+') && s.size() > 1))) {
      out->SetInt64(ll);
      return;
    }
    bool numeric_start = std::isdigit(static_cast<unsigned char>(s[0])) || s[0] == '-' ||
                         s[0] == '+' || s[0] == '.';
    if (numeric_start) {
      errno = 0;
      double d = std::strtod(b, &end);
      bool has_alpha_inf = s.find_first_of("nN") != std::string::npos;  // no inf/nan/hex
      if (*end == '\0' && errno == 0 && !has_alpha_inf && s.find('x') == std::string::npos) {
        out->SetDouble(d);
        return;
      }
    }
  }
  out->SetString(s.data(), static_cast<rapidjson::SizeType>(s.size()), a);
}

Status YamlToJson(const YAML::Node& n, Value* out, Document::AllocatorType& a, int depth) {
  if (depth > kMaxYamlDepth) return Status::InvalidArgument("YAML nested too deeply");
  switch (n.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      out->SetNull();
      return Status::Ok();
    case YAML::NodeType::Scalar:
      ScalarToJson(n, out, a);
      return Status::Ok();
    case YAML::NodeType::Sequence:
      out->SetArray();
      for (const YAML::Node& item : n) {
        Value v;
        Status s = YamlToJson(item, &v, a, depth + 1);
        if (!s.ok()) return s;
        out->PushBack(v, a);
      }
      return Status::Ok();
    case YAML::NodeType::Map:
      out->SetObject();
      for (const auto& kv : n) {
        if (!kv.first.IsScalar()) return Status::InvalidArgument("YAML map key is not a scalar");
        const std::string& k = kv.first.Scalar();
        Value key(k.data(), static_cast<rapidjson::SizeType>(k.size()), a);
        Value v;
        Status s = YamlToJson(kv.second, &v, a, depth + 1);
        if (!s.ok()) return s;
        out->AddMember(key, v, a);
      }
      return Status::Ok();
  }
  return Status::InvalidArgument("unknown YAML node type");
}

std::string KindOf(const Value& obj) {
  if (!obj.IsObject()) return "";
  auto it = obj.FindMember("kind");
  if (it == obj.MemberEnd() || !it->value.IsString()) return "";
  return std::string(it->value.GetString(), it->value.GetStringLength());
}

std::string NameOf(const Value& obj) {
  if (!obj.IsObject()) return "";
  auto m = obj.FindMember("metadata");
  if (m == obj.MemberEnd() || !m->value.IsObject()) return "";
  auto n = m->value.FindMember("name");
  if (n == m->value.MemberEnd() || !n->value.IsString()) return "";
  return n->value.GetString();
}

Status DecodeItem(const Value& item, const std::string& kind, const std::string& where,
                  ClusterObjects* out) {
  Status s;
  if (kind == "Node") {
    policy::Node n;
    s = DecodeNode(item, &n);
    if (s.ok()) out->nodes.push_back(std::move(n));
  } else if (kind == "Pod") {
    policy::Pod p;
    s = DecodePod(item, &p);
    if (s.ok()) out->pods.push_back(std::move(p));
  } else if (kind == "PodGroup") {
    policy::PodGroup g;
    s = DecodePodGroup(item, &g);
    if (s.ok()) out->pod_groups.push_back(std::move(g));
  } else if (kind.empty()) {
    return Status::InvalidArgument(where + ": missing kind");
  } else {
    return Status::InvalidArgument(where + ": unsupported kind \"" + kind + "\"");
  }
  if (!s.ok()) return Status::InvalidArgument(where + ": " + s.message());
  return Status::Ok();
}

// One document: a List / <Kind>List, or a single object.
Status DecodeDocument(const Value& doc, const std::string& where, ClusterObjects* out) {
  if (!doc.IsObject()) return Status::InvalidArgument(where + ": want a JSON/YAML object");
  std::string kind = KindOf(doc);
  auto items_it = doc.FindMember("items");
  bool is_list = kind == "List" || (kind.size() > 4 && kind.compare(kind.size() - 4, 4, "List") == 0);
  if (!is_list) {
    if (items_it != doc.MemberEnd() && kind.empty()) is_list = true;  // a bare {items: [...]}
  }
  if (!is_list) return DecodeItem(doc, kind, where + " (" + kind + " " + NameOf(doc) + ")", out);
  std::string item_kind = kind == "List" ? "" : kind.substr(0, kind.size() - 4);
  if (items_it == doc.MemberEnd() || items_it->value.IsNull()) return Status::Ok();
  if (!items_it->value.IsArray()) return Status::InvalidArgument(where + ": items: want an array");
  const Value& items = items_it->value;
  for (rapidjson::SizeType i = 0; i < items.Size(); ++i) {
    const Value& item = items[i];
    std::string k = KindOf(item);
    if (k.empty()) k = item_kind;
    std::string iw = where + ": items[" + std::to_string(i) + "]";
    std::string name = NameOf(item);
    if (!name.empty()) iw += " (" + (k.empty() ? std::string("?") : k) + " " + name + ")";
    Status s = DecodeItem(item, k, iw, out);
    if (!s.ok()) return s;
  }
  return Status::Ok();
}

Status ParseInto(std::string_view text, const std::string& where, ClusterObjects* out) {
  size_t first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return Status::InvalidArgument(where + ": empty");
  if (text[first] == '{' || text[first] == '[') {
    Document doc;
    doc.Parse<rapidjson::kParseIterativeFlag>(text.data(), text.size());
    if (doc.HasParseError()) {
      return Status::InvalidArgument(where + ": JSON error at offset " +
                                     std::to_string(doc.GetErrorOffset()) + ": " +
                                     rapidjson::GetParseError_En(doc.GetParseError()));
    }
    if (doc.IsArray()) {
      for (rapidjson::SizeType i = 0; i < doc.Size(); ++i) {
        Status s = DecodeDocument(doc[i], where + ": [" + std::to_string(i) + "]", out);
        if (!s.ok()) return s;
      }
      return Status::Ok();
    }
    return DecodeDocument(doc, where, out);
  }
  std::vector<YAML::Node> docs;
  try {
    docs = YAML::LoadAll(std::string(text));
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument(where + ": YAML error: " + e.what());
  }
  for (size_t i = 0; i < docs.size(); ++i) {
    if (docs[i].IsNull()) continue;  // an empty document between `---`
    Document doc;
    Status s = YamlToJson(docs[i], &doc, doc.GetAllocator(), 0);
    std::string dw = docs.size() > 1 ? where + ": document " + std::to_string(i) : where;
    if (!s.ok()) return Status::InvalidArgument(dw + ": " + s.message());
    s = DecodeDocument(doc, dw, out);
    if (!s.ok()) return s;
  }
  return Status::Ok();
}

void Append(ClusterObjects* from, ClusterObjects* to) {
  for (auto& n : from->nodes) to->nodes.push_back(std::move(n));
  for (auto& p : from->pods) to->pods.push_back(std::move(p));
  for (auto& g : from->pod_groups) to->pod_groups.push_back(std::move(g));
}

}  // namespace

Status ParseClusterList(std::string_view text, ClusterObjects* out) {
  ClusterObjects tmp;
  Status s = ParseInto(text, "cluster list", &tmp);
  if (s.ok()) Append(&tmp, out);
  return s;
}

Status LoadClusterFile(const std::string& path, ClusterObjects* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound(path + ": cannot open");
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return Status::Unavailable(path + ": read error");
  ClusterObjects tmp;
  Status s = ParseInto(ss.str(), path, &tmp);
  if (s.ok()) Append(&tmp, out);
  return s;
}

}  // namespace mlsched::k8s
