// How a job holds its model: the loading strategies every front end offers,
// under one set of names (the CLI's `--strategy`, Spark's `strategy` Param).
#pragma once

#include <string_view>

#include "resident/status.h"

namespace resident {

enum class Strategy {
    kSharedBatched,  // one resident model per process, one batch engine for every row
    kShared,         // one resident model per process, a predictor (own context) per worker
    kPerPartition,   // each partition loads its own copy and frees it: the naive pattern
};

// "shared-batched", "shared" or "per-partition".
std::string_view strategy_name(Strategy s);

// Reads a strategy's name (case and surrounding blanks ignored). The CLI's
// former names are kept for one release: "batched" (shared-batched) and
// "predictor-per-thread" (shared). Errors: InvalidArgument listing the names.
Result<Strategy> parse_strategy(std::string_view name);

}  // namespace resident
