// broker/encode_pipeline.h — the broker's encode, ahead of the push and on
// several threads: reserved numbers in, keys out in number order, into the
// ring by its one producer (issue 18 §2, docs/design.md §4).
//
// Contract
//   * The producer (the broker's loop thread, the only caller of every
//     method) Adds ranges of numbers taken from its hand, in number order.
//     They are cut into chunks of at most chunk_keys() numbers. With
//     helpers (JobThreads, possibly shared by several pipelines), each
//     chunk is posted to the next helper (round robin) and encoded there:
//     KeyCodec::EncodeRange, then the blocklist drops the keys it blocks
//     (each kept key remembers its number). A chunk is encoded once, by
//     whoever claims it first: when PushInto needs a chunk nobody has begun,
//     the producer encodes it itself, so a busy machine degrades to one
//     thread and never waits on a helper's queue; while a helper encodes
//     the front chunk, the producer encodes later unclaimed ones, then
//     waits for it at most kHelperGrace (polling, yielding the CPU), and
//     then encodes the same numbers itself (the same keys: the helper's
//     copy is dropped once it is done), so a helper the scheduler set
//     aside never holds the ring up. Without helpers the producer encodes every
//     chunk when it is needed (today's single-threaded encode).
//   * PushInto pushes encoded keys into the ring in the order their numbers
//     were added, each exactly once, until the ring is full or the pipeline
//     is empty; it says how many numbers it consumed (pushed, or blocked
//     before the last key pushed). The ring is the only place keys go: the
//     ring's single-producer rule holds (shm/ring.h).
//   * size(): numbers added and not consumed, whether encoded or not — they
//     are still the broker's hand.
//   * Unwind() ends every chunk and returns the numbers not consumed, as
//     ranges in number order (a chunk a helper is encoding is waited for;
//     its keys are dropped, never pushed): what a stop gives back to the
//     store and what a new blocklist encodes again. Afterwards no helper
//     touches this pipeline's codec, blocklist or buffers.
//   * A number outside the key space (a damaged store) throws from
//     PushInto, as KeyCodec::EncodeRange does, whichever thread encoded it.
//   * The codec and the blocklist must outlive the pipeline; the blocklist
//     may be replaced (SetBlocklist) only while the pipeline is empty.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <exception>
#include <memory>
#include <vector>

#include "broker/job_thread.h"
#include "keys/blocklist.h"
#include "keys/key_codec.h"
#include "shm/ring.h"
#include "store/range_store.h"

namespace forge::broker {

// Encodes [first, first + n) to out (key i at out[i * stride]; the slots
// NUL-padded before), dropping the keys `blocklist` blocks; numbers[i] is
// kept key i's number. Returns the keys kept.
std::size_t EncodeClean(const keys::KeyCodec& codec,
                        const keys::Blocklist& blocklist, std::uint32_t stride,
                        std::uint64_t first, std::size_t n, shm::Key* out,
                        std::uint64_t* numbers);

// Longest wait for a helper encoding the chunk the ring needs next: about
// twice what a 4096-key chunk takes.
inline constexpr std::chrono::microseconds kHelperGrace{200};

class EncodePipeline {
 public:
  // `helpers` (may be empty) must outlive the pipeline. `helper_grace` is
  // kHelperGrace but in tests (0: never wait for a helper).
  EncodePipeline(const keys::KeyCodec& codec, const keys::Blocklist& blocklist,
                 std::uint32_t stride, std::size_t chunk_keys,
                 std::vector<JobThread*> helpers,
                 std::chrono::nanoseconds helper_grace = kHelperGrace);
  EncodePipeline(const EncodePipeline&) = delete;
  EncodePipeline& operator=(const EncodePipeline&) = delete;
  ~EncodePipeline();  // Unwind(), the numbers dropped

  std::size_t helpers() const { return helpers_.size(); }
  std::size_t chunk_keys() const { return chunk_keys_; }
  std::uint64_t size() const { return size_; }
  // Chunks the producer encoded again because their helper was too slow.
  std::uint64_t reencoded() const { return reencoded_; }
  void SetBlocklist(const keys::Blocklist& blocklist);

  void Add(const store::Range& r);

  struct Pushed {
    std::uint64_t keys = 0;      // pushed into the ring
    std::uint64_t blocked = 0;   // blocked numbers passed over
    std::uint64_t consumed = 0;  // keys + blocked
  };
  Pushed PushInto(shm::Ring& ring);

  [[nodiscard]] std::vector<store::Range> Unwind();

 private:
  struct Chunk;
  // Chunks kept for reuse (their buffers stay allocated).
  static constexpr std::size_t kMaxSpares = 16;
  // The front chunk, encoded (see the contract).
  Chunk& ReadyFront();
  std::shared_ptr<Chunk> Take();  // a spare, or a new chunk
  void Retire(std::shared_ptr<Chunk> chunk);

  const keys::KeyCodec& codec_;
  const keys::Blocklist* blocklist_;
  std::uint32_t stride_;
  std::size_t chunk_keys_;
  std::vector<JobThread*> helpers_;
  std::chrono::nanoseconds helper_grace_;
  std::size_t next_helper_ = 0;
  std::deque<std::shared_ptr<Chunk>> chunks_;
  std::vector<std::shared_ptr<Chunk>> spares_;
  // Chunks the producer encoded itself while a helper still had them:
  // waited for by Unwind (they use the codec and the blocklist).
  std::vector<std::shared_ptr<Chunk>> abandoned_;
  std::uint64_t size_ = 0;
  std::uint64_t reencoded_ = 0;
};

}  // namespace forge::broker
