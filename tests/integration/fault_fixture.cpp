#include "tests/integration/fault_fixture.h"

#include <algorithm>

#include "keys/key_codec.h"
#include "shm/segment.h"
#include "store/range_store.h"

namespace forge::testing {
std::optional<shm::BrokerState> FaultFixture::BrokerStateNow() const {
  const auto seg = View();
  if (!seg) return std::nullopt;
  // relaxed: an informational snapshot.
  return static_cast<shm::BrokerState>(
      seg->broker().state.load(std::memory_order_relaxed));
}

std::optional<std::uint64_t> FaultFixture::RingFill() const {
  const auto seg = View();
  if (!seg) return std::nullopt;
  return seg->ring().Size();
}

std::uint64_t FaultFixture::ServedTotal() const {
  const auto seg = View();
  std::uint64_t total = 0;
  for (std::uint32_t i = 0; seg && i < shm::kMaxWorkers; ++i) {
    // relaxed: counters read after the writers went quiet.
    total += seg->worker(i).served.load(std::memory_order_relaxed);
  }
  return total;
}

std::uint64_t FaultFixture::ProducedTotal() const {
  const auto seg = View();
  // relaxed: read after the broker went quiet.
  return seg ? seg->broker().keys_produced.load(std::memory_order_relaxed) : 0;
}

std::uint64_t FaultFixture::StoreCounter(int key_length) const {
  store::StoreFormat wanted;
  wanted.key_length = key_length;
  wanted.order = config::KeyOrder::kSequential;
  return store::OpenStore(DbUrl(), wanted)->Next();
}

std::vector<std::uint64_t> FaultFixture::Numbers(
    const std::vector<std::string>& keys, int key_length) {
  const keys::KeyCodec codec(key_length, config::KeyOrder::kSequential, 0);
  std::vector<std::uint64_t> numbers;
  numbers.reserve(keys.size());
  std::size_t bad = 0;
  for (const std::string& k : keys) {
    if (const auto n = codec.Decode(k)) {
      numbers.push_back(*n);
    } else if (++bad <= 3) {
      ADD_FAILURE() << "not a key of length " << key_length << ": '" << k
                    << "'";
    }
  }
  EXPECT_EQ(bad, 0u) << "malformed keys";
  std::sort(numbers.begin(), numbers.end());
  return numbers;
}

std::vector<std::uint64_t> FaultFixture::Repeats(
    const std::vector<std::uint64_t>& sorted) {
  std::vector<std::uint64_t> repeats;
  for (std::size_t i = 1; i < sorted.size(); ++i) {
    if (sorted[i] == sorted[i - 1] &&
        (repeats.empty() || repeats.back() != sorted[i])) {
      repeats.push_back(sorted[i]);
    }
  }
  return repeats;
}

}  // namespace forge::testing
