// ctl/store_access.h — opening the store of DB_URL for forge-ctl's
// views (decode, encode, check, namespace), without creating one.
//
// Contract
//   * A SQLite store must already exist as a non-empty file; otherwise
//     StoreMissing is thrown and nothing is created. (store::OpenStore,
//     which does the opening, cannot open read-only: on an existing store
//     it writes nothing but may create the "-wal", "-shm" and "-writers"
//     side files next to the database, as any broker does.) A PostgreSQL
//     store is opened as a broker would, which creates its schema when the
//     database has none yet.
//   * The store is opened with no wanted format (StoreFormat::key_length
//     0): it takes the store's own, whatever it is; a store that has no key
//     space yet is a non-transient store::StoreError.
//   * Namespaces: OpenNamespaceStore opens the store as above and then the
//     namespace `ns` of it (never creating it); a name that breaks the rule
//     or is not in the store throws BadNamespace.
//   * Errors are one line for a person (StoreMissing, BadNamespace,
//     store::StoreError).
#pragma once

#include <functional>
#include <memory>
#include <stdexcept>
#include <string>

#include "config/config.h"
#include "shm/segment.h"
#include "store/range_store.h"

namespace forge::ctl {

class StoreMissing : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A bad command-line argument (exit 2); what() is the one line, without
// the "forge-ctl: " that WithStoreErrors puts before it.
class BadArgument : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A namespace name that breaks base::kNamespaceRule or that the store does
// not have.
class BadNamespace : public BadArgument {
 public:
  using BadArgument::BadArgument;
};

// A namespace's store object and the object of the store it shares its
// connection with (which must outlive it: members die in reverse order).
struct NamespaceStore {
  std::unique_ptr<store::RangeStore> root;   // "default"
  std::unique_ptr<store::RangeStore> other;  // null for "default"
  store::RangeStore& get() const { return other ? *other : *root; }
};

// The format a segment says its keys have (digits, order and policy from
// shm::SegmentCodec; the secret is not compared: 0).
store::StoreFormat FormatOf(const shm::ReadOnlySegment& seg);

std::unique_ptr<store::RangeStore> OpenExistingStore(const config::Config& cfg);

NamespaceStore OpenNamespaceStore(const config::Config& cfg,
                                  const std::string& ns);

// Throws BadNamespace unless `ns` follows base::kNamespaceRule.
void CheckNamespaceName(const std::string& ns);

// Runs body() (which returns an exit code); a BadArgument (BadNamespace
// too), StoreMissing or store::StoreError it throws becomes one line on
// stderr and exit code 2, 1 and 1.
int WithStoreErrors(const std::function<int()>& body);

// "KEY_LENGTH=7 KEY_ORDER=scrambled" (and the policy unless default) of a
// segment.
std::string DescribeSegmentFormat(const shm::ReadOnlySegment& seg);

}  // namespace forge::ctl
