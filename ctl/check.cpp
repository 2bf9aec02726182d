// ctl/check.cpp — see check.h.
#include "ctl/check.h"

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string_view>

#include "base/clock.h"
#include "ctl/ring_scan.h"
#include "ctl/store_access.h"
#include "keys/key_codec.h"
#include "shm/producer_lock.h"
#include "shm/stats.h"
#include "stats/stats.h"
#include "stats/text.h"
#include "store/format.h"

namespace forge::ctl {
namespace {

CheckResult Ok(const char* name, std::string detail) {
  return {true, name, std::move(detail)};
}
CheckResult Fail(const char* name, std::string detail) {
  return {false, name, std::move(detail)};
}

std::string SecondsAgo(const stats::Snapshot& s) {
  const std::optional<std::int64_t> age_ms = s.heartbeat_age_ms();
  if (!age_ms) return "never beat";
  return "last beat " + stats::Fixed(static_cast<double>(*age_ms) / 1000.0, 1) +
         " s ago";
}

std::string WithoutProgramPrefix(std::string text) {
  constexpr std::string_view kPrefix = "forge-ctl: ";
  if (text.rfind(kPrefix, 0) == 0) text.erase(0, kPrefix.size());
  return text;
}

class Checker {
 public:
  Checker(const config::Config& cfg, const shm::ReadOnlySegment& seg)
      : cfg_(cfg),
        seg_(seg),
        snap_(stats::ReadSnapshot(seg, base::UnixNowNs())) {}

  std::vector<CheckResult> Run() {
    return {Segment(), Lock(), Heartbeat(), Store(), Format(), Counter()};
  }

 private:
  CheckResult Segment() const {
    const shm::Header& h = seg_.header();
    return Ok("segment", snap_.path + ": layout " +
                             std::to_string(h.layout_version) + ", capacity " +
                             std::to_string(h.capacity) + ", " +
                             DescribeSegmentFormat(seg_));
  }

  CheckResult Lock() const {
    const std::string path = shm::Segment::LockPath(seg_.name());
    const shm::LockProbe p = shm::ProbeProducerLock(path);
    switch (p.state) {
      case shm::LockProbe::State::kNoFile:
        return Fail("lock", "no lock file " + path +
                                ": no broker has started on this segment");
      case shm::LockProbe::State::kFree:
        return Fail("lock",
                    "no broker holds " + path +
                        ": start forge-broker with SHM_NAME=" + seg_.name());
      case shm::LockProbe::State::kError:
        return Fail("lock", p.error);
      case shm::LockProbe::State::kHeld:
        break;
    }
    if (snap_.broker_pid != 0 && p.holder_pid != snap_.broker_pid) {
      return Fail("lock", path + " is held by pid " +
                              std::to_string(p.holder_pid) +
                              " but the segment names broker pid " +
                              std::to_string(snap_.broker_pid));
    }
    return Ok("lock", path + " held by pid " + std::to_string(p.holder_pid));
  }

  CheckResult Heartbeat() const {
    const stats::Snapshot& s = snap_;
    if (s.broker_pid == 0) {
      return Fail("heartbeat", "no broker has run on this segment");
    }
    const std::string who = "broker pid " + std::to_string(s.broker_pid);
    const std::string state = shm::BrokerStateName(s.broker_state);
    if (s.broker_state == shm::BrokerState::kStopped) {
      return Fail("heartbeat", who + " has stopped (" + SecondsAgo(s) + ")");
    }
    if (!s.broker_alive) {
      return Fail("heartbeat",
                  who + " is not alive (" + SecondsAgo(s) + "; stale after " +
                      std::to_string(stats::kBrokerStaleMs / 1000) + " s)");
    }
    if (s.broker_state == shm::BrokerState::kStoreError ||
        s.broker_state == shm::BrokerState::kExhausted) {
      return Fail("heartbeat", who + " is beating but in state " + state +
                                   " (" + std::to_string(s.store_errors) +
                                   " store errors)");
    }
    return Ok("heartbeat", who + " " + state + ", " + SecondsAgo(s));
  }

  CheckResult Store() {
    try {
      store_ = OpenExistingStore(cfg_);
    } catch (const StoreMissing& e) {
      return Fail("store", WithoutProgramPrefix(e.what()));
    } catch (const store::StoreError& e) {
      return Fail("store", e.what());
    }
    const std::string describe = store_->Describe();
    const std::string& id = store_->format().store_id;
    const std::string filled_from = shm::StoreIdOf(seg_.header());
    if (id != filled_from) {
      return Fail("store", "DB_URL opens " + describe + " (id " + id +
                               ") but the segment was filled from " +
                               (snap_.store.empty() ? "a store" : snap_.store) +
                               " (id " +
                               (filled_from.empty() ? "unknown" : filled_from) +
                               "); point DB_URL at that store");
    }
    store_usable_ = true;
    return Ok("store", describe + " (id " + id + ") opens: schema " +
                           std::to_string(store::kStoreSchemaVersion) + ", " +
                           store::DescribeFormat(store_->format()));
  }

