// The engine table: the registry's one way into the engines, by spec.engine.
#pragma once

#include <memory>

#include "resident/model.h"

namespace resident::internal {

// Loads the model at `spec.source` (a resolved local path) with the engine
// `spec.engine` names. Errors: the engine's load errors; InvalidArgument for
// an unknown engine.
Result<std::shared_ptr<const Model>> load_model(const ModelSpec& spec);

}  // namespace resident::internal
