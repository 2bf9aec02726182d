#include "tests/faults/fault_util.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>

#include "keys/key_codec.h"
#include "shm/notify.h"

namespace forge::faults {

std::vector<std::string> Lines(std::string_view text) {
  std::vector<std::string> out;
  while (!text.empty()) {
    const std::size_t end = text.find('\n');
    out.emplace_back(text.substr(0, end));
    if (end == std::string_view::npos) break;
    text.remove_prefix(end + 1);
  }
  return out;
}

std::vector<std::string> LogLines(std::string_view text,
                                  std::string_view level) {
  std::vector<std::string> out;
  for (std::string& line : Lines(text)) {
    // "<timestamp> LEVEL prog[pid] message": the level is the second word.
    const std::size_t space = line.find(' ');
    if (space == std::string::npos) continue;
    const std::string_view rest = std::string_view(line).substr(space + 1);
    if (rest.starts_with(level) && rest.size() > level.size() &&
        rest[level.size()] == ' ') {
      out.push_back(std::move(line));
    }
  }
  return out;
}

std::vector<std::string> LinesWith(std::string_view text,
                                   std::string_view needle) {
  std::vector<std::string> out;
  for (std::string& line : Lines(text)) {
    if (line.find(needle) != std::string::npos) out.push_back(std::move(line));
  }
  return out;
}

std::string Message(std::string_view line) {
  const std::size_t end = line.find("] ");
  return std::string(end == std::string_view::npos ? line
                                                   : line.substr(end + 2));
}

std::string ExpectOneErrorLine(const std::string& text,
                               const std::vector<std::string>& needles) {
  const std::vector<std::string> errors = LogLines(text, "ERROR");
  EXPECT_EQ(errors.size(), 1u) << "stderr:\n" << text;
  if (errors.empty()) return "";
  for (const std::string& needle : needles) {
    EXPECT_NE(errors.front().find(needle), std::string::npos)
        << "'" << needle << "' missing from: " << errors.front();
  }
  return errors.front();
}

std::optional<std::uint64_t> SequentialNumber(std::string_view key) {
  static const keys::KeyCodec codec(7, keys::KeyOrder::kSequential, 0);
  return codec.Decode(key);
}

shm::BrokerState StateOf(const shm::Segment& seg) {
  // relaxed: a status word read for a test condition.
  return static_cast<shm::BrokerState>(
      seg.broker().state.load(std::memory_order_relaxed));
}

bool RingConsumer::Attach(milliseconds timeout) {
  return seg_.has_value() || testing::WaitUntil(
                                 [&] {
                                   try {
                                     seg_.emplace(shm::Segment::Attach(name_));
                                     return true;
                                   } catch (const shm::SegmentError&) {
                                     return false;  // not created yet
                                   }
                                 },
                                 timeout);
}

std::size_t RingConsumer::PopNow(std::size_t n) {
  const std::size_t batch = std::min<std::size_t>(n, 1024);
  std::vector<shm::Key> buf(batch * seg_->ring().Stride());
  const std::uint32_t length = seg_->header().key_length;
  std::size_t got = 0;
  while (got < n) {
    const std::size_t k =
        seg_->ring().TryPopBatch(buf.data(), std::min(batch, n - got));
    shm::MaybeWakeProducer(*seg_);
    if (k == 0) break;
    for (std::size_t i = 0; i < k; ++i) {
      std::string key(shm::KeyTextAt(buf.data(), i, length));
      unique_ = seen_.insert(key).second && unique_;
      keys_.push_back(std::move(key));
    }
    got += k;
  }
  return got;
}

bool RingConsumer::WaitBrokerIdle(pid_t pid, milliseconds timeout) {
  return Attach(timeout) &&
         testing::WaitUntil(
             [&] {
               const auto& b = seg_->broker();
               return b.pid.load() == pid &&
                      seg_->ring().Size() == seg_->header().capacity &&
                      b.producer_sleeping.load() == 1;
             },
             timeout);
}

bool RingConsumer::Pop(std::size_t n, milliseconds timeout) {
  std::size_t got = 0;
  return testing::WaitUntil(
      [&] {
        got += PopNow(n - got);
        return got == n;
      },
      timeout);
}

}  // namespace forge::faults
