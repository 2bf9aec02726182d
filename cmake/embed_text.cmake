# cmake -DIN=file -DOUT=file.cpp -DHEADER=dir/x.h -DNAMESPACE=forge::x
#       -DSYMBOL=kName -P embed_text.cmake
# Writes OUT, a C++ file that defines `const std::string_view
# NAMESPACE::SYMBOL` (declared extern in HEADER) as the bytes of IN. Run at
# build time through forge_embed_text (cmake/Targets.cmake); nothing is
# downloaded.
file(READ "${IN}" hex HEX)
string(REGEX REPLACE "(..)" "0x\\1," bytes "${hex}")
file(WRITE "${OUT}"
  "// Generated from ${IN} by cmake/embed_text.cmake: do not edit.\n"
  "#include \"${HEADER}\"\n\n"
  "namespace ${NAMESPACE} {\nnamespace {\n"
  "constexpr unsigned char kBytes[] = {${bytes}0x00};\n"
  "}  // namespace\n\n"
  "const std::string_view ${SYMBOL}(\n"
  "    reinterpret_cast<const char*>(kBytes), sizeof kBytes - 1);\n\n"
  "}  // namespace ${NAMESPACE}\n")
