// Loader: registers the flags on a CLI::App and resolves every key from
// its layers (flag > environment > .env > config.yml > default).
#include <CLI/CLI.hpp>
#include <algorithm>
#include <exception>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "base/status.h"
#include "config/config.h"  // implements Loader
#include "config/dotenv.h"
#include "config/internal.h"
#include "config/keys.h"
#include "config/namespaces.h"
#include "config/yaml_file.h"

namespace forge::config {

using internal::DotEnv;
using internal::KeySpec;
using internal::Raw;
using internal::YamlFile;

struct Loader::Flags {
  std::map<std::string, std::string> values;    // by env name
  std::map<std::string, CLI::Option*> options;  // by env name
};

namespace {

constexpr const char* kConfigPath = "CONFIG_PATH";
constexpr const char* kConfigFlag = "--config";
constexpr const char* kDefaultYml = "config/config.yml";
constexpr const char* kYmlAllowed = "the path of a readable config.yml";

// The values of one key in precedence order, highest first; config.yml
// is skipped when `yml_key` is empty.
struct Layers {
  const std::map<std::string, std::string>& flags;  // given on the command line
  const Environment& env;
  const DotEnv& dotenv;
  const YamlFile& yml;

  std::vector<Raw> Of(const std::string& env_name, const std::string& flag,
                      const std::string& yml_key) const {
    std::vector<Raw> out;
    if (auto it = flags.find(env_name); it != flags.end()) {
      out.push_back(
          {it->second, std::string(SourceName(Source::kFlag)) + " " + flag});
    }
    if (auto it = env.vars.find(env_name); it != env.vars.end()) {
      out.push_back({it->second, SourceName(Source::kEnv)});
    }
    if (auto it = dotenv.entries.find(env_name); it != dotenv.entries.end()) {
      out.push_back({it->second.value, dotenv.Origin(it->second.line)});
    }
    if (auto it = yml.entries.find(yml_key);
        !yml_key.empty() && it != yml.entries.end()) {
      out.push_back({it->second.value, yml.Origin(it->second.line)});
    }
    return out;
  }
};

std::string HelpText(const KeySpec& key) {
  return key.help + " [env " + key.env + "; default " + key.default_text +
         "; " + key.allowed + "]";
}

// Every layer is checked, so a bad value is reported even when a higher
// layer overrides it; the highest layer's value is the one kept (and
// returned; nullopt when the default stays).
std::optional<Raw> Resolve(const KeySpec& key, const std::vector<Raw>& layers,
                           Config& cfg) {
  Config scratch;
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const Raw& raw = layers[i];
    const Status s = key.apply(raw.value, i == 0 ? cfg : scratch);
    if (!s.ok()) {
      internal::FailValue(key.env, key.mask ? key.mask(raw.value) : raw.value,
                          raw.origin, s.message(), key.allowed);
    }
  }
  if (layers.empty()) return std::nullopt;
  return layers.front();
}

// RANGE_SIZE fixed leaves nothing for MIN/MAX to bound; MIN <= MAX.
void CheckRangeSizes(const Config& cfg,
                     const std::map<std::string, Raw>& chosen) {
  if (cfg.range_size != Config::kAutoRangeSize) {
    for (const char* bound : {"RANGE_SIZE_MIN", "RANGE_SIZE_MAX"}) {
      if (!chosen.contains(bound)) continue;
      const Raw& raw = chosen.at(bound);
      internal::FailValue(
          bound, raw.value, raw.origin,
          "bounds the automatic range size, but RANGE_SIZE=" +
              chosen.at("RANGE_SIZE").value + " (from " +
              chosen.at("RANGE_SIZE").origin + ") fixes it",
          "RANGE_SIZE_MIN/RANGE_SIZE_MAX only with RANGE_SIZE unset or auto");
    }
  }
  if (cfg.range_size_min > cfg.range_size_max) {
    const bool min_set = chosen.contains("RANGE_SIZE_MIN");
    const char* key = min_set ? "RANGE_SIZE_MIN" : "RANGE_SIZE_MAX";
    const Raw& raw = chosen.at(key);
    internal::FailValue(
        key, raw.value, raw.origin,
        "leaves no size: RANGE_SIZE_MIN " + std::to_string(cfg.range_size_min) +
            " is above RANGE_SIZE_MAX " + std::to_string(cfg.range_size_max),
        "RANGE_SIZE_MIN <= RANGE_SIZE_MAX");
  }
}

// Rules between keys, once each key is valid on its own. `chosen` holds
// the winning raw value of every key that is not at its default.
void CheckCombination(const Config& cfg,
                      const std::map<std::string, Raw>& chosen) {
  CheckRangeSizes(cfg, chosen);
  if (cfg.auth_protect_all && cfg.auth_token.empty()) {
    const Raw& raw = chosen.at("AUTH_PROTECT_ALL");
    internal::FailValue(
        "AUTH_PROTECT_ALL", raw.value, raw.origin,
        "needs AUTH_TOKEN, which is not set: nothing would be protected",
        "AUTH_PROTECT_ALL=true together with an AUTH_TOKEN, or "
        "AUTH_PROTECT_ALL=false");
  }
}

const KeySpec& KeyNamed(std::string_view env_name) {
  for (const KeySpec& key : internal::Keys()) {
    if (key.env == env_name) return key;
  }
  FORGE_CHECK(false, "no config key " + std::string(env_name));
}

// The LOG_FORMAT `value` asks for, by the key's own rule; nullopt when
// it is not a valid value.
std::optional<LogFormat> LogFormatOf(const std::string& value) {
  Config scratch;
  if (!KeyNamed("LOG_FORMAT").apply(value, scratch).ok()) return std::nullopt;
  return scratch.log_format;
}

// .env read for RequestedLogFormat: a file with a bad line still gives
// its good lines (each line is parsed on its own), the first one wins.
DotEnv LenientDotEnv(const std::string& path) {
  const internal::FileText file = internal::ReadFile(path);
  if (file.status != internal::FileText::Status::kOk) return DotEnv{path, {}};
  try {
    return internal::ParseDotEnv(file.text, path);
  } catch (const ConfigError&) {
  }
  DotEnv env{path, {}};
  const std::string_view text = internal::StripBom(file.text);
  for (std::size_t start = 0; start < text.size();) {
    const auto end = std::min(text.find('\n', start), text.size());
    try {
      for (auto& [name, entry] :
           internal::ParseDotEnv(text.substr(start, end - start), path)
               .entries) {
        env.entries.emplace(name, std::move(entry));
      }
    } catch (const ConfigError&) {
    }
    start = end + 1;
  }
  return env;
}

struct YmlText {
  std::string path;  // "" when there is no config.yml
  std::string text;
};

// An explicitly named file must exist; the default one may be absent.
YmlText FindConfigYml(const std::vector<Raw>& layers, const std::string& cwd) {
  for (const Raw& raw : layers) {
    if (raw.value.empty()) {
      internal::FailValue(kConfigPath, raw.value, raw.origin, "is empty",
                          kYmlAllowed);
    }
  }
  const bool named = !layers.empty();
  const std::string path =
      internal::JoinPath(cwd, named ? layers.front().value : kDefaultYml);
  internal::FileText file = internal::ReadFile(path);
  using Status = internal::FileText::Status;
  if (file.status == Status::kOk) return {path, std::move(file.text)};
  if (file.status == Status::kMissing && !named) return {};
  const std::string shown = named ? layers.front().value : kDefaultYml;
  const std::string origin =
      named ? layers.front().origin : SourceName(Source::kDefault);
  const std::string problem =
      file.status == Status::kMissing
          ? "names a file that does not exist (" + path + ")"
          : "cannot be read (" + path + ": " + file.error + ")";
  internal::FailValue(kConfigPath, shown, origin, problem, kYmlAllowed);
}

internal::Lookup MakeLookup(const Environment& env, const DotEnv& dotenv) {
  return
      [&env, &dotenv](const std::string& name) -> std::optional<std::string> {
        if (auto it = env.vars.find(name); it != env.vars.end())
          return it->second;
        if (auto it = dotenv.entries.find(name); it != dotenv.entries.end()) {
          return it->second.value;
        }
        return std::nullopt;
      };
}

}  // namespace

