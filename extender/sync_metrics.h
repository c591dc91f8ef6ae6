#pragma once

// Exports k8s::ClusterSync's stats as Prometheus metrics on the server's registry.

#include <functional>

#include "k8s/cluster_sync.h"

namespace prometheus {
class Registry;
}

namespace mlsched::extender {

// Registers the mlsched_k8s_* families on `registry` and returns a hook that refreshes them
// from `stats` (run it before each scrape: Server::AddScrapeHook). The hook is not
// thread-safe against itself; the server runs hooks under one lock.
std::function<void()> RegisterSyncMetrics(prometheus::Registry& registry,
                                          std::function<k8s::SyncStats()> stats);

}  // namespace mlsched::extender
