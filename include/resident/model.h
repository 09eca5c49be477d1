// The resident model and the handles that serve requests from it.
//
//   Model       immutable weights, loaded once per process, shared by threads
//   Predictor   one context (KV cache) over a Model, for one thread at a time
//   BatchEngine one context with many sequences and a thread that decodes all
//               requests in flight together (continuous batching)
//
// Engines (src/engines/*) implement these; nothing here names llama.cpp.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>

#include "resident/classification.h"
#include "resident/generation.h"
#include "resident/model_spec.h"
#include "resident/status.h"

namespace resident {

// What a model file says about itself, read without loading the weights.
struct ModelInfo {
    std::string path;
    uint64_t file_bytes = 0;  // all split parts together
    int32_t split_count = 1;
    std::string architecture;  // e.g. "llama", "gemma3"
    std::string name;          // general.name
    std::string quantization;  // e.g. "Q4_1", "Q4_K - Medium"
    uint64_t n_params = 0;
    int32_t n_ctx_train = 0;
    int32_t n_embd = 0;
    int32_t n_layer = 0;
    int32_t n_head = 0;
    int32_t n_head_kv = 0;
    int32_t head_dim_k = 0;
    int32_t head_dim_v = 0;
    int32_t n_vocab = 0;
    std::string chat_template;      // empty when the file has none
    uint64_t tensor_bytes = 0;      // tensor data in the file(s)
    uint64_t repackable_bytes = 0;  // of which the CPU backend may repack
    // Of which it repacks in invariant mode: only into layouts whose sums do
    // not depend on the batch (AMX, where this CPU has it); 0 = none here.
    uint64_t invariant_repackable_bytes = 0;
};

// Memory a model needs under given options, in bytes.
struct MemoryEstimate {
    uint64_t weights = 0;  // tensor data in the file
    // Of which held privately (not shareable via mmap). For weights=auto the
    // private case: what a repacked copy would hold.
    uint64_t weights_private = 0;
    uint64_t kv_per_token = 0;     // KV cache of one token of one sequence
    uint64_t kv_per_sequence = 0;  // of one sequence at kv_tokens (else ctx_size, the most)
    uint64_t compute = 0;          // scratch buffers of one context
    // Private memory of the model plus one context with `sequences` sequences.
    uint64_t private_total(int32_t sequences) const;
    // Everything, mapped weights included.
    uint64_t total(int32_t sequences) const;
};

// A per-thread session over a resident model. NOT thread-safe: one thread uses
// it at a time (a PredictorPool hands one to each thread). Holds a shared
// reference to its Model, so the Model outlives it.
class Predictor {
   public:
    virtual ~Predictor() = default;
    // Errors: InvalidArgument for a bad request (empty or overlong prompt,
    // invalid UTF-8, no chat template); Internal when the engine fails.
    virtual Result<Generation> generate(const GenerationRequest& request) = 0;
};

struct BatchEngineStats {
    int64_t submitted = 0;
    int64_t completed = 0;  // with a Generation
    int64_t failed = 0;     // with an error, the two below included
    int64_t cancelled = 0;  // stopped by their cancel token (queued or running)
    int64_t expired = 0;    // past their deadline (timeout_seconds)
    int64_t decode_calls = 0;
    int64_t prompt_tokens = 0;  // decoded
    int64_t reused_tokens = 0;  // prompt tokens whose KV cells came from an earlier prompt
    int64_t generated_tokens = 0;
    int32_t max_in_flight = 0;  // most sequences decoded together
    int32_t kv_cells = 0;       // KV cells per sequence now
    int64_t kv_growths = 0;     // times the context grew for a longer row
};

// Serves requests from many threads through one context. Thread-safe. The
// destructor cancels what is still queued (Cancelled) and joins its thread.
class BatchEngine {
   public:
    // Receives a request's outcome, exactly once: on the engine's thread, or
    // on the submitting thread for a request refused before it queued (bad
    // request, engine shut down). It holds up the decode loop: return quickly.
    using Completion = std::function<void(Result<Generation>)>;

