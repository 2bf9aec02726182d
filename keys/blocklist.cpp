#include "keys/blocklist.h"

#include <algorithm>
#include <array>
#include <map>

#include "base/status.h"
#include "keys/builtin_blocklist.h"

namespace forge::keys {
namespace {

// How a person may read one byte of a key, before the list is known:
// letters 0..25 (case folded, look-alike digits folded in), kEither ('1',
// read as i or as l) and kOther (anything no word contains).
constexpr int kLetters = 26;
constexpr std::uint8_t kEither = kLetters;
constexpr std::uint8_t kOther = kLetters + 1;
constexpr int kReadings = kLetters + 2;

constexpr std::uint8_t Letter(char c) {
  return static_cast<std::uint8_t>(c - 'a');
}

constexpr std::array<std::uint8_t, 256> ReadingOfByte() {
  std::array<std::uint8_t, 256> reading{};
  reading.fill(kOther);
  for (char c = 'a'; c <= 'z'; ++c) {
    reading[static_cast<unsigned char>(c)] = Letter(c);
    reading[static_cast<unsigned char>(c - 'a' + 'A')] = Letter(c);
  }
  constexpr std::pair<char, char> kLookAlikes[] = {
      {'0', 'o'}, {'3', 'e'}, {'4', 'a'}, {'5', 's'}, {'7', 't'}, {'8', 'b'}};
  for (const auto& [digit, letter] : kLookAlikes) {
    reading[static_cast<unsigned char>(digit)] = Letter(letter);
  }
  reading['1'] = kEither;
  return reading;
}
constexpr std::array<std::uint8_t, 256> kReadingOfByte = ReadingOfByte();

// The letters a reading stands for.
std::vector<std::uint8_t> LettersOf(std::uint8_t reading) {
  if (reading < kLetters) return {reading};
  if (reading == kEither) return {Letter('i'), Letter('l')};
  return {};
}

bool IsWord(std::string_view word) {
  return word.size() >= kMinBlockedWord && word.size() <= kMaxBlockedWord &&
         std::all_of(word.begin(), word.end(),
                     [](char c) { return c >= 'a' && c <= 'z'; });
}

// `text` for a message: quoted, bytes outside printable ASCII as \xNN,
// cut after 40 characters.
std::string Quoted(std::string_view text) {
  constexpr std::size_t kMost = 40;
  std::string out = "\"";
  for (std::size_t i = 0; i < text.size() && i < kMost; ++i) {
    const auto u = static_cast<unsigned char>(text[i]);
    if (u >= 0x20 && u < 0x7f && u != '"' && u != '\\') {
      out += text[i];
    } else {
      constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[u >> 4];
      out += kHex[u & 15];
    }
  }
  if (text.size() > kMost) out += "...";
  return out + "\"";
}

// "" when `line` (trimmed, lower-cased) is a word, else what is wrong.
std::string WordProblem(std::string_view line) {
  if (line.size() < kMinBlockedWord) return " is too short";
  if (line.size() > kMaxBlockedWord) {
    return " is " + std::to_string(line.size()) + " characters long";
  }
  for (const char c : line) {
    if (c < 'a' || c > 'z') return " has " + Quoted(std::string_view(&c, 1));
  }
  return "";
}

std::string_view Trimmed(std::string_view s) {
  constexpr std::string_view kBlanks = " \t\r\f\v";
  const std::size_t first = s.find_first_not_of(kBlanks);
  if (first == std::string_view::npos) return {};
  return s.substr(first, s.find_last_not_of(kBlanks) - first + 1);
}

}  // namespace

// The list compiled to a DFA over "columns": the readings the list can
// tell apart (letters its words use, '1' when they use i or l, and one
// column for everything else). Rows are stored premultiplied by the
// column count, so a step is one load: row = next[row + column[byte]].
// A row at or after first_match is absorbing: the text read so far
// contains a listed word (match_words says which).
struct Blocklist::Automaton {
  std::vector<std::string> words;
  std::array<std::uint8_t, 256> column{};
  std::vector<std::uint32_t> next;
  std::uint32_t first_match = 0;
  std::uint32_t columns = 0;
  std::vector<std::uint32_t> match_words;  // per absorbing row: the word

  // The row after reading `text` from the start. No allocation.
  std::uint32_t Read(std::string_view text) const {
    const std::uint32_t* step = next.data();
    std::uint32_t row = 0;
    for (const char c : text) {
      row = step[row + column[static_cast<unsigned char>(c)]];
    }
    return row;
  }
};

namespace {

// A trie of the words over letters; node 0 is the root.
struct Trie {
  struct Node {
    std::array<std::int32_t, kLetters> child;
    std::int32_t word = -1;  // index of the word ending here
    std::uint32_t depth = 0;
  };
  std::vector<Node> nodes;

