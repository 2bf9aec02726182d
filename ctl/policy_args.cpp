// ctl/policy_args.cpp — see policy_args.h.
#include "ctl/policy_args.h"

#include "config/internal.h"
#include "ctl/store_access.h"
#include "stats/text.h"

namespace forge::ctl {
namespace {

[[noreturn]] void Bad(const std::string& option, const std::string& value,
                      const std::string& problem) {
  throw BadArgument(option + " " + stats::JsonQuote(value) + ": " + problem);
}

keys::Alphabet AlphabetOf(const std::string& spec) {
  std::string why;
  std::optional<keys::Alphabet> a = keys::Alphabet::Parse(spec, &why);
  if (!a)
    Bad("--alphabet", spec,
        why + "; allowed: " + std::string(keys::kAlphabetRule));
  return *a;
}

keys::CheckKind CheckOf(const std::string& text) {
  const std::optional<keys::CheckKind> kind = keys::ParseCheckKind(text);
  if (!kind) Bad("--check", text, "allowed: " + std::string(keys::kCheckRule));
  return *kind;
}

std::string PrefixOf(const std::string& text) {
  if (!text.empty() && !keys::IsKeyPrefix(text)) {
    Bad("--prefix", text, "allowed: " + std::string(keys::kPrefixRule));
  }
  return text;
}

}  // namespace

keys::KeyPolicy ParsePolicy(const PolicyOptions& options, int length) {
  keys::KeyPolicy policy;
  policy.alphabet = AlphabetOf(options.alphabet);
  policy.check = CheckOf(options.check);
  policy.prefix = PrefixOf(options.prefix);
  if (std::string why = keys::KeyLengthProblem(policy.alphabet, length);
      !why.empty()) {
    Bad("--key-length", std::to_string(length), why);
  }
  if (std::string why = keys::CheckProblem(policy.alphabet, policy.check);
      !why.empty()) {
    Bad("--check", options.check,
        why + " (--alphabet " + options.alphabet + ")");
  }
  return policy;
}

keys::BlocklistSpec ParseBlocklistArg(const std::string& text,
                                      const std::string& option) {
  if (text == "default") return {keys::BlocklistKind::kDefault, {}};
  if (text == "none") return {keys::BlocklistKind::kNone, {}};
  const config::internal::FileText file = config::internal::ReadFile(text);
  if (file.status != config::internal::FileText::Status::kOk) {
    const std::string why =
        file.status == config::internal::FileText::Status::kMissing
            ? "no such file"
            : "cannot be read (" + file.error + ")";
    Bad(option, text, why + "; allowed: " + std::string(keys::kBlocklistRule));
  }
  std::string why;
  std::optional<std::vector<std::string>> words =
      keys::ParseBlocklistWords(file.text, text, &why);
  if (!words) throw BadArgument(option + ": " + why);
  return {keys::BlocklistKind::kCustom, std::move(*words)};
}

void CheckPrefixAllowed(const std::string& prefix,
                        const keys::BlocklistSpec& list,
                        const std::string& option) {
  if (prefix.empty()) return;
  const std::optional<std::string> word =
      keys::Blocklist::Of(list).Match(prefix);
  if (!word) return;
  throw BadArgument("prefix " + stats::JsonQuote(prefix) + " contains " +
                    stats::JsonQuote(*word) + ", a word of blocklist " +
                    keys::DescribeBlocklist(list) + " (" + option +
                    "): every key would be blocked; choose another prefix "
                    "or list");
}

std::string BlocklistText(const keys::BlocklistSpec& list) {
  if (list.kind != keys::BlocklistKind::kDefault) {
    return keys::DescribeBlocklist(list);
  }
  return "default (" + std::to_string(keys::Blocklist::BuiltInWords().size()) +
         " words)";
}

}  // namespace forge::ctl
