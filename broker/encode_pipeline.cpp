// broker/encode_pipeline.cpp — see encode_pipeline.h for the contract.
#include "broker/encode_pipeline.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <string_view>
#include <thread>
#include <utility>

#include "base/status.h"

namespace forge::broker {

std::size_t EncodeClean(const keys::KeyCodec& codec,
                        const keys::Blocklist& blocklist, std::uint32_t stride,
                        std::uint64_t first, std::size_t n, shm::Key* out,
                        std::uint64_t* numbers) {
  // The stride's Keys are contiguous: the text may run on across them. The
  // bytes after it stay NUL, so each slot is the key NUL-padded.
  const std::size_t bytes = stride * sizeof(shm::Key);
  char* text = reinterpret_cast<char*>(out);
  codec.EncodeRange(first, n, text, bytes);
  if (blocklist.empty()) {
    for (std::size_t i = 0; i < n; ++i) numbers[i] = first + i;
    return n;
  }
  std::size_t kept = 0;
  const std::size_t length = codec.text_length();
  for (std::size_t i = 0; i < n; ++i) {
    const char* key = text + i * bytes;
    if (blocklist.Blocks(std::string_view(key, length))) continue;
    if (kept != i) std::memcpy(text + kept * bytes, key, bytes);
    numbers[kept++] = first + i;
  }
  return kept;
}

// A run of consecutive numbers and, once encoded, their keys. Reused for
// later runs (Take): the slots stay NUL-padded, since every key of the
// one codec has the same length.
struct EncodePipeline::Chunk {
  enum State : int { kQueued, kEncoding, kDone };

  Chunk(const keys::KeyCodec& c, std::uint32_t s) : codec(c), stride(s) {}

  // A new run; only the producer, while nobody else holds the chunk.
  void Reset(const keys::Blocklist& b, const store::Range& r) {
    blocklist = &b;
    range = r;
    next = r.first;
    count = 0;
    pushed = 0;
    error = nullptr;
    const auto n = static_cast<std::size_t>(r.size());
    if (keys.size() < n * stride) keys.resize(n * stride, shm::Key{});
    if (numbers.size() < n) numbers.resize(n);
    // relaxed: the chunk is published to a helper by JobThread::Post's
    // mutex, and to the producer by program order.
    state.store(kQueued, std::memory_order_relaxed);
  }

  // True for the one caller that may encode it (or drop it, see Unwind).
  bool Claim() {
    int expected = kQueued;
    // acquire: the claimer reads what the producer wrote before adding the
    // chunk (a helper also got it through JobThread's mutex).
    return state.compare_exchange_strong(expected, kEncoding,
                                         std::memory_order_acquire);
  }
  // Claimed: encodes, then publishes the keys.
  void Encode() {
    const auto n = static_cast<std::size_t>(range.size());
    try {
      count = EncodeClean(codec, *blocklist, stride, range.first, n,
                          keys.data(), numbers.data());
    } catch (...) {
      error = std::current_exception();
    }
    // release: the producer that sees kDone (acquire) sees the keys.
    state.store(kDone, std::memory_order_release);
    state.notify_all();
  }
  // Polls (yielding the CPU) until it is done, for at most `grace`.
  bool DoneWithin(std::chrono::nanoseconds grace) const {
    const auto deadline = std::chrono::steady_clock::now() + grace;
    // acquire: pairs with Encode's release; the keys are read after.
    while (state.load(std::memory_order_acquire) != kDone) {
      if (std::chrono::steady_clock::now() >= deadline) return false;
      std::this_thread::yield();
    }
    return true;
  }
  // Waits until whoever claimed it is done.
  void WaitDone() const {
    // acquire: pairs with Encode's release; the keys are read after.
    for (int s = state.load(std::memory_order_acquire); s != kDone;
         s = state.load(std::memory_order_acquire)) {
      state.wait(s, std::memory_order_acquire);
    }
  }