Loader::Loader(CLI::App& app) : flags_(std::make_unique<Flags>()) {
  app.fallthrough();  // subcommands added later inherit it
  auto add = [&](const std::string& env, const std::string& flag,
                 const std::string& help, const std::string& type) {
    std::string& value = flags_->values[env];
    CLI::Option* option = type.empty() ? app.add_flag(flag, value, help)
                                       : app.add_option(flag, value, help);
    if (!type.empty()) option->type_name(type);
    flags_->options[env] = option;
  };
  for (const KeySpec& key : internal::Keys()) {
    add(key.env, key.flag, HelpText(key), key.is_switch ? "" : key.type);
  }
  add(kConfigPath, kConfigFlag,
      "config.yml to read [env CONFIG_PATH; default ./config/config.yml if "
      "it exists]",
      "PATH");
}

Loader::~Loader() = default;

std::map<std::string, std::string> Loader::Given() const {
  std::map<std::string, std::string> given;
  for (const auto& [name, option] : flags_->options) {
    if (option->count() > 0) given[name] = flags_->values.at(name);
  }
  return given;
}

LogFormat Loader::RequestedLogFormat(const Environment& env) const {
  try {
    const std::map<std::string, std::string> given = Given();
    const DotEnv dotenv = LenientDotEnv(internal::JoinPath(env.cwd, ".env"));
    const YamlFile no_yml;
    const Layers first{given, env, dotenv, no_yml};
    for (const Raw& raw : first.Of("LOG_FORMAT", "", "")) {
      if (auto format = LogFormatOf(raw.value)) return *format;
    }
    const std::vector<Raw> paths = first.Of(kConfigPath, "", "");
    const std::string path = internal::JoinPath(
        env.cwd, paths.empty() ? kDefaultYml : paths.front().value);
    const internal::FileText file = internal::ReadFile(path);
    if (file.status != internal::FileText::Status::kOk) return LogFormat::kText;
    const auto value = internal::PeekValue(
        file.text, KeyNamed("LOG_FORMAT").yml, MakeLookup(env, dotenv));
    if (auto format = value ? LogFormatOf(*value) : std::nullopt) {
      return *format;
    }
  } catch (const std::exception&) {
    // Best effort: the error line is then plain text.
  }
  return LogFormat::kText;
}

