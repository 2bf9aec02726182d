#include "frontend/fast_path.h"

#include <algorithm>
#include <charconv>
#include <cstring>

namespace forge::frontend {
namespace {

constexpr std::string_view kCrlf = "\r\n";
constexpr std::string_view kRequestLine = "GET /get-key HTTP/1.1";

bool IsTokenChar(char c) {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
      (c >= 'A' && c <= 'Z')) {
    return true;
  }
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

// Field values: visible ASCII, obs-text (>= 0x80), SP and HTAB.
bool IsValueText(std::string_view v) {
  return std::all_of(v.begin(), v.end(), [](char ch) {
    const auto c = static_cast<unsigned char>(ch);
    return c == '\t' || (c >= 0x20 && c != 0x7f);
  });
}

char Lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool EqualsNoCase(std::string_view a, std::string_view lower) {
  return a.size() == lower.size() &&
         std::equal(a.begin(), a.end(), lower.begin(),
                    [](char x, char y) { return Lower(x) == y; });
}

std::string_view TrimOws(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) {
    v.remove_prefix(1);
  }
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) {
    v.remove_suffix(1);
  }
  return v;
}

// True when the comma-separated Connection value lists `close`.
bool ListsClose(std::string_view value) {
  while (!value.empty()) {
    const std::size_t comma = value.find(',');
    if (EqualsNoCase(TrimOws(value.substr(0, comma)), "close")) return true;
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return false;
}

// Folds one header into `req`. False when the request is not ours.
bool TakeHeader(std::string_view line, FastRequest* req, bool* host) {
  const std::size_t colon = line.find(':');
  if (colon == 0 || colon == std::string_view::npos) return false;
  const std::string_view name = line.substr(0, colon);
  if (!std::all_of(name.begin(), name.end(), IsTokenChar)) return false;
  const std::string_view value = TrimOws(line.substr(colon + 1));
  if (!IsValueText(value)) return false;
  if (EqualsNoCase(name, "host")) {
    if (*host) return false;  // two Hosts: 400 territory, httplib's call
    *host = true;
  } else if (EqualsNoCase(name, "content-length")) {
    return value == "0";
  } else if (EqualsNoCase(name, "transfer-encoding") ||
             EqualsNoCase(name, "expect")) {
    return false;
  } else if (EqualsNoCase(name, "connection")) {
    req->close = req->close || ListsClose(value);
  } else if (EqualsNoCase(name, "authorization")) {
    if (!req->authorization.empty()) return false;
    req->authorization = value;
  }
  return true;
}

std::string_view Reason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
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

std::optional<FastRequest> ParseFastRequest(std::string_view input) {
  const std::size_t head_end = input.find("\r\n\r\n");
  if (head_end == std::string_view::npos) return std::nullopt;
  std::string_view head = input.substr(0, head_end + kCrlf.size());
  if (!head.starts_with(kRequestLine) ||
      head.substr(kRequestLine.size()).substr(0, 2) != kCrlf) {
    return std::nullopt;
  }
  head.remove_prefix(kRequestLine.size() + kCrlf.size());
  FastRequest req{kFastTarget, {}, false, head_end + 2 * kCrlf.size()};
  bool host = false;
  while (!head.empty()) {
    // Always found: head ends with CRLF.
    const std::size_t eol = head.find(kCrlf);
    const std::string_view line = head.substr(0, eol);
    if (!TakeHeader(line, &req, &host)) return std::nullopt;
    head.remove_prefix(eol + kCrlf.size());
  }
  if (!host) return std::nullopt;
  return req;
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