  const keys::KeyCodec& codec;
  const std::uint32_t stride;
  const keys::Blocklist* blocklist = nullptr;
  store::Range range;
  std::uint64_t next = 0;  // the first number not consumed (producer only)
  std::vector<shm::Key> keys;
  std::vector<std::uint64_t> numbers;
  std::size_t count = 0;   // keys kept
  std::size_t pushed = 0;  // keys pushed (producer only)
  std::exception_ptr error;
  std::atomic<int> state{kQueued};
};

EncodePipeline::EncodePipeline(const keys::KeyCodec& codec,
                               const keys::Blocklist& blocklist,
                               std::uint32_t stride, std::size_t chunk_keys,
                               std::vector<JobThread*> helpers,
                               std::chrono::nanoseconds helper_grace)
    : codec_(codec),
      blocklist_(&blocklist),
      stride_(stride),
      chunk_keys_(std::max<std::size_t>(chunk_keys, 1)),
      helpers_(std::move(helpers)),
      helper_grace_(helper_grace) {}

EncodePipeline::~EncodePipeline() { (void)Unwind(); }

void EncodePipeline::SetBlocklist(const keys::Blocklist& blocklist) {
  FORGE_CHECK(chunks_.empty(), "a new blocklist with chunks in the pipeline");
  blocklist_ = &blocklist;
}

void EncodePipeline::Add(const store::Range& r) {
  for (std::uint64_t first = r.first; first < r.last;) {
    const std::uint64_t last =
        std::min<std::uint64_t>(r.last, first + chunk_keys_);
    std::shared_ptr<Chunk> chunk = Take();
    chunk->Reset(*blocklist_, store::Range{first, last});
    if (!helpers_.empty()) {
      JobThread& helper = *helpers_[next_helper_];
      next_helper_ = (next_helper_ + 1) % helpers_.size();
      // The job keeps the chunk alive; it does nothing once claimed.
      helper.Post([chunk] {
        if (chunk->Claim()) chunk->Encode();
      });
    }
    chunks_.push_back(std::move(chunk));
    size_ += last - first;
    first = last;
  }
}

std::shared_ptr<EncodePipeline::Chunk> EncodePipeline::Take() {
  // Abandoned copies the helpers have finished may go.
  std::erase_if(abandoned_, [](const std::shared_ptr<Chunk>& c) {
    // acquire: pairs with Encode's release; the helper is done with it.
    return c->state.load(std::memory_order_acquire) == Chunk::kDone;
  });
  // A spare that a helper's job still holds (it will only fail to claim
  // it) is left for later.
  for (auto it = spares_.begin(); it != spares_.end(); ++it) {
    if (it->use_count() == 1) {
      std::shared_ptr<Chunk> chunk = std::move(*it);
      spares_.erase(it);
      return chunk;
    }
  }
  return std::make_shared<Chunk>(codec_, stride_);
}

void EncodePipeline::Retire(std::shared_ptr<Chunk> chunk) {
  if (spares_.size() < kMaxSpares) spares_.push_back(std::move(chunk));
}

EncodePipeline::Chunk& EncodePipeline::ReadyFront() {
  Chunk& front = *chunks_.front();
  if (front.Claim()) {
    front.Encode();
    return front;
  }
  // A helper has it: meanwhile encode what nobody has begun, in order.
  for (std::size_t i = 1; i < chunks_.size(); ++i) {
    // relaxed: a hint; Claim decides.
    if (front.state.load(std::memory_order_relaxed) == Chunk::kDone) break;
    if (chunks_[i]->Claim()) chunks_[i]->Encode();
  }
  if (front.DoneWithin(helper_grace_)) return front;
  // The helper is slow (set aside by a busy scheduler?): encode the same
  // numbers here, the same keys; the helper's copy is dropped when done.
  std::shared_ptr<Chunk> mine = Take();
  mine->Reset(*front.blocklist, front.range);
  (void)mine->Claim();
  mine->Encode();
  ++reencoded_;
  abandoned_.push_back(std::exchange(chunks_.front(), std::move(mine)));
  return *chunks_.front();
}

EncodePipeline::Pushed EncodePipeline::PushInto(shm::Ring& ring) {
  Pushed out;
  while (!chunks_.empty() && ring.Size() < ring.Capacity()) {
    Chunk& c = ReadyFront();
    if (c.error) std::rethrow_exception(c.error);
    const std::size_t m =
        ring.Push(c.keys.data() + c.pushed * stride_, c.count - c.pushed);
    c.pushed += m;
    const std::uint64_t next =
        c.pushed < c.count ? c.numbers[c.pushed] : c.range.last;
    out.keys += m;
    out.blocked += next - c.next - m;
    out.consumed += next - c.next;
    size_ -= next - c.next;
    c.next = next;
    if (c.next < c.range.last) break;  // the ring is full
    Retire(std::move(chunks_.front()));
    chunks_.pop_front();
  }
  return out;
}

std::vector<store::Range> EncodePipeline::Unwind() {
  // Copies a helper still encodes use the codec and the blocklist.
  for (const std::shared_ptr<Chunk>& c : abandoned_) c->WaitDone();
  abandoned_.clear();
  std::vector<store::Range> left;
  for (std::shared_ptr<Chunk>& c : chunks_) {
    // Claimed here, no helper will begin it; else wait for the one that did.
    if (!c->Claim()) c->WaitDone();
    const store::Range rest{c->next, c->range.last};
    Retire(std::move(c));
    if (rest.empty()) continue;
    if (!left.empty() && left.back().last == rest.first) {
      left.back().last = rest.last;
    } else {
      left.push_back(rest);
    }
  }
  chunks_.clear();
  size_ = 0;
  return left;
}

}  // namespace forge::broker