Config Loader::Load(const Environment& env) const {
  const std::map<std::string, std::string> given = Given();
  const DotEnv dotenv =
      internal::ReadDotEnv(internal::JoinPath(env.cwd, ".env"));
  YamlFile no_yml;
  const Layers first{given, env, dotenv, no_yml};
  const YmlText yml_text =
      FindConfigYml(first.Of(kConfigPath, kConfigFlag, ""), env.cwd);
  const YamlFile yml = yml_text.path.empty() ? YamlFile{}
                                             : internal::ParseYamlFile(
                                                   yml_text.text, yml_text.path,
                                                   MakeLookup(env, dotenv));
  const Layers layers{given, env, dotenv, yml};
  Config cfg;
  std::map<std::string, Raw> chosen;
  for (const KeySpec& key : internal::Keys()) {
    if (auto raw = Resolve(key, layers.Of(key.env, key.flag, key.yml), cfg)) {
      chosen.emplace(key.env, std::move(*raw));
    }
  }
  CheckCombination(cfg, chosen);
  cfg.namespaces = internal::DeclaredNamespaces(yml);
  if (!cfg.auth_tokens_file.empty()) {
    cfg.scoped_tokens = internal::ReadScopedTokens(
        cfg.auth_tokens_file, chosen.at("AUTH_TOKENS_FILE").origin, env.cwd,
        cfg.auth_token);
  }
  if (cfg.workers == 0) cfg.workers = internal::CpuCount();
  cfg.config_path = yml_text.path;
  return cfg;
}

}  // namespace forge::config
