// shm/namespaces.cpp — see namespaces.h.
#include "shm/namespaces.h"

#include <dirent.h>

#include <algorithm>
#include <memory>

#include "base/names.h"

namespace forge::shm {
namespace {

constexpr std::string_view kShmDir = "/dev/shm/";
constexpr std::string_view kObjectPrefix = "mini-forge.";

// The namespace whose segment is `segment` (the file name after the
// prefix), or "" when it is not a segment of `shm_name` (another name, a
// bad namespace).
std::string NamespaceOf(std::string_view segment, std::string_view shm_name) {
  if (!segment.starts_with(shm_name)) return "";
  segment.remove_prefix(shm_name.size());
  if (segment.empty()) return std::string(base::kDefaultNamespace);
  if (segment.front() != base::kNamespaceSeparator) return "";
  segment.remove_prefix(1);
  return base::IsNamespaceName(segment) ? std::string(segment) : "";
}

}  // namespace

std::vector<SegmentFile> SegmentFiles() {
  std::vector<SegmentFile> files;
  const std::unique_ptr<DIR, int (*)(DIR*)> dir(
      ::opendir(std::string(kShmDir).c_str()), &::closedir);
  if (!dir) return files;
  while (const dirent* entry = ::readdir(dir.get())) {
    std::string_view file = entry->d_name;
    if (!file.starts_with(kObjectPrefix) ||
        file.ends_with(base::kShmLockSuffix))
      continue;
    file.remove_prefix(kObjectPrefix.size());
    if (file.empty()) continue;
    files.push_back({std::string(file), std::string(kShmDir) + entry->d_name});
  }
  std::sort(files.begin(), files.end(),
            [](const auto& a, const auto& b) { return a.name < b.name; });
  return files;
}

std::vector<std::string> ServedNamespaces(std::string_view shm_name) {
  std::vector<std::string> names;
  for (const SegmentFile& file : SegmentFiles()) {
    std::string ns = NamespaceOf(file.name, shm_name);
    if (!ns.empty()) names.push_back(std::move(ns));
  }
  std::sort(names.begin(), names.end(), [](const auto& a, const auto& b) {
    const bool a_default = a == base::kDefaultNamespace;
    const bool b_default = b == base::kDefaultNamespace;
    if (a_default != b_default) return a_default;
    return a < b;
  });
  return names;
}

}  // namespace forge::shm
