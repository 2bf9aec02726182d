#include "config/keys.h"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <thread>
#include <utility>

#include "base/names.h"
#include "base/process.h"
#include "base/status.h"
#include "config/db_url.h"
#include "config/internal.h"

namespace forge::config::internal {
namespace {

// What a key is called in each place, and how --help describes it.
struct Names {
  const char* env;
  const char* flag;
  const char* help;
  const char* default_text;
};

Status Invalid(std::string why) {
  return Status::InvalidArgument(std::move(why));
}

KeySpec Make(const Names& n, const char* type, std::string allowed,
             Apply apply) {
  KeySpec key;
  key.env = n.env;
  key.yml = ToLower(n.env);
  key.flag = n.flag;
  key.help = n.help;
  key.default_text = n.default_text;
  key.allowed = std::move(allowed);
  key.type = type;
  key.apply = std::move(apply);
  return key;
}

}  // namespace

Result<std::uint64_t> ParseUnsigned(std::string_view v, std::uint64_t lo,
                                    std::uint64_t hi) {
  if (v.empty()) return Invalid("is empty");
  const bool negative = v.front() == '-';
  const std::string_view digits = negative ? v.substr(1) : v;
  if (digits.empty() || !std::all_of(digits.begin(), digits.end(), IsDigit)) {
    return Invalid("is not an integer");
  }
  std::uint64_t n = 0;
  const auto [end, ec] =
      std::from_chars(digits.data(), digits.data() + digits.size(), n);
  if (negative || ec != std::errc() || n < lo || n > hi) {
    return Invalid("is out of range");
  }
  return n;
}

namespace {

// RANGE_SIZE and its automatic bounds.
constexpr std::uint64_t kMaxRangeSize = 1000000000;

template <typename T>
KeySpec Integer(const Names& n, T Config::*field, std::uint64_t lo,
                std::uint64_t hi) {
  return Make(n, "INT",
              "integer " + std::to_string(lo) + ".." + std::to_string(hi),
              [=](std::string_view v, Config& c) -> Status {
                const Result<std::uint64_t> x = ParseUnsigned(v, lo, hi);
                if (!x.ok()) return x.status();
                c.*field = static_cast<T>(*x);
                return Status();
              });
}

// An integer lo..hi with lo <= 0 <= hi: BROKER_NICE.
KeySpec SignedInteger(const Names& n, int Config::*field, int lo, int hi) {
  FORGE_CHECK(lo <= 0 && hi >= 0, "SignedInteger needs lo <= 0 <= hi");
  return Make(n, "INT",
              "integer " + std::to_string(lo) + ".." + std::to_string(hi),
              [=](std::string_view v, Config& c) -> Status {
                const bool negative = !v.empty() && v.front() == '-';
                const std::string_view digits = negative ? v.substr(1) : v;
                if (negative && (digits.empty() || !IsDigit(digits.front()))) {
                  return Invalid("is not an integer");
                }
                const Result<std::uint64_t> x = ParseUnsigned(
                    digits, 0, static_cast<std::uint64_t>(negative ? -lo : hi));
                if (!x.ok()) return x.status();
                const auto magnitude = static_cast<int>(*x);
                c.*field = negative ? -magnitude : magnitude;
                return Status();
              });
}

KeySpec PowerOfTwo(const Names& n, std::uint64_t Config::*field, int lo_bit,
                   int hi_bit) {
  const std::uint64_t lo = std::uint64_t{1} << lo_bit;
  const std::uint64_t hi = std::uint64_t{1} << hi_bit;
  std::string allowed;
  for (int bit = lo_bit; bit < lo_bit + 3; ++bit) {
    allowed += std::to_string(std::uint64_t{1} << bit) + ", ";
  }
  allowed += "…, " + std::to_string(hi);
  return Make(n, "INT", allowed, [=](std::string_view v, Config& c) -> Status {
    const Result<std::uint64_t> x = ParseUnsigned(v, lo, hi);
    if (!x.ok()) return x.status();
    if ((*x & (*x - 1)) != 0) return Invalid("is not a power of two");
    c.*field = *x;
    return Status();
  });
}

// Case-insensitive choice among fixed words.
template <typename T>
KeySpec Choice(const Names& n, T Config::*field,
               std::vector<std::pair<std::string, T>> choices) {
  std::string allowed;
  for (std::size_t i = 0; i < choices.size(); ++i) {
    if (i > 0) allowed += i + 1 == choices.size() ? " or " : ", ";
    allowed += choices[i].first;
  }
  return Make(n, "WORD", allowed, [=](std::string_view v, Config& c) -> Status {
    if (v.empty()) return Invalid("is empty");
    const std::string word = ToLower(v);
    for (const auto& [name, value] : choices) {
      if (name == word) {
        c.*field = value;
        return Status();
      }
    }
    return Invalid("is not one of the allowed words");
  });
}

bool IsIpLiteral(const std::string& s) {
  unsigned char buf[sizeof(in6_addr)];
  return inet_pton(AF_INET, s.c_str(), buf) == 1 ||
         inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

bool IsLabel(std::string_view label) {
  if (label.empty() || label.size() > 63) return false;
  if (label.front() == '-' || label.back() == '-') return false;
  return std::all_of(label.begin(), label.end(), [](char c) {
    return IsDigit(c) || c == '-' ||
           (LowerAscii(c) >= 'a' && LowerAscii(c) <= 'z');
  });
}

// RFC 1123 host name; an all-numeric last label would be a mistyped IPv4.
bool IsHostName(std::string_view s) {
  if (!s.empty() && s.back() == '.') s.remove_suffix(1);
  if (s.empty() || s.size() > 253) return false;
  std::string_view last;
  for (std::size_t start = 0;;) {
    const std::size_t dot = s.find('.', start);
    last = s.substr(start, dot == std::string_view::npos ? dot : dot - start);
    if (!IsLabel(last)) return false;
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return !std::all_of(last.begin(), last.end(), IsDigit);
}

KeySpec Host(const Names& n) {
  return Make(n, "ADDR",
              "an IPv4 or IPv6 address literal (0.0.0.0, ::1) or a host name",
              [](std::string_view v, Config& c) -> Status {
                if (v.empty()) return Invalid("is empty");
                const std::string s(v);
                if (!IsIpLiteral(s) && !IsHostName(s)) {
                  return Invalid("is not an address or a host name");
                }
                c.host = s;
                return Status();
              });
}

KeySpec DbUrlKey(const Names& n) {
  KeySpec key = Make(n, "URL", std::string(kDbUrlForms),
                     [](std::string_view v, Config& c) -> Status {
                       const DbUrl url = ParseDbUrl(v);
                       if (!url.ok()) return Invalid(url.problem);
                       c.db_url = std::string(v);
                       return Status();
                     });
  key.mask = RedactDbUrl;
  return key;
}

KeySpec ShmName(const Names& n) {
  return Make(n, "NAME", std::string(base::kShmNameRule),
              [](std::string_view v, Config& c) -> Status {
                switch (base::CheckShmName(v)) {
                  case base::ShmNameFault::kEmpty:
                    return Invalid("is empty");
                  case base::ShmNameFault::kTooLong:
                    return Invalid("is too long (" + std::to_string(v.size()) +
                                   " characters)");
                  case base::ShmNameFault::kBadCharacter: {
                    const auto bad = std::find_if_not(v.begin(), v.end(),
                                                      base::IsShmNameChar);
                    return Invalid("contains the character " +
                                   Quote(std::string_view(&*bad, 1)));
                  }
                  case base::ShmNameFault::kLockSuffix:
                    return Invalid("ends in .lock");
                  case base::ShmNameFault::kNone:
                    break;
                }
                c.shm_name = std::string(v);
                return Status();
              });
}

// A boolean that may be given as a bare flag (--debug).
KeySpec Switch(const Names& n, bool Config::*field) {
  KeySpec key = Choice<bool>(n, field,
                             {{"true", true},
                              {"false", false},
                              {"1", true},
                              {"0", false},
                              {"yes", true},
                              {"no", false}});
  key.allowed += " (any case)";
  key.is_switch = true;
  return key;
}

std::string MaskToken(std::string_view token) {
  return token.empty() ? "" : "***";
}

KeySpec AuthToken(const Names& n) {
  KeySpec key =
      Make(n, "TOKEN",
           std::to_string(kTokenMin) + ".." + std::to_string(kTokenMax) +
               " printable ASCII characters without spaces (e.g. openssl rand "
               "-hex 32); unset = no authentication",
           [](std::string_view v, Config& c) -> Status {
             if (Status s = CheckToken(v); !s.ok()) return s;
             c.auth_token = std::string(v);
             return Status();
           });
  key.mask = MaskToken;
  return key;
}

// NAMESPACES: names separated by commas (spaces around them allowed).
KeySpec NamespaceList(const Names& n) {
  KeySpec key = Make(
      n, "LIST",
      "namespace names separated by commas, each " +
          std::string(base::kNamespaceRule) + "; unset = all of the store's",
      [](std::string_view v, Config& c) -> Status {
        std::vector<std::string> names;
        for (std::size_t start = 0; start <= v.size();) {
          const std::size_t comma = std::min(v.find(',', start), v.size());
          const std::string name(Trim(v.substr(start, comma - start)));
          if (!base::IsNamespaceName(name)) {
            return Invalid("has the namespace name " + Quote(name) +
                           ", which is not allowed");
          }
          if (std::find(names.begin(), names.end(), name) != names.end()) {
            return Invalid("names " + name + " twice");
          }
          names.push_back(name);
          start = comma + 1;
        }
        c.serve_namespaces = std::move(names);
        return Status();
      });
  // config.yml's `namespaces:` declares namespaces (a map, see
  // config/namespaces.h); which ones a broker serves is not a file setting.
  key.yml.clear();
  return key;
}

// An integer lo..hi, or "auto" (stored as `automatic`): RANGE_SIZE,
// ENCODE_THREADS.
template <typename T>
KeySpec IntegerOrAuto(const Names& n, T Config::*field, std::uint64_t lo,
                      std::uint64_t hi, T automatic) {
  const KeySpec fixed = Integer(n, field, lo, hi);
  KeySpec key = Make(n, "INT|auto", "auto or " + fixed.allowed,
                     [=](std::string_view v, Config& c) -> Status {
                       if (ToLower(v) != "auto") return fixed.apply(v, c);
                       c.*field = automatic;
                       return Status();
                     });
  return key;
}

KeySpec FilePath(const Names& n, std::string Config::*field) {
  return Make(n, "PATH", "the path of a readable regular file",
              [=](std::string_view v, Config& c) -> Status {
                if (v.empty()) return Invalid("is empty");
                c.*field = std::string(v);
                return Status();
              });
}

std::vector<KeySpec> BuildKeys() {
  using K = KeyOrder;
  using F = LogFormat;
  return {
      Integer(Names{"PORT", "--port", "listen port", "8080"}, &Config::port, 1,
              65535),
      Host(Names{"HOST", "--host", "listen address", "0.0.0.0"}),
      Integer(Names{"WORKERS", "--workers", "pre-forked worker processes",
                    "number of CPUs"},
              &Config::workers, 1, 256),
      Choice<bool>(Names{"WORKER_CPU_AFFINITY", "--worker-cpu-affinity",
                         "auto: when there is a worker for every CPU, pin "
                         "each to one CPU and give it the connections whose "
                         "packets that CPU processes; off: workers float and "
                         "share one socket",
                         "auto"},
                   &Config::worker_cpu_affinity,
                   {{"auto", true}, {"off", false}}),
      IntegerOrAuto(Names{"RANGE_SIZE", "--range-size",
                          "numbers reserved per store transaction (auto: "
                          "sized to the demand between RANGE_SIZE_MIN and "
                          "RANGE_SIZE_MAX)",
                          "auto"},
                    &Config::range_size, 1, kMaxRangeSize,
                    Config::kAutoRangeSize),
      Integer(Names{"RANGE_SIZE_MIN", "--range-size-min",
                    "smallest automatic reservation", "1000"},
              &Config::range_size_min, 1, kMaxRangeSize),
      Integer(Names{"RANGE_SIZE_MAX", "--range-size-max",
                    "largest automatic reservation", "1000000"},
              &Config::range_size_max, 1, kMaxRangeSize),
      IntegerOrAuto(Names{"ENCODE_THREADS", "--encode-threads",
                          "threads the broker encodes keys on (auto: the "
                          "number of CPUs, at most 4)",
                          "auto"},
                    &Config::encode_threads, 1, 16, Config::kAutoEncodeThreads),
      SignedInteger(Names{"BROKER_NICE", "--broker-nice",
                          "scheduling niceness of the broker (a lower one "
                          "needs root, CAP_SYS_NICE or RLIMIT_NICE; refused: "
                          "it runs at its inherited niceness)",
                          "-10"},
                    &Config::broker_nice, -20, 19),
      PowerOfTwo(
          Names{"POOL_CAPACITY", "--pool-capacity", "ring slots", "65536"},
          &Config::pool_capacity, 1, 26),
      PowerOfTwo(Names{"NS_POOL_CAPACITY", "--ns-pool-capacity",
                       "ring slots of each namespace but default", "4096"},
                 &Config::ns_pool_capacity, 1, 26),
      NamespaceList(Names{"NAMESPACES", "--namespaces",
                          "namespaces this broker serves", "all"}),
      DbUrlKey(
          Names{"DB_URL", "--db-url", "range store", "sqlite:./data/forge.db"}),
      ShmName(Names{"SHM_NAME", "--shm-name", "shared-memory segment name",
                    "mini-forge"}),
      Choice<unsigned>(Names{"SHM_MODE", "--shm-mode",
                             "segment file mode (group access: 0660)", "0600"},
                       &Config::shm_mode, {{"0600", 0600U}, {"0660", 0660U}}),
      Integer(Names{"KEY_LENGTH", "--key-length",
                    "key length, fixed when the store is created", "7"},
              &Config::key_length, 1, 10),
      Choice<K>(
          Names{"KEY_ORDER", "--key-order",
                "key order, fixed when the store is created", "scrambled"},
          &Config::key_order,
          {{"scrambled", K::kScrambled}, {"sequential", K::kSequential}}),
      Integer(Names{"STORE_TIMEOUT_MS", "--store-timeout-ms",
                    "longest wait on the store per call, ms", "2000"},
              &Config::store_timeout_ms, 100, 600000),
      Switch(Names{"STORE_REQUIRE_SYNC", "--store-require-sync",
                   "reserve only when commits reach a synchronous standby",
                   "false"},
             &Config::store_require_sync),
      Integer(Names{"EMPTY_WAIT_MS", "--empty-wait-ms",
                    "wait on an empty ring before 503, ms", "100"},
              &Config::empty_wait_ms, 0, 60000),
      Integer(Names{"MAX_BATCH", "--max-batch", "largest count for /get-keys",
                    "10000"},
              &Config::max_batch, 1, 1000000),
      Switch(Names{"DEBUG_ENABLED", "--debug", "debug logging", "false"},
             &Config::debug),
      Integer(Names{"HTTP_THREADS", "--http-threads", "HTTP threads per worker",
                    "64"},
              &Config::http_threads, 1, 4096),
      Integer(Names{"KEEP_ALIVE_MAX", "--keep-alive-max",
                    "requests per keep-alive connection", "1000"},
              &Config::keep_alive_max, 1, 1000000),
      Integer(Names{"KEEP_ALIVE_TIMEOUT", "--keep-alive-timeout",
                    "idle keep-alive timeout, seconds", "5"},
              &Config::keep_alive_timeout_s, 1, 3600),
      Integer(Names{"LISTEN_BACKLOG", "--listen-backlog", "listen(2) backlog",
                    "4096"},
              &Config::listen_backlog, 1, 65535),
      Choice<F>(Names{"LOG_FORMAT", "--log-format", "log line format", "text"},
                &Config::log_format, {{"text", F::kText}, {"json", F::kJson}}),
      AuthToken(Names{"AUTH_TOKEN", "--auth-token",
                      "bearer token required by /get-key and /get-keys",
                      "unset"}),
      FilePath(Names{"AUTH_TOKENS_FILE", "--auth-tokens-file",
                     "file of scoped tokens: lines \"TOKEN ns1,ns2\"", "unset"},
               &Config::auth_tokens_file),
      Switch(Names{"AUTH_PROTECT_ALL", "--auth-protect-all",
                   "require the token on /healthz and /metrics too", "false"},
             &Config::auth_protect_all),
  };
}

}  // namespace

// Never names a character of the token, only its length or a position.
Status CheckToken(std::string_view v) {
  if (v.empty()) return Invalid("is empty");
  if (v.size() < kTokenMin || v.size() > kTokenMax) {
    return Invalid("is " + std::to_string(v.size()) + " characters long");
  }
  for (std::size_t i = 0; i < v.size(); ++i) {
    const auto c = static_cast<unsigned char>(v[i]);
    if (c <= 0x20 || c >= 0x7f) {
      return Invalid("has a space, control or non-ASCII byte at position " +
                     std::to_string(i + 1));
    }
  }
  return Status();
}

const std::vector<KeySpec>& Keys() {
  static const std::vector<KeySpec> keys = BuildKeys();
  return keys;
}

int CpuCount() {
  int n = static_cast<int>(base::AllowedCpus().size());
  if (n <= 0) n = static_cast<int>(std::thread::hardware_concurrency());
  return std::clamp(n, 1, 256);
}

}  // namespace forge::config::internal
