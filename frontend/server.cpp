#include "frontend/server.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <span>
#include <string>
#include <system_error>

#include "config/log.h"

namespace forge::frontend {
namespace {

using std::chrono::steady_clock;

// Our routes take no body; httplib only reads one for routes it dispatches
// itself, which we never let it do. A small cap keeps it that way.
constexpr std::size_t kMaxPayload = 4096;

// A request with a body we do not read: the connection must close after
// the answer, or the body would be parsed as the next request.
bool HasBody(const httplib::Request& req) {
  const auto length = req.headers.find("Content-Length");
  if (length != req.headers.end() && length->second != "0") return true;
  return req.headers.find("Transfer-Encoding") != req.headers.end();
}

int MillisUntil(steady_clock::time_point t) {
  const auto left =
      std::chrono::ceil<std::chrono::milliseconds>(t - steady_clock::now());
  return left.count() > 0 ? static_cast<int>(left.count()) : 0;
}

void SetNoDelay(int fd) {
  // TCP_NODELAY: a response is one small segment; without it Nagle may hold
  // it until the client's delayed ACK (~40 ms). httplib's set_tcp_nodelay()
  // only applies to sockets httplib creates itself, so we set it here.
  const int on = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
}

std::string ErrorBody(int status) {
  switch (status) {
    case 400:
      return "malformed HTTP request, or its head was over 64 KiB or took "
             "over the read timeout: send e.g. 'GET /get-key HTTP/1.1' with a "
             "Host header\n";
    case 413:
      return "request body too large: these routes take no body\n";
    case 414:
      return "request target too long (the limit is 8192 bytes)\n";
    default:
      return "HTTP error " + std::to_string(status) + "\n";
  }
}

constexpr std::string_view kInternalError =
    "internal error; see the frontend log\n";

// The Keep-Alive value httplib sends with the same settings.
std::string KeepAliveValue(const ServerOptions& o) {
  return "timeout=" + std::to_string(o.keep_alive_timeout.count()) +
         ", max=" + std::to_string(o.keep_alive_max);
}

}  // namespace

HttpServer::HttpServer(ServerOptions options, const Router& router,
                       Backend& backend)
    : options_(std::move(options)),
      router_(router),
      backend_(backend),
      fast_path_(options_.fast_path && !options_.log_requests),
      keep_alive_value_(KeepAliveValue(options_)) {
  drain_fd_ = ::eventfd(0, EFD_CLOEXEC);
  if (drain_fd_ < 0) {
    throw std::system_error(errno, std::generic_category(), "eventfd");
  }
  // Keep-alive: httplib's default of 5 requests per connection would make
  // clients reconnect constantly; the values also go out in the Keep-Alive
  // response header. The loop that enforces them is ours (below).
  set_keep_alive_max_count(options_.keep_alive_max);
  set_keep_alive_timeout(options_.keep_alive_timeout.count());
  // Applied by httplib's accept loop to every accepted socket as
  // SO_RCVTIMEO / SO_SNDTIMEO: a started request or a response must make
  // progress within these, so a stalled client cannot pin a thread forever.
  set_read_timeout(options_.read_timeout.count(), 0);
  set_write_timeout(options_.write_timeout.count(), 0);
  // A non-zero idle interval makes the accept loop poll() the listener with
  // a timeout and re-check svr_sock_, which is how BeginDrain() ends it
  // without closing or shutting down the shared socket. It also keeps a
  // worker from blocking in accept() on the non-blocking shared listener.
  set_idle_interval(0, std::chrono::duration_cast<std::chrono::microseconds>(
                           kAcceptPollInterval)
                           .count());
  set_payload_max_length(kMaxPayload);
  // All routes are answered here, before httplib's regex routing.
  set_pre_routing_handler(
      [this](const httplib::Request& req, httplib::Response& res) {
        return Route(req, res);
      });
  // One line for the errors httplib answers itself (malformed requests).
  set_error_handler(
      HandlerWithResponse([](const httplib::Request&, httplib::Response& res) {
        if (!res.body.empty()) return HandlerResponse::Unhandled;
        res.set_content(ErrorBody(res.status), std::string(kTextPlain));
        return HandlerResponse::Handled;
      }));
  set_exception_handler([](const httplib::Request& req, httplib::Response& res,
                           std::exception_ptr) {
    log::Error("internal error answering " + Sanitize(req.target));
    res.status = 500;
    res.set_content(std::string(kInternalError), std::string(kTextPlain));
  });
  if (options_.log_requests) {
    set_logger([](const httplib::Request& req, const httplib::Response& res) {
      log::Debug(req.method + " " + Sanitize(req.target, 128) + " " +
                 std::to_string(res.status) + " from " + req.remote_addr);
    });
  }
  new_task_queue = [this] {
    PoolOptions pool = options_.pool;
    pool.before_shutdown = [this] { OnAcceptLoopEnd(); };
    return new ElasticPool(pool);
  };
}

HttpServer::~HttpServer() { ::close(drain_fd_); }

bool HttpServer::Serve() {
  svr_sock_ = options_.listen_fd;
  const bool ok = listen_after_bind();
  // On failure httplib closed the fd itself (after accept() failed).
  if (ok) CloseListener();
  return ok;
}

void HttpServer::BeginDrain() {
  // Ends httplib's accept loop at its next poll timeout (see
  // set_idle_interval).
  svr_sock_ = INVALID_SOCKET;
  WindDownConnections();
}

void HttpServer::WindDownConnections() {
  // acq_rel: pairs with the acquire in draining(); only the first caller
  // wakes the waiters.
  if (draining_.exchange(true, std::memory_order_acq_rel)) return;
  const std::uint64_t one = 1;
  [[maybe_unused]] const ssize_t n = ::write(drain_fd_, &one, sizeof(one));
}

void HttpServer::OnAcceptLoopEnd() {
  // After a drain this changes nothing; after a failed accept() it lets the
  // open connections finish promptly instead of riding out keep-alive.
  WindDownConnections();
  CloseListener();
}

bool HttpServer::draining() const {
  // acquire: pairs with BeginDrain(), so a thread that sees the flag also
  // sees svr_sock_ invalidated.
  return draining_.load(std::memory_order_acquire);
}

void HttpServer::CloseListener() {
  // Only on the drain path: when accept() failed, svr_sock_ still holds the
  // fd and httplib has already closed it.
  if (svr_sock_ != INVALID_SOCKET) return;
  // relaxed: only a guard against closing twice on this path.
  if (listener_closed_.exchange(true, std::memory_order_relaxed)) return;
  ::close(options_.listen_fd);
}

httplib::Server::HandlerResponse HttpServer::Route(const httplib::Request& req,
                                                   httplib::Response& res) {
  backend_.CountRequest();
  const auto auth = req.headers.find("Authorization");
  Reply reply = router_.Handle(
      req.method, req.path, req.params,
      auth == req.headers.end() ? std::string_view() : auth->second);
  res.status = reply.status;
  res.body = std::move(reply.body);
  res.set_header("Content-Type", std::string(reply.content_type));
  reply.ForEachHeader([&res](std::string_view name, std::string_view value) {
    res.set_header(std::string(name), std::string(value));
  });
  if (HasBody(req)) res.set_header("Connection", "close");
  return HandlerResponse::Handled;
}

bool HttpServer::WaitForRequest(ConnStream& strm) {
  if (strm.buffered() > 0) return true;  // pipelined request already here
  auto until = steady_clock::now() + options_.keep_alive_timeout;
  bool noticed_drain = false;
  pollfd fds[2] = {{strm.socket(), POLLIN, 0}, {drain_fd_, POLLIN, 0}};
  for (;;) {
    // The eventfd firing is itself proof of a drain (its flag is set first).
    if (!noticed_drain && (draining() || fds[1].revents != 0)) {
      noticed_drain = true;
      until = std::min(until, steady_clock::now() + kDrainIdleGrace);
    }
    const int timeout = MillisUntil(until);
    if (timeout == 0) return false;
    const int n = ::poll(fds, noticed_drain ? 1 : 2, timeout);
    if (n < 0 && errno != EINTR) return false;
    // Readable, hung up or failed: process_request finds out which.
    if (n > 0 && fds[0].revents != 0) return true;
  }
}

bool HttpServer::process_and_close_socket(socket_t sock) {
  SetNoDelay(sock);
  ConnStream strm(sock, options_.log_requests);
  bool ok = true;
  for (std::size_t left = options_.keep_alive_max;
       left > 0 && WaitForRequest(strm); --left) {
    // Decided before the request is read and sent in its answer: the last
    // response of a connection always says `Connection: close`.
    const bool last = left == 1 || draining();
    bool more = false;
    strm.BeginRequest(kMaxRequestBytes,
                      steady_clock::now() + options_.read_timeout);
    ok = ServeRequest(strm, last, &more);
    if (!ok || !more) break;
    // An over-long or too slow request was answered 400 at most: the rest
    // of it is still unread, so the connection cannot go on.
    if (strm.limit_hit() != ConnStream::Limit::kNone) break;
  }
  ::close(sock);
  return ok;
}

bool HttpServer::ServeRequest(ConnStream& strm, bool last, bool* more) {
  if (fast_path_) {
    if (!strm.Fill()) return false;  // peer gone or read timed out
    if (const auto req = ParseFastRequest(strm.Peek())) {
      strm.Consume(req->size);
      const bool close = last || req->close;
      *more = !close;
      return AnswerFast(strm, *req, close) && strm.Flush();
    }
  }
  bool unread_body = false;
  // Runs after httplib parsed the head and before routing and the answer.
  const std::function<void(httplib::Request&)> setup =
      [&unread_body](httplib::Request& req) {
        unread_body = HasBody(req);
        // Answers are never partial: a Range would cut a key in half.
        req.ranges.clear();
        // No compression: a key is 7 bytes and random Base62 compresses
        // poorly; httplib would otherwise brotli/gzip every text/plain body.
        req.headers.erase("Accept-Encoding");
      };
  bool client_closes = false;
  const bool ok = process_request(strm, last, client_closes, setup);
  *more = !last && !client_closes && !unread_body;
  return strm.Flush() && ok;
}

bool HttpServer::AnswerFast(ConnStream& strm, const FastRequest& req,
                            bool close) {
  static const QueryParams kNoQuery;
  backend_.CountRequest();
  Reply reply;
  try {
    reply = router_.Handle("GET", req.target, kNoQuery, req.authorization);
  } catch (...) {
    log::Error("internal error answering " + std::string(req.target));
    reply = Reply{};
    reply.status = 500;
    reply.body = kInternalError;
  }
  std::array<char, 512> head;
  const std::size_t size =
      FormatHead(reply, {close, keep_alive_value_}, std::span<char>(head));
  // A Router reply's head always fits; failing here closes the connection.
  return size > 0 && strm.write(head.data(), size) >= 0 &&
         strm.write(reply.body.data(), reply.body.size()) >= 0;
}

}  // namespace forge::frontend
