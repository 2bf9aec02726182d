# forge_warnings: an INTERFACE target every project target links, so warning
# and sanitizer flags apply to our code only (no global CMAKE_CXX_FLAGS).
add_library(forge_warnings INTERFACE)
target_compile_options(forge_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wno-sign-conversion
  -Wnon-virtual-dtor -Wold-style-cast -Woverloaded-virtual)
if(FORGE_SANITIZE STREQUAL "address")
  target_compile_options(forge_warnings INTERFACE
    -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  target_link_options(forge_warnings INTERFACE -fsanitize=address,undefined)
elseif(FORGE_SANITIZE STREQUAL "thread")
  target_compile_options(forge_warnings INTERFACE -fsanitize=thread -fno-omit-frame-pointer)
  target_link_options(forge_warnings INTERFACE -fsanitize=thread)
elseif(NOT FORGE_SANITIZE STREQUAL "")
  message(FATAL_ERROR "FORGE_SANITIZE='${FORGE_SANITIZE}': allowed '', 'address', 'thread'")
endif()
