// Micro-benchmarks for keys/key_codec: numbers to Base62 keys and back.
#include <benchmark/benchmark.h>

#include <cstdint>

#include "keys/key_codec.h"

namespace forge::keys {
namespace {

constexpr std::uint64_t kSecret = 0x5eed'1234'abcd'9876ULL;

// Encodes consecutive numbers, as the broker does with a reserved range.
void EncodeConsecutive(benchmark::State& state, KeyOrder order) {
  const KeyCodec codec(static_cast<int>(state.range(0)), order, kSecret);
  char key[kMaxKeyLength];
  std::uint64_t n = codec.space() / 3;
  for (auto _ : state) {
    codec.Encode(n, key);
    benchmark::DoNotOptimize(key);
    if (++n == codec.space()) n = 0;
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_EncodeSequential(benchmark::State& state) {
  EncodeConsecutive(state, KeyOrder::kSequential);
}
void BM_EncodeScrambled(benchmark::State& state) {
  EncodeConsecutive(state, KeyOrder::kScrambled);
}
BENCHMARK(BM_EncodeSequential)->Arg(7)->Arg(10);
BENCHMARK(BM_EncodeScrambled)->Arg(4)->Arg(7)->Arg(10);

void BM_DecodeScrambled(benchmark::State& state) {
  const KeyCodec codec(7, KeyOrder::kScrambled, kSecret);
  const std::string key = codec.Encode(123456789);
  for (auto _ : state) {
    benchmark::DoNotOptimize(codec.Decode(key));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DecodeScrambled);

}  // namespace
}  // namespace forge::keys
