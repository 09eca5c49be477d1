#include "engines/llama/llama_model.h"

#include <chrono>
#include <filesystem>
#include <optional>

#include "core/crash_report.h"
#include "core/log.h"
#include "engines/llama/gguf_inspect.h"
#include "engines/llama/llama_backend.h"
#include "engines/llama/llama_batch_engine.h"
#include "engines/llama/llama_predictor.h"
#include "engines/llama/prefetch.h"
#include "fmt/format.h"
#include "resident/memory.h"

namespace resident::internal::llama {

std::string LlamaModel::crash_name(const ModelSpec& spec) {
    return std::filesystem::path(spec.source).filename().string();
}

LlamaModel::LlamaModel(ModelSpec spec, ModelInfo info, ModelPtr model, double seconds,
                       MemoryReservation memory, std::string placement)
    : spec_(std::move(spec)),
      info_(std::move(info)),
      model_(std::move(model)),
      load_seconds_(seconds),
      memory_(std::move(memory)),
      placement_(std::move(placement)) {}

LlamaModel::~LlamaModel() { crash_report_remove_model(crash_name(spec_)); }

namespace {

// The smallest context a row could run in: one sequence of 64 cells (or
// kv_tokens) with its compute buffers.
uint64_t smallest_context_bytes(const ModelInfo& info, const ModelSpec& spec) {
    ModelSpec one = spec;
    one.parallel = 1;
    one.kv_tokens = LlamaModel::cells_for(spec, 1);
    const MemoryEstimate est = estimate_memory(info, one);
    return est.kv_per_sequence + est.compute;
}

}  // namespace

int32_t LlamaModel::cells_for(const ModelSpec& options, int32_t need) {
    if (options.kv_tokens > 0) return options.kv_tokens;
    int32_t cells = 64;
    while (cells < need && cells < options.ctx_size) cells *= 2;
    return std::min(cells, options.ctx_size);
}

Result<std::shared_ptr<LlamaModel>> LlamaModel::load(const ModelSpec& spec_in) {
    RESIDENT_RETURN_IF_ERROR(spec_in.validate());
    RESIDENT_ASSIGN_OR_RETURN(ModelInfo info, inspect_gguf(spec_in.source));
    const WeightsChoice choice = resolve_weights(info, spec_in);
    ModelSpec spec = spec_in;
    spec.weights = choice.weights;
    const std::string placement = fmt::format("weights {} ({}): {}", weights_name(choice.weights),
                                              !spec.use_mmap  ? "read into memory"
                                              : spec.repack() ? "repacked"
                                                              : "mapped",
                                              choice.reason);
    const MemoryEstimate est = estimate_memory(info, spec);
    const std::string what = fmt::format("model '{}' ({})", info.path, placement);
    const std::string lower =
        spec.weights == Weights::kPrivate
            ? "a smaller quantization, weights=shared, fewer sequences in flight"
            : "a smaller quantization, fewer sequences in flight, a smaller batch_size";
    // The weights held privately are reserved for the model's lifetime; a
    // load that does not fit now waits for others to give memory back (so
    // per-partition loads on one executor queue instead of overcommitting).
    // The model must also leave room for at least one small context.
    {
        RESIDENT_ASSIGN_OR_RETURN(
            MemoryReservation probe,
            reserve_memory(est.weights_private + smallest_context_bytes(info, spec),
                           what + " with its smallest context", spec.memory_limit_bytes, true,
                           lower));
    }
    RESIDENT_ASSIGN_OR_RETURN(
        MemoryReservation memory,
        reserve_memory(est.weights_private, what, spec.memory_limit_bytes, true, lower));

    RESIDENT_RETURN_IF_ERROR(ensure_backend());
    llama_model_params params = llama_model_default_params();
    params.load_mode = spec.use_mmap ? LLAMA_LOAD_MODE_MMAP : LLAMA_LOAD_MODE_NONE;
    // In invariant mode the weights are repacked only where every quantized
    // matrix goes to AMX, whose sums do not depend on the batch
    // (inspect_gguf decides; resolve_weights resolves to shared otherwise).
    params.use_extra_bufts = spec.repack() && (spec.determinism == Determinism::kFast ||
                                               info.invariant_repackable_bytes > 0);
    params.n_gpu_layers = spec.gpu_layers;

    LogCapture capture;
    // Named in the crash line from the start of its load to its release.
    crash_report_add_model(crash_name(spec));
    const auto start = std::chrono::steady_clock::now();
    ModelPtr model;
    {
        // Optionally, cold files are read ahead of the loader (prefetch.h).
        std::optional<Prefetch> prefetch;
        const auto parts = split_part_paths(spec.source, info.split_count);
        if (spec.use_mmap && prefetch_enabled()) prefetch.emplace(parts);
        // While repacking, give back the mapped pages already copied every
        // 5% of the load, so the process never holds the model twice.
        struct Progress {
            const std::vector<std::string>* parts;
            float last = 0;
        } progress{&parts};
        if (spec.use_mmap && spec.repack()) {
            params.progress_callback = [](float done, void* data) {
                auto* p = static_cast<Progress*>(data);
                if (done - p->last >= 0.05f) {
                    release_mapped_pages(*p->parts);
                    p->last = done;
                }
                return true;
            };
            params.progress_callback_user_data = &progress;
        }
        {
            AssertionsThrow assertions_throw;  // a hostile value is a load error
            model.reset(llama_model_load_from_file(spec.source.c_str(), params));
        }
        // The repacking read every page of the tensors it copied through the
        // mapping; those pages stay counted in this process (RSS and PSS as
        // large again as the model) though nothing reads them after the load.
        // Dropping the mapping's page-table entries gives them back to the
        // page cache; pages still in use (tensors left mapped) fault back in.
        if (model && spec.use_mmap && spec.repack()) release_mapped_pages(parts);
        if (prefetch) {
            logger().debug("prefetch read {} during the load",
                           format_bytes(prefetch->bytes_read()));
        }
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (!model) {
        crash_report_remove_model(crash_name(spec));
        return data_loss(fmt::format(
            "llama.cpp could not load '{}' (architecture '{}'): {}. Check that the file is a "
            "complete GGUF of an architecture llama.cpp {} supports",
            spec.source, info.architecture,
            capture.text().empty() ? "no reason given" : capture.text(), llama_version()));
    }
    logger().debug("loaded {} in {:.2f} s, {}", spec.source, seconds, placement);
    return std::shared_ptr<LlamaModel>(new LlamaModel(spec, std::move(info), std::move(model),
                                                      seconds, std::move(memory), placement));
}

uint64_t LlamaModel::loaded_bytes() const { return llama_model_size(model_.get()); }

Result<SizedContext> LlamaModel::new_context(const ModelSpec& options, int32_t n_seq,
                                             int32_t cells) const {
    ModelSpec sized = options;
    sized.parallel = n_seq;
    sized.kv_tokens = cells;
    const MemoryEstimate est = estimate_memory(info_, sized);
    RESIDENT_ASSIGN_OR_RETURN(
        MemoryReservation memory,
        reserve_memory(
            est.kv_per_sequence * static_cast<uint64_t>(n_seq) + est.compute,
            fmt::format("a context of {} x {} KV cells for '{}'", n_seq, cells, spec_.source),
            options.memory_limit_bytes));
    llama_context_params p = llama_context_default_params();
    p.n_ctx = static_cast<uint32_t>(cells) * static_cast<uint32_t>(n_seq);
    p.n_seq_max = static_cast<uint32_t>(n_seq);
    p.n_batch = static_cast<uint32_t>(std::max(options.batch_size, n_seq));
    p.n_ubatch = p.n_batch;
    p.n_threads = options.effective_threads();
    p.n_threads_batch = p.n_threads;
    // One KV stream per sequence: attention never scans other rows' cells,
    // and a row's cells are laid out the same whatever else runs.
    p.kv_unified = false;
    // The CPU backend's flash attention takes other paths by the rows of a
    // sequence in one call (tiled from 64) and by the streams in it (the KV
    // split across threads for a lone stream): the sums, and so a row's
    // text, would depend on the batch. The plain attention's sums do not.
    p.flash_attn_type = options.determinism == Determinism::kInvariant
                            ? LLAMA_FLASH_ATTN_TYPE_DISABLED
                            : LLAMA_FLASH_ATTN_TYPE_AUTO;
    p.no_perf = true;
    LogCapture capture;
    ContextPtr ctx(llama_init_from_model(model_.get(), p));
    if (!ctx) {
        return resource_exhausted(fmt::format(
            "cannot create a context of {} x {} tokens for '{}': {}. Lower the context size or "
            "sequences in flight",
            n_seq, cells, spec_.source,
            capture.text().empty() ? "allocation failed" : capture.text()));
    }
    return SizedContext{std::move(ctx), std::move(memory), cells};
}

Result<std::unique_ptr<Predictor>> LlamaModel::create_predictor(const ModelSpec& options) const {
    RESIDENT_RETURN_IF_ERROR(options.validate());
    RESIDENT_ASSIGN_OR_RETURN(SizedContext ctx, new_context(options, 1, cells_for(options, 1)));
    return std::unique_ptr<Predictor>(
        new LlamaPredictor(shared_from_this(), std::move(ctx), options));
}

Result<std::unique_ptr<BatchEngine>> LlamaModel::create_batch_engine(
    const ModelSpec& options) const {
    RESIDENT_RETURN_IF_ERROR(options.validate());
    return LlamaBatchEngine::create(shared_from_this(), options);
}

}  // namespace resident::internal::llama
