#include "engines/llama/llama_model.h"

#include <chrono>
#include <filesystem>

#include "core/crash_report.h"
#include "core/log.h"
#include "engines/llama/gguf_inspect.h"
#include "engines/llama/llama_backend.h"
#include "engines/llama/llama_batch_engine.h"
#include "engines/llama/llama_predictor.h"
#include "fmt/format.h"
#include "resident/memory.h"

namespace resident::internal::llama {

std::string LlamaModel::crash_name(const ModelSpec& spec) {
    return std::filesystem::path(spec.source).filename().string();
}

LlamaModel::LlamaModel(ModelSpec spec, ModelInfo info, ModelPtr model, double seconds)
    : spec_(std::move(spec)),
      info_(std::move(info)),
      model_(std::move(model)),
      load_seconds_(seconds) {}

LlamaModel::~LlamaModel() { crash_report_remove_model(crash_name(spec_)); }

namespace {

Status check_memory(const ModelInfo& info, const ModelSpec& spec) {
    const MemoryEstimate est = estimate_memory(info, spec);
    // Mapped weights are counted too: they must fit in the page cache to run
    // at speed, and on first touch they are read into it.
    const uint64_t need = est.total(spec.parallel);
    const uint64_t limit =
        spec.memory_limit_bytes > 0 ? spec.memory_limit_bytes : available_memory_bytes();
    if (limit == 0 || need <= limit) return Status::ok();
    return resource_exhausted(fmt::format(
        "model '{}' needs about {} (weights {}, KV cache {} for {} sequences of {} tokens, "
        "compute {}) but the limit is {}{}: lower the context size or sequences in flight, "
        "use a smaller quantization, or give the process more memory",
        info.path, format_bytes(need), format_bytes(est.weights),
        format_bytes(est.kv_per_sequence * spec.parallel), spec.parallel, spec.ctx_size,
        format_bytes(est.compute), format_bytes(limit),
        spec.memory_limit_bytes > 0 ? " (memory limit option)" : " (memory available now)"));
}

}  // namespace

Result<std::shared_ptr<LlamaModel>> LlamaModel::load(const ModelSpec& spec) {
    RESIDENT_RETURN_IF_ERROR(spec.validate());
    RESIDENT_ASSIGN_OR_RETURN(ModelInfo info, inspect_gguf(spec.source));
    RESIDENT_RETURN_IF_ERROR(check_memory(info, spec));

    RESIDENT_RETURN_IF_ERROR(ensure_backend());
    llama_model_params params = llama_model_default_params();
    params.load_mode = spec.use_mmap ? LLAMA_LOAD_MODE_MMAP : LLAMA_LOAD_MODE_NONE;
    params.use_extra_bufts = spec.repack;
    params.n_gpu_layers = spec.gpu_layers;

    LogCapture capture;
    // Named in the crash line from the start of its load to its release.
    crash_report_add_model(crash_name(spec));
    const auto start = std::chrono::steady_clock::now();
    ModelPtr model(llama_model_load_from_file(spec.source.c_str(), params));
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
    logger().debug("loaded {} in {:.2f} s", spec.source, seconds);
    return std::shared_ptr<LlamaModel>(
        new LlamaModel(spec, std::move(info), std::move(model), seconds));
}

uint64_t LlamaModel::loaded_bytes() const { return llama_model_size(model_.get()); }

Result<ContextPtr> LlamaModel::new_context(const ModelSpec& options, int32_t n_seq) const {
    llama_context_params p = llama_context_default_params();
    p.n_ctx = static_cast<uint32_t>(options.ctx_size) * static_cast<uint32_t>(n_seq);
    p.n_seq_max = static_cast<uint32_t>(n_seq);
    p.n_batch = static_cast<uint32_t>(std::max(options.batch_size, n_seq));
    p.n_ubatch = p.n_batch;
    p.n_threads = options.effective_threads();
    p.n_threads_batch = p.n_threads;
    // One KV stream per sequence: attention never scans other rows' cells.
    p.kv_unified = false;
    p.no_perf = true;
    LogCapture capture;
    ContextPtr ctx(llama_init_from_model(model_.get(), p));
    if (!ctx) {
        return resource_exhausted(fmt::format(
            "cannot create a context of {} x {} tokens for '{}': {}. Lower the context size or "
            "sequences in flight",
            n_seq, options.ctx_size, spec_.source,
            capture.text().empty() ? "allocation failed" : capture.text()));
    }
    return ctx;
}

Result<std::unique_ptr<Predictor>> LlamaModel::create_predictor(const ModelSpec& options) const {
    RESIDENT_RETURN_IF_ERROR(options.validate());
    RESIDENT_ASSIGN_OR_RETURN(ContextPtr ctx, new_context(options, 1));
    return std::unique_ptr<Predictor>(
        new LlamaPredictor(shared_from_this(), std::move(ctx), options));
}

Result<std::unique_ptr<BatchEngine>> LlamaModel::create_batch_engine(
    const ModelSpec& options) const {
    RESIDENT_RETURN_IF_ERROR(options.validate());
    return LlamaBatchEngine::create(shared_from_this(), options);
}

}  // namespace resident::internal::llama
