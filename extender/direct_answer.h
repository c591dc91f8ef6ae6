#pragma once

// Answers written straight to the connection's socket, for the handlers that answer on the
// Pistache reactor thread that read the request (filter, prioritize, preempt, the bench's
// empty route).
//
// Why: Pistache 0.0.5's ResponseWriter copies an answer into a stream buffer that grows by
// doubling (each step zero-filled and copied), copies it again into a RawBuffer and once more
// into its write queue, and the reactor sends it only after the handler returns. For a
// 5,000-node priority list (180 KB) that was ~70 us of a ~250 us call. Here the status line and
// headers Pistache would write go into a small string, and head and body leave in one
// sendmsg, without a copy. What the socket does not take at once (a slow reader, a large
// full-Node answer) goes through Pistache's write queue after all, and so does every answer on
// a connection that still has bytes in that queue: the order of answers on a connection holds.

#include <sys/types.h>

#include <atomic>
#include <memory>
#include <string>
#include <string_view>

#include <pistache/http.h>
#include <pistache/peer.h>

namespace mlsched::extender {

// The status line and headers Pistache's ResponseWriter writes for an answer with this code,
// these headers (Connection, at most, for the verbs), this content type and a body of
// `body_size` bytes: "HTTP/1.1 200 OK\r\n...Content-Length: N\r\n\r\n".
std::string AnswerHead(Pistache::Http::Version version, Pistache::Http::Code code,
                       const Pistache::Http::Header::Collection& headers,
                       const Pistache::Http::Mime::MediaType& mime, size_t body_size);

// Writes head then body to `fd` without blocking (MSG_DONTWAIT | MSG_NOSIGNAL), as few
// syscalls as the socket allows. Returns the bytes written, all or some; -1 when the peer is
// gone (the connection is Pistache's to close).
ssize_t WriteNow(int fd, std::string_view head, std::string_view body);

// Per connection (Tcp::Peer data under kQueuedKey): answers handed to Pistache's write queue
// and not yet written. A direct write may only go first when it is 0.
inline constexpr const char* kQueuedKey = "mlsched.queued";  // short: no allocation per lookup
using QueuedCount = std::atomic<int>;
std::shared_ptr<QueuedCount> QueuedOf(const Pistache::Tcp::Peer& peer);

}  // namespace mlsched::extender
