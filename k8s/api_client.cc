#include "k8s/api_client.h"

#include <curl/curl.h>
#include <glog/logging.h>
#include <rapidjson/document.h>
#include <sys/stat.h>

#include <chrono>
#include <fstream>
#include <sstream>

namespace mlsched::k8s {
namespace {

int64_t MonoMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// curl_global_init is not thread-safe; do it once before any handle exists.
void GlobalInit() {
  static const bool once = [] {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    return true;
  }();
  (void)once;
}

constexpr size_t kMaxBodyBytes = size_t{512} << 20;

}  // namespace

std::string HttpResult::Describe() const {
  if (cancelled) return "cancelled";
  if (status == 0) return transport_error.empty() ? "no response" : transport_error;
  std::string msg;
  rapidjson::Document d;
  d.Parse(body.data(), body.size());
  if (!d.HasParseError() && d.IsObject()) {
    auto it = d.FindMember("message");
    if (it != d.MemberEnd() && it->value.IsString()) msg = it->value.GetString();
  }
  if (msg.empty()) msg = body.substr(0, 200);
  std::string out = "HTTP " + std::to_string(status);
  if (!msg.empty()) out += ": " + msg;
  if (!transport_error.empty()) out += " (" + transport_error + ")";
  return out;
}

void Cancellation::Cancel() {
  std::lock_guard<std::mutex> l(mu_);
  cancelled_ = true;
  if (active_multi_) curl_multi_wakeup(static_cast<CURLM*>(active_multi_));
}

void Cancellation::Reset() {
  std::lock_guard<std::mutex> l(mu_);
  cancelled_ = false;
}

struct ApiClient::Handle {
  CURL* easy = nullptr;
  CURLM* multi = nullptr;  // owns the connection cache the easy handle reuses
  ~Handle() {
    if (easy) curl_easy_cleanup(easy);
    if (multi) curl_multi_cleanup(multi);
  }
};

ApiClient::ApiClient(ClientConfig config) : config_(std::move(config)) { GlobalInit(); }

ApiClient::~ApiClient() = default;

std::unique_ptr<ApiClient::Handle> ApiClient::Borrow() {
  {
    std::lock_guard<std::mutex> l(pool_mu_);
    if (!pool_.empty()) {
      auto h = std::move(pool_.back());
      pool_.pop_back();
      return h;
    }
  }
  auto h = std::make_unique<Handle>();
  h->easy = curl_easy_init();
  h->multi = curl_multi_init();
  return h;
}

void ApiClient::Return(std::unique_ptr<Handle> h) {
  std::lock_guard<std::mutex> l(pool_mu_);
  if (pool_.size() < 16) pool_.push_back(std::move(h));
}

std::string ApiClient::Token() {
  if (!config_.token.empty()) return config_.token;
  if (config_.token_file.empty()) return "";
  std::lock_guard<std::mutex> l(token_mu_);
  // Look at the file at most once a second; re-read it when it changed (rotation).
  int64_t now = MonoMs();
  if (token_checked_ms_ >= 0 && now - token_checked_ms_ < 1000) return file_token_;
  token_checked_ms_ = now;
  struct stat st;
  if (stat(config_.token_file.c_str(), &st) != 0) {
    LOG_EVERY_N(WARNING, 60) << "token file " << config_.token_file
                             << " unreadable; keeping the last token";
    return file_token_;
  }
  int64_t mtime = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  if (mtime == token_mtime_ns_) return file_token_;
  std::ifstream in(config_.token_file);
  std::ostringstream ss;
  ss << in.rdbuf();
  std::string t = ss.str();
  while (!t.empty() && (t.back() == '\n' || t.back() == '\r' || t.back() == ' ')) t.pop_back();
  if (!t.empty()) {
    if (token_mtime_ns_ >= 0) LOG(INFO) << "bearer token file changed; using the new token";
    file_token_ = std::move(t);
    token_mtime_ns_ = mtime;
  }
  return file_token_;
}

namespace {

// Per-transfer state shared with the libcurl callbacks.
struct Transfer {
  CURL* easy = nullptr;
  HttpResult* result = nullptr;
  const std::function<bool(std::string_view)>* on_data = nullptr;
  bool stopped_by_callback = false;
  bool too_large = false;
  int64_t last_data_ms = 0;
};

size_t WriteCallback(char* ptr, size_t size, size_t nmemb, void* userdata) {
  auto* t = static_cast<Transfer*>(userdata);
  size_t n = size * nmemb;
  t->last_data_ms = MonoMs();
  if (t->result->status == 0) {
    curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &t->result->status);
    // One allocation for the whole body when its length is known (LIST pages are MBs).
    curl_off_t len = -1;
    curl_easy_getinfo(t->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &len);
    if (!t->on_data && len > 0 && static_cast<size_t>(len) <= kMaxBodyBytes) {
      t->result->body.reserve(static_cast<size_t>(len) + 1);
    }
  }
  bool success = t->result->status >= 200 && t->result->status < 300;
  if (t->on_data && success) {
    if (!(*t->on_data)(std::string_view(ptr, n))) {
      t->stopped_by_callback = true;
      return 0;  // aborts the transfer
    }
    return n;
  }
  if (t->result->body.size() + n > kMaxBodyBytes) {
    t->too_large = true;
    return 0;
  }
  t->result->body.append(ptr, n);
  return n;
}

}  // namespace

HttpResult ApiClient::Get(const std::string& path, Cancellation* cancel) {
  return Perform(false, path, nullptr, nullptr, 0, cancel);
}

HttpResult ApiClient::PostJson(const std::string& path, const std::string& body,
                               Cancellation* cancel) {
  return Perform(true, path, &body, nullptr, 0, cancel);
}

