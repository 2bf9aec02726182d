// ctl/codec_command.cpp — see codec_command.h.
#include "ctl/codec_command.h"

#include <charconv>
#include <cstdint>
#include <iostream>
#include <memory>
#include <optional>

#include "base/names.h"
#include "base/status.h"
#include "ctl/store_access.h"
#include "ctl/text.h"
#include "keys/key_codec.h"

namespace forge::ctl {
namespace {

constexpr int kBadInput = 2;

int Fail(int code, const std::string& line) {
  std::cerr << "forge-ctl: " << line << "\n";
  return code;
}

// Ok when `key` is made of the alphabet, else one line saying why not.
Status CheckAlphabet(const std::string& key) {
  if (key.empty()) return Status::InvalidArgument("KEY is empty");
  const std::size_t bad = key.find_first_not_of(keys::kAlphabet);
  if (bad == std::string::npos) return Status();
  return Status::InvalidArgument("KEY " + JsonQuote(key) + " has " +
                                 JsonQuote(std::string(1, key[bad])) +
                                 " at position " + std::to_string(bad + 1) +
                                 "; allowed characters: 0-9 A-Z a-z");
}

// The value of a string of decimal digits; UINT64_MAX (outside every key
// space) when it has too many digits; nullopt when it is not digits.
std::optional<std::uint64_t> ParseDecimal(const std::string& text) {
  if (text.empty() || text.find_first_not_of("0123456789") != text.npos) {
    return std::nullopt;
  }
  std::uint64_t value = 0;
  const auto [ptr, ec] =
      std::from_chars(text.data(), text.data() + text.size(), value);
  return ec == std::errc() ? value : UINT64_MAX;
}

// "this store" for the default namespace, else "namespace \"x\"".
std::string Whose(const std::string& ns) {
  return ns == base::kDefaultNamespace ? "this store"
                                       : "namespace " + JsonQuote(ns);
}

std::string AllowedRange(const keys::KeyCodec& codec) {
  return "allowed: 0.." + std::to_string(codec.space() - 1) +
         " (KEY_LENGTH=" + std::to_string(codec.length()) + ")";
}

// The codec of namespace `ns` of the store (throws as OpenNamespaceStore).
keys::KeyCodec StoreCodec(const config::Config& cfg, const std::string& ns) {
  const NamespaceStore store = OpenNamespaceStore(cfg, ns);
  const store::StoreFormat& f = store.get().format();
  return keys::KeyCodec(f.key_length, f.order, f.secret);
}

// Prints the number of `key` (of the alphabet) in `codec`'s format.
int Decode(const keys::KeyCodec& codec, const std::string& ns,
           const std::string& key, std::ostream& out) {
  if (key.size() != static_cast<std::size_t>(codec.length())) {
    return Fail(kBadInput,
                "KEY " + JsonQuote(key) + " has " + std::to_string(key.size()) +
                    " characters; keys of " + Whose(ns) + " have " +
                    std::to_string(codec.length()) +
                    " (KEY_LENGTH=" + std::to_string(codec.length()) + ")");
  }
  const std::optional<std::uint64_t> n = codec.Decode(key);
  if (!n) return Fail(kBadInput, "KEY " + JsonQuote(key) + " is not a key");
  out << *n << "\n";
  return 0;
}

}  // namespace

int RunDecode(const config::Config& cfg, const std::string& ns,
              const std::string& key, std::ostream& out) {
  if (const Status s = CheckAlphabet(key); !s.ok()) {
    return Fail(kBadInput, s.message());
  }
  return WithStoreErrors([&] {
    const keys::KeyCodec codec = StoreCodec(cfg, ns);
    return Decode(codec, ns, key, out);
  });
}

int RunEncode(const config::Config& cfg, const std::string& ns,
              const std::string& number, std::ostream& out) {
  const std::optional<std::uint64_t> n = ParseDecimal(number);
  if (!n) {
    return Fail(kBadInput, "NUMBER " + JsonQuote(number) +
                               " is not a decimal number from 0 to " +
                               "62^KEY_LENGTH - 1");
  }
  return WithStoreErrors([&] {
    const keys::KeyCodec codec = StoreCodec(cfg, ns);
    if (*n >= codec.space()) {
      return Fail(kBadInput, "NUMBER " + number +
                                 " is outside the key space of " + Whose(ns) +
                                 "; " + AllowedRange(codec));
    }
    out << codec.Encode(*n) << "\n";
    return 0;
  });
}

}  // namespace forge::ctl
