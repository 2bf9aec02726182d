// ctl/codec_command.cpp — see codec_command.h.
#include "ctl/codec_command.h"

#include <cstdint>
#include <iostream>
#include <memory>
#include <optional>

#include "base/names.h"
#include "ctl/policy_args.h"
#include "ctl/store_access.h"
#include "keys/blocklist.h"
#include "keys/key_codec.h"
#include "stats/text.h"
#include "store/format.h"

namespace forge::ctl {
namespace {

constexpr int kBadInput = 2;

int Fail(int code, const std::string& line) {
  std::cerr << "forge-ctl: " << line << "\n";
  return code;
}

// "this store" for the default namespace, else "namespace \"x\"".
std::string Whose(const std::string& ns) {
  return ns == base::kDefaultNamespace ? "this store"
                                       : "namespace " + stats::JsonQuote(ns);
}

// "KEY_LENGTH=7", with the alphabet when it is not base62.
std::string LengthText(const keys::KeyCodec& codec) {
  const keys::Alphabet& a = codec.policy().alphabet;
  return "KEY_LENGTH=" + std::to_string(codec.length()) +
         (a == keys::Alphabet() ? "" : ", alphabet " + a.spec());
}

std::string AllowedRange(const keys::KeyCodec& codec) {
  return "allowed: 0.." + std::to_string(codec.space() - 1) + " (" +
         LengthText(codec) + ")";
}

// A namespace's keys as the store describes them: codec and blocklist.
struct NamespaceKeys {
  keys::KeyCodec codec;
  keys::BlocklistSpec blocklist;
};

// Throws as OpenNamespaceStore.
NamespaceKeys StoreKeys(const config::Config& cfg, const std::string& ns) {
  const NamespaceStore store = OpenNamespaceStore(cfg, ns);
  return {store::CodecOf(store.get().format()), store.get().ReadBlocklist()};
}

// "(prefix "inv_", KEY_LENGTH=7, a check character)" and, with a prefix,
// the length without it.
std::string TextLengthText(const keys::KeyCodec& codec) {
  const keys::KeyPolicy& p = codec.policy();
  std::string parts = LengthText(codec);
  if (!p.prefix.empty())
    parts = "prefix " + stats::JsonQuote(p.prefix) + ", " + parts;
  if (p.check != keys::CheckKind::kNone) parts += ", a check character";
  std::string text = std::to_string(codec.text_length()) + " (" + parts + ")";
  if (!p.prefix.empty()) {
    text += ", or " + std::to_string(codec.text_length() - p.prefix.size()) +
            " without the prefix";
  }
  return text;
}

// One line saying why `key` is not a key of `codec` ("" when it is one).
std::string KeyProblem(const keys::KeyCodec& codec, const std::string& ns,
                       const std::string& key) {
  const std::string& prefix = codec.policy().prefix;
  const std::string quoted = "KEY " + stats::JsonQuote(key);
  std::size_t start = 0;  // where the digits start
  if (key.size() == codec.text_length()) {
    if (!key.starts_with(prefix)) {
      return quoted + " does not start with the prefix " +
             stats::JsonQuote(prefix) + " of " + Whose(ns);
    }
    start = prefix.size();
  } else if (prefix.empty() ||
             key.size() != codec.text_length() - prefix.size()) {
    return quoted + " has " + std::to_string(key.size()) +
           " characters; keys of " + Whose(ns) + " have " +
           TextLengthText(codec);
  }
  const keys::Alphabet& a = codec.policy().alphabet;
  for (std::size_t i = start; i < key.size(); ++i) {
    if (a.Digit(key[i]) >= 0) continue;
    return quoted + " has " + stats::JsonQuote(std::string(1, key[i])) +
           " at position " + std::to_string(i + 1) +
           "; allowed characters: " + std::string(a.chars()) + " (" + a.spec() +
           ")";
  }
  if (!codec.Check(key).check_ok) {
    return quoted + " has the wrong check character (" +
           std::string(keys::CheckKindName(codec.policy().check)) +
           "): a character was mistyped or swapped, or it is not a key of " +
           Whose(ns);
  }
  return "";
}

// "blocked: contains \"word\" (blocklist default (312 words)); …" when
// the namespace's current blocklist would block the key of `n`.
void SayIfBlocked(const NamespaceKeys& k, std::uint64_t n, std::ostream& out) {
  const std::optional<std::string> word =
      keys::Blocklist::Of(k.blocklist).Match(k.codec.Encode(n));
  if (!word) return;
  out << "blocked: contains " << stats::JsonQuote(*word) << " (blocklist "
      << BlocklistText(k.blocklist) << "): a broker never issues this key\n";
}

}  // namespace

int RunDecode(const config::Config& cfg, const std::string& ns,
              const std::string& key, std::ostream& out) {
  if (key.empty()) return Fail(kBadInput, "KEY is empty");
  return WithStoreErrors([&] {
    const NamespaceKeys k = StoreKeys(cfg, ns);
    if (std::string why = KeyProblem(k.codec, ns, key); !why.empty()) {
      return Fail(kBadInput, why);
    }
    const std::optional<std::uint64_t> n = k.codec.Decode(key);
    if (!n)
      return Fail(kBadInput, "KEY " + stats::JsonQuote(key) + " is not a key");
    out << *n << "\n";
    SayIfBlocked(k, *n, out);
    return 0;
  });
}

int RunEncode(const config::Config& cfg, const std::string& ns,
              const std::string& number, std::ostream& out) {
  const std::optional<std::uint64_t> n = stats::ParseDecimal(number);
  if (!n) {
    return Fail(kBadInput, "NUMBER " + stats::JsonQuote(number) +
                               " is not a decimal number from 0 to the key "
                               "space's size - 1");
  }
  return WithStoreErrors([&] {
    const NamespaceKeys k = StoreKeys(cfg, ns);
    if (*n >= k.codec.space()) {
      return Fail(kBadInput, "NUMBER " + number +
                                 " is outside the key space of " + Whose(ns) +
                                 "; " + AllowedRange(k.codec));
    }
    out << k.codec.Encode(*n) << "\n";
    SayIfBlocked(k, *n, out);
    return 0;
  });
}

}  // namespace forge::ctl
