#include "extender/tls_proxy.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <glog/logging.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <openssl/err.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <climits>
#include <cstring>

namespace mlsched::extender {
namespace {

using SteadyClock = std::chrono::steady_clock;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             SteadyClock::now().time_since_epoch())
      .count();
}

// Per direction, bytes buffered before the proxy stops reading that side (backpressure).
constexpr size_t kMaxBuffered = 1 << 20;
constexpr size_t kChunk = 64 << 10;
constexpr int64_t kNoDeadline = INT64_MAX;

std::string PeerName(const sockaddr_storage& ss) {
  char host[INET6_ADDRSTRLEN] = "?";
  uint16_t port = 0;
  if (ss.ss_family == AF_INET) {
    auto* a = reinterpret_cast<const sockaddr_in*>(&ss);
    inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
    port = ntohs(a->sin_port);
  } else if (ss.ss_family == AF_INET6) {
    auto* a = reinterpret_cast<const sockaddr_in6*>(&ss);
    inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
    port = ntohs(a->sin6_port);
  }
  return std::string(host) + ":" + std::to_string(port);
}

std::string SslErrorText(int ssl_error) {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    out += out.empty() ? buf : std::string("; ") + buf;
  }
  if (out.empty()) {
    out = ssl_error == SSL_ERROR_SYSCALL ? "connection closed during the handshake"
                                         : "SSL error " + std::to_string(ssl_error);
  }
  return out;
}

// One tag per epoll registration: which connection, which side.
struct Tag {
  TlsProxy::Conn* conn;
  bool backend;
};

}  // namespace

struct TlsProxy::Conn {
  int cfd = -1;
  int bfd = -1;
  SSL* ssl = nullptr;
  std::string peer;
  uint16_t backend_port = 0;
  bool handshaking = true;
  bool bconnecting = false;
  bool dead = false;
  bool c_eof = false;
  bool b_eof = false;
  bool ssl_wants_write = false;
  bool awaiting_answer = false;  // the client sent bytes the backend has not answered yet
  std::string to_b;              // plaintext for the backend
  size_t to_b_off = 0;
  std::string to_c;  // plaintext for SSL_write to the client
  size_t to_c_off = 0;
  int64_t handshake_deadline = kNoDeadline;
  int64_t last_activity = 0;
  uint32_t c_events = 0;
  uint32_t b_events = 0;
  Tag ctag{this, false};
  Tag btag{this, true};

  size_t pending_b() const { return to_b.size() - to_b_off; }
  size_t pending_c() const { return to_c.size() - to_c_off; }
};

TlsProxy::TlsProxy(TlsProxyOptions options, const TlsContext* tls)
    : options_(std::move(options)), tls_(tls) {}

TlsProxy::~TlsProxy() { Stop(); }

Status TlsProxy::Start() {
  // SSL_write writes to the socket with write(2), not send(MSG_NOSIGNAL): a client that reset
  // its connection must cost an EPIPE, not the process.
  signal(SIGPIPE, SIG_IGN);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  std::string port = std::to_string(options_.port);
  const std::string where = options_.bind_address + ":" + port;
  std::string host = options_.bind_address;  // "[::1]" as Pistache accepts it: no brackets
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &res);
  if (rc != 0) return Status::Unavailable("cannot serve TLS on " + where + ": " + gai_strerror(rc));
  std::string error = "no address";
  for (addrinfo* a = res; a; a = a->ai_next) {
    int fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) continue;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, a->ai_addr, a->ai_addrlen) == 0 && listen(fd, 1024) == 0) {
      listen_fd_ = fd;
      break;
    }
    error = std::strerror(errno);
    close(fd);
  }
  freeaddrinfo(res);
  if (listen_fd_ < 0) return Status::Unavailable("cannot serve TLS on " + where + ": " + error);
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&ss), &len);
  port_ = ntohs(ss.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port
                                         : reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = nullptr;  // the listener
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, listen_fd_, &ev);
  ev.data.ptr = &wake_fd_;
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev);
  thread_ = std::thread([this] { Loop(); });
  return Status::Ok();
}

void TlsProxy::Stop() {
  if (stop_.exchange(true)) return;
  if (wake_fd_ >= 0) {
    uint64_t one = 1;
    ssize_t ignored = write(wake_fd_, &one, sizeof one);
    (void)ignored;
  }
  if (thread_.joinable()) thread_.join();
  std::vector<Conn*> all(conns_.begin(), conns_.end());
  for (Conn* c : all) Close(c);
  for (Conn* c : graveyard_) delete c;
  graveyard_.clear();
  conns_.clear();
  for (int* fd : {&listen_fd_, &wake_fd_, &epoll_fd_}) {
    if (*fd >= 0) close(*fd);
    *fd = -1;
  }
}

bool TlsProxy::IsOwnBackendPort(uint16_t port) const {
  std::lock_guard lock(ports_mu_);
  return backend_ports_.count(port) > 0;
}

