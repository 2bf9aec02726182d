#include "tests/faults/raw_conn.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "tests/support/http_frame.h"
#include "tests/support/loopback.h"

namespace forge::faults {
namespace {

using std::chrono::duration_cast;
using std::chrono::milliseconds;

// Frames one response at the start of buf; nullopt while incomplete. A
// malformed head becomes a response with `error` set, and takes the rest.
std::optional<testing::HttpResponse> ParseOne(const std::string& buf,
                                              std::size_t* used) {
  testing::ResponseHead head;
  const testing::Framing f = testing::FrameResponse(buf, &head);
  if (f == testing::Framing::kIncomplete) return std::nullopt;
  testing::HttpResponse r;
  if (f == testing::Framing::kMalformed) {
    r.error = "malformed response head: " + buf.substr(0, 200);
    *used = buf.size();
    return r;
  }
  r.status = head.status;
  r.headers = std::move(head.headers);
  r.body = buf.substr(head.head_size, head.body_size);
  *used = head.head_size + head.body_size;
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

// Bounded sends: a server that stops reading cannot wedge the test.
RawConn::RawConn(int port)
    : fd_(testing::ConnectLoopback(port, milliseconds(5000))) {}

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
