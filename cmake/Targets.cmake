# The two kinds of target the production folders make, so that each folder's
# CMakeLists.txt says only what is its own: its sources and what it links.
#
# forge_library(NAME SOURCES a.cpp ... [PUBLIC deps...] [PRIVATE deps...])
#   One library per folder; includes are rooted at the repository
#   ("shm/ring.h"); forge_warnings is always linked privately.
# forge_program(NAME LIBRARY)
#   The folder's thin main.cpp over its library.
function(forge_library name)
  cmake_parse_arguments(PARSE_ARGV 1 ARG "" "" "SOURCES;PUBLIC;PRIVATE")
  add_library(${name} ${ARG_SOURCES})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR})
  target_link_libraries(${name}
    PUBLIC ${ARG_PUBLIC}
    PRIVATE ${ARG_PRIVATE} forge_warnings)
endfunction()

function(forge_program name library)
  add_executable(${name} main.cpp)
  target_link_libraries(${name} PRIVATE ${library} forge_warnings)
endfunction()

# forge_embed_text(VAR IN file HEADER dir/x.h NAMESPACE forge::x SYMBOL kName)
#   Compiles a text file in: generates (at build time, again whenever the
#   file changes) a source defining `const std::string_view
#   NAMESPACE::SYMBOL` (declared extern in HEADER) as the file's bytes, and
#   puts its path in VAR for the folder's forge_library SOURCES.
function(forge_embed_text var)
  cmake_parse_arguments(PARSE_ARGV 1 ARG "" "IN;HEADER;NAMESPACE;SYMBOL" "")
  get_filename_component(stem ${ARG_IN} NAME_WE)
  set(out ${CMAKE_CURRENT_BINARY_DIR}/${stem}_embedded.cpp)
  set(script ${PROJECT_SOURCE_DIR}/cmake/embed_text.cmake)
  add_custom_command(OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -DIN=${ARG_IN} -DOUT=${out}
      -DHEADER=${ARG_HEADER} -DNAMESPACE=${ARG_NAMESPACE}
      -DSYMBOL=${ARG_SYMBOL} -P ${script}
    DEPENDS ${ARG_IN} ${script}
    COMMENT "Embedding ${ARG_IN}"
    VERBATIM)
  set(${var} ${out} PARENT_SCOPE)
endfunction()