    virtual ~BatchEngine() = default;
    // Queues a request whose outcome goes to `done`. Waits up to `timeout`
    // for room in the queue (nullopt: as long as it takes, the backpressure);
    // returns false, without calling `done`, when the queue stayed full.
    virtual bool enqueue(GenerationRequest request, Completion done,
                         std::optional<std::chrono::milliseconds> timeout) = 0;
    // Stops taking requests, cancels queued ones, finishes nothing more.
    virtual void shutdown() = 0;
    virtual BatchEngineStats stats() const = 0;
    virtual int32_t slots() const = 0;

    // enqueue() with the outcome in a future; blocks while the queue is full.
    std::future<Result<Generation>> submit(GenerationRequest request) {
        auto promise = std::make_shared<std::promise<Result<Generation>>>();
        auto future = promise->get_future();
        enqueue(
            std::move(request),
            [promise](Result<Generation> r) { promise->set_value(std::move(r)); }, std::nullopt);
        return future;
    }
    // As submit(), but nullopt when the queue stayed full for `timeout`.
    std::optional<std::future<Result<Generation>>> try_submit(GenerationRequest request,
                                                              std::chrono::milliseconds timeout) {
        auto promise = std::make_shared<std::promise<Result<Generation>>>();
        auto future = promise->get_future();
        if (!enqueue(
                std::move(request),
                [promise](Result<Generation> r) { promise->set_value(std::move(r)); }, timeout)) {
            return std::nullopt;
        }
        return future;
    }
};

// A model loaded once per process, immutable and shared by every thread.
// All methods are thread-safe.
class Model {
   public:
    virtual ~Model() = default;
    virtual const ModelInfo& info() const = 0;
    // The spec it was loaded with (resolved path in `source`).
    virtual const ModelSpec& spec() const = 0;
    virtual double load_seconds() const = 0;
    // Bytes of tensor data the engine placed in memory (mapped or copied).
    virtual uint64_t loaded_bytes() const = 0;
    // Where the weights went and why, e.g. "shared (mapped): weights=shared
    // was asked for"; spec().weights holds the resolved placement.
    virtual const std::string& placement() const = 0;
    // A new context with one sequence. `options` supplies the context options
    // (ctx_size, threads, batch_size, seed); its load options are ignored.
    // Errors: InvalidArgument for bad options; ResourceExhausted when the
    // context cannot be allocated.
    virtual Result<std::unique_ptr<Predictor>> create_predictor(const ModelSpec& options) const = 0;
    // A new batch engine with `options.parallel` sequences and its own thread.
    virtual Result<std::unique_ptr<BatchEngine>> create_batch_engine(
        const ModelSpec& options) const = 0;

    // Image classifiers (task classify) only; the others say InvalidArgument.
    // A light per-thread handle: batches of `options.parallel` images.
    virtual Result<std::unique_ptr<Classifier>> create_classifier(const ModelSpec& options) const;
    // A batch engine gathering images from many threads into calls of up to
    // `options.parallel` images (queue: options.queue_capacity, 0 = 2 x parallel).
    virtual Result<std::unique_ptr<ClassifyEngine>> create_classify_engine(
        const ModelSpec& options) const;
    // Classes of a classifier's output; 0 for other models.
    virtual int32_t classes() const { return 0; }
};

// Models this process has loaded, through any registry (the shared one and
// private ones alike), and the seconds those loads took. Thread-safe.
struct LoadCounters {
    int64_t loads = 0;
    double seconds = 0;
};
LoadCounters process_load_counters();

// Reads a model file's metadata without loading its weights. Errors: NotFound,
// DataLoss (not GGUF, truncated, corrupt), InvalidArgument (unknown engine).
Result<ModelInfo> inspect_model(const std::string& path, std::string_view engine = "llama");
// The memory `spec` needs for this model with `sequences` sequences.
MemoryEstimate estimate_memory(const ModelInfo& info, const ModelSpec& spec);

}  // namespace resident