TlsProxy::Stats TlsProxy::stats() const {
  Stats s;
  s.open = open_.load();
  s.accepted = accepted_.load();
  s.handshake_failures = handshake_failures_.load();
  s.over_limit = over_limit_.load();
  s.timed_out = timed_out_.load();
  return s;
}

void TlsProxy::Loop() {
  epoll_event events[256];
  int64_t next_sweep = NowMs() + 250;
  while (!stop_.load()) {
    int n = epoll_wait(epoll_fd_, events, 256, 250);
    for (int i = 0; i < n; ++i) {
      void* p = events[i].data.ptr;
      if (p == nullptr) {
        AcceptAll();
      } else if (p == &wake_fd_) {
        // Stop(): the loop condition ends it.
      } else {
        Tag* t = static_cast<Tag*>(p);
        if (!t->conn->dead) Pump(t->conn, t->backend, events[i].events);
      }
    }
    for (Conn* c : graveyard_) delete c;
    graveyard_.clear();
    if (NowMs() >= next_sweep) {
      Sweep();
      for (Conn* c : graveyard_) delete c;
      graveyard_.clear();
      next_sweep = NowMs() + 250;
    }
  }
}

void TlsProxy::AcceptAll() {
  for (;;) {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    int fd = accept4(listen_fd_, reinterpret_cast<sockaddr*>(&ss), &len,
                     SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        // Out of descriptors: stop listening until the next sweep rather than spin.
        LOG_EVERY_N(WARNING, 100) << "TLS port: cannot accept: " << std::strerror(errno);
        epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, listen_fd_, nullptr);
        listen_paused_ = true;
      }
      return;  // EAGAIN: all accepted
    }
    if (static_cast<int64_t>(conns_.size()) >= options_.max_connections) {
      ++over_limit_;
      LOG_EVERY_N(WARNING, 100) << "TLS port: " << conns_.size()
                                << " connections open (--max-connections): closing a new one";
      close(fd);
      continue;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    SslCtxPtr ctx = tls_->Current();
    SSL* ssl = SSL_new(ctx.get());
    if (!ssl) {
      close(fd);
      continue;
    }
    SSL_set_fd(ssl, fd);
    SSL_set_accept_state(ssl);
    auto* c = new Conn;
    c->cfd = fd;
    c->ssl = ssl;
    c->peer = PeerName(ss);
    c->handshake_deadline = NowMs() + options_.handshake_timeout.count();
    c->last_activity = NowMs();
    conns_.insert(c);
    ++open_;
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = &c->ctag;
    c->c_events = EPOLLIN;
    epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev);
  }
}

bool TlsProxy::ConnectBackend(Conn* c) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in local{};
  local.sin_family = AF_INET;
  local.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  local.sin_port = 0;
  socklen_t len = sizeof local;
  // Bind first so that the source port is known, and recorded, before the backend can accept.
  if (bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len) != 0) {
    close(fd);
    return false;
  }
  c->backend_port = ntohs(local.sin_port);
  {
    std::lock_guard lock(ports_mu_);
    backend_ports_.insert(c->backend_port);
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  to.sin_port = htons(options_.backend_port);
  c->bfd = fd;
  if (connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) {
    if (errno != EINPROGRESS) return false;
    c->bconnecting = true;
  }
  epoll_event ev{};
  ev.events = EPOLLOUT;
  ev.data.ptr = &c->btag;
  c->b_events = EPOLLOUT;
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev);
  return true;
}

