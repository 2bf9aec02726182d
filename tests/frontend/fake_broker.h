// tests/frontend/fake_broker.h — the test process as a broker: creates a
// real segment (any name: SHM_NAME or a namespace's "x@ns") with
// shm::Segment::OpenProducer, sets its health fields and pushes keys
// "K000000", "K000001", ... (padded to the segment's key length) into its
// ring. For SegmentBackend unit tests and for process tests that need a
// segment the real broker does not make (a namespace, a frozen heartbeat).
// Not thread-safe: one test thread drives it.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "base/clock.h"
#include "shm/notify.h"
#include "shm/segment.h"

namespace forge::frontend::testing {

// Key n as "K" and n in length - 1 digits (zero padded).
inline shm::Key KeyOf(int n, std::uint32_t length = 7) {
  shm::Key k{};
  std::snprintf(k.text, sizeof(k.text), "K%0*d", static_cast<int>(length) - 1,
                n);
  return k;
}

inline std::string Text(const shm::Key& k) { return std::string(k.text, 7); }

struct FakeBroker {
  explicit FakeBroker(const std::string& name, std::uint32_t length = 7)
      : seg(shm::Segment::OpenProducer(name, Spec(length))),
        key_length(length) {
    Beat(shm::BrokerState::kRunning);
  }
  static shm::SegmentSpec Spec(std::uint32_t key_length) {
    shm::SegmentSpec s;
    s.capacity = 1024;
    s.key_length = key_length;
    s.key_space = 3521614606208ULL;
    s.store = "sqlite:/tmp/test.db";
    return s;
  }
  void Beat(shm::BrokerState state, std::uint64_t age_ns = 0,
            pid_t pid = ::getpid()) {
    seg.broker().pid.store(pid);
    seg.broker().state.store(static_cast<std::uint32_t>(state));
    seg.broker().heartbeat_unix_ns.store(base::UnixNowNs() - age_ns);
  }
  void Push(int first, int n) {
    std::vector<shm::Key> keys;
    for (int i = 0; i < n; ++i) keys.push_back(KeyOf(first + i, key_length));
    ASSERT_EQ(seg.ring().Push(keys.data(), keys.size()), keys.size());
    shm::WakeConsumers(seg);
  }
  shm::Segment seg;
  std::uint32_t key_length;
};

}  // namespace forge::frontend::testing
