#include "resident/strategy.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <string>

namespace resident {

std::string_view strategy_name(Strategy s) {
    switch (s) {
        case Strategy::kSharedBatched:
            return "shared-batched";
        case Strategy::kShared:
            return "shared";
        case Strategy::kPerPartition:
            return "per-partition";
    }
    return "unknown";
}

Result<Strategy> parse_strategy(std::string_view name) {
    const auto first = name.find_first_not_of(" \t");
    const auto last = name.find_last_not_of(" \t");
    std::string n(first == std::string_view::npos ? "" : name.substr(first, last - first + 1));
    std::transform(n.begin(), n.end(), n.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (n == "shared-batched" || n == "batched") return Strategy::kSharedBatched;
    if (n == "shared" || n == "predictor-per-thread") return Strategy::kShared;
    if (n == "per-partition") return Strategy::kPerPartition;
    return invalid_argument(
        fmt::format("unknown strategy '{}': use shared-batched, shared or per-partition", name));
}

}  // namespace resident
