// frontend/server.h — one worker's HTTP server on the inherited listen socket.
//
// Contract
//   * HttpServer serves the Router on a listening fd it did not create (the
//     master bound it, so the master chose the backlog; cpp-httplib 0.11.4
//     as Debian ships it compiles in listen(fd, 5)). The accept loop is
//     ours, not httplib's listen_after_bind(): that one ends the worker on
//     any accept() error but EMFILE/EINTR/EAGAIN (ECONNABORTED, ENFILE, ...)
//     and retries EMFILE every 1 ms. Ours survives every error that
//     waiting can fix and backs off on resource errors, as listener.h says.
//   * Serve() blocks until BeginDrain() (from another thread) and every
//     connection has finished, or until accept() says the listening fd is
//     unusable (then the open connections are wound down as in a drain).
//     The fd is closed by Serve() in both cases; it is never shutdown(): the
//     socket is shared with the other workers, and shutdown() acts on the
//     socket, not on this process's fd.
//   * Draining: the event loop stops waiting for new connections at once
//     (it polls an eventfd next to the listener); then it accepts what the
//     kernel has already queued (until accept() finds the queue empty, for
//     at most kDrainAcceptFor), so a connection that completed its
//     handshake is answered, not reset by the close; and only then closes
//     its fd. A request being handled finishes and its response says
//     `Connection: close`, and so does the one request of a connection
//     accepted during the drain; an idle keep-alive connection gets up to
//     kDrainIdleGrace for one more request (answered the same way), then is
//     closed. Closing an idle connection can still race with a request the
//     client sends at that very instant: HTTP/1.1 leaves that race to the
//     client (RFC 9112 §9.6), like every server's graceful stop.
//   * Responses: each must be sent in full within response_timeout (10 s)
//     of its first byte, and make progress every write_timeout (5 s); else
//     the connection is reset (the kernel drops the unsent rest too). So a
//     client reading a large /get-keys answer a byte at a time holds a
//     thread for 10 s at most.
//   * Connections: each is accepted and served by the worker's EventLoop
//     (event_loop.h) while its requests are hot (fast_path.h) and can be
//     answered without waiting; one that is not (or a bad or oversized
//     head, or a key request that would wait for the ring) hands the
//     connection to a thread of an ElasticPool (thread_pool.h), so no
//     client ever waits for another. When that request is answered and the
//     connection is idle, the thread gives it back to the loop (GiveBack);
//     with the fast path off, or once a drain began, it keeps it, waiting
//     for each request in one blocking poll(), not httplib's 10 ms polling
//     loop.
//   * Requests: every head is read whole into the connection's buffer and
//     checked by ParseHead (request_head.h) before anything acts on it, on
//     both paths. A
//     malformed or unframed head (and one over the size or time limits) is
//     answered once, with `Connection: close` and a one-line reason, and
//     nothing after it on that connection is read: the server sends FIN,
//     drops what still arrives for up to 1 s, then closes. The same close
//     follows a request with a body (bodies are never read) and any error
//     cpp-httplib answers itself. A well-formed hot request is answered by
//     fast_path.h (same Router, same framing rules); every other request
//     goes through httplib's
//     process_request (httplib_seam.h), routed with the target as sent
//     (absolute form too) and the query split by ParseQuery.
//   * Thread-safe: BeginDrain() may be called from any thread, any time.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

#include "frontend/conn_stream.h"
#include "frontend/consumer.h"
#include "frontend/event_loop.h"
#include "frontend/fast_path.h"
#include "frontend/handlers.h"
#include "frontend/httplib_seam.h"
#include "frontend/listener.h"
#include "frontend/request_head.h"
#include "frontend/thread_pool.h"

namespace forge::frontend {

struct ServerOptions {
  int listen_fd = -1;
  std::size_t keep_alive_max = 1000;           // KEEP_ALIVE_MAX
  std::chrono::seconds keep_alive_timeout{5};  // KEEP_ALIVE_TIMEOUT
  std::chrono::seconds read_timeout{5};        // rest of a started request
  std::chrono::seconds write_timeout{5};       // no progress sending
  std::chrono::seconds response_timeout{10};   // one whole response
  PoolOptions pool;
  bool log_requests = false;  // DEBUG_ENABLED
  // Answer plain `GET /get-key` requests without cpp-httplib (fast_path.h).
  // Off when log_requests is on, so that every request is logged.
  bool fast_path = true;
  AcceptShare* share = nullptr;  // see LoopOptions
  std::size_t share_slot = 0;
  CpuSeat seat;  // see LoopOptions
};

// The most a request (line and headers) may take from the socket; it must
// also arrive within ServerOptions::read_timeout of its first byte. Past
// either the connection is answered (431 or 400) and closed, so neither
// endless headers nor a slowloris can hold on.
inline constexpr std::size_t kMaxRequestBytes = kMaxHeadBytes;
static_assert(ConnStream::kInputBytes >= kMaxHeadBytes,
              "a whole request head must fit the connection's buffer");

class HttpServer final : private httplib::Server {
 public:
  HttpServer(ServerOptions options, const Router& router);
  ~HttpServer() override;
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Runs the accept loop. True after a drain; false if the listening fd
  // turned out unusable.
  [[nodiscard]] bool Serve();
  void BeginDrain();
  bool draining() const;

 private:
  // A connection the event loop handed off, from its next request to its
  // close, on a pool thread.
  void ServeConnection(int fd, const Carried& carried);
  bool WaitForRequest(ConnStream& strm);
  // How a connection goes on after a request.
  enum class Ending {
    kKeepAlive,      // serve the next request (the loop may take it back)
    kKeepAliveHere,  // the same, on this thread: an HTTP/1.0 client, whose
                     // every request the loop would hand off again
    kClean,          // close: nothing of this request is left unread
    kUnread,         // close, dropping unread input first (CloseLingering)
  };
  // One request: refused when its head is bad, else by the fast path when
  // it qualifies, else by httplib. False when the connection failed.
  bool ServeRequest(ConnStream& strm, bool last, Ending* ending);
  // Answers a refused head: its status and reason, `Connection: close`.
  bool AnswerBadHead(ConnStream& strm, const HeadError& error);
  // Writes the answer to a hot request (into strm, not yet flushed).
  bool WriteFast(ConnStream& strm, const FastRequest& req, bool close);
  HandlerResponse Route(const httplib::Request& req, httplib::Response& res);
  // Gives an idle handed-off connection back to the event loop; false when
  // it stays on this thread.
  bool GiveBack(const ConnStream& strm, std::size_t left);

  ServerOptions options_;
  const Router& router_;
  bool fast_path_;
  std::string keep_alive_value_;  // the Keep-Alive header httplib sends
  int drain_fd_ = -1;             // eventfd, readable once draining
  EventLoop* loop_ = nullptr;     // set by Serve() before any hand-off
  std::atomic<bool> draining_{false};
};

}  // namespace forge::frontend
