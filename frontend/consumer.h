// frontend/consumer.h — the consumer types (consumer/) the frontend names
// by their plain names: a worker is a consumer of the ring, and its
// handlers, metrics and server speak of Backend, Snapshot, KeyBuffer...
//
// Contract
//   * Only using-declarations: the types live in forge::consumer.
#pragma once

#include "consumer/backend.h"
#include "consumer/namespaces.h"
#include "consumer/segment_backend.h"

namespace forge::frontend {

using consumer::Backend;
using consumer::DefaultOnly;
using consumer::KeyBuffer;
using consumer::KeyCheck;
using consumer::kMaxAttachedNamespaces;
using consumer::kMaxMisses;
using consumer::kMinClaimTime;
using consumer::kMissMemory;
using consumer::kNamespaceMaintainTicks;
using consumer::NamespaceLookup;
using consumer::Namespaces;
using consumer::SegmentBackend;
using consumer::SegmentBackendOptions;
using consumer::SegmentNamespaces;
using consumer::Snapshot;
using consumer::TakenKeys;

}  // namespace forge::frontend
