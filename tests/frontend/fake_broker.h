// tests/frontend/fake_broker.h — the test process as a broker: creates a
// real segment (any name: SHM_NAME or a namespace's "x@ns") with
// shm::Segment::OpenProducer, sets its health fields and pushes keys
// "K000000", "K000001", ... (padded to the segment's key length) into its
// ring (or any keys: PushTexts). For SegmentBackend unit tests and for process
// tests that need a segment the real broker does not make (a namespace, a
// frozen heartbeat). Not thread-safe: one test thread drives it.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "base/clock.h"
#include "frontend/consumer.h"
#include "shm/notify.h"
#include "shm/segment.h"

namespace forge::frontend::testing {

// Key n as "K" and n in length - 1 digits (zero padded).
inline std::string KeyTextOf(int n, std::uint32_t length = 7) {
  char text[shm::kMaxKeyLength + 1];
  std::snprintf(text, sizeof(text), "K%0*d", static_cast<int>(length) - 1, n);
  return text;
}

// Key i of a claim of `length`-character keys.
inline std::string Text(const KeyBuffer& keys, std::size_t i,
                        std::uint32_t length = 7) {
  return std::string(keys.Text(i, length));
}

struct FakeBroker {
  explicit FakeBroker(const std::string& name, std::uint32_t length = 7)
      : FakeBroker(name, Spec(length)) {}
  // A segment of any key format (policy, digits, secret).
  FakeBroker(const std::string& name, const shm::SegmentSpec& spec)
      : seg(shm::Segment::OpenProducer(name, spec)),
        key_length(shm::TextLength(spec)) {
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
  // Pushes KeyTextOf(first .. first + n - 1, key_length).
  void Push(int first, int n) {
    std::vector<std::string> texts;
    for (int i = 0; i < n; ++i)
      texts.push_back(KeyTextOf(first + i, key_length));
    PushTexts(texts);
  }
  // Pushes these keys (each of at most key_length characters), one stride
  // of NUL-padded slots each (shm/ring.h).
  void PushTexts(const std::vector<std::string>& texts) {
    const std::uint32_t stride = seg.ring().Stride();
    std::vector<shm::Key> keys(texts.size() * stride);
    for (std::size_t i = 0; i < texts.size(); ++i) {
      ASSERT_LE(texts[i].size(), key_length);
      std::memcpy(reinterpret_cast<char*>(&keys[i * stride]), texts[i].data(),
                  texts[i].size());
    }
    ASSERT_EQ(seg.ring().Push(keys.data(), texts.size()), texts.size());
    shm::WakeConsumers(seg);
  }
  shm::Segment seg;
  std::uint32_t key_length;
};

}  // namespace forge::frontend::testing
