// frontend/httplib_seam.h — the one place the frontend includes cpp-httplib,
// and the list of what it uses beyond the library's public API.
//
// Contract
//   * cpp-httplib is pinned to 0.11.x (Debian 12's 0.11.4): CMake refuses
//     another version (cmake/Dependencies.cmake) and the static_assert below
//     refuses a header of another series, because the frontend relies on
//     exactly these non-public or version-specific parts:
//       1. httplib::Server::process_request (protected in 0.11.x), reached by
//          HttpServer's private inheritance (server.h). It parses one
//          request from a Stream, routes it through the handlers set with
//          the public Get()/set_*_handler() API, and writes the answer.
//          Why: the accept loop, connection threads, head checks and the
//          fast path are ours (listener.h, thread_pool.h, request_head.h,
//          fast_path.h); httplib keeps only the request-to-response step
//          for every request that is not a plain GET /get-key.
//       2. The virtual set of httplib::Stream as 0.11.x declares it
//          (is_readable, is_writable, read, write, get_remote_ip_and_port,
//          get_local_ip_and_port, socket), implemented by ConnStream
//          (conn_stream.h) with `override`, so a changed set fails to
//          compile rather than silently not being called.
//     Nothing else: no private member is overridden or written, and httplib
//     never sees our thread pool (ElasticPool is not an httplib::TaskQueue).
//   * Moving to another cpp-httplib series means re-checking these two
//     points, then widening the pin here and in CMake.
#pragma once

#include <httplib.h>

#include <string_view>

namespace forge::frontend {

inline constexpr std::string_view kHttplibSeries = "0.11.";

static_assert(std::string_view(CPPHTTPLIB_VERSION).starts_with(kHttplibSeries),
              "mini-forge uses cpp-httplib 0.11.x internals; see "
              "frontend/httplib_seam.h before changing the version");

}  // namespace forge::frontend
