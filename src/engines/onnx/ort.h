// ONNX Runtime, loaded on first use: the library is opened at run time (a
// process that serves only language models never maps its 29 MB) and the C++
// API initialised from it. Include this header, never onnxruntime_cxx_api.h.
#pragma once

#define ORT_API_MANUAL_INIT
#include <onnxruntime_cxx_api.h>

#include <string>

#include "resident/status.h"

namespace resident::internal::onnx {

// The process's ONNX Runtime environment, opening the library the first time.
// Looks for libonnxruntime.so.1 in $RESIDENT_ONNXRUNTIME (a file), beside the
// module that holds this code (the jar's folder, an install), on the loader's
// path, then in the build's cache. Errors: FailedPrecondition naming where it
// looked and the fix.
Result<Ort::Env*> ort_env();

// The runtime's version, e.g. "1.31.1" ("" before ort_env() succeeded).
std::string ort_version();

}  // namespace resident::internal::onnx
