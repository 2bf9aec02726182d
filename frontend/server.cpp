#include "frontend/server.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <system_error>

#include "base/log.h"

namespace forge::frontend {
namespace {

using std::chrono::steady_clock;

// Our routes take no body; httplib only reads one for routes it dispatches
// itself, which we never let it do. A small cap keeps it that way.
constexpr std::size_t kMaxPayload = 4096;

int MillisUntil(steady_clock::time_point t) {
  const auto left =
      std::chrono::ceil<std::chrono::milliseconds>(t - steady_clock::now());
  return left.count() > 0 ? static_cast<int>(left.count()) : 0;
}

std::string ErrorBody(int status) {
  switch (status) {
    case 400:
      return "malformed HTTP request: send e.g. 'GET /get-key HTTP/1.1' with "
             "a Host header\n";
    case 413:
      return "request body too large: these routes take no body\n";
    case 414:
      return "request target too long (the limit is 8192 bytes)\n";
    case 416:
      return "the Range header is not understood: send none, answers are "
             "never partial\n";
    default:
      return "HTTP error " + std::to_string(status) + "\n";
  }
}

constexpr std::string_view kTooSlowHead =
    "the request head did not arrive within the read timeout; send it at "
    "once";

// Set by the error handler when cpp-httplib answered an error of its own
// (not a Router reply): the connection then closes after that answer. One
// connection is served by one thread at a time, start to end, so a
// thread-local flag belongs to the request being served.
thread_local bool t_httplib_refused = false;

// Closing with unread input makes the kernel send RST, and a client may
// then lose the answer just sent. So: send FIN, then read and drop what the
// client still sends until it closes, for at most this long / this much.
constexpr std::chrono::milliseconds kLingerTime{1000};
constexpr std::size_t kLingerBytes = 256 * 1024;

void CloseLingering(int fd) {
  ::shutdown(fd, SHUT_WR);
  const auto until = steady_clock::now() + kLingerTime;
  std::array<char, 4096> sink;
  for (std::size_t dropped = 0; dropped < kLingerBytes;) {
    pollfd p{fd, POLLIN, 0};
    const int timeout = MillisUntil(until);
    if (timeout == 0) break;
    const int n = ::poll(&p, 1, timeout);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    const ssize_t got = ::recv(fd, sink.data(), sink.size(), MSG_DONTWAIT);
    if (got < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (got <= 0) break;  // the client closed, or the socket failed
    dropped += static_cast<std::size_t>(got);
  }
  ::close(fd);
}

// The Keep-Alive value httplib sends with the same settings.
std::string KeepAliveValue(const ServerOptions& o) {
  return "timeout=" + std::to_string(o.keep_alive_timeout.count()) +
         ", max=" + std::to_string(o.keep_alive_max);
}

}  // namespace

HttpServer::HttpServer(ServerOptions options, const Router& router)
    : options_(std::move(options)),
      router_(router),
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
  set_payload_max_length(kMaxPayload);
  // All routes are answered here, before httplib's regex routing.
  set_pre_routing_handler(
      [this](const httplib::Request& req, httplib::Response& res) {
        return Route(req, res);
      });
  // One line for the errors httplib answers itself. ParseHead refuses
  // every head httplib would refuse, so these are rare (e.g. a Range it
  // cannot parse); the connection closes after them all the same.
  set_error_handler(
      HandlerWithResponse([](const httplib::Request&, httplib::Response& res) {
        if (!res.body.empty()) return HandlerResponse::Unhandled;
        t_httplib_refused = true;
        res.set_header("Connection", "close");
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
}

HttpServer::~HttpServer() { ::close(drain_fd_); }

bool HttpServer::Serve() {
  ElasticPool pool(options_.pool);
  LoopOptions o{.listen_fd = options_.listen_fd,
                .drain_fd = drain_fd_,
                .keep_alive_max = options_.keep_alive_max,
                .keep_alive_timeout = options_.keep_alive_timeout,
                .read_timeout = options_.read_timeout,
                .send = {options_.write_timeout, options_.response_timeout},
                .keep_alive_value = keep_alive_value_,
                .fast_path = fast_path_,
                .share = options_.share,
                .share_slot = options_.share_slot,
                .seat = options_.seat};
  EventLoop loop(
      std::move(o), router_,
      [this, &pool](int fd, Carried carried) {
        pool.Enqueue([this, fd, carried = std::move(carried)] {
          ServeConnection(fd, carried);
        });
      },
      [this] { BeginDrain(); }, draining_);
  loop_ = &loop;  // published to pool threads by Enqueue's mutex
  const bool ok = loop.Run();
  ::close(options_.listen_fd);
  pool.Shutdown();  // waits for every handed-off connection
  return ok;
}

void HttpServer::BeginDrain() {
  // acq_rel: pairs with the acquire in draining(); only the first caller
  // wakes the waiters.
  if (draining_.exchange(true, std::memory_order_acq_rel)) return;
  const std::uint64_t one = 1;
  [[maybe_unused]] const ssize_t n = ::write(drain_fd_, &one, sizeof(one));
}

bool HttpServer::draining() const {
  // acquire: pairs with BeginDrain().
  return draining_.load(std::memory_order_acquire);
}

httplib::Server::HandlerResponse HttpServer::Route(const httplib::Request& req,
                                                   httplib::Response& res) {
  const auto auth = req.headers.find("Authorization");
  // The target as sent (ParseHead accepted it): absolute form too, and the
  // query split strictly (ParseQuery), not httplib's lenient req.params.
  const std::optional<TargetParts> target = SplitTarget(req.target);
  const std::string path = PercentDecode(target ? target->path : req.target);
  const QueryParams query = ParseQuery(target ? target->query : "");
  Reply reply = router_.Handle(
      req.method, path, query,
      auth == req.headers.end() ? std::string_view() : auth->second);
  res.status = reply.status;
  res.body = std::move(reply.body);
  res.set_header("Content-Type", std::string(reply.content_type));
  reply.ForEachHeader([&res](std::string_view name, std::string_view value) {
    res.set_header(std::string(name), std::string(value));
  });
  return HandlerResponse::Handled;
}

bool HttpServer::GiveBack(const ConnStream& strm, std::size_t left) {
  // Only with the fast path on (else every request is logged here), with
  // nothing of a next request read, and not once a drain began.
  return fast_path_ && left > 0 && strm.buffered() == 0 && !draining() &&
         loop_->Adopt(strm.socket(), left);
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

void HttpServer::ServeConnection(int sock, const Carried& carried) {
  ConnStream strm(sock, options_.log_requests,
                  {options_.write_timeout, options_.response_timeout});
  if (!strm.Preload(carried.bytes)) {  // the loop holds less than 64 KiB
    ::close(sock);
    return;
  }
  // The request the loop began reading keeps its deadline; max: none.
  steady_clock::time_point carried_deadline =
      carried.deadline.value_or(steady_clock::time_point::max());
  bool ok = true;
  Ending ending = Ending::kClean;
  for (std::size_t left = carried.left; left > 0 && WaitForRequest(strm);
       --left) {
    // Decided before the request is read and sent in its answer: the last
    // response of a connection always says `Connection: close`.
    const bool last = left == 1 || draining();
    strm.BeginRequest(kMaxRequestBytes,
                      carried_deadline != steady_clock::time_point::max()
                          ? carried_deadline
                          : steady_clock::now() + options_.read_timeout);
    carried_deadline = steady_clock::time_point::max();
    ending = Ending::kClean;
    ok = ServeRequest(strm, last, &ending);
    if (!ok ||
        (ending != Ending::kKeepAlive && ending != Ending::kKeepAliveHere)) {
      break;
    }
    if (ending == Ending::kKeepAlive && GiveBack(strm, left - 1)) return;
  }
  if (strm.send_timed_out()) {
    ResetOnClose(sock);
    ::close(sock);
  } else if (ok && ending == Ending::kUnread) {
    CloseLingering(sock);
  } else {
    ::close(sock);
  }
}

bool HttpServer::ServeRequest(ConnStream& strm, bool last, Ending* ending) {
  RequestHead head;
  HeadError error;
  HeadResult result;
  while ((result = ParseHead(strm.Peek(), &head, &error)) ==
         HeadResult::kIncomplete) {
    if (strm.ReceiveMore()) continue;
    // Over the byte budget or the deadline: say so. Otherwise the client
    // left (or the socket failed) mid-head: nobody to answer.
    if (strm.limit_hit() == ConnStream::Limit::kNone) return false;
    error =
        strm.limit_hit() == ConnStream::Limit::kTooSlow
            ? HeadError{400, kTooSlowHead, {}, 0}
            : HeadError{431, "the request head may be 64 KiB at most", {}, 0};
    result = HeadResult::kBad;
    break;
  }
  if (result == HeadResult::kBad) {
    // Where this request ends is unknown: answer once, read nothing more.
    *ending = Ending::kUnread;
    return AnswerBadHead(strm, error);
  }
  const bool close = last || head.close || head.has_body;
  // A body is never read, so it must never be parsed as a request.
  *ending = head.has_body ? Ending::kUnread
            : close       ? Ending::kClean
            : head.http10 ? Ending::kKeepAliveHere
                          : Ending::kKeepAlive;
  if (fast_path_) {
    if (const auto req = FastRequestFrom(head)) {
      strm.Consume(req->size);
      return WriteFast(strm, *req, close) && strm.Flush();
    }
  }
  // Runs after httplib parsed the head and before routing and the answer.
  static const std::function<void(httplib::Request&)> setup =
      [](httplib::Request& req) {
        // Answers are never partial: a Range would cut a key in half.
        req.ranges.clear();
        // No compression: a key is 7 bytes and random Base62 compresses
        // poorly; httplib would otherwise brotli/gzip every text/plain body.
        req.headers.erase("Accept-Encoding");
      };
  bool client_closes = false;
  t_httplib_refused = false;
  const bool ok = process_request(strm, close, client_closes, setup);
  if (t_httplib_refused) {
    *ending = Ending::kUnread;
  } else if (client_closes && (*ending == Ending::kKeepAlive ||
                               *ending == Ending::kKeepAliveHere)) {
    *ending = Ending::kClean;
  }
  return strm.Flush() && ok;
}

bool HttpServer::AnswerBadHead(ConnStream& strm, const HeadError& error) {
  Reply reply;
  reply.status = error.status;
  reply.body = DescribeHeadError(error);
  if (options_.log_requests) {
    log::Debug("refused " + std::to_string(error.status) + ": " +
               reply.body.substr(0, reply.body.size() - 1));
  }
  std::array<char, 512> head;
  const std::size_t size =
      FormatHead(reply, {true, keep_alive_value_}, std::span<char>(head));
  return size > 0 && strm.write(head.data(), size) >= 0 &&
         strm.write(reply.body.data(), reply.body.size()) >= 0 && strm.Flush();
}

bool HttpServer::WriteFast(ConnStream& strm, const FastRequest& req,
                           bool close) {
  const Reply reply = *AnswerFast(router_, req, true);
  std::array<char, 512> head;
  const std::size_t size =
      FormatHead(reply, {close, keep_alive_value_}, std::span<char>(head));
  // A Router reply's head always fits; failing here closes the connection.
  return size > 0 && strm.write(head.data(), size) >= 0 &&
         strm.write(reply.body.data(), reply.body.size()) >= 0;
}

}  // namespace forge::frontend
