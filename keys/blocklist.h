// keys/blocklist.h — words a key must never contain (docs/design.md §6).
//
// Contract
//   * A Blocklist is a set of words (2..32 letters a-z, stored lower case).
//     Blocks(text) is true when `text` contains a listed word as a
//     substring after reading each character of `text` the way a person
//     might: case-insensitively, and with the look-alikes 0->o, 1->i or l,
//     3->e, 4->a, 5->s, 7->t, 8->b. Every other character (other digits,
//     - . _ ~, any other byte) is no letter: a word never spans it. The
//     presets' decode maps add nothing here: crockford32 reads I/L as 1
//     and O as 0 when decoding, but its keys never contain I, L, O. To
//     ask about a key someone typed (forge-ctl decode), match the key as
//     issued: KeyCodec::Encode of its decoded number.
//     Match() says which word (the longest one ending where the first
//     match was seen).
//   * Matching is one automaton over the whole list: a DFA table built
//     when the list is compiled (subset construction over the words'
//     trie, '1' stepping to i and l alike), one table load per character
//     whatever the list's size; a match state is absorbing. Blocks() does
//     not allocate.
//   * BuiltInWords() is the list kept as data in keys/blocklist-default.txt
//     (compiled in at build time), English words that would embarrass a
//     user if they appeared in a link they share; all of 3 letters or more.
//   * BlocklistSpec is what a namespace stores: none, default (the
//     built-in list of the broker that reads it) or custom words (from a
//     file, checked when it was read). It may change after the namespace
//     was created; it only filters keys not yet issued.
//   * Immutable after construction; safe to share between threads.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace forge::keys {

inline constexpr std::size_t kMinBlockedWord = 2;
inline constexpr std::size_t kMaxBlockedWord = 32;
inline constexpr std::string_view kBlocklistRule =
    "default, none, or a file of words (one per line, 2 to 32 letters a-z, "
    "# comments)";
inline constexpr std::string_view kBlockedWordRule =
    "2 to 32 letters a-z, one per line (lines starting with # are comments)";

enum class BlocklistKind : std::uint32_t {
  kNone = 0,
  kDefault = 1,
  kCustom = 2,
};

// A namespace's blocklist as the store keeps it.
struct BlocklistSpec {
  BlocklistKind kind = BlocklistKind::kNone;
  std::vector<std::string> words;  // kCustom only: valid, lower case
  bool operator==(const BlocklistSpec&) const = default;
};

// "none" / "default" / "custom (N words)".
std::string DescribeBlocklist(const BlocklistSpec& spec);

// A word file's text (one word per line; blank lines and lines starting
// with # skipped; surrounding blanks trimmed; upper case folded): the
// words sorted, each once; or nullopt with *why, one line naming
// `where`:line, the line, and kBlockedWordRule (a file without any word
// names `where` alone).
std::optional<std::vector<std::string>> ParseBlocklistWords(
    std::string_view text, const std::string& where, std::string* why);

class Blocklist {
 public:
  Blocklist();  // empty: blocks nothing
  // Words that break kBlockedWordRule are a programming error
  // (FORGE_CHECK): they are checked where they enter (ParseBlocklistWords).
  explicit Blocklist(const std::vector<std::string>& words);
  ~Blocklist();
  Blocklist(Blocklist&&) noexcept;
  Blocklist& operator=(Blocklist&&) noexcept;

  // The built-in list (keys/blocklist-default.txt).
  static const std::vector<std::string>& BuiltInWords();
  // The list a spec names.
  static Blocklist Of(const BlocklistSpec& spec);

  bool empty() const;
  std::size_t size() const;  // distinct words

  bool Blocks(std::string_view text) const;
  // A listed word `text` contains (see the contract), or nullopt.
  std::optional<std::string> Match(std::string_view text) const;

 private:
  struct Automaton;
  std::unique_ptr<const Automaton> automaton_;
};

}  // namespace forge::keys
