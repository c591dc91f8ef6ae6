#pragma once

// The service bench's HTTP/1.1 client: one keep-alive connection, the request in one write,
// the answer read in large reads. Why not cpp-httplib's client: it reads 4 KiB at a time, and a
// 5,000-node prioritize answer is 190 KB, so the client itself added ~90 us per call that the
// empty-handler baseline (a tiny answer) never paid; kube-scheduler's Go client reads a large
// answer in large reads. A server benchmark must not measure its own client.

#include <cstdint>
#include <string>

namespace mlsched::bench {

class LoopbackClient {
 public:
  // Connects to 127.0.0.1:port (TCP_NODELAY, 60 s receive timeout).
  explicit LoopbackClient(uint16_t port);
  ~LoopbackClient();
  LoopbackClient(const LoopbackClient&) = delete;
  LoopbackClient& operator=(const LoopbackClient&) = delete;

  // POSTs `body` (application/json) to `path`; returns the status code, or -1 when the
  // connection failed (it is then reopened on the next call). `answer` gets the body if given.
  int Post(const std::string& path, const std::string& body, std::string* answer = nullptr);

 private:
  bool Connect();
  void Close();

  uint16_t port_;
  int fd_ = -1;
  std::string request_;  // reused across calls
  std::string in_;       // bytes read, reused across calls
};

}  // namespace mlsched::bench
