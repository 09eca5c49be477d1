// A model spec says what to load and how to run it: where the model is, which
// engine, which task, and the options of the load and of each context. It is a
// plain value; validate() checks it before anything is loaded.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "resident/status.h"

namespace resident {

enum class Task { kGenerate, kEmbed };

// How the batch engine trades speed for reproducibility.
enum class Determinism {
    // All sequences in flight share each llama_decode call. Fastest; a row's
    // text can differ in rare late tokens depending on what else was in the
    // batch (floating-point sums in another order; docs/determinism.md).
    kBatched,
    // Each sequence is decoded in calls of its own, with the same shapes as a
    // lone predictor: a seeded row gives the same text whatever else runs.
    kExact,
};

std::string_view task_name(Task task);
std::string_view determinism_name(Determinism d);
Result<Task> parse_task(std::string_view name);
Result<Determinism> parse_determinism(std::string_view name);

struct ModelSpec {
    // A catalog name (see `resident models list`) or a path to a .gguf file
    // (for a split model, its first part).
    std::string source;
    std::string engine = "llama";
    Task task = Task::kGenerate;

    // --- load options: part of the resident model's identity ---
    // Map the weights read-only so every process on the node shares one copy
    // in the page cache.
    bool use_mmap = true;
    // Let the CPU backend repack weights into its faster layouts. Repacked
    // weights are a private copy per process (more RSS, faster decode).
    bool repack = true;
    int32_t gpu_layers = 0;  // layers to offload; -1 = all

    // --- context options: per predictor and per batch engine ---
    int32_t ctx_size = 2048;     // tokens of context per sequence
    int32_t threads = 0;         // compute threads per context; 0 = all cores
    int32_t batch_size = 512;    // tokens per decode call (prompt chunks)
    int32_t parallel = 8;        // sequences in flight in a batch engine
    int32_t queue_capacity = 0;  // requests waiting for a slot; 0 = 2 x parallel
    Determinism determinism = Determinism::kBatched;
    uint64_t seed = 42;  // seed of requests that carry neither seed nor row key

    // Refuse to load when the estimated memory exceeds this many bytes;
    // 0 = what the machine (or its cgroup) has available.
    uint64_t memory_limit_bytes = 0;

    // Checks every field; the message names the field and the accepted range.
    Status validate() const;
    // The options that change the loaded weights, as text (with the resolved
    // path, the registry's key).
    std::string load_options_key() const;
    // Compute threads a context uses: `threads`, or the cores of the machine.
    int32_t effective_threads() const;
};

}  // namespace resident
