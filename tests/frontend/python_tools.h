// tests/frontend/python_tools.h — real parsers, run through python3, for
// checking what the programs emit: the Prometheus text parser of
// python3-prometheus-client (Debian package; scripts/install-deps.sh test)
// and python's json module.
//
// Contract
//   * Each call writes the text to a temporary file and runs one python3
//     process on it (bounded by a deadline); not meant for hot loops.
//   * Python3() is the first of /usr/bin/python3 and the python3 programs
//     on $PATH that can import prometheus_client; "" when there is none
//     (tests then fail with an install hint, they do not skip).
//   * Thread-compatible: independent calls may run on different threads.
#pragma once

#include <map>
#include <string>
#include <string_view>

namespace forge::testing {

std::string Python3();

// What prometheus_client.parser.text_string_to_metric_families made of a
// scrape, plus checks the parser leaves out: every family has # HELP and
// # TYPE and appears once.
struct Exposition {
  std::string error;  // why parsing failed; empty on success
  // Family name as the parser reports it (counters without "_total")
  // -> type ("counter", "gauge").
  std::map<std::string, std::string> families;
  // `name{k="v",...}` (labels sorted; just `name` without labels) -> value.
  std::map<std::string, double> samples;

  // Sum of the samples named `name` over all label sets; 0 when none.
  double Sum(std::string_view name) const;
  // How many samples are named `name`.
  std::size_t Count(std::string_view name) const;
};
Exposition ParseExposition(const std::string& text);

// "" when every line of `text` is a JSON object with string fields "ts",
// "level" (debug, info, warn or error) and "msg"; else the first problem.
// *lines receives the number of lines checked.
std::string CheckJsonLogLines(const std::string& text, std::size_t* lines);

}  // namespace forge::testing
