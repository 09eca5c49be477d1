// The process-wide model registry: each model is loaded once per process and
// stays resident, shared read-only by every thread that asks for it.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "resident/catalog.h"
#include "resident/model.h"
#include "resident/model_cache.h"
#include "resident/status.h"

namespace resident {

// Shared, read-only ownership of a resident model. Dropping the last handle
// does not unload it: the registry keeps it until evicted or shut down.
using ModelHandle = std::shared_ptr<const Model>;

struct ModelStats {
    std::string key;
    std::string path;
    int64_t loads = 0;  // successful loads of this key in this registry
    int64_t failed_loads = 0;
    int64_t evictions = 0;      // times it was freed (by evict*, or for the memory budget)
    double load_seconds = 0;    // summed over loads
    uint64_t loaded_bytes = 0;  // of the current copy
    int64_t handles = 0;        // handles held outside the registry
    bool resident = false;      // loaded now
    std::string placement;      // Model::placement() of the current copy
    std::chrono::system_clock::time_point last_use{};
};

struct RegistryOptions {
    ModelCacheOptions cache;
    // Receives one line per model load or eviction, e.g. for a job log.
    std::function<void(std::string_view)> on_event;
};

class Registry {
   public:
    explicit Registry(RegistryOptions options = {});
    // Shuts down: frees every model no handle still holds.
    ~Registry();
    Registry(const Registry&) = delete;
    Registry& operator=(const Registry&) = delete;

    // The registry of this process, created on first use. Its models are freed
    // at exit (and by shutdown()).
    static Registry& global();

    // The resident model for `spec`, loading it if needed. Concurrent first
    // calls for one model perform exactly one load and all wait for it; a
    // failed load is reported to every waiter, and the next call tries again.
    // Thread-safe; never holds the registry lock while loading.
    // Errors: those of validate(), resolution (NotFound, Unavailable,
    // DataLoss) and loading (DataLoss for a corrupt file, ResourceExhausted
    // when the estimate exceeds the memory limit).
    Result<ModelHandle> acquire(const ModelSpec& spec);

    // While it lives, the registry gives memory back to the process budget
    // (memory_budget.h): a claim that does not fit frees its least recently
    // used idle model, which a later acquire() loads again.
    //
    // Drops the registry's reference to models that no handle holds; returns
    // how many were freed.
    size_t evict_idle();
    // Drops the registry's reference to `spec`'s model. FailedPrecondition
    // when handles are still held (it stays loaded); NotFound when not loaded.
    Status evict(const ModelSpec& spec);
    // Evicts everything; models still held by handles are freed when their
    // last handle goes. acquire() afterwards loads again.
    void shutdown();

    std::vector<ModelStats> stats() const;
    // Loads and their seconds over all keys (for job summaries).
    int64_t total_loads() const;
    int64_t total_evictions() const;
    double total_load_seconds() const;

    const Catalog& catalog() const;
    const ModelCache& cache() const;

   private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace resident
