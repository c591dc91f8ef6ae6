#include "k8s/binder.h"

#include <glog/logging.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace mlsched::k8s {
namespace {

bool ValidPathSegment(const std::string& s) {
  return !s.empty() && s.find('/') == std::string::npos && s != "." && s != ".." &&
         s.find('?') == std::string::npos && s.find('%') == std::string::npos;
}

std::string BindingJson(const policy::PodBinding& b) {
  rapidjson::StringBuffer sb;
  rapidjson::Writer<rapidjson::StringBuffer> w(sb);
  auto str = [&w](const std::string& s) {
    w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
  };
  w.StartObject();
  w.Key("apiVersion");
  w.String("v1");
  w.Key("kind");
  w.String("Binding");
  w.Key("metadata");
  w.StartObject();
  w.Key("name");
  str(b.name);
  w.Key("namespace");
  str(b.ns);
  if (!b.uid.empty()) {
    w.Key("uid");
    str(b.uid);
  }
  w.EndObject();
  w.Key("target");
  w.StartObject();
  w.Key("apiVersion");
  w.String("v1");
  w.Key("kind");
  w.String("Node");
  w.Key("name");
  str(b.node);
  w.EndObject();
  w.EndObject();
  return std::string(sb.GetString(), sb.GetSize());
}

}  // namespace

ApiBinder::ApiBinder(const ClientConfig& config) : client_(config) {}

Status ApiBinder::Bind(const policy::PodBinding& b) {
  const std::string what = "binding pod " + b.ns + "/" + b.name + " to node " + b.node;
  if (!ValidPathSegment(b.ns) || !ValidPathSegment(b.name) || b.node.empty()) {
    return Status::InvalidArgument(what + ": invalid namespace, name or node");
  }
  const std::string pod_path = "/api/v1/namespaces/" + b.ns + "/pods/" + b.name;
  HttpResult r = client_.PostJson(pod_path + "/binding", BindingJson(b));
  if (r.ok()) return Status::Ok();
  if (r.status == 409) {
    // Already bound? Our earlier attempt may have succeeded with its answer lost.
    HttpResult g = client_.Get(pod_path);
    if (g.ok()) {
      rapidjson::Document pod;
      pod.Parse(g.body.data(), g.body.size());
      std::string node, uid;
      if (!pod.HasParseError() && pod.IsObject()) {
        auto spec = pod.FindMember("spec");
        if (spec != pod.MemberEnd() && spec->value.IsObject()) {
          auto nn = spec->value.FindMember("nodeName");
          if (nn != spec->value.MemberEnd() && nn->value.IsString()) node = nn->value.GetString();
        }
        auto meta = pod.FindMember("metadata");
        if (meta != pod.MemberEnd() && meta->value.IsObject()) {
          auto u = meta->value.FindMember("uid");
          if (u != meta->value.MemberEnd() && u->value.IsString()) uid = u->value.GetString();
        }
      }
      bool same_pod = b.uid.empty() || uid == b.uid;
      if (same_pod && node == b.node) {
        VLOG(1) << what << ": already bound there (409); counting as success";
        return Status::Ok();
      }
      if (!same_pod) {
        return Status::Conflict(what + ": the pod was replaced (uid " + uid + ", want " + b.uid +
                                ")");
      }
      if (!node.empty()) {
        return Status::Conflict(what + ": pod is already bound to node " + node);
      }
    }
    return Status::Conflict(what + ": " + r.Describe());
  }
  if (r.status == 404) return Status::NotFound(what + ": " + r.Describe());
  if (r.status == 0 || r.status >= 500) return Status::Unavailable(what + ": " + r.Describe());
  return Status::InvalidArgument(what + ": " + r.Describe());
}

}  // namespace mlsched::k8s