void TlsProxy::Pump(Conn* c, bool backend_side, uint32_t events) {
  c->ssl_wants_write = false;
  if (c->handshaking) {
    ERR_clear_error();
    int r = SSL_do_handshake(c->ssl);
    if (r != 1) {
      int e = SSL_get_error(c->ssl, r);
      if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        c->ssl_wants_write = e == SSL_ERROR_WANT_WRITE;
        return UpdateInterest(c);
      }
      ++handshake_failures_;
      std::string why = SslErrorText(e);
      LOG_EVERY_N(WARNING, 100) << "TLS handshake with " << c->peer << " refused: " << why
                                << " (" << google::COUNTER << " so far)";
      VLOG(1) << "TLS handshake with " << c->peer << " refused: " << why;
      return Close(c);
    }
    c->handshaking = false;
    ++accepted_;
    c->last_activity = NowMs();
    if (!ConnectBackend(c)) {
      LOG_EVERY_N(ERROR, 100) << "TLS port: cannot reach the extender on 127.0.0.1:"
                              << options_.backend_port << ": " << std::strerror(errno);
      return Close(c);
    }
  }

  if (c->bconnecting && backend_side && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(c->bfd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
      LOG_EVERY_N(ERROR, 100) << "TLS port: cannot reach the extender on 127.0.0.1:"
                              << options_.backend_port << ": " << std::strerror(err);
      return Close(c);
    }
    c->bconnecting = false;
  }

  char buf[kChunk];
  bool moved = false;
  // Client -> backend.
  while (!c->c_eof && c->pending_b() < kMaxBuffered) {
    ERR_clear_error();
    int r = SSL_read(c->ssl, buf, sizeof buf);
    if (r > 0) {
      c->to_b.append(buf, static_cast<size_t>(r));
      c->awaiting_answer = true;
      moved = true;
      continue;
    }
    int e = SSL_get_error(c->ssl, r);
    if (e == SSL_ERROR_WANT_WRITE) c->ssl_wants_write = true;
    if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) c->c_eof = true;
    break;
  }
  if (!c->bconnecting && c->bfd >= 0) {
    while (c->pending_b() > 0) {
      ssize_t w = send(c->bfd, c->to_b.data() + c->to_b_off, c->pending_b(), MSG_NOSIGNAL);
      if (w > 0) {
        c->to_b_off += static_cast<size_t>(w);
        continue;
      }
      if (w < 0 && (errno == EAGAIN || errno == EINTR)) break;
      c->b_eof = true;
      c->to_b.clear();
      c->to_b_off = 0;
      break;
    }
    if (c->to_b_off == c->to_b.size()) {
      c->to_b.clear();
      c->to_b_off = 0;
    }
    // Backend -> client.
    while (!c->b_eof && c->pending_c() < kMaxBuffered) {
      ssize_t r = recv(c->bfd, buf, sizeof buf, 0);
      if (r > 0) {
        c->to_c.append(buf, static_cast<size_t>(r));
        c->awaiting_answer = false;
        moved = true;
        continue;
      }
      if (r < 0 && (errno == EAGAIN || errno == EINTR)) break;
      c->b_eof = true;
    }
  }
  while (!c->c_eof && c->pending_c() > 0) {
    ERR_clear_error();
    int n = static_cast<int>(std::min<size_t>(c->pending_c(), INT_MAX));
    int w = SSL_write(c->ssl, c->to_c.data() + c->to_c_off, n);
    if (w > 0) {
      c->to_c_off += static_cast<size_t>(w);
      continue;
    }
    int e = SSL_get_error(c->ssl, w);
    if (e == SSL_ERROR_WANT_WRITE) c->ssl_wants_write = true;
    if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) c->c_eof = true;
    break;
  }
  if (c->to_c_off == c->to_c.size()) {
    c->to_c.clear();
    c->to_c_off = 0;
  }
  if (moved) c->last_activity = NowMs();

  // HTTP clients do not half-close: a client that stops sending has gone. A backend that closed
  // (Pistache timed the request out) ends the connection once its last bytes are written.
  if (c->c_eof || (c->b_eof && c->pending_c() == 0)) {
    if (!c->c_eof) SSL_shutdown(c->ssl);  // best effort close_notify
    return Close(c);
  }
  UpdateInterest(c);
}

void TlsProxy::UpdateInterest(Conn* c) {
  uint32_t ce = 0;
  if (c->handshaking || c->pending_b() < kMaxBuffered) ce |= EPOLLIN;
  if (c->ssl_wants_write || c->pending_c() > 0) ce |= EPOLLOUT;
  SetInterest(c->cfd, &c->ctag, ce, &c->c_events);
  if (c->bfd >= 0) {
    uint32_t be = 0;
    if (c->bconnecting || c->pending_b() > 0) be |= EPOLLOUT;
    if (!c->bconnecting && !c->b_eof && c->pending_c() < kMaxBuffered) be |= EPOLLIN;
    SetInterest(c->bfd, &c->btag, be, &c->b_events);
  }
}

void TlsProxy::SetInterest(int fd, void* tag, uint32_t want, uint32_t* have) {
  if (want == *have) return;  // no syscall when nothing changed
  epoll_event ev{};
  ev.events = want;
  ev.data.ptr = tag;
  epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &ev);
  *have = want;
}

void TlsProxy::Close(Conn* c) {
  if (c->dead) return;
  c->dead = true;
  conns_.erase(c);
  if (c->cfd >= 0) {
    if (epoll_fd_ >= 0) epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, c->cfd, nullptr);
    close(c->cfd);
  }
  if (c->bfd >= 0) {
    if (epoll_fd_ >= 0) epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, c->bfd, nullptr);
    close(c->bfd);
    std::lock_guard lock(ports_mu_);
    backend_ports_.erase(c->backend_port);
  }
  if (c->ssl) SSL_free(c->ssl);
  c->ssl = nullptr;
  --open_;
  graveyard_.push_back(c);
}

void TlsProxy::Sweep() {
  if (listen_paused_) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = nullptr;
    epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, listen_fd_, &ev);
    listen_paused_ = false;
  }
  const int64_t now = NowMs();
  std::vector<Conn*> expired;
  for (Conn* c : conns_) {
    if (c->handshaking) {
      if (now >= c->handshake_deadline) expired.push_back(c);
    } else if (!c->awaiting_answer && c->pending_c() == 0 &&
               now - c->last_activity >= options_.idle_timeout.count()) {
      expired.push_back(c);
    }
  }
  for (Conn* c : expired) {
    ++timed_out_;
    VLOG(1) << "TLS connection from " << c->peer << " closed: "
            << (c->handshaking ? "handshake timeout" : "idle timeout");
    Close(c);
  }
}

}  // namespace mlsched::extender
