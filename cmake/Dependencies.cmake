# Every dependency is a Debian 12 package (scripts/install-deps.sh installs
# them); nothing is downloaded at build time.
set(THREADS_PREFER_PTHREAD_FLAG ON)
find_package(Threads REQUIRED)
find_package(SQLiteCpp REQUIRED)
find_package(CLI11 REQUIRED)
find_package(yaml-cpp REQUIRED)
find_package(PkgConfig REQUIRED)
pkg_check_modules(HTTPLIB REQUIRED IMPORTED_TARGET cpp-httplib)
# Pinned to the 0.11 series: the frontend uses two of its version-specific
# parts, listed in frontend/httplib_seam.h (which also static_asserts this).
if(HTTPLIB_VERSION VERSION_LESS 0.11 OR NOT HTTPLIB_VERSION VERSION_LESS 0.12)
  message(FATAL_ERROR "cpp-httplib ${HTTPLIB_VERSION} found; mini-forge "
    "needs 0.11.x (Debian 12's 0.11.4): see frontend/httplib_seam.h")
endif()
pkg_check_modules(LIBPQ REQUIRED IMPORTED_TARGET libpq)
if(FORGE_BUILD_TESTS)
  find_package(GTest REQUIRED)
endif()
if(FORGE_BUILD_BENCH)
  find_package(benchmark REQUIRED)
endif()
