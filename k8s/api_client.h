#pragma once

// A small Kubernetes API HTTP client on libcurl: GET, POST JSON and streaming GET (watches).
// All OS/network access of k8s/ goes through this class.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "k8s/client_config.h"
#include "policy/status.h"

namespace mlsched::k8s {

struct HttpResult {
  long status = 0;              // HTTP status; 0 when no response arrived
  std::string body;             // whole body (for streams: only non-2xx bodies)
  std::string transport_error;  // set when status == 0 or the transfer broke off
  bool cancelled = false;       // stopped by Cancellation::Cancel
  bool ok() const { return status >= 200 && status < 300 && transport_error.empty(); }
  // "HTTP 500: <Status.message>" or the transport error, for logs and bind errors.
  std::string Describe() const;
};

// Lets another thread abort a request in flight (Stop() of a watch). Cancel() wakes the
// request at once; a cancelled Cancellation fails every later request until Reset().
class Cancellation {
 public:
  void Cancel();
  void Reset();
  bool cancelled() const { return cancelled_.load(); }

 private:
  friend class ApiClient;
  std::mutex mu_;
  void* active_multi_ = nullptr;  // CURLM* of the request in flight, guarded by mu_
  std::atomic<bool> cancelled_{false};
};

class ApiClient {
 public:
  // Copies the configuration. Thread-safe: every method may be called from many threads at
  // once; each request borrows a pooled libcurl handle (keeping its connection alive).
  explicit ApiClient(ClientConfig config);
  ~ApiClient();
  ApiClient(const ApiClient&) = delete;
  ApiClient& operator=(const ApiClient&) = delete;

  // `path` is the request path with its query ("/api/v1/pods?limit=500"). Never throws; every
  // failure is in the result.
  HttpResult Get(const std::string& path, Cancellation* cancel = nullptr);
  HttpResult PostJson(const std::string& path, const std::string& body,
                      Cancellation* cancel = nullptr);
  // Streaming GET: `on_data` gets each chunk of a 2xx body as it arrives and returns false to
  // end the request. Ends when the server closes the stream, on a transport error, on cancel,
  // or when no byte arrived for `idle_timeout_ms` (0: no limit). No total timeout.
  HttpResult Stream(const std::string& path, const std::function<bool(std::string_view)>& on_data,
                    int64_t idle_timeout_ms, Cancellation* cancel = nullptr);

  const ClientConfig& config() const { return config_; }

 private:
  struct Handle;
  HttpResult Perform(bool post, const std::string& path, const std::string* body,
                     const std::function<bool(std::string_view)>* on_data,
                     int64_t idle_timeout_ms, Cancellation* cancel);
  std::unique_ptr<Handle> Borrow();
  void Return(std::unique_ptr<Handle> h);
  std::string Token();

  const ClientConfig config_;
  std::mutex pool_mu_;
  std::vector<std::unique_ptr<Handle>> pool_;
  std::mutex token_mu_;
  std::string file_token_;      // last token read from config_.token_file
  int64_t token_mtime_ns_ = -1;
  int64_t token_checked_ms_ = -1;
};

// Percent-encodes a query parameter value.
std::string UrlEncode(std::string_view s);

}  // namespace mlsched::k8s
