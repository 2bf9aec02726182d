// tests/faults/fault_util.h — helpers shared by the fault suites
// (store, shared memory, HTTP abuse, config): log-line checks on a
// program's stderr, a test-side ring consumer, and sequential-key decoding.
//
// Contract
//   * Log helpers read the text format of base/log.h
//     ("<ts> LEVEL prog[pid] message"); they never parse JSON logs.
//   * RingConsumer attaches to a segment as an unregistered consumer (no
//     worker slot), so a broker stopping with SIGTERM takes the ring back.
//     It records every key it pops and whether one ever repeated.
//   * Not thread-safe per object; each test owns its own.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "shm/segment.h"
#include "tests/support/process.h"

namespace forge::faults {

using std::chrono::milliseconds;

// The lines of `text`, without their '\n'.
std::vector<std::string> Lines(std::string_view text);

// Log lines of one level ("ERROR", "WARN", "INFO").
std::vector<std::string> LogLines(std::string_view text,
                                  std::string_view level);

// Lines containing `needle`.
std::vector<std::string> LinesWith(std::string_view text,
                                   std::string_view needle);

// The message part of a text-format log line (after "prog[pid] ").
std::string Message(std::string_view line);

// Expects `text` (a failing program's stderr) to hold exactly one ERROR
// line, which contains every one of `needles`. Returns that line.
std::string ExpectOneErrorLine(const std::string& text,
                               const std::vector<std::string>& needles);

// The number a 7-character sequential key encodes (nullopt if malformed).
std::optional<std::uint64_t> SequentialNumber(std::string_view key);

// The broker's state word of a segment.
shm::BrokerState StateOf(const shm::Segment& seg);

class RingConsumer {
 public:
  explicit RingConsumer(std::string shm_name) : name_(std::move(shm_name)) {}

  // Attaches once the segment exists (false after `timeout`).
  bool Attach(milliseconds timeout = milliseconds(10000));
  shm::Segment& segment() { return *seg_; }

  // Pops up to `n` keys now, without waiting. Returns how many.
  std::size_t PopNow(std::size_t n);
  // Pops exactly `n` keys, waking the broker when the ring runs low;
  // false when they did not come within `timeout`.
  bool Pop(std::size_t n, milliseconds timeout = milliseconds(10000));

  // Attaches, then waits until the broker `pid` runs the segment with a
  // full ring and a stocked hand: it sleeps. False after `timeout`.
  bool WaitBrokerIdle(pid_t pid, milliseconds timeout = milliseconds(15000));

  const std::vector<std::string>& keys() const { return keys_; }
  bool unique() const { return unique_; }

 private:
  std::string name_;
  std::optional<shm::Segment> seg_;
  std::vector<std::string> keys_;
  std::set<std::string> seen_;
  bool unique_ = true;
};

}  // namespace forge::faults
