#include "tests/integration/fault_fixture.h"

#include <algorithm>

#include "keys/key_codec.h"
#include "shm/segment.h"

namespace forge::testing {
void FaultFixture::DeclareSecond(std::uint64_t pool_capacity) const {
  Declare({{kSecond, kSecondLength, "sequential", pool_capacity}});
}

std::optional<shm::BrokerState> FaultFixture::BrokerStateNow(
    std::string_view ns) const {
  const auto seg = View(ns);
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

std::uint64_t FaultFixture::ProducedTotal(std::string_view ns) const {
  const auto seg = View(ns);
  // relaxed: read after the broker went quiet.
  return seg ? seg->broker().keys_produced.load(std::memory_order_relaxed) : 0;
}

NamespaceStore OpenNamespaceStore(const std::string& db_url,
                                  const std::string& ns) {
  store::StoreFormat stored;
  stored.key_length = 0;  // whatever format the store holds
  NamespaceStore out;
  out.root = store::OpenStore(db_url, stored);
  out.named = out.root->OpenNamespace(ns, nullptr);  // opened, never made
  return out;
}

std::uint64_t StoreCounterOf(const std::string& db_url, const std::string& ns) {
  const NamespaceStore store = OpenNamespaceStore(db_url, ns);
  if (store.named == nullptr) {
    ADD_FAILURE() << "the store has no namespace " << ns;
    return 0;
  }
  return store.named->Next();
}

std::uint64_t FaultFixture::StoreCounter(const std::string& ns) const {
  return StoreCounterOf(DbUrl(), ns);
}

KeysByNamespace FaultFixture::ByNamespace(
    const std::vector<std::string>& keys) {
  KeysByNamespace split;
  for (const std::string& k : keys) {
    (k.size() == kDefaultLength  ? split.first
     : k.size() == kSecondLength ? split.second
                                 : split.other)
        .push_back(k);
  }
  return split;
}

std::vector<std::uint64_t> FaultFixture::Numbers(
    const std::vector<std::string>& keys, int key_length) {
  const keys::KeyCodec codec(key_length, keys::KeyOrder::kSequential, 0);
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
