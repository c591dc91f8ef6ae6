#include "k8s/decode.h"

#include <cstdio>
#include <string>

#include "k8s/quantity.h"

namespace mlsched::k8s {
namespace {

using rapidjson::Value;

// The JSON path of a field, as a chain on the stack; turned into a string ("spec.containers[1]
// .resources") only when an error is reported, so decoding allocates nothing for it.
class Path {
 public:
  Path(const char* root) : key_(root) {}  // NOLINT: implicit from a literal root
  Path(const Path& parent, std::string_view key) : parent_(&parent), key_(key) {}
  Path(const Path& parent, size_t index) : parent_(&parent), index_(static_cast<int64_t>(index)) {}

  std::string str() const {
    std::string s = parent_ ? parent_->str() : std::string();
    if (index_ >= 0) return s + "[" + std::to_string(index_) + "]";
    if (!s.empty() && !key_.empty()) s += ".";
    return s + std::string(key_);
  }

 private:
  const Path* parent_ = nullptr;
  std::string_view key_;
  int64_t index_ = -1;
};

Status Bad(const Path& path, std::string_view what) {
  return Status::InvalidArgument(path.str() + ": " + std::string(what));
}

Path Join(const Path& path, std::string_view key) { return Path(path, key); }
Path Index(const Path& path, size_t i) { return Path(path, i); }

std::string_view View(const Value& v) { return {v.GetString(), v.GetStringLength()}; }

// Returns the member `key` of `obj` when present and not null; nullptr otherwise. `obj` must
// be an object.
const Value* Member(const Value& obj, const char* key) {
  auto it = obj.FindMember(key);
  if (it == obj.MemberEnd() || it->value.IsNull()) return nullptr;
  return &it->value;
}

// Optional object member: absent/null is fine (*out = nullptr); a non-object is an error.
Status OptObject(const Value& obj, const char* key, const Path& path, const Value** out) {
  *out = Member(obj, key);
  if (*out && !(*out)->IsObject()) return Bad(Join(path, key), "want an object");
  return Status::Ok();
}

Status OptArray(const Value& obj, const char* key, const Path& path, const Value** out) {
  *out = Member(obj, key);
  if (*out && !(*out)->IsArray()) return Bad(Join(path, key), "want an array");
  return Status::Ok();
}

Status OptString(const Value& obj, const char* key, const Path& path, std::string* out) {
  const Value* v = Member(obj, key);
  if (!v) {
    out->clear();
    return Status::Ok();
  }
  if (!v->IsString()) return Bad(Join(path, key), "want a string");
  out->assign(v->GetString(), v->GetStringLength());
  return Status::Ok();
}

Status OptBool(const Value& obj, const char* key, const Path& path, bool* out) {
  const Value* v = Member(obj, key);
  if (!v) {
    *out = false;
    return Status::Ok();
  }
  if (!v->IsBool()) return Bad(Join(path, key), "want a boolean");
  *out = v->GetBool();
  return Status::Ok();
}

Status OptInt32(const Value& obj, const char* key, const Path& path, int32_t* out) {
  const Value* v = Member(obj, key);
  if (!v) {
    *out = 0;
    return Status::Ok();
  }
  if (!v->IsInt()) return Bad(Join(path, key), "want a 32-bit integer");
  *out = v->GetInt();
  return Status::Ok();
}

#define RETURN_IF_ERROR(expr)        \
  do {                               \
    Status _s = (expr);              \
    if (!_s.ok()) return _s;         \
  } while (0)

// A quantity may be a JSON string ("100m") or, from YAML or hand-written JSON, a number.
Status QuantityText(const Value& v, const Path& path, std::string* text) {
  if (v.IsString()) {
    text->assign(v.GetString(), v.GetStringLength());
  } else if (v.IsInt64()) {
    *text = std::to_string(v.GetInt64());
  } else if (v.IsUint64()) {
    *text = std::to_string(v.GetUint64());
  } else if (v.IsDouble()) {
    char buf[64];
    std::snprintf(buf, sizeof(buf), "%.17g", v.GetDouble());
    *text = buf;
  } else {
    return Bad(path, "want a quantity string");
  }
  return Status::Ok();
}

// A v1.ResourceList into scheduler units. Negative quantities are rejected, as the API
// server's validation does.
Status DecodeResourceList(const Value& list, const Path& path, policy::Resources* out) {
  if (!list.IsObject()) return Bad(path, "want an object of quantities");
  std::string text;
  for (auto it = list.MemberBegin(); it != list.MemberEnd(); ++it) {
    if (!it->name.IsString()) return Bad(path, "want string keys");
    std::string_view name = View(it->name);
    Path fpath = Join(path, name);
    if (it->value.IsNull()) continue;
    RETURN_IF_ERROR(QuantityText(it->value, fpath, &text));
    int64_t v = 0;
    bool ok = name == "cpu" ? ParseQuantityMilli(text, &v) : ParseQuantityValue(text, &v);
    if (!ok) return Bad(fpath, "malformed or out-of-range quantity \"" + text + "\"");
    if (v < 0) return Bad(fpath, "negative quantity \"" + text + "\"");
    if (name == "cpu") {
      out->milli_cpu = v;
    } else if (name == "memory") {
      out->memory = v;
    } else if (name == "ephemeral-storage") {
      out->ephemeral_storage = v;
    } else if (name == "pods") {
      out->pods = v;
    } else {
      out->SetScalar(name, v);
    }
  }
  return Status::Ok();
}

// String map (labels, annotations, nodeSelector). With `filter`, only policy keys are kept.
Status DecodeStringMap(const Value& obj, const char* key, const Path& path, bool filter,
                       policy::Labels* out) {
  *out = policy::Labels();
  const Value* m = nullptr;
  RETURN_IF_ERROR(OptObject(obj, key, path, &m));
  if (!m) return Status::Ok();
  Path mpath = Join(path, key);
  for (auto it = m->MemberBegin(); it != m->MemberEnd(); ++it) {
    std::string_view k = View(it->name);
    if (!it->value.IsString()) return Bad(Join(mpath, k), "want a string");
    if (filter && !policy::IsPolicyKey(k)) continue;
    out->Set(k, View(it->value));
  }
  return Status::Ok();
}

Status ParseEffect(std::string_view s, bool allow_empty, const Path& path,
                   policy::TaintEffect* out) {
  if (s == "NoSchedule") {
    *out = policy::TaintEffect::kNoSchedule;
  } else if (s == "PreferNoSchedule") {
    *out = policy::TaintEffect::kPreferNoSchedule;
  } else if (s == "NoExecute") {
    *out = policy::TaintEffect::kNoExecute;
  } else if (s.empty() && allow_empty) {
    *out = policy::TaintEffect::kAll;
  } else {
    return Bad(path, "unknown effect \"" + std::string(s) + "\"");
  }
  return Status::Ok();
}

// metadata: name (required), namespace, uid, creationTimestamp, deletionTimestamp.
struct Meta {
  std::string name;
  std::string ns;
  std::string uid;
  policy::TimeMs creation_ms = 0;
  bool deleting = false;
};

Status DecodeMeta(const Value& obj, bool namespaced, const Value** meta_out, Meta* meta) {
  if (!obj.IsObject()) return Bad("object", "want a JSON object");
  const Value* m = nullptr;
  RETURN_IF_ERROR(OptObject(obj, "metadata", "", &m));
  if (!m) return Bad("metadata", "missing");
  *meta_out = m;
  RETURN_IF_ERROR(OptString(*m, "name", "metadata", &meta->name));
  if (meta->name.empty()) return Bad("metadata.name", "missing");
  if (namespaced) {
    RETURN_IF_ERROR(OptString(*m, "namespace", "metadata", &meta->ns));
    if (meta->ns.empty()) return Bad("metadata.namespace", "missing");
  }
  RETURN_IF_ERROR(OptString(*m, "uid", "metadata", &meta->uid));
  std::string ts;
  RETURN_IF_ERROR(OptString(*m, "creationTimestamp", "metadata", &ts));
  if (!ts.empty() && !ParseRfc3339Ms(ts, &meta->creation_ms)) {
    return Bad("metadata.creationTimestamp", "malformed timestamp \"" + ts + "\"");
  }
  RETURN_IF_ERROR(OptString(*m, "deletionTimestamp", "metadata", &ts));
  meta->deleting = !ts.empty();
  return Status::Ok();
}

// Requests of one container list entry ("resources.requests"); absent is zero.
Status ContainerRequests(const Value& c, const Path& path, policy::Resources* out) {
  *out = policy::Resources();
  const Value* res = nullptr;
  RETURN_IF_ERROR(OptObject(c, "resources", path, &res));
  if (!res) return Status::Ok();
  const Value* req = Member(*res, "requests");
  if (!req) return Status::Ok();
  return DecodeResourceList(*req, Join(path, "resources.requests"), out);
}

Status AppendImage(const Value& c, const Path& path, std::vector<std::string>* images) {
  std::string image;
  RETURN_IF_ERROR(OptString(c, "image", path, &image));
  if (!image.empty()) images->push_back(std::move(image));
  return Status::Ok();
}

// kube-scheduler's computePodResourceRequest (pkg/scheduler/framework/types.go), including
// restartable init containers (sidecars, 1.28+) and pod overhead.
Status DecodePodSpec(const Value& spec, policy::Pod* out) {
  const Path path("spec");
  policy::Resources reqs;
  const Value* containers = nullptr;
  RETURN_IF_ERROR(OptArray(spec, "containers", path, &containers));
  if (containers) {
    Path cpath = Join(path, "containers");
    for (rapidjson::SizeType i = 0; i < containers->Size(); ++i) {
      const Value& c = (*containers)[i];
      Path ipath = Index(cpath, i);
      if (!c.IsObject()) return Bad(ipath, "want an object");
      policy::Resources r;
      RETURN_IF_ERROR(ContainerRequests(c, ipath, &r));
      reqs += r;
      RETURN_IF_ERROR(AppendImage(c, ipath, &out->images));
    }
  }
  const Value* inits = nullptr;
  RETURN_IF_ERROR(OptArray(spec, "initContainers", path, &inits));
  if (inits) {
    Path cpath = Join(path, "initContainers");
    policy::Resources sidecars;   // sum of restartable init containers seen so far
    policy::Resources init_max;
    for (rapidjson::SizeType i = 0; i < inits->Size(); ++i) {
      const Value& c = (*inits)[i];
      Path ipath = Index(cpath, i);
      if (!c.IsObject()) return Bad(ipath, "want an object");
      policy::Resources r;
      RETURN_IF_ERROR(ContainerRequests(c, ipath, &r));
      std::string restart;
      RETURN_IF_ERROR(OptString(c, "restartPolicy", ipath, &restart));
      if (restart == "Always") {
        reqs += r;
        sidecars += r;
        r = sidecars;
      } else {
        r += sidecars;
      }
      init_max.MaxWith(r);
      RETURN_IF_ERROR(AppendImage(c, ipath, &out->images));
    }
    reqs.MaxWith(init_max);
  }
  // Pod-level resources (1.32+ PodLevelResources): when set, they are the pod's cpu/memory.
  const Value* pod_res = nullptr;
  RETURN_IF_ERROR(OptObject(spec, "resources", path, &pod_res));
  if (pod_res) {
    const Value* req = Member(*pod_res, "requests");
    if (req) {
      policy::Resources pr;
      RETURN_IF_ERROR(DecodeResourceList(*req, "spec.resources.requests", &pr));
      if (pr.milli_cpu) reqs.milli_cpu = pr.milli_cpu;
      if (pr.memory) reqs.memory = pr.memory;
    }
  }
  const Value* overhead = Member(spec, "overhead");
  if (overhead) {
    policy::Resources o;
    RETURN_IF_ERROR(DecodeResourceList(*overhead, "spec.overhead", &o));
    reqs += o;
  }
  reqs.pods = 1;
  out->requests = std::move(reqs);

  RETURN_IF_ERROR(OptString(spec, "nodeName", path, &out->node_name));
  RETURN_IF_ERROR(OptString(spec, "schedulerName", path, &out->scheduler_name));
  RETURN_IF_ERROR(OptInt32(spec, "priority", path, &out->priority));
  RETURN_IF_ERROR(DecodeStringMap(spec, "nodeSelector", path, false, &out->node_selector));

  const Value* tols = nullptr;
  RETURN_IF_ERROR(OptArray(spec, "tolerations", path, &tols));
  out->tolerations.clear();
  if (tols) {
    Path tpath = Join(path, "tolerations");
    for (rapidjson::SizeType i = 0; i < tols->Size(); ++i) {
      const Value& t = (*tols)[i];
      Path ipath = Index(tpath, i);
      if (!t.IsObject()) return Bad(ipath, "want an object");
      policy::Toleration tol;
      std::string op, effect;
      RETURN_IF_ERROR(OptString(t, "key", ipath, &tol.key));
      RETURN_IF_ERROR(OptString(t, "operator", ipath, &op));
      RETURN_IF_ERROR(OptString(t, "value", ipath, &tol.value));
      RETURN_IF_ERROR(OptString(t, "effect", ipath, &effect));
      if (op.empty() || op == "Equal") {
        tol.op = policy::Toleration::Op::kEqual;
      } else if (op == "Exists") {
        tol.op = policy::Toleration::Op::kExists;
      } else {
        return Bad(Join(ipath, "operator"), "unknown operator \"" + op + "\"");
      }
      RETURN_IF_ERROR(ParseEffect(effect, true, Join(ipath, "effect"), &tol.effect));
      out->tolerations.push_back(std::move(tol));
    }
  }

  // Native gang scheduling: never fight the scheduler's own gangs.
  out->native_gang.clear();
  const Value* wref = nullptr;
  RETURN_IF_ERROR(OptObject(spec, "workloadRef", path, &wref));
  if (wref) {
    std::string name, group, key;
    Path wpath("spec.workloadRef");
    RETURN_IF_ERROR(OptString(*wref, "name", wpath, &name));
    RETURN_IF_ERROR(OptString(*wref, "podGroup", wpath, &group));
    RETURN_IF_ERROR(OptString(*wref, "podGroupReplicaKey", wpath, &key));
    if (name.empty()) return Bad("spec.workloadRef.name", "missing");
    out->native_gang = "workload/" + name + "/" + group;
    if (!key.empty()) out->native_gang += "/" + key;
  }
  const Value* sgroup = nullptr;
  RETURN_IF_ERROR(OptObject(spec, "schedulingGroup", path, &sgroup));
  if (sgroup) {
    std::string name;
    RETURN_IF_ERROR(OptString(*sgroup, "podGroupName", "spec.schedulingGroup", &name));
    if (name.empty()) return Bad("spec.schedulingGroup.podGroupName", "missing");
    out->native_gang = "podgroup/" + name;
  }
  return Status::Ok();
}

int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  // Howard Hinnant's algorithm.
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

bool Digits(std::string_view s, size_t pos, size_t n, int* out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}

}  // namespace

bool ParseRfc3339Ms(std::string_view s, policy::TimeMs* out) {
  int y, mo, d, h, mi, sec;
  if (!Digits(s, 0, 4, &y) || s.size() < 20 || s[4] != '-' || !Digits(s, 5, 2, &mo) ||
      s[7] != '-' || !Digits(s, 8, 2, &d) || (s[10] != 'T' && s[10] != 't') ||
      !Digits(s, 11, 2, &h) || s[13] != ':' || !Digits(s, 14, 2, &mi) || s[16] != ':' ||
      !Digits(s, 17, 2, &sec)) {
    return false;
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60) return false;
  size_t i = 19;
  int64_t ms = 0;
  if (i < s.size() && s[i] == '.') {
    ++i;
    int n = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      if (n < 3) ms = ms * 10 + (s[i] - '0');
      ++n;
      ++i;
    }
    if (n == 0) return false;
    for (; n < 3; ++n) ms *= 10;
  }
  int64_t offset_s = 0;
  if (i < s.size() && (s[i] == 'Z' || s[i] == 'z')) {
    ++i;
  } else if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
    int oh, om;
    if (!Digits(s, i + 1, 2, &oh) || i + 3 >= s.size() || s[i + 3] != ':' ||
        !Digits(s, i + 4, 2, &om)) {
      return false;
    }
    offset_s = (oh * 3600 + om * 60) * (s[i] == '+' ? 1 : -1);
    i += 6;
  } else {
    return false;
  }
  if (i != s.size()) return false;
  int64_t days = DaysFromCivil(y, mo, d);
  *out = ((days * 86400 + h * 3600 + mi * 60 + sec) - offset_s) * 1000 + ms;
  return true;
}

