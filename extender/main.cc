// mlsched-extender: wires flags, the policy options, the model's source (the API server or a
// cluster file), the binder and the HTTP server together, then waits for SIGTERM/SIGINT.
// Everything else lives in libraries that tests share.

#include <glog/logging.h>
#include <malloc.h>
#include <signal.h>
#include <sys/resource.h>

#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "extender/config.h"
#include "extender/demo_binder.h"
#include "extender/server.h"
#include "extender/sync_metrics.h"
#include "k8s/binder.h"
#include "k8s/client_config.h"
#include "k8s/cluster_file.h"
#include "k8s/cluster_sync.h"
#include "policy/engine.h"

namespace {

using namespace mlsched;

// The URL without "user:password@": a server URL may carry basic-auth credentials, and no
// secret goes to the log.
std::string RedactUrl(const std::string& url) {
  size_t scheme = url.find("://");
  size_t start = scheme == std::string::npos ? 0 : scheme + 3;
  size_t end = url.find_first_of("/?#", start);
  size_t at = url.rfind('@', end == std::string::npos ? url.size() : end);
  if (at == std::string::npos || at < start) return url;
  return url.substr(0, start) + "<redacted>@" + url.substr(at + 1);
}

int Fail(const std::vector<std::string>& errors) {
  std::cerr << "mlsched-extender: cannot start:\n";
  for (const auto& e : errors) std::cerr << "  - " << e << "\n";
  std::cerr << "(see --help)\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  // Full-Nodes request bodies are megabytes, and so are their DOMs: keep freed heap for the next
  // request instead of returning it to the kernel and faulting it back in on every call.
  mallopt(M_MMAP_THRESHOLD, 256 << 20);
  mallopt(M_TRIM_THRESHOLD, 512 << 20);
  FLAGS_logtostderr = true;
  google::InitGoogleLogging(argv[0]);

  extender::Flags flags;
  std::vector<std::string> errors = extender::ParseFlags(argc, argv, &flags);
  if (flags.help) {
    std::cout << extender::FlagsUsage();
    return errors.empty() ? 0 : 2;
  }
  FLAGS_v = flags.verbosity;

  policy::Options options;
  if (!flags.config.empty()) {
    for (auto& e : extender::LoadPolicyOptions(flags.config, &options)) errors.push_back(e);
  } else {
    for (auto& e : policy::Validate(options)) errors.push_back("default options: " + e);
  }

  std::vector<std::string> warnings;
  if (std::string guard = extender::CheckServingSecurity(flags, &warnings); !guard.empty()) {
    errors.push_back(guard);
  }

  k8s::ClusterObjects cluster;
  if (!flags.cluster_file.empty()) {
    Status s = k8s::LoadClusterFile(flags.cluster_file, &cluster);
    if (!s.ok()) errors.push_back("--cluster-file: " + s.message());
  }
  k8s::ClientConfig client;
  if (flags.cluster_file.empty()) {
    Status s = k8s::LoadClientConfig(flags.kubeconfig, flags.master, &client);
    if (!s.ok()) {
      errors.push_back("API server configuration (--kubeconfig, --master or in-cluster): " +
                       s.message());
    }
  }
  if (!errors.empty()) return Fail(errors);
  for (const auto& w : warnings) LOG(WARNING) << w;
  // Each connection is a descriptor (two behind the TLS proxy): take the hard limit, and say so
  // when --max-connections cannot fit in it.
  rlimit nofile{};
  if (getrlimit(RLIMIT_NOFILE, &nofile) == 0) {
    nofile.rlim_cur = nofile.rlim_max;
    setrlimit(RLIMIT_NOFILE, &nofile);
    const rlim_t need = static_cast<rlim_t>(flags.max_connections) * 2 + 256;
    if (nofile.rlim_cur != RLIM_INFINITY && nofile.rlim_cur < need) {
      LOG(WARNING) << "open-file limit " << nofile.rlim_cur << " is below what --max-connections="
                   << flags.max_connections << " may need (" << need << ")";
    }
  }

  // Signals are taken by sigwait below; block them before any thread starts so that no
  // Pistache or pool thread receives them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  policy::Engine engine(options);
  const bool demo_mode = !flags.cluster_file.empty();
  if (demo_mode) {
    const policy::TimeMs now = extender::SystemClockMs();
    engine.ReplaceNodes(cluster.nodes);
    engine.ReplacePods(cluster.pods, now);
    engine.ReplacePodGroups(cluster.pod_groups);
    engine.SetPodGroupsKnown(true);
    LOG(INFO) << "embedded cluster " << flags.cluster_file << ": " << cluster.nodes.size()
              << " nodes, " << cluster.pods.size() << " pods, " << cluster.pod_groups.size()
              << " pod groups";
  }

  extender::ServerOptions so;
  so.bind_address = flags.bind_address;
  so.port = static_cast<uint16_t>(flags.port);
  so.url_prefix = flags.url_prefix;
  so.limits.max_body_bytes = static_cast<size_t>(flags.max_body_bytes);
  if (flags.debug_port) so.debug_port = static_cast<uint16_t>(*flags.debug_port);
  so.debug_bind_address = flags.debug_bind_address;
  if (flags.health_port) so.health_port = static_cast<uint16_t>(*flags.health_port);
  so.health_bind_address = flags.health_bind_address;
  if (!flags.tls_cert_file.empty()) {
    so.tls = extender::TlsFiles{flags.tls_cert_file, flags.tls_private_key_file,
                                flags.client_ca_file};
  }
  so.max_header_bytes = static_cast<size_t>(flags.max_header_bytes);
  so.max_connections = flags.max_connections;
  so.header_timeout = std::chrono::milliseconds(flags.header_timeout_ms);
  so.body_timeout = std::chrono::milliseconds(flags.body_timeout_ms);
  so.idle_timeout = std::chrono::milliseconds(flags.idle_timeout_ms);
  so.shutdown_grace = std::chrono::milliseconds(flags.shutdown_grace_ms);

  std::unique_ptr<extender::Server> server;
  std::shared_ptr<k8s::Binder> binder;
  std::unique_ptr<k8s::ClusterSync> sync;
  if (demo_mode) {
    binder = std::make_shared<extender::DemoBinder>(
        &engine, cluster.pods,
        [&server](std::string_view uid) { return server->RecentPod(uid); }, nullptr);
  } else {
    binder = std::make_shared<k8s::ApiBinder>(client);
    sync = std::make_unique<k8s::ClusterSync>(client, engine, k8s::SyncOptions());
  }
  server = std::make_unique<extender::Server>(
      so, &engine, [binder](const policy::PodBinding& b) { return binder->Bind(b); });
  if (sync) {
    k8s::ClusterSync* cs = sync.get();
    server->SetSyncedProbe([cs] { return cs->Synced(); });
    server->AddScrapeHook(
        extender::RegisterSyncMetrics(server->registry(), [cs] { return cs->Stats(); }));
    server->SetApiWatchProbe([cs, url = client.server] {
      k8s::SyncStats st = cs->Stats();
      extender::ApiWatchState a;
      a.source = "api-server";
      a.detail = RedactUrl(url);
      a.synced = st.synced;
      a.connected = st.connected;
      a.pod_groups_known = st.pod_groups_known;
      a.relists = st.relists;
      a.watch_restarts = st.watch_restarts;
      a.events_applied = st.events_applied;
      a.errors = st.errors;
      a.seconds_since_last_contact = st.seconds_since_last_contact;
      a.last_error = st.last_error;
      return a;
    });
    LOG(INFO) << "following the API server at " << RedactUrl(client.server);
    sync->Start();
  } else {
    server->SetSyncedProbe([] { return true; });
    server->SetApiWatchProbe([file = flags.cluster_file] {
      extender::ApiWatchState a;
      a.source = "cluster-file";
      a.detail = file;
      a.synced = true;
      a.pod_groups_known = true;
      return a;
    });
  }
  Status s = server->Start();
  if (!s.ok()) {
    if (sync) sync->Stop();
    return Fail({s.message()});
  }

  int sig = 0;
  sigwait(&signals, &sig);
  LOG(INFO) << "received " << (sig == SIGTERM ? "SIGTERM" : "SIGINT") << ": shutting down";
  server->Shutdown();
  if (sync) sync->Stop();
  return 0;
}
