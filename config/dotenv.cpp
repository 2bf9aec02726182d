#include "config/dotenv.h"

#include <algorithm>
#include <utility>

#include "config/internal.h"

namespace forge::config::internal {
namespace {

constexpr std::string_view kAllowed =
    "KEY=VALUE lines (KEY of letters, digits and _, not starting with a "
    "digit), # comments, blank lines, an optional \"export \" and 'single' "
    "or \"double\" quotes";

// Thrown up to ParseDotEnv, which adds file:line.
struct Malformed {
  std::string what;
};

// After a closing quote only blanks or a # comment may follow.
void CheckTail(std::string_view tail) {
  tail = Trim(tail);
  if (!tail.empty() && tail.front() != '#') {
    throw Malformed{"text " + Quote(tail) + " after the closing quote"};
  }
}

std::string SingleQuoted(std::string_view v) {
  const auto close = v.find('\'', 1);
  if (close == std::string_view::npos) throw Malformed{"unterminated ' quote"};
  CheckTail(v.substr(close + 1));
  return std::string(v.substr(1, close - 1));
}

char Unescape(char c) {
  switch (c) {
    case 'n':
      return '\n';
    case 't':
      return '\t';
    case 'r':
      return '\r';
    default:
      return c;  // \" and \\ (and any other \x) give the char itself
  }
}

std::string DoubleQuoted(std::string_view v) {
  std::string out;
  for (std::size_t i = 1; i < v.size(); ++i) {
    if (v[i] == '"') {
      CheckTail(v.substr(i + 1));
      return out;
    }
    if (v[i] == '\\' && i + 1 < v.size()) {
      out += Unescape(v[++i]);
    } else {
      out += v[i];
    }
  }
  throw Malformed{"unterminated \" quote"};
}

std::string Bare(std::string_view v) {
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (v[i] == '#' && (i == 0 || v[i - 1] == ' ' || v[i - 1] == '\t')) {
      return std::string(Trim(v.substr(0, i)));
    }
  }
  return std::string(Trim(v));
}

std::string ParseValue(std::string_view v) {
  v = Trim(v);
  if (v.empty()) return {};
  if (v.front() == '\'') return SingleQuoted(v);
  if (v.front() == '"') return DoubleQuoted(v);
  return Bare(v);
}

// Returns false for a blank or comment line.
bool ParseLine(std::string_view line, std::string* key, std::string* value) {
  line = Trim(line);
  if (line.empty() || line.front() == '#') return false;
  if (line.starts_with("export ")) line = Trim(line.substr(7));
  const auto eq = line.find('=');
  if (eq == std::string_view::npos) {
    throw Malformed{"no '=' in " + Quote(line)};
  }
  const std::string_view name = Trim(line.substr(0, eq));
  if (!IsVarName(name)) {
    throw Malformed{"bad variable name " + Quote(name)};
  }
  *key = std::string(name);
  *value = ParseValue(line.substr(eq + 1));
  return true;
}

}  // namespace

std::string DotEnv::Origin(int line) const {
  return ".env " + path + ":" + std::to_string(line);
}

DotEnv ParseDotEnv(std::string_view text, const std::string& path) {
  DotEnv env;
  env.path = path;
  text = StripBom(text);
  int line_no = 0;
  for (std::size_t start = 0; start <= text.size();) {
    const auto end = std::min(text.find('\n', start), text.size());
    ++line_no;
    std::string key, value;
    try {
      if (ParseLine(text.substr(start, end - start), &key, &value)) {
        const auto [it, fresh] =
            env.entries.emplace(key, DotEnv::Entry{value, line_no});
        if (!fresh) {
          throw Malformed{key + " is set again (first on line " +
                          std::to_string(it->second.line) + ")"};
        }
      }
    } catch (const Malformed& m) {
      FailAt(env.Origin(line_no), "malformed line (" + m.what + ")", kAllowed);
    }
    start = end + 1;
  }
  return env;
}

DotEnv ReadDotEnv(const std::string& path) {
  const FileText file = ReadFile(path);
  switch (file.status) {
    case FileText::Status::kOk:
      return ParseDotEnv(file.text, path);
    case FileText::Status::kMissing:
      return DotEnv{path, {}};
    case FileText::Status::kError:
      break;
  }
  FailAt(".env " + path, "cannot be read (" + file.error + ")",
         "a readable file of " + std::string(kAllowed));
}

}  // namespace forge::config::internal
