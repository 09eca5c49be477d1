// The model catalog: known models, the registry package that carries each and
// the file's checksum. The built-in catalog is models/catalog.json, compiled in.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "resident/status.h"

namespace resident {

// One piece of a model file: the member `member` of the wheel of PyPI package
// `package` at `version`. A file in several pieces is their concatenation.
struct CatalogPart {
    std::string package;
    std::string version;
    std::string member;
};

struct CatalogEntry {
    std::string name;  // what users type: "smollm2-135m-instruct"
    std::string description;
    std::string engine = "llama";   // "llama" or "onnx"
    std::string task = "generate";  // "generate" or "classify"
    std::string architecture;       // "llama", "gemma3"
    std::string quantization;       // "Q4_1"
    std::string file;               // file name in the model cache
    std::string sha256;             // of the whole file
    uint64_t size = 0;              // of the whole file, bytes
    std::string license;
    std::vector<CatalogPart> parts;
    // A model made at pull time from the parts (a checkpoint) by a converter
    // compiled into the binary (models/convert/): its name, and the sha256 of
    // the parts joined (sha256 above is then the converter's output's).
    std::string convert;
    std::string source_sha256;
    // Classifiers: the class labels, inline or from a package member (a JSON
    // object from class index to name, hash-checked), and the preprocessing
    // (ImagePreprocess's JSON). The pull writes both beside the model file, in
    // "<file>.resident.json", where the engine reads them.
    std::vector<std::string> labels;
    std::optional<CatalogPart> labels_part;
    std::string labels_sha256;
    std::string preprocess_json;
    bool has_sidecar() const { return !labels.empty() || labels_part || !preprocess_json.empty(); }
};

// Immutable after construction; thread-safe to read.
class Catalog {
   public:
    // The catalog compiled into the binary, or the file named by the
    // RESIDENT_CATALOG environment variable when it is set.
    static Result<Catalog> load_default();
    static Result<Catalog> from_file(const std::string& path);
    // `origin` names the source in error messages.
    static Result<Catalog> parse(std::string_view json, std::string_view origin);

    // nullptr when there is no entry of that name.
    const CatalogEntry* find(std::string_view name) const;
    // The engine that serves a model source: its catalog entry's, else "onnx"
    // for an .onnx path, else "llama". Front ends pick their task by it.
    std::string engine_of(std::string_view source) const;
    // InvalidArgument when `source` is known to need another engine than
    // `engine` (a catalog entry's, or a .gguf / .onnx file's), naming the fix.
    Status check_engine(std::string_view source, std::string_view engine) const;
    const std::vector<CatalogEntry>& entries() const { return entries_; }

   private:
    std::vector<CatalogEntry> entries_;
};

}  // namespace resident