HttpResult ApiClient::Stream(const std::string& path,
                             const std::function<bool(std::string_view)>& on_data,
                             int64_t idle_timeout_ms, Cancellation* cancel) {
  return Perform(false, path, nullptr, &on_data, idle_timeout_ms, cancel);
}

HttpResult ApiClient::Perform(bool post, const std::string& path, const std::string* body,
                              const std::function<bool(std::string_view)>* on_data,
                              int64_t idle_timeout_ms, Cancellation* cancel) {
  HttpResult result;
  if (cancel && cancel->cancelled()) {
    result.cancelled = true;
    result.transport_error = "cancelled";
    return result;
  }
  std::unique_ptr<Handle> h = Borrow();
  if (!h->easy || !h->multi) {
    result.transport_error = "libcurl handle allocation failed";
    return result;
  }
  CURL* e = h->easy;
  curl_easy_reset(e);  // keeps the live connections and caches
  Transfer t;
  t.easy = e;
  t.result = &result;
  t.on_data = on_data;
  t.last_data_ms = MonoMs();

  std::string url = config_.server + path;
  curl_easy_setopt(e, CURLOPT_URL, url.c_str());
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1);
  curl_easy_setopt(e, CURLOPT_USERAGENT, config_.user_agent.c_str());
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(config_.connect_timeout_ms));
  if (!on_data) curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, static_cast<long>(config_.request_timeout_ms));
  curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(e, CURLOPT_TCP_KEEPIDLE, 30L);
  curl_easy_setopt(e, CURLOPT_TCP_KEEPINTVL, 10L);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &WriteCallback);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, &t);

  // TLS.
  if (!config_.ca_file.empty()) curl_easy_setopt(e, CURLOPT_CAINFO, config_.ca_file.c_str());
  curl_blob ca_blob{const_cast<char*>(config_.ca_data.data()), config_.ca_data.size(),
                    CURL_BLOB_NOCOPY};
  if (!config_.ca_data.empty()) curl_easy_setopt(e, CURLOPT_CAINFO_BLOB, &ca_blob);
  if (config_.insecure_skip_tls_verify) {
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  curl_blob cert_blob{const_cast<char*>(config_.client_cert_data.data()),
                      config_.client_cert_data.size(), CURL_BLOB_NOCOPY};
  curl_blob key_blob{const_cast<char*>(config_.client_key_data.data()),
                     config_.client_key_data.size(), CURL_BLOB_NOCOPY};
  if (!config_.client_cert_file.empty()) {
    curl_easy_setopt(e, CURLOPT_SSLCERT, config_.client_cert_file.c_str());
  } else if (!config_.client_cert_data.empty()) {
    curl_easy_setopt(e, CURLOPT_SSLCERT_BLOB, &cert_blob);
  }
  if (!config_.client_key_file.empty()) {
    curl_easy_setopt(e, CURLOPT_SSLKEY, config_.client_key_file.c_str());
  } else if (!config_.client_key_data.empty()) {
    curl_easy_setopt(e, CURLOPT_SSLKEY_BLOB, &key_blob);
  }

  curl_slist* headers = nullptr;
  headers = curl_slist_append(headers, "Accept: application/json");
  std::string token = Token();
  std::string auth;
  if (!token.empty()) {
    auth = "Authorization: Bearer " + token;
    headers = curl_slist_append(headers, auth.c_str());
  }
  if (post) {
    headers = curl_slist_append(headers, "Content-Type: application/json");
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, body->data());
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body->size()));
  }
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers);

  CURLM* m = h->multi;
  curl_multi_add_handle(m, e);
  if (cancel) {
    std::lock_guard<std::mutex> l(cancel->mu_);
    cancel->active_multi_ = m;
  }
  bool idle_expired = false;
  int running = 1;
  while (true) {
    CURLMcode mc = curl_multi_perform(m, &running);
    if (mc != CURLM_OK) {
      result.transport_error = curl_multi_strerror(mc);
      break;
    }
    if (!running) break;
    if (cancel && cancel->cancelled()) {
      result.cancelled = true;
      break;
    }
    if (idle_timeout_ms > 0 && MonoMs() - t.last_data_ms > idle_timeout_ms) {
      idle_expired = true;
      break;
    }
    curl_multi_poll(m, nullptr, 0, 250, nullptr);
  }
  if (cancel) {
    std::lock_guard<std::mutex> l(cancel->mu_);
    cancel->active_multi_ = nullptr;
  }
  CURLcode code = CURLE_OK;
  bool done = false;
  int left = 0;
  while (CURLMsg* msg = curl_multi_info_read(m, &left)) {
    if (msg->msg == CURLMSG_DONE && msg->easy_handle == e) {
      code = msg->data.result;
      done = true;
    }
  }
  curl_multi_remove_handle(m, e);  // closes the connection if the transfer did not finish
  curl_slist_free_all(headers);
  if (result.status == 0) curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &result.status);

  if (result.cancelled) {
    result.transport_error = "cancelled";
  } else if (idle_expired) {
    result.transport_error = "no data for " + std::to_string(idle_timeout_ms) + " ms";
  } else if (t.too_large) {
    result.transport_error = "response body larger than " + std::to_string(kMaxBodyBytes);
  } else if (t.stopped_by_callback) {
    // The caller ended the stream on purpose.
  } else if (!done) {
    if (result.transport_error.empty()) result.transport_error = "transfer did not complete";
  } else if (code != CURLE_OK) {
    result.transport_error = curl_easy_strerror(code);
  }
  Return(std::move(h));
  return result;
}

std::string UrlEncode(std::string_view s) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

}  // namespace mlsched::k8s
