// Reads a GGUF file's metadata and checks its structure without loading the
// weights: the first line of defence against missing, foreign, truncated and
// corrupt files, which llama.cpp's loader would report less clearly.
#pragma once

#include <string>
#include <vector>

#include "resident/model.h"
#include "resident/status.h"

namespace resident::internal::llama {

// Errors: NotFound (no such file, or a split part is missing), DataLoss (not
// GGUF, truncated, corrupt), InvalidArgument (a later split part was given).
Result<ModelInfo> inspect_gguf(const std::string& path);

// The files of a model whose first part is `first`: itself, then parts
// 2..split_count named as gguf-split names them.
std::vector<std::string> split_part_paths(const std::string& first, int32_t split_count);

}  // namespace resident::internal::llama
