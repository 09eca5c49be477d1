// The JSON documents that cross the JNI boundary: specs and requests in,
// generations, model facts and statistics out. The Java side
// (jvm/.../internal/Json*.java) writes and reads the same field names.
//
// Unknown fields are errors, so a misspelt option never passes silently.
#pragma once

#include <nlohmann/json.hpp>
#include <string_view>

#include "resident/generation.h"
#include "resident/model.h"
#include "resident/model_spec.h"
#include "resident/registry.h"
#include "resident/row_request.h"
#include "resident/status.h"
#include "resident/strategy.h"

namespace resident::internal::jni {

using nlohmann::json;

// Parses UTF-8 JSON text. Errors: InvalidArgument naming `what`.
Result<json> parse_json(std::string_view text, std::string_view what);

// Errors: InvalidArgument naming the field.
Result<ModelSpec> spec_from_json(const json& j);
Result<GenerationRequest> request_from_json(const json& j);

json to_json(const Generation& g);
json to_json(const ModelSpec& s);  // the fields spec_from_json reads
json to_json(const RowRules& r);   // the fields request_from_json reads beside the row
// What every front end takes from the core rather than restating: the
// defaults of a spec and of a job's row rules, the default strategy, and
// which status codes a retry may cure.
json contract_json();
json to_json(const Status& s);  // {"code": "...", "message": "...", "retryable": bool}
json to_json(const ModelInfo& info);
json to_json(const MemoryEstimate& m, int32_t sequences);
json to_json(const ModelStats& s);
json to_json(const BatchEngineStats& s);

}  // namespace resident::internal::jni