  CheckResult Format() {
    if (!store_usable_) return Fail("format", "not checked: no usable store");
    const std::string seg = DescribeSegmentFormat(seg_);
    const std::string store = store::DescribeFormat(store_->format());
    if (seg != store) {
      return Fail("format", "the segment has " + seg + ", the store " + store +
                                ": its keys were not made with " +
                                "this store's format");
    }
    format_ok_ = true;
    return Ok("format", "segment and store agree: " + store);
  }

  CheckResult Counter() {
    if (!format_ok_) {
      return Fail("counter", "not checked: no store with the segment's format");
    }
    const RingKeys ring = ScanRing(seg_);
    std::uint64_t next = 0;
    try {
      next = store_->Next();  // after the scan: it only grows
    } catch (const store::StoreError& e) {
      return Fail("counter", e.what());
    }
    if (next < snap_.store_next) {
      return Fail("counter",
                  "the store's counter is " + std::to_string(next) +
                      ", below " + std::to_string(snap_.store_next) +
                      " where the broker's last reservation ended: it went "
                      "back, numbers from " +
                      std::to_string(next) + " on would be handed out twice");
    }
    return CheckRing(ring, next);
  }

  CheckResult CheckRing(const RingKeys& ring, std::uint64_t next) const {
    const store::StoreFormat& f = store_->format();
    const keys::KeyCodec codec(f.key_length, f.order, f.secret);
    std::uint64_t highest = 0;
    for (std::size_t i = 0; i < ring.keys.size(); ++i) {
      const std::string& key = ring.keys[i];
      const std::optional<std::uint64_t> n = codec.Decode(key);
      const std::string where = "ring slot " + std::to_string(ring.head + i) +
                                " holds " + stats::JsonQuote(key);
      if (!n) return Fail("counter", where + ", not a key of this store");
      if (*n >= next) {
        return Fail("counter", where + " = number " + std::to_string(*n) +
                                   ", not below the store's counter " +
                                   std::to_string(next) +
                                   ": the store would hand it out again");
      }
      highest = std::max(highest, *n);
    }
    std::string detail = "store counter " + std::to_string(next) +
                         " >= broker's last reservation end " +
                         std::to_string(snap_.store_next);
    detail += ring.keys.empty()
                  ? "; ring empty"
                  : " and > all " + std::to_string(ring.keys.size()) +
                        " ring keys (highest number " +
                        std::to_string(highest) + ")";
    return Ok("counter", detail);
  }

  const config::Config& cfg_;
  const shm::ReadOnlySegment& seg_;
  const stats::Snapshot snap_;
  std::unique_ptr<store::RangeStore> store_;
  bool store_usable_ = false;
  bool format_ok_ = false;
};

}  // namespace

std::vector<CheckResult> RunChecks(const config::Config& cfg,
                                   const shm::ReadOnlySegment& seg) {
  return Checker(cfg, seg).Run();
}

std::string FormatCheck(const CheckResult& r) {
  char head[32];
  std::snprintf(head, sizeof(head), "%-4s %-10s ", r.ok ? "ok" : "FAIL",
                r.name.c_str());
  return head + r.detail;
}

int RunCheck(const config::Config& cfg, std::ostream& out) {
  try {
    const shm::ReadOnlySegment seg = shm::ReadOnlySegment::Attach(cfg.shm_name);
    const std::vector<CheckResult> results = RunChecks(cfg, seg);
    // Damaged while we read it: the results may rest on zero pages.
    if (std::string why = seg.Damage(); !why.empty()) {
      throw shm::SegmentError(why);
    }
    bool all_ok = true;
    for (const CheckResult& r : results) {
      out << FormatCheck(r) << "\n";
      all_ok = all_ok && r.ok;
    }
    return all_ok ? 0 : 1;
  } catch (const shm::SegmentMissing&) {
    std::cerr << stats::MissingSegmentMessage(cfg.shm_name) << "\n";
  } catch (const shm::SegmentError& e) {
    out << FormatCheck(Fail("segment", e.what())) << "\n";
  }
  return 1;
}

}  // namespace forge::ctl
