// tests/frontend/fake_backend.h — an in-memory Backend for handler and
// server tests: hands out "k000000", "k000001", ... (7 characters unless a
// segment swap is simulated) and counts calls.
// Thread-safe (one mutex); `keys_left` limits supply to test empty rings.
// FakeStatus: a StatusSource (/status.json) over a made-up segment whose
// clock and served counter the test moves (not thread-safe).
#pragma once

#include <cstdio>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "frontend/consumer.h"
#include "frontend/metrics.h"
#include "frontend/status.h"
#include "shm/segment.h"
#include "stats/stats.h"

namespace forge::frontend::testing {

class FakeBackend final : public Backend {
 public:
  TakenKeys TakeKeys(KeyBuffer& buffer, std::size_t want) override {
    std::lock_guard lock(mu_);
    ++take_calls_;
    const std::size_t n = std::min(want, keys_left_);
    const int digits = static_cast<int>(key_length_) - 1;
    const std::uint32_t stride = shm::KeySlots(key_length_);
    shm::Key* out = buffer.Room(n * stride);
    for (std::size_t i = 0; i < n; ++i) {
      char* text = reinterpret_cast<char*>(out + i * stride);
      std::snprintf(text, stride * sizeof(shm::Key), "k%0*zu", digits, next_++);
    }
    keys_left_ -= n;
    const TakenKeys taken{n, n > 0 ? key_length_ : 0U};
    key_length_ = length_after_take_;  // the worker swapped segments
    return taken;
  }
  // Says what SetMayWait last set (false at first).
  bool MayWait(std::size_t) override {
    std::lock_guard lock(mu_);
    return may_wait_;
  }
  void SetMayWait(bool may_wait) {
    std::lock_guard lock(mu_);
    may_wait_ = may_wait;
  }
  std::optional<KeyCheck> CheckKey(std::string_view key) override {
    std::lock_guard lock(mu_);
    if (!codec_) return std::nullopt;
    return KeyCheck{codec_->Check(key),
                    codec_->order() == keys::KeyOrder::kSequential};
  }
  // The codec CheckKey uses; none (detached) until set.
  void SetCodec(keys::KeyCodec codec) {
    std::lock_guard lock(mu_);
    codec_.emplace(std::move(codec));
  }
  Snapshot Observe() override {
    std::lock_guard lock(mu_);
    return snapshot_;
  }
  void CountUnavailable() override {
    std::lock_guard lock(mu_);
    ++unavailable_;
  }
  void CountRequest() override {
    std::lock_guard lock(mu_);
    ++requests_;
  }

  void SetKeysLeft(std::size_t n) {
    std::lock_guard lock(mu_);
    keys_left_ = n;
  }
  // Simulates the worker swapping to a segment of `length`-character keys
  // right after each TakeKeys returned: later claims hand out such keys.
  void SwapLengthAfterTake(std::uint32_t length) {
    std::lock_guard lock(mu_);
    length_after_take_ = length;
  }
  void SetSnapshot(Snapshot s) {
    std::lock_guard lock(mu_);
    snapshot_ = std::move(s);
  }
  std::size_t take_calls() const {
    std::lock_guard lock(mu_);
    return take_calls_;
  }
  std::size_t unavailable() const {
    std::lock_guard lock(mu_);
    return unavailable_;
  }
  std::size_t requests() const {
    std::lock_guard lock(mu_);
    return requests_;
  }

