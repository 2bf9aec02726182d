// shm/namespaces.cpp — see namespaces.h.
#include "shm/namespaces.h"

#include <dirent.h>

#include <algorithm>
#include <memory>

#include "base/names.h"

namespace forge::shm {
namespace {

constexpr std::string_view kShmDir = "/dev/shm";
constexpr std::string_view kObjectPrefix = "mini-forge.";

// The namespace whose segment file is `file`, or "" when `file` is not a
// segment of `shm_name` (another name, a lock file, a bad namespace).
std::string NamespaceOf(std::string_view file, std::string_view shm_name) {
  if (!file.starts_with(kObjectPrefix)) return "";
  file.remove_prefix(kObjectPrefix.size());
  if (!file.starts_with(shm_name)) return "";
  file.remove_prefix(shm_name.size());
  if (file.empty()) return std::string(base::kDefaultNamespace);
  if (file.front() != base::kNamespaceSeparator) return "";
  file.remove_prefix(1);
  return base::IsNamespaceName(file) ? std::string(file) : "";
}

}  // namespace

std::vector<std::string> ServedNamespaces(std::string_view shm_name) {
  std::vector<std::string> names;
  const std::unique_ptr<DIR, int (*)(DIR*)> dir(
      ::opendir(std::string(kShmDir).c_str()), &::closedir);
  if (!dir) return names;
  while (const dirent* entry = ::readdir(dir.get())) {
    std::string ns = NamespaceOf(entry->d_name, shm_name);
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
