// A model spec says what to load and how to run it: where the model is, which
// engine, which task, and the options of the load and of each context. It is a
// plain value; validate() checks it before anything is loaded.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "resident/status.h"

namespace resident {

enum class Task { kGenerate, kEmbed, kClassify };

// What a row's text may depend on (docs/determinism.md).
enum class Determinism {
    // The default. A seeded row's text is the same whatever else is in
    // flight, however the rows are partitioned, on a predictor or a batch
    // engine: kernels whose sums do not depend on the batch (flash attention
    // off, weights repacked only for AMX), prompts decoded in the chunks a
    // lone predictor uses, generated tokens batched across sequences.
    kInvariant,
    // The fastest kernels (flash attention, repacked weights) and prompts
    // batched with other rows: a row's text can change with what shares its
    // decode calls.
    kFast,
};

// Where the weights of a resident model live.
enum class Weights {
    // Decided at load from the model's size, the process's memory budget and
    // what the machine has free (resolve_weights in memory_budget.h).
    kAuto,
    // Served zero-copy from the memory-mapped file: one page-cache copy for
    // every process on the node, near-instant warm loads, slower CPU kernels.
    kShared,
    // Repacked by the CPU backend into its faster layouts: a private copy per
    // process, seconds per load (tensors it cannot repack stay mapped).
    kPrivate,
};

std::string_view task_name(Task task);
std::string_view weights_name(Weights w);
Result<Weights> parse_weights(std::string_view name);
std::string_view determinism_name(Determinism d);
Result<Task> parse_task(std::string_view name);
Result<Determinism> parse_determinism(std::string_view name);

struct ModelSpec {
    // A catalog name (see `resident models list`) or a path to a .gguf file
    // (for a split model, its first part) or an .onnx file.
    std::string source;
    // "llama" (GGUF language models, tasks generate) or "onnx" (ONNX
    // Runtime, task classify: images in, top classes out).
    std::string engine = "llama";
    Task task = Task::kGenerate;

    // --- load options: part of the resident model's identity ---
    // Map the file read-only (false: read it into private memory, which
    // makes every weight private).
    bool use_mmap = true;
    // Shared (mapped, zero-copy) or private (repacked) weights; kAuto is
    // resolved to one of them before the load, and the registry keys the
    // model by the resolved value.
    Weights weights = Weights::kAuto;
    int32_t gpu_layers = 0;  // layers to offload; -1 = all

    // --- context options: per predictor and per batch engine ---
    int32_t ctx_size = 2048;  // most tokens one row may use, prompt + generated
    // KV cache cells per sequence. 0 = sized to the rows: each context starts
    // small and grows (to the next power of two, at most ctx_size) when a row
    // needs more; a batch engine grows once its sequences in flight finish.
    int32_t kv_tokens = 0;
    // Compute threads per context; 0 = all cores. For the onnx engine the
    // threads of the model's one session (a load option there).
    int32_t threads = 0;
    int32_t batch_size = 512;  // tokens per decode call (prompt chunks)
    // Sequences in flight in a batch engine; for the onnx engine, the most
    // images in one inference call (of a batch engine or classify_all).
    int32_t parallel = 8;
    int32_t queue_capacity = 0;  // requests waiting for a slot; 0 = 2 x parallel
    Determinism determinism = Determinism::kInvariant;
    // A batch engine reuses the KV cells of a prompt prefix it has already
    // decoded (in another sequence in flight, or the last prompt of the slot)
    // instead of decoding it again: rows that share a system prompt or a
    // few-shot preamble decode it about once per slot.
    bool prefix_reuse = true;
    uint64_t seed = 42;  // base seed: mixed with each row's key (effective_seed)

    // The native memory this process may use for its models and their
    // contexts (weights held privately, KV caches, compute buffers); 0 = the
    // process-wide budget (set_memory_budget, RESIDENT_MEMORY_BUDGET, the
    // cgroup limit, else the machine's memory). See memory_budget.h.
    uint64_t memory_limit_bytes = 0;

    // Checks every field; the message names the field and the accepted range.
    Status validate() const;
    // The options that change the loaded weights, as text (with the resolved
    // path, the registry's key).
    std::string load_options_key() const;
    // The most tokens one row may use: kv_tokens when set, else ctx_size.
    int32_t row_tokens() const { return kv_tokens > 0 ? kv_tokens : ctx_size; }
    // Whether the CPU backend repacks: weights resolved to private (in
    // invariant mode only into batch-invariant layouts; resolve_weights
    // resolves to shared where the model has none on this CPU).
    bool repack() const { return weights == Weights::kPrivate; }
    // Compute threads a context uses: `threads`, or the cores of the machine.
    int32_t effective_threads() const;
};

}  // namespace resident