 private:
  mutable std::mutex mu_;
  std::size_t keys_left_ = static_cast<std::size_t>(-1);
  bool may_wait_ = false;
  std::size_t next_ = 0;
  std::uint32_t key_length_ = 7;  // of the keys the next claim hands out
  std::uint32_t length_after_take_ = 7;
  std::size_t take_calls_ = 0;
  std::size_t unavailable_ = 0;
  std::size_t requests_ = 0;
  Snapshot snapshot_;
  std::optional<keys::KeyCodec> codec_;
};

// A snapshot of a healthy segment.
inline Snapshot HealthySnapshot() {
  Snapshot s;
  s.shm_name = "test";
  s.attached = true;
  s.broker_alive = true;
  s.broker_state = shm::BrokerState::kRunning;
  s.broker_pid = 4242;
  s.store = "sqlite:/tmp/x.db";
  s.key_length = 7;
  s.heartbeat_age_ns = 250'000'000;  // 0.25 s
  s.ring_fill = 100;
  s.ring_capacity = 1024;
  s.low_water = 256;
  s.keys_produced = 500;
  s.ranges_reserved = 3;
  s.refills = 2;
  s.store_errors = 1;
  s.keys_wasted = 7;
  s.keys_blocked = 11;
  s.granted_high = 3000;
  s.store_regressions = 1;
  s.range_size = 1000;
  s.store_reconnects = 2;
  s.durability = shm::StoreDurability::kSync;
  s.store_host = "127.0.0.1:5432";
  s.last_refill_ns = 1'500'000;
  s.key_space = 3'521'614'606'208;  // 62^7
  s.store_next = 3000;
  // A live worker, a live libforge-client user and one slot released by a
  // worker that exited; the totals are their sums.
  s.workers = {{0, 101, true, 200, 1, 205},
               {1, 102, true, 150, 2, 150, shm::ConsumerKind::kClient},
               {4, 0, false, 50, 0, 55}};
  s.served_total = 400;
  s.unavailable_total = 3;
  s.requests_total = 410;
  s.workers_alive = 2;
  return s;
}

// Namespaces over FakeBackends: "default" and whatever Add() serves.
class FakeNamespaces final : public Namespaces {
 public:
  explicit FakeNamespaces(Backend& default_backend) {
    Add("default", default_backend);
  }
  void Add(const std::string& ns, Backend& backend) {
    std::lock_guard lock(mu_);
    backends_[ns] = &backend;
  }
  NamespaceLookup Find(std::string_view ns) override {
    std::lock_guard lock(mu_);
    const auto it = backends_.find(std::string(ns));
    return {it == backends_.end() ? nullptr : it->second, false};
  }
  std::vector<std::string> Served() override {
    std::lock_guard lock(mu_);
    std::vector<std::string> names = {"default"};
    for (const auto& [name, backend] : backends_) {
      if (name != "default") names.push_back(name);
    }
    return names;
  }

 private:
  std::mutex mu_;
  std::map<std::string, Backend*> backends_;
};

// `s` as the one served namespace, "default" (for FormatMetrics).
inline std::vector<NamespaceSnapshot> AsDefault(Snapshot s) {
  return {{"default", std::move(s)}};
}

// The "default" namespace of segment "test" at `now_ns` with `served` keys
// handed out (by worker slot 0) and produced: broker 4242 alive.
inline stats::Overview MadeUpOverview(std::uint64_t now_ns,
                                      std::uint64_t served) {
  stats::Snapshot s;
  s.segment = "test";
  s.path = "/dev/shm/mini-forge.test";
  s.now_unix_ns = now_ns;
  s.store = "sqlite:/tmp/x.db";
  s.key_length = 7;
  s.key_space = 1'000'000;
  s.store_next = 10'000;
  s.broker_pid = 4242;
  s.broker_state = shm::BrokerState::kRunning;
  s.broker_alive = true;
  s.heartbeat_age_ns = 100'000'000;
  s.ring_capacity = 1024;
  s.ring_fill = 512;
  s.keys_produced = served;
  s.served_total = served;
  s.workers.push_back({.slot = 0, .pid = 77, .alive = true, .served = served});
  s.workers_alive = 1;
  stats::Overview o;
  o.namespaces.push_back({"default", std::move(s), ""});
  return o;
}

struct FakeStatus {
  std::uint64_t now_ns = 1'800'000'000'000'000'000;  // 2027-01-15
  std::uint64_t served = 0;
  bool missing = false;  // the segment is gone: reads throw
  StatusSource source{[this](std::uint64_t now) {
                        if (missing)
                          throw shm::SegmentMissing("no segment \"test\" yet");
                        return MadeUpOverview(now, served);
                      },
                      [this] { return now_ns; }};

  // Moves the clock by `ms` while `keys` more are served.
  void Advance(std::uint64_t ms, std::uint64_t keys) {
    now_ns += ms * 1'000'000;
    served += keys;
  }
};

}  // namespace forge::frontend::testing
