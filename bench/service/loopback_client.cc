#include "bench/service/loopback_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <string_view>

namespace mlsched::bench {
namespace {

// The value of header `name` (lower-case) in `head`, or "".
std::string_view HeaderValue(std::string_view head, std::string_view name) {
  size_t at = 0;
  while ((at = head.find("\r\n", at)) != std::string_view::npos) {
    at += 2;
    std::string_view line = head.substr(at, head.find("\r\n", at) - at);
    if (line.size() <= name.size() || line[name.size()] != ':') continue;
    bool same = true;
    for (size_t i = 0; i < name.size() && same; ++i) {
      same = std::tolower(static_cast<unsigned char>(line[i])) == name[i];
    }
    if (!same) continue;
    std::string_view v = line.substr(name.size() + 1);
    while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
    return v;
  }
  return {};
}

}  // namespace

LoopbackClient::LoopbackClient(uint16_t port) : port_(port) { Connect(); }

LoopbackClient::~LoopbackClient() { Close(); }

void LoopbackClient::Close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

bool LoopbackClient::Connect() {
  Close();
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) return false;
  int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  timeval timeout{60, 0};
  ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port_);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    Close();
    return false;
  }
  return true;
}

int LoopbackClient::Post(const std::string& path, const std::string& body, std::string* answer) {
  if (fd_ < 0 && !Connect()) return -1;
  request_.clear();
  request_ += "POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" +
              "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
              "\r\n\r\n";
  request_ += body;
  for (size_t sent = 0; sent < request_.size();) {
    ssize_t n = ::send(fd_, request_.data() + sent, request_.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) {
      Close();
      return -1;
    }
    sent += static_cast<size_t>(n);
  }
  in_.clear();
  size_t head_end = std::string::npos;
  size_t total = 0;
  constexpr size_t kRead = 256 << 10;
  while (head_end == std::string::npos || in_.size() < total) {
    const size_t at = in_.size();
    in_.resize(at + kRead);
    ssize_t n = ::recv(fd_, in_.data() + at, kRead, 0);
    in_.resize(at + static_cast<size_t>(std::max<ssize_t>(n, 0)));
    if (n <= 0) {
      Close();
      return -1;
    }
    if (head_end != std::string::npos) continue;
    head_end = in_.find("\r\n\r\n");
    if (head_end == std::string::npos) continue;
    std::string_view length = HeaderValue(std::string_view(in_).substr(0, head_end + 2),
                                          "content-length");
    size_t body_size = 0;
    if (std::from_chars(length.data(), length.data() + length.size(), body_size).ec !=
        std::errc()) {
      Close();  // no length: this client reads only what Pistache sends, a sized body
      return -1;
    }
    total = head_end + 4 + body_size;
  }
  int code = -1;
  if (in_.size() > 12) std::from_chars(in_.data() + 9, in_.data() + 12, code);
  if (answer != nullptr) answer->assign(in_, head_end + 4, total - head_end - 4);
  return code;
}

}  // namespace mlsched::bench
