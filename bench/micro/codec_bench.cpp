// Micro-benchmarks for keys/key_codec: numbers to keys and back, and the
// broker's per-key work under a key policy (encode, then the blocklist).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>
#include <vector>

#include "keys/blocklist.h"
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

// The broker's encode: a batch of consecutive numbers into ring slots
// (16-byte stride) with KeyCodec::EncodeRange. Items are keys.
void BM_EncodeRangeScrambled(benchmark::State& state) {
  const KeyCodec codec(static_cast<int>(state.range(0)), KeyOrder::kScrambled,
                       kSecret);
  constexpr std::size_t kBatch = 1024;
  constexpr std::size_t kStride = 16;
  std::vector<char> out(kBatch * kStride);
  std::uint64_t n = codec.space() / 3;
  for (auto _ : state) {
    if (n + kBatch > codec.space()) n = 0;
    codec.EncodeRange(n, kBatch, out.data(), kStride);
    benchmark::DoNotOptimize(out.data());
    n += kBatch;
  }
  state.SetItemsProcessed(state.iterations() * kBatch);
}
BENCHMARK(BM_EncodeRangeScrambled)->Arg(7)->Arg(10);

void BM_DecodeScrambled(benchmark::State& state) {
  const KeyCodec codec(7, KeyOrder::kScrambled, kSecret);
  const std::string key = codec.Encode(123456789);
  for (auto _ : state) {
    benchmark::DoNotOptimize(codec.Decode(key));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DecodeScrambled);

// The broker's work per key for a namespace: encode consecutive numbers
// (scrambled) and, with a blocklist, test each key against it, skipping
// the blocked ones. Items are numbers encoded; "blocked" is the fraction
// the list threw away.
void EncodeFiltered(benchmark::State& state, std::string_view alphabet,
                    int length, CheckKind check, BlocklistKind list) {
  std::string why;
  const KeyPolicy policy{*Alphabet::Parse(alphabet, &why), check, ""};
  const KeyCodec codec(length, KeyOrder::kScrambled, kSecret, policy);
  const Blocklist blocklist = Blocklist::Of({list, {}});
  char key[kMaxTextLength];
  const std::string_view text(key, codec.text_length());
  std::uint64_t n = codec.space() / 3;
  std::uint64_t blocked = 0;
  for (auto _ : state) {
    codec.Encode(n, key);
    blocked += blocklist.Blocks(text) ? 1 : 0;
    benchmark::DoNotOptimize(key);
    if (++n == codec.space()) n = 0;
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["blocked"] = benchmark::Counter(
      static_cast<double>(blocked) / static_cast<double>(state.iterations()));
}

// Key lengths with spaces of about 10^12 (62^7 ~ 3.5e12).
#define FORGE_ENCODE_PRESET(name, alphabet, length)                           \
  BENCHMARK_CAPTURE(EncodeFiltered, name, alphabet, length, CheckKind::kNone, \
                    BlocklistKind::kNone);                                    \
  BENCHMARK_CAPTURE(EncodeFiltered, name##_blocklist, alphabet, length,       \
                    CheckKind::kNone, BlocklistKind::kDefault);               \
  BENCHMARK_CAPTURE(EncodeFiltered, name##_luhn_blocklist, alphabet, length,  \
                    CheckKind::kLuhn, BlocklistKind::kDefault)
FORGE_ENCODE_PRESET(base62, "base62", 7);
FORGE_ENCODE_PRESET(base58, "base58", 7);
FORGE_ENCODE_PRESET(base36, "base36", 8);
FORGE_ENCODE_PRESET(crockford32, "crockford32", 8);
FORGE_ENCODE_PRESET(digits, "digits", 12);
FORGE_ENCODE_PRESET(hex, "hex", 10);
#undef FORGE_ENCODE_PRESET

// The blocklist alone on base62 keys of 7 characters.
void BM_BlocklistBlocks(benchmark::State& state) {
  const KeyCodec codec(7, KeyOrder::kScrambled, kSecret);
  const Blocklist blocklist = Blocklist::Of({BlocklistKind::kDefault, {}});
  constexpr int kKeys = 4096;
  std::string keys;
  for (int i = 0; i < kKeys; ++i)
    keys += codec.Encode(static_cast<unsigned>(i));
  int i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(
        blocklist.Blocks(std::string_view(keys).substr(7 * i, 7)));
    i = (i + 1) % kKeys;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_BlocklistBlocks);

// Compiling the built-in list (once per namespace and blocklist change).
void BM_BlocklistCompileDefault(benchmark::State& state) {
  for (auto _ : state) {
    benchmark::DoNotOptimize(Blocklist::Of({BlocklistKind::kDefault, {}}));
  }
}
BENCHMARK(BM_BlocklistCompileDefault);

}  // namespace
}  // namespace forge::keys
