// The native memory budget of this process: what its resident models and
// their contexts may hold together. Every private allocation of size (a
// model's private weights, a context's KV cache and compute buffers) is
// reserved here first, so a process refuses or waits instead of being killed
// by the OS. Mapped (shared) weights are not charged to a process: they live
// once per node in the page cache and are checked against the machine's free
// memory instead. All functions are thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "resident/model_spec.h"
#include "resident/status.h"

namespace resident {

struct ModelInfo;

struct BudgetInfo {
    uint64_t limit = 0;  // bytes this process may reserve
    std::string source;  // where the limit came from, e.g. "RESIDENT_MEMORY_BUDGET"
    uint64_t used = 0;   // reserved now
    uint64_t peak = 0;   // most reserved at once
};

// Sets the budget of this process; 0 goes back to the automatic one (the
// RESIDENT_MEMORY_BUDGET variable, else the cgroup's memory.max, else the
// machine's memory). `source` names the setting for messages, e.g.
// "spark.executor.memoryOverhead": an error tells the user what to raise.
void set_memory_budget(uint64_t bytes, std::string source);
BudgetInfo memory_budget();

// A claim on the budget, given back when destroyed. Move-only.
class MemoryReservation {
   public:
    MemoryReservation() = default;
    ~MemoryReservation();
    MemoryReservation(MemoryReservation&& other) noexcept;
    MemoryReservation& operator=(MemoryReservation&& other) noexcept;
    MemoryReservation(const MemoryReservation&) = delete;
    MemoryReservation& operator=(const MemoryReservation&) = delete;
    uint64_t bytes() const { return bytes_; }

   private:
    friend Result<MemoryReservation> reserve_memory(uint64_t, std::string_view, uint64_t, bool,
                                                    std::string_view);
    explicit MemoryReservation(uint64_t bytes) : bytes_(bytes) {}
    uint64_t bytes_ = 0;
};

// Reserves `bytes` for `what` (named in errors). `limit` > 0 caps this claim
// at that many bytes in use (a spec's memory_limit_bytes) instead of the
// process budget. When the claim does not fit, idle models are evicted (see
// add_memory_evictor); then, with `wait`, it waits for other claims to be
// given back, as long as it could fit once they are. Errors name the numbers,
// the setting to raise and `lower` (how the claim could be smaller):
// FailedPrecondition (not retryable) when the claim exceeds the whole budget,
// ResourceExhausted (retryable) when it does not fit beside what others hold
// or the machine lacks the memory now.
Result<MemoryReservation> reserve_memory(
    uint64_t bytes, std::string_view what, uint64_t limit = 0, bool wait = false,
    std::string_view lower = "fewer sequences in flight, a smaller kv_tokens");

// Something that can give memory back on demand (a registry freeing its idle
// models, least recently used first). Called without any budget lock held,
// with the bytes still missing; returns whether it freed anything.
using MemoryEvictor = std::function<bool(uint64_t missing)>;
// Registers an evictor; the returned id removes it.
int add_memory_evictor(MemoryEvictor evictor);
void remove_memory_evictor(int id);

// Parses "8G", "512M", "1.5GiB", "4096" (bytes): digits, an optional
// fraction and an optional unit (B, K, M, G, T, with or without B/iB; powers
// of 1024). Errors: InvalidArgument, naming the text and the accepted form,
// for anything else (signs, exponents, hex, inf/nan, spaces), a value past
// 2^64-1 bytes, or a part of a byte ("0.5", "1.3K").
Result<uint64_t> parse_memory_size(std::string_view text);

// RESIDENT_MEMORY_BUDGET in bytes, 0 when unset or empty. Errors:
// InvalidArgument naming the variable when it is set but not a size.
Result<uint64_t> memory_budget_from_environment();

// How the weights of `info` should be placed under `spec`: `spec.weights`
// unless it is kAuto, which picks kPrivate (repacked, faster) when a private
// copy fits this process's budget with room for its contexts and the machine
// has memory for it, else kShared. `reason` says why, for the load's log line.
struct WeightsChoice {
    Weights weights = Weights::kShared;
    std::string reason;
};
WeightsChoice resolve_weights(const ModelInfo& info, const ModelSpec& spec);

// Other processes on this machine that map `path` now (executors sharing a
// model). Reads /proc; 0 when it cannot tell.
int count_other_mappers(const std::string& path);

}  // namespace resident
