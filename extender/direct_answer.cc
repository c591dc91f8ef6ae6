#include "extender/direct_answer.h"

#include <sys/socket.h>
#include <sys/uio.h>

#include <cerrno>
#include <sstream>

namespace mlsched::extender {

std::string AnswerHead(Pistache::Http::Version version, Pistache::Http::Code code,
                       const Pistache::Http::Header::Collection& headers,
                       const Pistache::Http::Mime::MediaType& mime, size_t body_size) {
  std::string head;
  head.reserve(160);
  head += Pistache::Http::versionString(version);
  head += ' ';
  head += std::to_string(static_cast<int>(code));
  head += ' ';
  head += Pistache::Http::codeString(code);
  head += "\r\n";
  // As ResponseWriter::sendImpl and putOnWire: the handler's headers (a Content-Type among
  // them replaced by `mime`), Content-Type, then Content-Length.
  for (const auto& h : headers.list()) {
    if (mime.isValid() && std::string_view(h->name()) == "Content-Type") continue;
    std::ostringstream value;
    h->write(value);
    head += h->name();
    head += ": ";
    head += value.str();
    head += "\r\n";
  }
  if (mime.isValid()) {
    head += "Content-Type: ";
    head += mime.toString();
    head += "\r\n";
  }
  head += "Content-Length: ";
  head += std::to_string(body_size);
  head += "\r\n\r\n";
  return head;
}

ssize_t WriteNow(int fd, std::string_view head, std::string_view body) {
  size_t done = 0;
  const size_t total = head.size() + body.size();
  while (done < total) {
    iovec iov[2];
    int n = 0;
    if (done < head.size()) {
      iov[n++] = {const_cast<char*>(head.data()) + done, head.size() - done};
      iov[n++] = {const_cast<char*>(body.data()), body.size()};
    } else {
      iov[n++] = {const_cast<char*>(body.data()) + (done - head.size()), total - done};
    }
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = static_cast<size_t>(n);
    const ssize_t w = ::sendmsg(fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (w > 0) {
      done += static_cast<size_t>(w);
    } else if (w < 0 && errno == EINTR) {
      continue;
    } else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      break;  // the socket is full: the rest goes through the write queue
    } else {
      return -1;
    }
  }
  return static_cast<ssize_t>(done);
}

std::shared_ptr<QueuedCount> QueuedOf(const Pistache::Tcp::Peer& peer) {
  return std::static_pointer_cast<QueuedCount>(peer.tryGetData(kQueuedKey));
}

}  // namespace mlsched::extender
