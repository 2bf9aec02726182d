# Every dependency is a Debian 12 package (scripts/install-deps.sh installs
# them); nothing is downloaded at build time.
set(THREADS_PREFER_PTHREAD_FLAG ON)
find_package(Threads REQUIRED)
find_package(Boost 1.74 REQUIRED)            # header-only: Interprocess
find_package(SQLiteCpp REQUIRED)
find_package(CLI11 REQUIRED)
find_package(yaml-cpp REQUIRED)
find_package(PkgConfig REQUIRED)
pkg_check_modules(HTTPLIB REQUIRED IMPORTED_TARGET cpp-httplib)
pkg_check_modules(LIBPQ REQUIRED IMPORTED_TARGET libpq)
if(FORGE_BUILD_TESTS)
  find_package(GTest REQUIRED)
endif()
if(FORGE_BUILD_BENCH)
  find_package(benchmark REQUIRED)
endif()