  explicit Trie(const std::vector<std::string>& words) {
    nodes.push_back(Node{});
    nodes[0].child.fill(-1);
    for (std::size_t w = 0; w < words.size(); ++w) {
      std::int32_t at = 0;
      for (const char c : words[w]) {
        std::int32_t& slot = nodes[at].child[Letter(c)];
        if (slot < 0) {
          slot = static_cast<std::int32_t>(nodes.size());
          Node fresh;
          fresh.child.fill(-1);
          fresh.depth = nodes[at].depth + 1;
          nodes.push_back(fresh);  // may move nodes: `slot` is dead now
        }
        at = nodes[at].child[Letter(c)];
      }
      nodes[at].word = static_cast<std::int32_t>(w);
    }
  }
};

// Subset construction over the trie read as an NFA for "anything, then a
// word": a DFA state is the set of trie nodes (the root always, left
// implicit) whose word prefix the text read so far ends with, where '1'
// matches i and l alike. Reaching a word's end goes to that word's
// absorbing match state. Expanding each word into its i/l -> '1' variants
// instead would be exponential in a word's i and l letters; the subset
// states never outnumber those variants' trie nodes and stay few.
class DfaBuilder {
 public:
  using NodeSet = std::vector<std::int32_t>;  // sorted, root left out
  static constexpr std::uint32_t kMatchBit = 0x8000'0000U;

  explicit DfaBuilder(const Trie& trie) : trie_(trie) {}

  // The state after state `from` reads `reading`: a state, or
  // kMatchBit | word when a word ends there (the longest one).
  std::uint32_t Step(std::uint32_t from, std::uint8_t reading) {
    NodeSet to;
    std::int32_t word = -1;
    std::uint32_t word_depth = 0;
    const auto visit = [&](std::int32_t node) {
      for (const std::uint8_t letter : LettersOf(reading)) {
        const std::int32_t child = trie_.nodes[node].child[letter];
        if (child < 0) continue;
        to.push_back(child);
        const Trie::Node& reached = trie_.nodes[child];
        if (reached.word >= 0 && reached.depth > word_depth) {
          word = reached.word;
          word_depth = reached.depth;
        }
      }
    };
    visit(0);
    for (const std::int32_t node : sets_[from]) visit(node);
    if (word >= 0) return kMatchBit | static_cast<std::uint32_t>(word);
    std::sort(to.begin(), to.end());
    to.erase(std::unique(to.begin(), to.end()), to.end());
    const auto [it, fresh] =
        ids_.try_emplace(to, static_cast<std::uint32_t>(sets_.size()));
    if (fresh) sets_.push_back(std::move(to));
    return it->second;
  }

  std::uint32_t StartState() {
    sets_.emplace_back();
    ids_.emplace(NodeSet{}, 0);
    return 0;
  }
  std::size_t size() const { return sets_.size(); }

