#include "config/internal.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "config/config.h"

namespace forge::config::internal {
namespace {

constexpr std::size_t kMaxShown = 120;
// ReadFile stops there: a config file is a few KiB; a device or a runaway
// file must give an error, not exhaust memory.
constexpr std::size_t kMaxFileBytes = 1 << 20;
constexpr std::string_view kBom = "\xEF\xBB\xBF";

bool IsAlpha(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}
void AppendEscaped(char c, std::string& out) {
  switch (c) {
    case '"':
      out += "\\\"";
      return;
    case '\\':
      out += "\\\\";
      return;
    case '\n':
      out += "\\n";
      return;
    case '\t':
      out += "\\t";
      return;
    case '\r':
      out += "\\r";
      return;
    default:
      break;
  }
  const auto byte = static_cast<unsigned char>(c);
  if (byte < 0x20 || byte == 0x7f) {
    char hex[8];
    std::snprintf(hex, sizeof hex, "\\x%02x", byte);
    out += hex;
  } else {
    out += c;
  }
}

// Cuts at most kMaxShown bytes without splitting a UTF-8 sequence.
std::size_t ShownLength(std::string_view value) {
  if (value.size() <= kMaxShown) return value.size();
  std::size_t n = kMaxShown;
  while (n > 0 && (static_cast<unsigned char>(value[n]) & 0xC0) == 0x80) --n;
  return n;
}

const char* FileTypeName(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  return "a special file";
}

// Reads a regular file whole, up to kMaxFileBytes.
void ReadAll(int fd, FileText& result) {
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n > 0) {
      result.text.append(buf, static_cast<std::size_t>(n));
      if (result.text.size() > kMaxFileBytes) {
        result.status = FileText::Status::kError;
        result.error = "longer than " + std::to_string(kMaxFileBytes) +
                       " bytes, which no config file needs";
        result.text.clear();
        return;
      }
    } else if (n == 0) {
      result.status = FileText::Status::kOk;
      return;
    } else if (errno != EINTR) {
      result.status = FileText::Status::kError;
      result.error = std::strerror(errno);
      return;
    }
  }
}

}  // namespace

FileText ReadFile(const std::string& path) {
  FileText result;
  // O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused
  // below like any other file that is not a regular one.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    result.status =
        errno == ENOENT ? FileText::Status::kMissing : FileText::Status::kError;
    result.error = std::strerror(errno);
    return result;
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    result.status = FileText::Status::kError;
    result.error = std::strerror(errno);
  } else if (!S_ISREG(st.st_mode)) {
    result.status = FileText::Status::kError;
    result.error =
        std::string("is ") + FileTypeName(st.st_mode) + ", not a regular file";
  } else {
    ReadAll(fd, result);
  }
  ::close(fd);
  return result;
}

std::string JoinPath(const std::string& dir, const std::string& path) {
  if (!path.empty() && path.front() == '/') return path;
  if (dir.empty()) return path;
  return dir.back() == '/' ? dir + path : dir + "/" + path;
}

std::string_view StripBom(std::string_view text) {
  return text.starts_with(kBom) ? text.substr(kBom.size()) : text;
}

std::string Quote(std::string_view value) {
  const std::size_t shown = ShownLength(value);
  std::string out = "\"";
  for (std::size_t i = 0; i < shown; ++i) {
    if (value.substr(i, kBom.size()) == kBom && i + kBom.size() <= shown) {
      out += "\\ufeff";
      i += kBom.size() - 1;
      continue;
    }
    AppendEscaped(value[i], out);
  }
  if (shown < value.size()) out += "…";
  return out + "\"";
}

bool IsVarName(std::string_view name) {
  if (name.empty() || !IsAlpha(name.front())) return false;
  for (char c : name) {
    if (!IsAlpha(c) && !IsDigit(c)) return false;
  }
  return true;
}

std::string_view Trim(std::string_view s) {
  const auto first = s.find_first_not_of(" \t\r");
  if (first == std::string_view::npos) return {};
  const auto last = s.find_last_not_of(" \t\r");
  return s.substr(first, last - first + 1);
}

void FailAt(std::string_view where, std::string_view what,
            std::string_view allowed) {
  std::string msg = "config: ";
  msg.append(where).append(": ").append(what).append("; allowed: ");
  msg.append(allowed);
  throw ConfigError(msg);
}

void FailValue(std::string_view key, std::string_view shown_value,
               std::string_view origin, std::string_view problem,
               std::string_view allowed) {
  std::string msg = "config: ";
  msg.append(key).append("=").append(Quote(shown_value));
  msg.append(" (from ").append(origin).append(") ").append(problem);
  msg.append("; allowed: ").append(allowed);
  throw ConfigError(msg);
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

char LowerAscii(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

std::string ToLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = LowerAscii(c);
  return out;
}

}  // namespace forge::config::internal