std::string_view ResourceVersionOf(const rapidjson::Value& obj) {
  if (!obj.IsObject()) return {};
  const Value* m = Member(obj, "metadata");
  if (!m || !m->IsObject()) return {};
  const Value* rv = Member(*m, "resourceVersion");
  if (!rv || !rv->IsString()) return {};
  return View(*rv);
}

Status DecodeNode(const rapidjson::Value& obj, policy::Node* out) {
  Meta meta;
  const Value* m = nullptr;
  RETURN_IF_ERROR(DecodeMeta(obj, false, &m, &meta));
  *out = policy::Node();
  out->name = std::move(meta.name);
  RETURN_IF_ERROR(DecodeStringMap(*m, "labels", "metadata", false, &out->labels));

  const Value* spec = nullptr;
  RETURN_IF_ERROR(OptObject(obj, "spec", "", &spec));
  if (spec) {
    RETURN_IF_ERROR(OptBool(*spec, "unschedulable", "spec", &out->unschedulable));
    const Value* taints = nullptr;
    RETURN_IF_ERROR(OptArray(*spec, "taints", "spec", &taints));
    if (taints) {
      const Path taints_path("spec.taints");
      for (rapidjson::SizeType i = 0; i < taints->Size(); ++i) {
        const Value& t = (*taints)[i];
        Path ipath = Index(taints_path, i);
        if (!t.IsObject()) return Bad(ipath, "want an object");
        policy::Taint taint;
        std::string effect;
        RETURN_IF_ERROR(OptString(t, "key", ipath, &taint.key));
        RETURN_IF_ERROR(OptString(t, "value", ipath, &taint.value));
        RETURN_IF_ERROR(OptString(t, "effect", ipath, &effect));
        if (taint.key.empty()) return Bad(Join(ipath, "key"), "missing");
        RETURN_IF_ERROR(ParseEffect(effect, false, Join(ipath, "effect"), &taint.effect));
        out->taints.push_back(std::move(taint));
      }
    }
  }

  const Value* status = nullptr;
  RETURN_IF_ERROR(OptObject(obj, "status", "", &status));
  // A node without a Ready=True condition is not ready (the node lifecycle controller's view).
  out->ready = false;
  if (status) {
    const Value* alloc = Member(*status, "allocatable");
    if (alloc) {
      RETURN_IF_ERROR(DecodeResourceList(*alloc, "status.allocatable", &out->allocatable));
    }
    const Value* conds = nullptr;
    RETURN_IF_ERROR(OptArray(*status, "conditions", "status", &conds));
    if (conds) {
      const Path conditions_path("status.conditions");
      for (rapidjson::SizeType i = 0; i < conds->Size(); ++i) {
        const Value& c = (*conds)[i];
        Path ipath = Index(conditions_path, i);
        if (!c.IsObject()) return Bad(ipath, "want an object");
        std::string type, st;
        RETURN_IF_ERROR(OptString(c, "type", ipath, &type));
        RETURN_IF_ERROR(OptString(c, "status", ipath, &st));
        if (type == "Ready") out->ready = st == "True";
      }
    }
    const Value* images = nullptr;
    RETURN_IF_ERROR(OptArray(*status, "images", "status", &images));
    if (images) {
      out->images.reserve(images->Size());
      const Path images_path("status.images");
      for (rapidjson::SizeType i = 0; i < images->Size(); ++i) {
        const Value& im = (*images)[i];
        Path ipath = Index(images_path, i);
        if (!im.IsObject()) return Bad(ipath, "want an object");
        policy::NodeImage image;
        const Value* names = nullptr;
        RETURN_IF_ERROR(OptArray(im, "names", ipath, &names));
        if (names) {
          for (rapidjson::SizeType j = 0; j < names->Size(); ++j) {
            if (!(*names)[j].IsString()) return Bad(Index(Join(ipath, "names"), j), "want a string");
            image.names.emplace_back(View((*names)[j]));
          }
        }
        const Value* size = Member(im, "sizeBytes");
        if (size) {
          if (!size->IsInt64()) return Bad(Join(ipath, "sizeBytes"), "want an integer");
          image.size_bytes = size->GetInt64();
        }
        out->images.push_back(std::move(image));
      }
    }
  }
  return Status::Ok();
}