 private:
  const Trie& trie_;
  std::vector<NodeSet> sets_;
  std::map<NodeSet, std::uint32_t> ids_;
};

}  // namespace

std::string DescribeBlocklist(const BlocklistSpec& spec) {
  switch (spec.kind) {
    case BlocklistKind::kNone:
      return "none";
    case BlocklistKind::kDefault:
      return "default";
    case BlocklistKind::kCustom:
      return "custom (" + std::to_string(spec.words.size()) + " words)";
  }
  return "none";
}

std::optional<std::vector<std::string>> ParseBlocklistWords(
    std::string_view text, const std::string& where, std::string* why) {
  std::vector<std::string> words;
  std::size_t line_number = 0;
  while (!text.empty()) {
    const std::size_t end = std::min(text.find('\n'), text.size());
    const std::string_view line = Trimmed(text.substr(0, end));
    text.remove_prefix(std::min(end + 1, text.size()));
    ++line_number;
    if (line.empty() || line.front() == '#') continue;
    std::string word(line);
    for (char& c : word) {
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    const std::string problem = WordProblem(word);
    if (!problem.empty()) {
      *why = where + ":" + std::to_string(line_number) + ": " + Quoted(line) +
             problem + "; a blocked word is " + std::string(kBlockedWordRule);
      return std::nullopt;
    }
    words.push_back(std::move(word));
  }
  if (words.empty()) {
    *why = where + ": has no words (to block nothing use none); a blocked " +
           "word is " + std::string(kBlockedWordRule);
    return std::nullopt;
  }
  std::sort(words.begin(), words.end());
  words.erase(std::unique(words.begin(), words.end()), words.end());
  return words;
}

Blocklist::Blocklist() = default;
Blocklist::~Blocklist() = default;
Blocklist::Blocklist(Blocklist&&) noexcept = default;
Blocklist& Blocklist::operator=(Blocklist&&) noexcept = default;

Blocklist::Blocklist(const std::vector<std::string>& words) {
  if (words.empty()) return;
  auto a = std::make_unique<Automaton>();
  a->words = words;
  std::sort(a->words.begin(), a->words.end());
  a->words.erase(std::unique(a->words.begin(), a->words.end()), a->words.end());
  for (const std::string& word : a->words) {
    FORGE_CHECK(IsWord(word), Quoted(word) + " is not a blocked word (" +
                                  std::string(kBlockedWordRule) + ")");
  }

  // Columns: one per reading the words can tell apart, 0 for the rest.
  std::array<bool, kLetters> used{};
  for (const std::string& word : a->words) {
    for (const char c : word) used[Letter(c)] = true;
  }
  std::array<std::uint8_t, kReadings> column_of{};  // kOther -> 0
  std::array<std::uint8_t, kReadings> reading_of{};
  reading_of[0] = kOther;
  a->columns = 1;
  for (std::uint8_t r = 0; r < kReadings; ++r) {
    const std::vector<std::uint8_t> letters = LettersOf(r);
    if (std::none_of(letters.begin(), letters.end(),
                     [&](std::uint8_t l) { return used[l]; })) {
      continue;
    }
    column_of[r] = static_cast<std::uint8_t>(a->columns);
    reading_of[a->columns++] = r;
  }
  for (std::size_t b = 0; b < 256; ++b) {
    a->column[b] = column_of[kReadingOfByte[b]];
  }

  // Breadth-first over the reachable states; match targets are patched to
  // absorbing rows after the last ordinary one once all are known.
  const Trie trie(a->words);
  DfaBuilder dfa(trie);
  std::vector<std::uint32_t> target;  // per state and column
  for (std::uint32_t s = dfa.StartState(); s < dfa.size(); ++s) {
    for (std::uint32_t c = 0; c < a->columns; ++c) {
      target.push_back(dfa.Step(s, reading_of[c]));
    }
  }
  const auto ordinary = static_cast<std::uint32_t>(dfa.size());
  std::map<std::uint32_t, std::uint32_t> match_state;  // word -> state
  for (std::uint32_t& t : target) {
    if ((t & DfaBuilder::kMatchBit) == 0) continue;
    const std::uint32_t word = t & ~DfaBuilder::kMatchBit;
    const auto [it, fresh] = match_state.try_emplace(
        word, ordinary + static_cast<std::uint32_t>(match_state.size()));
    if (fresh) a->match_words.push_back(word);
    t = it->second;
  }
  const std::size_t states = ordinary + a->match_words.size();
  FORGE_CHECK(states * a->columns <= DfaBuilder::kMatchBit,
              "a blocklist of " + std::to_string(a->words.size()) +
                  " words needs more automaton rows than 32 bits count");
  a->first_match = ordinary * a->columns;
  a->next.resize(states * a->columns);
  for (std::size_t i = 0; i < target.size(); ++i) {
    a->next[i] = target[i] * a->columns;
  }
  for (std::size_t s = ordinary; s < states; ++s) {
    for (std::uint32_t c = 0; c < a->columns; ++c) {
      a->next[s * a->columns + c] = static_cast<std::uint32_t>(s) * a->columns;
    }
  }
  automaton_ = std::move(a);
}

const std::vector<std::string>& Blocklist::BuiltInWords() {
  static const std::vector<std::string> words = [] {
    std::string why;
    auto parsed =
        ParseBlocklistWords(kBuiltInBlocklistText, kBuiltInBlocklistFile, &why);
    FORGE_CHECK(parsed.has_value(), why);
    return *std::move(parsed);
  }();
  return words;
}

Blocklist Blocklist::Of(const BlocklistSpec& spec) {
  if (spec.kind == BlocklistKind::kCustom) return Blocklist(spec.words);
  if (spec.kind == BlocklistKind::kDefault) return Blocklist(BuiltInWords());
  return Blocklist();
}

bool Blocklist::empty() const { return automaton_ == nullptr; }

std::size_t Blocklist::size() const {
  return automaton_ ? automaton_->words.size() : 0;
}

bool Blocklist::Blocks(std::string_view text) const {
  return automaton_ && automaton_->Read(text) >= automaton_->first_match;
}

std::optional<std::string> Blocklist::Match(std::string_view text) const {
  if (!automaton_) return std::nullopt;
  const Automaton& a = *automaton_;
  const std::uint32_t row = a.Read(text);
  if (row < a.first_match) return std::nullopt;
  return a.words[a.match_words[(row - a.first_match) / a.columns]];
}

}  // namespace forge::keys
