// The model catalog: known models, the registry package that carries each and
// the file's checksum. The built-in catalog is models/catalog.json, compiled in.
#pragma once

#include <cstdint>
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
    std::string architecture;  // "llama", "gemma3"
    std::string quantization;  // "Q4_1"
    std::string file;          // file name in the model cache
    std::string sha256;        // of the whole file
    uint64_t size = 0;         // of the whole file, bytes
    std::string license;
    std::vector<CatalogPart> parts;
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
    const std::vector<CatalogEntry>& entries() const { return entries_; }

   private:
    std::vector<CatalogEntry> entries_;
};

}  // namespace resident
