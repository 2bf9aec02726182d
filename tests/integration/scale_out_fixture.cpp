#include "tests/integration/scale_out_fixture.h"

#include <sstream>
#include <utility>

#include "shm/layout.h"
#include "tests/integration/fault_fixture.h"

namespace forge::scale_out {

std::uint64_t SharedStore::Counter(const std::string& ns) const {
  return testing::StoreCounterOf(DbUrl(), ns);
}

// One worker (2-core CI); enough threads for every keep-alive connection of
// the load; requests wait for the broker rather than answer 503 when a tiny
// ring runs dry for a moment.
Instance::Instance(const InstanceOptions& options, int port)
    : Stack({{"RANGE_SIZE", std::to_string(options.range_size)},
             {"POOL_CAPACITY", std::to_string(options.pool_capacity)},
             {"NS_POOL_CAPACITY", std::to_string(options.pool_capacity)},
             {"KEY_LENGTH", std::to_string(kKeyLength)},
             {"KEY_ORDER", "sequential"},
             {"WORKERS", "1"},
             {"HTTP_THREADS", "16"},
             {"EMPTY_WAIT_MS", "5000"}},
            StackOptions::SharedStore(options.db_url, port)),
      pool_capacity_(options.pool_capacity) {
  Declare({{kSecond, kSecondLength, "sequential"}});
}

const shm::ReadOnlySegment* Instance::Segment(const std::string& ns) {
  auto it = segments_.find(ns);
  if (it == segments_.end()) {
    std::optional<shm::ReadOnlySegment> seg = View(ns);
    if (!seg) return nullptr;  // not created yet, or mid-creation
    it = segments_.emplace(ns, std::move(*seg)).first;
  }
  return &it->second;
}

const shm::BrokerStats* Instance::Stats(const std::string& ns) {
  const shm::ReadOnlySegment* seg = Segment(ns);
  return seg != nullptr ? &seg->broker() : nullptr;
}

bool Instance::BrokerIdle() {
  for (const std::string& ns :
       {std::string(base::kDefaultNamespace), std::string(kSecond)}) {
    const shm::ReadOnlySegment* seg = Segment(ns);
    if (seg == nullptr || !broker() ||
        seg->broker().pid.load() != broker()->pid() ||
        seg->broker().producer_sleeping.load() != 1 ||
        seg->ring().Size() != pool_capacity_) {
      return false;
    }
  }
  return true;
}

std::vector<int> DistinctFreePorts(std::size_t n) {
  std::set<int> ports;
  while (ports.size() < n) ports.insert(testing::FreePort());
  return {ports.begin(), ports.end()};
}

std::vector<std::uint64_t> ServedNumbers(const testing::LoadResult& r,
                                         const keys::KeyCodec& codec,
                                         std::vector<std::string>* malformed) {
  std::vector<std::uint64_t> numbers;
  for (const std::string& body : r.bodies_200) {
    std::istringstream lines(body);
    for (std::string key; std::getline(lines, key);) {
      if (key.size() != static_cast<std::size_t>(codec.length())) continue;
      if (const auto n = codec.Decode(key)) {
        numbers.push_back(*n);
      } else {
        malformed->push_back(key);
      }
    }
  }
  return numbers;
}

std::vector<std::string> ErrorLines(const std::string& log) {
  std::vector<std::string> errors;
  std::istringstream lines(log);
  for (std::string line; std::getline(lines, line);) {
    if (line.find(" ERROR ") != std::string::npos) errors.push_back(line);
  }
  return errors;
}

}  // namespace forge::scale_out
