#pragma once

// Decoding of Kubernetes API objects (RapidJSON DOM) into the policy's compact structs.
// Only the fields placement needs are read; every field is type-checked before use, because
// RapidJSON asserts on a wrong type and API objects are untrusted input.

#include <rapidjson/document.h>

#include <string>
#include <string_view>

#include "policy/objects.h"
#include "policy/status.h"

namespace mlsched::k8s {

// Decode an API object (as the API server or the scheduler sends it: a v1 Node, a v1 Pod, a
// scheduling.x-k8s.io PodGroup or a Volcano scheduling.volcano.sh PodGroup) into the policy's
// compact structs. `kind`/`apiVersion` are optional (the scheduler omits them) and not checked.
// Pod requests are summed as kube-scheduler does (max(sum of containers, each init container;
// restartable "sidecar" init containers add), plus overhead, pods=1; a pod-level
// spec.resources.requests wins for cpu and memory); pod labels and annotations are filtered with
// policy::IsPolicyKey; node labels are kept whole (node selectors may name any of them). Node:
// Ready condition, unschedulable, taints, allocatable, labels, status.images. Pod:
// spec.workloadRef / spec.schedulingGroup fill Pod::native_gang.
// On failure returns InvalidArgument naming the bad field ("spec.containers[1].resources.
// requests.cpu: ...") and leaves *out unspecified. Never crashes on any JSON value.
// Thread-safe (no shared state).
Status DecodeNode(const rapidjson::Value& obj, policy::Node* out);
Status DecodePod(const rapidjson::Value& obj, policy::Pod* out);
Status DecodePodGroup(const rapidjson::Value& obj, policy::PodGroup* out);

// Parses an RFC 3339 timestamp as the API server writes it ("2026-11-28T16:26:17Z", optional
// fraction, "Z" or "+hh:mm") to milliseconds since the epoch. False when malformed.
bool ParseRfc3339Ms(std::string_view s, policy::TimeMs* out);

// The object's metadata.resourceVersion, or "" when absent or not a string.
std::string_view ResourceVersionOf(const rapidjson::Value& obj);

}  // namespace mlsched::k8s
