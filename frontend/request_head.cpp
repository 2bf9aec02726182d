#include "frontend/request_head.h"

#include <algorithm>
#include <array>
#include <cstring>

namespace forge::frontend {
namespace {

constexpr std::string_view kHttp10 = "HTTP/1.0";
constexpr std::string_view kHttp11 = "HTTP/1.1";

// RFC 9110 §5.6.2 tchar.
constexpr std::array<bool, 256> kTokenChars = [] {
  std::array<bool, 256> t{};
  for (int c = '0'; c <= '9'; ++c) t[c] = true;
  for (int c = 'a'; c <= 'z'; ++c) t[c] = true;
  for (int c = 'A'; c <= 'Z'; ++c) t[c] = true;
  for (const char c : std::string_view("!#$%&'*+-.^_`|~")) {
    t[static_cast<unsigned char>(c)] = true;
  }
  return t;
}();

bool IsToken(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return kTokenChars[static_cast<unsigned char>(c)];
  });
}

// Field values: visible ASCII, obs-text (>= 0x80), SP and HTAB.
bool IsValueText(std::string_view v) {
  return std::all_of(v.begin(), v.end(), [](char ch) {
    const auto c = static_cast<unsigned char>(ch);
    return c == '\t' || (c >= 0x20 && c != 0x7f);
  });
}

// Request-target bytes: visible ASCII except '#' (a fragment is never sent).
bool IsTargetText(std::string_view v) {
  return std::all_of(v.begin(), v.end(), [](char ch) {
    const auto c = static_cast<unsigned char>(ch);
    return c > 0x20 && c < 0x7f && c != '#';
  });
}

// Host: uri-host [":" port], RFC 3986 characters of a reg-name or IP literal.
bool IsHostText(std::string_view v) {
  return std::all_of(v.begin(), v.end(), [](char ch) {
    const auto c = static_cast<unsigned char>(ch);
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
           (c >= 'A' && c <= 'Z') ||
           std::string_view("-._~!$&'()*+,;=:%[]").find(ch) !=
               std::string_view::npos;
  });
}

bool AllDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(),
                                   [](char c) { return c >= '0' && c <= '9'; });
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

