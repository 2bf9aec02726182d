#include "tests/support/http_frame.h"

#include <cctype>
#include <charconv>

namespace forge::testing {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(c));
  return out;
}

std::string_view Trim(std::string_view s) {
  const auto first = s.find_first_not_of(" \t");
  if (first == std::string_view::npos) return {};
  return s.substr(first, s.find_last_not_of(" \t") - first + 1);
}

// Reads one "name: value" line into *head; false when it is not one.
bool ReadField(std::string_view line, ResponseHead* head) {
  const auto colon = line.find(':');
  if (colon == std::string_view::npos) return false;
  const std::string name = Lower(line.substr(0, colon));
  const std::string_view value = Trim(line.substr(colon + 1));
  head->headers[name] = std::string(value);
  if (name == "content-length") {
    const auto [end, ec] = std::from_chars(
        value.data(), value.data() + value.size(), head->body_size);
    return ec == std::errc() && end == value.data() + value.size();
  }
  if (name == "connection") head->close = Lower(value) == "close";
  return true;
}

}  // namespace

Framing FrameResponse(std::string_view buf, ResponseHead* head, bool to_head) {
  const auto end = buf.find("\r\n\r\n");
  if (end == std::string_view::npos) {
    return buf.size() > kMaxResponseHead ? Framing::kMalformed
                                         : Framing::kIncomplete;
  }
  *head = ResponseHead{};
  std::string_view rest = buf.substr(0, end + 2);
  auto eol = rest.find("\r\n");
  const std::string_view status_line = rest.substr(0, eol);
  if (status_line.rfind("HTTP/1.", 0) != 0 || status_line.size() < 12) {
    return Framing::kMalformed;
  }
  std::from_chars(status_line.data() + 9, status_line.data() + 12,
                  head->status);
  for (rest.remove_prefix(eol + 2); !rest.empty();
       rest.remove_prefix(eol + 2)) {
    eol = rest.find("\r\n");
    if (!ReadField(rest.substr(0, eol), head)) return Framing::kMalformed;
  }
  if (to_head) head->body_size = 0;
  head->head_size = end + 4;
  return buf.size() >= head->head_size + head->body_size ? Framing::kComplete
                                                         : Framing::kIncomplete;
}

}  // namespace forge::testing
