// keys/builtin_blocklist.h — the text of keys/blocklist-default.txt,
// compiled in (forge_embed_text in keys/CMakeLists.txt generates the
// definition from the file at build time, again whenever it changes).
// Read it through Blocklist::BuiltInWords() (keys/blocklist.h), which
// parses it.
#pragma once

#include <string_view>

namespace forge::keys {

extern const std::string_view kBuiltInBlocklistText;
inline constexpr char kBuiltInBlocklistFile[] = "keys/blocklist-default.txt";

}  // namespace forge::keys
