# cmake -DIN=file -DOUT=file.cpp -P embed_text.cmake
# Writes OUT, a C++ file that defines forge::keys::kBuiltInBlocklistText
# (keys/builtin_blocklist.h) as the bytes of IN. Run at build time by
# keys/CMakeLists.txt; nothing is downloaded.
file(READ "${IN}" hex HEX)
string(REGEX REPLACE "(..)" "0x\\1," bytes "${hex}")
file(WRITE "${OUT}"
  "// Generated from ${IN} by keys/embed_text.cmake: do not edit.\n"
  "#include \"keys/builtin_blocklist.h\"\n\n"
  "namespace forge::keys {\nnamespace {\n"
  "constexpr unsigned char kBytes[] = {${bytes}0x00};\n"
  "}  // namespace\n\n"
  "const std::string_view kBuiltInBlocklistText(\n"
  "    reinterpret_cast<const char*>(kBytes), sizeof kBytes - 1);\n\n"
  "}  // namespace forge::keys\n")
