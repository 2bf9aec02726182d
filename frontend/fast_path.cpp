#include "frontend/fast_path.h"

#include <charconv>
#include <cstring>

#include "base/log.h"
#include "base/names.h"

namespace forge::frontend {
namespace {

constexpr std::string_view kCrlf = "\r\n";

// The routes answered without cpp-httplib: the ones load comes to.
bool IsHotPath(std::string_view path) {
  return path == kFastTarget || path == "/get-keys" || path == "/healthz" ||
         path == "/metrics";
}

std::string_view Reason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 414:
      return "URI Too Long";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 503:
      return "Service Unavailable";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "";
  }
}

// Appends to a fixed buffer; remembers overflow instead of writing past it.
class Writer {
 public:
  explicit Writer(std::span<char> out) : out_(out) {}
  Writer& operator<<(std::string_view s) {
    if (ok_ && s.size() <= out_.size() - used_) {
      std::memcpy(out_.data() + used_, s.data(), s.size());
      used_ += s.size();
    } else {
      ok_ = false;
    }
    return *this;
  }
  Writer& operator<<(std::size_t n) {
    char digits[24];
    const auto end = std::to_chars(digits, digits + sizeof(digits), n).ptr;
    return *this << std::string_view(digits, end - digits);
  }
  std::size_t size() const { return ok_ ? used_ : 0; }

 private:
  std::span<char> out_;
  std::size_t used_ = 0;
  bool ok_ = true;
};

}  // namespace

std::optional<FastRequest> FastRequestFrom(const RequestHead& head) {
  if (head.method != "GET" || head.http10 || head.has_body || head.expect) {
    return std::nullopt;
  }
  FastRequest req;
  req.authorization = head.authorization;
  req.close = head.close;
  req.size = head.size;
  const std::size_t mark = head.target.find('?');
  req.path = head.target.substr(0, mark);
  if (mark != std::string_view::npos) req.query = head.target.substr(mark + 1);
  if (!IsHotPath(req.path)) return std::nullopt;
  req.route = FastRequest::Route::kRouted;
  if (req.path == kFastTarget) {
    if (mark == std::string_view::npos) {
      req.route = FastRequest::Route::kGetKey;
      req.ns = base::kDefaultNamespace;
    } else if (head.target.starts_with(kFastNamespaceTarget) &&
               base::IsNamespaceName(
                   head.target.substr(kFastNamespaceTarget.size()))) {
      // Anything else (empty, '&', ';', '%', ...): the query parser decides.
      req.route = FastRequest::Route::kGetKey;
      req.ns = head.target.substr(kFastNamespaceTarget.size());
    }
  }
  return req;
}

std::optional<Reply> AnswerFast(const Router& router, const FastRequest& req,
                                bool may_wait) {
  try {
    if (req.route == FastRequest::Route::kGetKey) {
      if (!may_wait) return router.GetKeyNow(req.ns, req.authorization);
      return router.GetKeyIn(req.ns, req.authorization);
    }
    const QueryParams query = ParseQuery(req.query);
    if (!may_wait) return router.HandleNow(req.path, query, req.authorization);
    return router.Handle("GET", req.path, query, req.authorization);
  } catch (...) {
    log::Error("internal error answering " + Sanitize(req.path) + "?" +
               Sanitize(req.query));
    Reply reply;
    reply.status = 500;
    reply.body = kInternalError;
    return reply;
  }
}

std::optional<FastRequest> ParseFastRequest(std::string_view input) {
  RequestHead head;
  HeadError error;
  if (ParseHead(input, &head, &error) != HeadResult::kComplete) {
    return std::nullopt;
  }
  return FastRequestFrom(head);
}

std::size_t FormatHead(const Reply& reply, const Framing& framing,
                       std::span<char> out) {
  Writer w(out);
  w << "HTTP/1.1 " << static_cast<std::size_t>(reply.status) << " "
    << Reason(reply.status) << kCrlf;
  reply.ForEachHeader([&w](std::string_view name, std::string_view value) {
    w << name << ": " << value << kCrlf;
  });
  w << "Content-Type: " << reply.content_type << kCrlf;
  w << "Content-Length: " << reply.body.size() << kCrlf;
  if (framing.close) {
    w << "Connection: close" << kCrlf;
  } else {
    w << "Keep-Alive: " << framing.keep_alive << kCrlf;
  }
  w << kCrlf;
  return w.size();
}

}  // namespace forge::frontend
