#include "tests/faults/raw_conn.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <sstream>

namespace forge::faults {
namespace {

using std::chrono::duration_cast;
using std::chrono::milliseconds;

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(c));
  return s;
}

std::string Trim(const std::string& s) {
  const std::size_t a = s.find_first_not_of(" \t");
  const std::size_t b = s.find_last_not_of(" \t\r");
  return a == std::string::npos ? "" : s.substr(a, b - a + 1);
}

// Parses one response at the start of buf; nullopt while incomplete.
std::optional<testing::HttpResponse> ParseOne(const std::string& buf,
                                              std::size_t* used) {
  const std::size_t end = buf.find("\r\n\r\n");
  if (end == std::string::npos) return std::nullopt;
  testing::HttpResponse r;
  std::istringstream head(buf.substr(0, end));
  std::string line;
  std::getline(head, line);
  if (line.rfind("HTTP/1.", 0) != 0 || line.size() < 12) {
    r.error = "malformed status line: " + line;
    *used = buf.size();
    return r;
  }
  r.status = std::atoi(line.c_str() + 9);
  while (std::getline(head, line)) {
    const std::size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    r.headers[Lower(line.substr(0, colon))] = Trim(line.substr(colon + 1));
  }
  const std::size_t length = std::stoul(
      r.Header("Content-Length").empty() ? "0" : r.Header("Content-Length"));
  if (buf.size() < end + 4 + length) return std::nullopt;
  r.body = buf.substr(end + 4, length);
  *used = end + 4 + length;
  return r;
}

}  // namespace

std::vector<testing::HttpResponse> TakeResponses(std::string* buf) {
  std::vector<testing::HttpResponse> out;
  for (;;) {
    std::size_t used = 0;
    auto r = ParseOne(*buf, &used);
    if (!r) return out;
    buf->erase(0, used);
    out.push_back(std::move(*r));
  }
}

RawConn::RawConn(int port) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd_ >= 0 && ::connect(fd_, reinterpret_cast<const sockaddr*>(&addr),
                            sizeof(addr)) != 0) {
    ::close(fd_);
    fd_ = -1;
  }
  // Bounded sends: a server that stops reading cannot wedge the test.
  const timeval tv{5, 0};
  if (fd_ >= 0) ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

RawConn::~RawConn() {
  if (fd_ >= 0) ::close(fd_);
}

bool RawConn::Send(const std::string& data) {
  std::size_t sent = 0;
  while (sent < data.size()) {
    const ssize_t n =
        ::send(fd_, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    sent += static_cast<std::size_t>(n);
  }
  return true;
}

void RawConn::ShutdownWrite() { ::shutdown(fd_, SHUT_WR); }

bool RawConn::Receive(int timeout_ms) {
  pollfd p{fd_, POLLIN, 0};
  const int ready = ::poll(&p, 1, timeout_ms);
  if (ready <= 0) return true;  // nothing yet (or EINTR): still open
  char buf[16384];
  const ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
  if (n > 0) {
    in_.append(buf, static_cast<std::size_t>(n));
    return true;
  }
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return true;
  closed_ = true;  // EOF, or reset
  reset_ = n < 0 && errno == ECONNRESET;
  return false;
}

std::vector<testing::HttpResponse> RawConn::Read(std::size_t n,
                                                 milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  std::vector<testing::HttpResponse> out;
  while (out.size() < n) {
    for (auto& r : TakeResponses(&in_)) out.push_back(std::move(r));
    if (out.size() >= n || closed_) break;
    const auto left = duration_cast<milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) break;
    Receive(static_cast<int>(left.count()));
  }
  return out;
}

std::optional<milliseconds> RawConn::WaitClosed(milliseconds timeout) {
  const auto start = Clock::now();
  const auto deadline = start + timeout;
  while (!closed_) {
    const auto left = duration_cast<milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return std::nullopt;
    Receive(static_cast<int>(left.count()));
  }
  return duration_cast<milliseconds>(Clock::now() - start);
}

bool RawConn::ClosedNow() {
  while (!closed_) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 0) <= 0) break;
    Receive(0);
  }
  return closed_;
}

}  // namespace forge::faults
