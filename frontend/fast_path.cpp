#include "frontend/fast_path.h"

#include <charconv>
#include <cstring>

#include "base/names.h"

namespace forge::frontend {
namespace {

constexpr std::string_view kCrlf = "\r\n";

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
  std::string_view ns = base::kDefaultNamespace;
  if (head.target != kFastTarget) {
    if (!head.target.starts_with(kFastNamespaceTarget)) return std::nullopt;
    ns = head.target.substr(kFastNamespaceTarget.size());
    // Not a name (empty, '&', ';', '%', ...): the Router's parser decides.
    if (!base::IsNamespaceName(ns)) return std::nullopt;
  }
  return FastRequest{ns, head.authorization, head.close, head.size};
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
