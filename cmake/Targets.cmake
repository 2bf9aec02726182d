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
