# client.install: `cmake --install <BUILD> --component client` into a fresh
# STAGE, then checks what the client helpers rely on (the file list of
# /work CLIENT-SPEC) and that the shared library exports only forge_*.
#   cmake -DBUILD=<build dir> -DSTAGE=<stage dir> -P stage.cmake
file(REMOVE_RECURSE "${STAGE}")
execute_process(COMMAND "${CMAKE_COMMAND}" --install "${BUILD}"
  --component client --prefix "${STAGE}" RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "cmake --install ${BUILD} --component client failed")
endif()
foreach(f include/forge/client.h lib/libforge-client.so
    lib/libforge-client.so.1 lib/libforge-client.so.1.0.0
    lib/libforge-client.a lib/pkgconfig/forge-client.pc
    lib/cmake/ForgeClient/ForgeClientConfig.cmake
    lib/cmake/ForgeClient/ForgeClientConfigVersion.cmake
    lib/cmake/ForgeClient/ForgeClientTargets.cmake)
  if(NOT EXISTS "${STAGE}/${f}")
    message(FATAL_ERROR "the client install lacks ${STAGE}/${f}")
  endif()
endforeach()
# Only the client: no program, no other header.
file(GLOB_RECURSE staged RELATIVE "${STAGE}" "${STAGE}/*")
foreach(f IN LISTS staged)
  if(NOT f MATCHES "^(include/forge/client\\.h|lib/libforge-client\\..*|lib/pkgconfig/forge-client\\.pc|lib/cmake/ForgeClient/ForgeClient.*\\.cmake)$")
    message(FATAL_ERROR "the client install holds ${f}, which is not the client's")
  endif()
endforeach()
execute_process(COMMAND nm -D --defined-only "${STAGE}/lib/libforge-client.so"
  OUTPUT_VARIABLE symbols RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "nm -D cannot read ${STAGE}/lib/libforge-client.so")
endif()
string(REGEX REPLACE "\n$" "" symbols "${symbols}")
string(REPLACE "\n" ";" symbols "${symbols}")
foreach(line IN LISTS symbols)
  if(NOT line MATCHES " (forge_[a-z_]+@@FORGE_CLIENT_1|FORGE_CLIENT_1)$")
    message(FATAL_ERROR "libforge-client.so exports more than forge_*: ${line}")
  endif()
endforeach()
message(STATUS "client staged in ${STAGE}")