// True when the comma-separated list `value` holds `lower` (any case).
bool ListHas(std::string_view value, std::string_view lower) {
  while (!value.empty()) {
    const std::size_t comma = value.find(',');
    if (EqualsNoCase(TrimOws(value.substr(0, comma)), lower)) return true;
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return false;
}

// The last element of a comma-separated list, trimmed.
std::string_view LastOfList(std::string_view value) {
  const std::size_t comma = value.rfind(',');
  return TrimOws(comma == std::string_view::npos ? value
                                                 : value.substr(comma + 1));
}

bool IsKnownMethod(std::string_view m) {
  for (const std::string_view known :
       {"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "TRACE", "PATCH"}) {
    if (m == known) return true;
  }
  return false;
}

// Collects a fault; every parse step returns false once one is set.
class Reader {
 public:
  Reader(RequestHead* head, HeadError* error) : head_(head), error_(error) {}

  bool Fail(int status, std::string_view what, std::string_view where) {
    *error_ = {status, what, where, line_};
    return false;
  }
  void NextLine() { ++line_; }

  bool RequestLine(std::string_view line);
  bool Field(std::string_view line);
  bool Finish();

 private:
  bool Target(std::string_view target);

  RequestHead* head_;
  HeadError* error_;
  std::size_t line_ = 1;
  bool host_ = false, length_ = false, chunked_ = false;
  bool close_ = false, keep_alive_ = false;  // listed in Connection
};

bool Reader::RequestLine(std::string_view line) {
  constexpr std::string_view kForm =
      "the request line must be 'METHOD /path HTTP/1.1' with single spaces";
  if (line.empty()) {
    return Fail(400,
                "empty line where the request line belongs; send "
                "'GET /get-key HTTP/1.1' first",
                line);
  }
  const std::size_t sp1 = line.find(' ');
  if (sp1 == std::string_view::npos) return Fail(400, kForm, line);
  const std::size_t sp2 = line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos ||
      line.find(' ', sp2 + 1) != std::string_view::npos) {
    return Fail(400, kForm, line);
  }
  const std::string_view method = line.substr(0, sp1);
  const std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  const std::string_view version = line.substr(sp2 + 1);
  if (!IsToken(method)) return Fail(400, kForm, line);
  if (version != kHttp11 && version != kHttp10) {
    const bool well_formed = version.size() == 8 &&
                             version.starts_with("HTTP/") &&
                             AllDigits(version.substr(5, 1)) &&
                             version[6] == '.' && AllDigits(version.substr(7));
    if (!well_formed) return Fail(400, kForm, line);
    return Fail(505, "this server speaks HTTP/1.1 and HTTP/1.0 only", line);
  }
  if (!IsKnownMethod(method)) {
    return Fail(501,
                "methods are case-sensitive; the routes answer GET "
                "(GET HEAD POST PUT DELETE OPTIONS TRACE PATCH are parsed)",
                line);
  }
  head_->method = method;
  head_->http10 = version == kHttp10;
  return Target(target);
}

bool Reader::Target(std::string_view target) {
  if (!IsTargetText(target)) {
    return Fail(400,
                "the request target may hold visible ASCII only (no spaces, "
                "tabs, control bytes, non-ASCII or '#'); percent-encode "
                "the rest",
                target);
  }
  if (std::count(target.begin(), target.end(), '?') > 1) {
    return Fail(400, "the request target may hold one '?' only", target);
  }
  if (!SplitTarget(target)) {
    return Fail(400,
                "the request target must be a path ('/get-key') or an "
                "absolute URI ('http://host/get-key')",
                target);
  }
  head_->target = target;
  return true;
}

bool Reader::Field(std::string_view line) {
  if (line.front() == ' ' || line.front() == '\t') {
    return Fail(400,
                "a header line starts with whitespace (obs-fold, RFC 9112 "
                "section 5.2); send each header on one line",
                line);
  }
  const std::size_t colon = line.find(':');
  if (colon == std::string_view::npos) {
    return Fail(400, "a header line has no ':'; send 'Name: value'", line);
  }
  const std::string_view name = line.substr(0, colon);
  if (!name.empty() && (name.back() == ' ' || name.back() == '\t')) {
    return Fail(
        400,
        "whitespace between a header name and ':' (RFC 9112 section 5.1); "
        "send 'Name: value'",
        line);
  }
  if (!IsToken(name)) {
    return Fail(400,
                "a header name holds a character other than letters, digits "
                "and !#$%&'*+-.^_`|~",
                line);
  }
  const std::string_view value = TrimOws(line.substr(colon + 1));
  if (!IsValueText(value)) {
    return Fail(400,
                "a header value holds a control character (NUL, CR, DEL, ...); "
                "only visible text, spaces and tabs are allowed",
                line);
  }
  if (EqualsNoCase(name, "host")) {
    if (host_) return Fail(400, "the Host header is given twice", line);
    if (!IsHostText(value)) {
      return Fail(400, "the Host header is not 'host' or 'host:port'", line);
    }
    host_ = true;
  } else if (EqualsNoCase(name, "content-length")) {
    if (length_) {
      return Fail(400, "the Content-Length header is given twice", line);
    }
    // 18 digits cannot overflow; no request of ours is anywhere near.
    if (!AllDigits(value) || value.size() > 18) {
      return Fail(400, "Content-Length must be one whole number", line);
    }
    length_ = true;
    head_->has_body = head_->has_body ||
                      value.find_first_not_of('0') != std::string_view::npos;
  } else if (EqualsNoCase(name, "transfer-encoding")) {
    if (chunked_) {
      return Fail(400, "the Transfer-Encoding header is given twice", line);
    }
    if (!EqualsNoCase(LastOfList(value), "chunked")) {
      return Fail(400,
                  "Transfer-Encoding must end with 'chunked' (RFC 9112 "
                  "section 6.3)",
                  line);
    }
    chunked_ = true;
    head_->has_body = true;
  } else if (EqualsNoCase(name, "authorization")) {
    if (!head_->authorization.empty() || value.empty()) {
      return Fail(400, "give one non-empty Authorization header", line);
    }
    head_->authorization = value;
  } else if (EqualsNoCase(name, "connection")) {
    close_ = close_ || ListHas(value, "close");
    keep_alive_ = keep_alive_ || ListHas(value, "keep-alive");
  } else if (EqualsNoCase(name, "expect")) {
    head_->expect = true;
  }
  return true;
}

bool Reader::Finish() {
  if (!head_->http10 && !host_) {
    return Fail(400, "an HTTP/1.1 request needs a Host header", "");
  }
  if (chunked_ && length_) {
    return Fail(400,
                "both Content-Length and Transfer-Encoding are given; send "
                "one (RFC 9112 section 6.3)",
                "");
  }
  if (chunked_ && head_->http10) {
    return Fail(400, "Transfer-Encoding is not allowed in HTTP/1.0", "");
  }
  // HTTP/1.0 closes unless the client asks to keep the connection.
  head_->close = close_ || (head_->http10 && !keep_alive_);
  return true;
}

std::string_view StatusText(int status) {
  switch (status) {
    case 414:
      return "request line too long";
    case 431:
      return "request head too large";
    case 501:
      return "method not implemented";
    case 505:
      return "HTTP version not supported";
    default:
      return "malformed HTTP request";
  }
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

HeadResult ParseHead(std::string_view input, RequestHead* head,
                     HeadError* error) {
  *head = RequestHead{};
  Reader reader(head, error);
  std::size_t pos = 0;
  for (bool first = true;; first = false) {
    const std::size_t limit =
        first ? kMaxRequestLineBytes : kMaxHeaderLineBytes;
    const int too_long = first ? 414 : 431;
    const std::size_t lf = input.find('\n', pos);
    const std::size_t end =
        lf == std::string_view::npos ? input.size() : lf + 1;
    std::string_view line = input.substr(pos, end - pos);
    if (line.size() > limit) {
      reader.Fail(too_long,
                  first ? "the request line may be 8192 bytes at most"
                        : "a header line may be 8192 bytes at most",
                  line.substr(0, 64));
      return HeadResult::kBad;
    }
    if (end > kMaxHeadBytes ||
        (lf == std::string_view::npos && end == kMaxHeadBytes)) {
      reader.Fail(431, "the request head may be 64 KiB at most", "");
      return HeadResult::kBad;
    }
    if (lf == std::string_view::npos) return HeadResult::kIncomplete;
    line.remove_suffix(1);  // LF
    if (line.empty() || line.back() != '\r') {
      reader.Fail(400, "a line ends in a bare LF; end every line with CRLF",
                  line);
      return HeadResult::kBad;
    }
    line.remove_suffix(1);  // CR
    if (line.find('\r') != std::string_view::npos) {
      reader.Fail(400, "a bare CR inside a line; end every line with CRLF",
                  line);
      return HeadResult::kBad;
    }
    pos = end;
    if (first) {
      if (!reader.RequestLine(line)) return HeadResult::kBad;
    } else if (line.empty()) {
      if (!reader.Finish()) return HeadResult::kBad;
      head->size = pos;
      return HeadResult::kComplete;
    } else if (!reader.Field(line)) {
      return HeadResult::kBad;
    }
    reader.NextLine();
  }
}

std::string DescribeHeadError(const HeadError& error) {
  std::string out(StatusText(error.status));
  if (error.line > 0) out += ", line " + std::to_string(error.line);
  if (!error.where.empty()) out += " \"" + Sanitize(error.where) + "\"";
  out += ": ";
  out += error.what;
  out += '\n';
  return out;
}

std::optional<TargetParts> SplitTarget(std::string_view target) {
  if (!target.starts_with('/')) {
    // Absolute form: http(s)://authority[/path][?query].
    const std::size_t scheme_end = target.find("://");
    if (scheme_end == std::string_view::npos) return std::nullopt;
    const std::string_view scheme = target.substr(0, scheme_end);
    if (!EqualsNoCase(scheme, "http") && !EqualsNoCase(scheme, "https")) {
      return std::nullopt;
    }
    target.remove_prefix(scheme_end + 3);
    const std::size_t path = target.find_first_of("/?");
    const std::string_view authority = target.substr(0, path);
    if (authority.empty() || !IsHostText(authority)) return std::nullopt;
    if (path == std::string_view::npos || target[path] == '?') {
      // An empty path is "/" (RFC 9112 §3.2.2).
      const std::string_view query = path == std::string_view::npos
                                         ? std::string_view()
                                         : target.substr(path + 1);
      return TargetParts{"/", query};
    }
    target.remove_prefix(path);
  }
  const std::size_t mark = target.find('?');
  if (mark == std::string_view::npos) return TargetParts{target, {}};
  return TargetParts{target.substr(0, mark), target.substr(mark + 1)};
}

std::string PercentDecode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const bool room = i + 2 < text.size();
    const int hi = room ? HexValue(text[i + 1]) : -1;
    const int lo = room ? HexValue(text[i + 2]) : -1;
    if (text[i] == '%' && hi >= 0 && lo >= 0) {
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else {
      out.push_back(text[i]);
    }
  }
  return out;
}

QueryParams ParseQuery(std::string_view query) {
  QueryParams params;
  while (!query.empty()) {
    const std::size_t sep = query.find_first_of("&;");
    const std::string_view pair = query.substr(0, sep);
    if (!pair.empty()) {
      const std::size_t eq = pair.find('=');
      const std::string_view name = pair.substr(0, eq);
      const std::string_view value = eq == std::string_view::npos
                                         ? std::string_view()
                                         : pair.substr(eq + 1);
      params.emplace(std::string(name), PercentDecode(value));
    }
    if (sep == std::string_view::npos) break;
    query.remove_prefix(sep + 1);
  }
  return params;
}

bool EqualsNoCase(std::string_view a, std::string_view lower) {
  auto fold = [](char c) {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  };
  return a.size() == lower.size() &&
         std::equal(a.begin(), a.end(), lower.begin(),
                    [&](char x, char y) { return fold(x) == y; });
}

}  // namespace forge::frontend