Status DecodePod(const rapidjson::Value& obj, policy::Pod* out) {
  Meta meta;
  const Value* m = nullptr;
  RETURN_IF_ERROR(DecodeMeta(obj, true, &m, &meta));
  *out = policy::Pod();
  out->ns = std::move(meta.ns);
  out->name = std::move(meta.name);
  out->uid = std::move(meta.uid);
  out->creation_ms = meta.creation_ms;
  out->terminating = meta.deleting;
  RETURN_IF_ERROR(DecodeStringMap(*m, "labels", "metadata", true, &out->labels));
  RETURN_IF_ERROR(DecodeStringMap(*m, "annotations", "metadata", true, &out->annotations));

  const Value* owners = nullptr;
  RETURN_IF_ERROR(OptArray(*m, "ownerReferences", "metadata", &owners));
  if (owners) {
    const Path owners_path("metadata.ownerReferences");
    for (rapidjson::SizeType i = 0; i < owners->Size(); ++i) {
      const Value& o = (*owners)[i];
      Path ipath = Index(owners_path, i);
      if (!o.IsObject()) return Bad(ipath, "want an object");
      bool controller = false;
      RETURN_IF_ERROR(OptBool(o, "controller", ipath, &controller));
      if (!controller) continue;
      RETURN_IF_ERROR(OptString(o, "kind", ipath, &out->owner.kind));
      RETURN_IF_ERROR(OptString(o, "name", ipath, &out->owner.name));
      RETURN_IF_ERROR(OptString(o, "uid", ipath, &out->owner.uid));
      break;
    }
  }

  const Value* spec = nullptr;
  RETURN_IF_ERROR(OptObject(obj, "spec", "", &spec));
  if (!spec) return Bad("spec", "missing");
  RETURN_IF_ERROR(DecodePodSpec(*spec, out));

  const Value* status = nullptr;
  RETURN_IF_ERROR(OptObject(obj, "status", "", &status));
  if (status) {
    std::string phase;
    RETURN_IF_ERROR(OptString(*status, "phase", "status", &phase));
    if (phase.empty() || phase == "Pending") {
      out->phase = policy::PodPhase::kPending;
    } else if (phase == "Running") {
      out->phase = policy::PodPhase::kRunning;
    } else if (phase == "Succeeded") {
      out->phase = policy::PodPhase::kSucceeded;
    } else if (phase == "Failed") {
      out->phase = policy::PodPhase::kFailed;
    } else if (phase == "Unknown") {
      out->phase = policy::PodPhase::kUnknown;
    } else {
      return Bad("status.phase", "unknown phase \"" + phase + "\"");
    }
    RETURN_IF_ERROR(
        OptString(*status, "nominatedNodeName", "status", &out->nominated_node_name));
  }
  return Status::Ok();
}

Status DecodePodGroup(const rapidjson::Value& obj, policy::PodGroup* out) {
  Meta meta;
  const Value* m = nullptr;
  RETURN_IF_ERROR(DecodeMeta(obj, true, &m, &meta));
  *out = policy::PodGroup();
  out->ns = std::move(meta.ns);
  out->name = std::move(meta.name);
  const Value* spec = nullptr;
  RETURN_IF_ERROR(OptObject(obj, "spec", "", &spec));
  if (!spec) return Status::Ok();
  RETURN_IF_ERROR(OptInt32(*spec, "minMember", "spec", &out->min_member));
  if (out->min_member < 0) return Bad("spec.minMember", "negative");
  RETURN_IF_ERROR(
      OptInt32(*spec, "scheduleTimeoutSeconds", "spec", &out->schedule_timeout_seconds));
  if (out->schedule_timeout_seconds < 0) return Bad("spec.scheduleTimeoutSeconds", "negative");
  const Value* min_res = Member(*spec, "minResources");
  if (min_res) {
    RETURN_IF_ERROR(DecodeResourceList(*min_res, "spec.minResources", &out->min_resources));
  }
  return Status::Ok();
}

}  // namespace mlsched::k8s
