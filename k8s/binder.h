#pragma once

// Creating a pod's binding (the extender's bind verb must do it itself).

#include <memory>

#include "k8s/api_client.h"
#include "k8s/client_config.h"
#include "policy/engine.h"
#include "policy/status.h"

namespace mlsched::k8s {

class Binder {
 public:
  virtual ~Binder() = default;
  // Binds the pod to the node. Ok when the pod is bound to that node (also when it already
  // was); otherwise an error whose message is fit for the scheduler's bind Error. Thread-safe.
  virtual Status Bind(const policy::PodBinding& binding) = 0;
};

// POSTs a v1 Binding to /api/v1/namespaces/{ns}/pods/{name}/binding, with the pod UID in
// metadata.uid so that a pod deleted and re-created under the same name is never bound by
// mistake. A 409 is checked with a GET of the pod: already bound to the same node (our own
// earlier attempt whose answer was lost) is success; anything else is Conflict. 404 is
// NotFound, 5xx and transport failures Unavailable, other 4xx InvalidArgument. Thread-safe:
// several binds may run at once (pooled connections).
class ApiBinder : public Binder {
 public:
  explicit ApiBinder(const ClientConfig& config);
  Status Bind(const policy::PodBinding& binding) override;

 private:
  ApiClient client_;
};

}  // namespace mlsched::k8s
