// ctl/store_command.cpp — see store_command.h.
#include "ctl/store_command.h"

#include <cstdint>
#include <optional>

#include "ctl/store_access.h"
#include "stats/text.h"
#include "store/format.h"
#include "store/range_store.h"

namespace forge::ctl {

int RunStoreAdvance(const config::Config& cfg, const std::string& ns,
                    const std::string& to, std::ostream& out) {
  const std::optional<std::uint64_t> n = stats::ParseDecimal(to);
  return WithStoreErrors([&] {
    if (!n) {
      throw BadArgument("--to " + stats::JsonQuote(to) +
                        " is not a decimal number; allowed: the store's "
                        "counter up to the key space's size");
    }
    const NamespaceStore opened = OpenNamespaceStore(cfg, ns);
    store::RangeStore& space = opened.get();
    // Checked here for exit 2; Advance checks again in its transaction.
    const std::uint64_t counter = space.Next();
    const std::uint64_t size = store::CodecOf(space.format()).space();
    if (*n < counter || *n > size) {
      throw BadArgument(store::CannotAdvance(space.Describe() + " namespace " +
                                                 stats::JsonQuote(ns),
                                             counter, *n, size)
                            .what());
    }
    const store::Advanced a = space.Advance(*n);
    out << "namespace " << stats::JsonQuote(ns) << " counter: " << a.from
        << " -> " << a.to << " (" << a.dropped
        << " returned numbers dropped)\n";
    return 0;
  });
}

}  // namespace forge::ctl
