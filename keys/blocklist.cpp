// STUB: the blocklist helper replaces this file (see /work/wt/POL-SPEC.md).
#include "keys/blocklist.h"

namespace forge::keys {

struct Blocklist::Automaton {
  std::vector<std::string> words;
};

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
    std::string_view /*text*/, const std::string& where, std::string* why) {
  *why = where + ": not implemented yet";
  return std::nullopt;
}

Blocklist::Blocklist() = default;
Blocklist::Blocklist(const std::vector<std::string>& words)
    : automaton_(std::make_unique<Automaton>(Automaton{words})) {}
Blocklist::~Blocklist() = default;
Blocklist::Blocklist(Blocklist&&) noexcept = default;
Blocklist& Blocklist::operator=(Blocklist&&) noexcept = default;

const std::vector<std::string>& Blocklist::BuiltInWords() {
  static const std::vector<std::string> words;
  return words;
}

Blocklist Blocklist::Of(const BlocklistSpec& spec) {
  if (spec.kind == BlocklistKind::kCustom) return Blocklist(spec.words);
  if (spec.kind == BlocklistKind::kDefault) return Blocklist(BuiltInWords());
  return Blocklist();
}

bool Blocklist::empty() const { return size() == 0; }
std::size_t Blocklist::size() const {
  return automaton_ ? automaton_->words.size() : 0;
}
bool Blocklist::Blocks(std::string_view text) const {
  return Match(text).has_value();
}
std::optional<std::string> Blocklist::Match(std::string_view /*text*/) const {
  return std::nullopt;
}

}  // namespace forge::keys
