// Reads a GGUF file's metadata and checks its structure without loading the
// weights: the first line of defence against missing, foreign, truncated and
// corrupt files, which llama.cpp's loader would report less clearly.
#pragma once

#include <string>

#include "resident/model.h"
#include "resident/status.h"

namespace resident::internal::llama {

// Errors: NotFound (no such file, or a split part is missing), DataLoss (not
// GGUF, truncated, corrupt), InvalidArgument (a later split part was given).
Result<ModelInfo> inspect_gguf(const std::string& path);

}  // namespace resident::internal::llama
