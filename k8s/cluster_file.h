#pragma once

// A cluster described in a file: a Kubernetes `List`, for the embedded demo cluster and tests.

#include <string>
#include <string_view>
#include <vector>

#include "policy/objects.h"
#include "policy/status.h"

namespace mlsched::k8s {

struct ClusterObjects {
  std::vector<policy::Node> nodes;
  std::vector<policy::Pod> pods;
  std::vector<policy::PodGroup> pod_groups;
};

// Loads a Kubernetes `List` (kind: List with items of kind Node/Pod/PodGroup; or a NodeList,
// PodList or PodGroupList whose items may omit `kind`), JSON or YAML; YAML may hold several
// `---` documents, each a list or a single object. Items of other kinds are an error (a demo
// file should say exactly what it means). Appends to *out only on success; on failure returns
// InvalidArgument naming the file, the item index and name, and the field. Thread-safe.
Status LoadClusterFile(const std::string& path, ClusterObjects* out);
// As LoadClusterFile, from text (JSON when it starts with '{' or '[', else YAML).
Status ParseClusterList(std::string_view text, ClusterObjects* out);

}  // namespace mlsched::k8s
