#include "engines/engines.h"

#include <algorithm>
#include <mutex>

#include "engines/llama/gguf_inspect.h"
#include "engines/llama/llama_backend.h"
#include "engines/llama/llama_model.h"
#include "engines/onnx/onnx_model.h"
#include "fmt/format.h"
#include "resident/system_info.h"

namespace resident {

namespace {

std::mutex g_counters_mu;
LoadCounters g_counters;  // guarded by g_counters_mu

}  // namespace

LoadCounters process_load_counters() {
    std::lock_guard lock(g_counters_mu);
    return g_counters;
}

namespace internal {

namespace {
std::shared_ptr<const Model> counted(std::shared_ptr<const Model> model) {
    std::lock_guard lock(g_counters_mu);
    ++g_counters.loads;
    g_counters.seconds += model->load_seconds();
    return model;
}
}  // namespace

Result<std::shared_ptr<const Model>> load_model(const ModelSpec& spec) {
    if (spec.engine == "llama") {
        RESIDENT_ASSIGN_OR_RETURN(auto model, llama::LlamaModel::load(spec));
        return counted(std::move(model));
    }
    if (spec.engine == "onnx") {
        RESIDENT_ASSIGN_OR_RETURN(auto model, onnx::OnnxModel::load(spec));
        return counted(std::move(model));
    }
    return invalid_argument(
        fmt::format("unknown engine '{}': the engines are: llama, onnx", spec.engine));
}

}  // namespace internal

Result<SystemInfo> system_info() { return internal::llama::backend_system_info(); }

Result<ModelInfo> inspect_model(const std::string& path, std::string_view engine) {
    if (engine == "llama") return internal::llama::inspect_gguf(path);
    if (engine == "onnx") return internal::onnx::inspect_onnx(path);
    return invalid_argument(
        fmt::format("unknown engine '{}': the engines are: llama, onnx", engine));
}

Result<std::unique_ptr<Classifier>> Model::create_classifier(const ModelSpec&) const {
    return invalid_argument(fmt::format(
        "model '{}' generates text (engine {}): classifying images needs an image classifier "
        "(engine onnx)",
        info().path, spec().engine));
}

Result<std::unique_ptr<ClassifyEngine>> Model::create_classify_engine(const ModelSpec& o) const {
    return create_classifier(o).status();
}

uint64_t MemoryEstimate::private_total(int32_t sequences) const {
    return weights_private + kv_per_sequence * static_cast<uint64_t>(sequences) + compute;
}

uint64_t MemoryEstimate::total(int32_t sequences) const {
    return private_total(sequences) + (weights - weights_private);
}

MemoryEstimate estimate_memory(const ModelInfo& info, const ModelSpec& spec) {
    MemoryEstimate e;
    e.weights = info.tensor_bytes;
    if (spec.engine == "onnx") {
        // ONNX Runtime reads the weights into its own buffers; a call's
        // activations are about 64 input images' worth per image (a margin
        // over ResNet-50's and EfficientNet's largest two layers at 224 x 224).
        e.weights_private = info.tensor_bytes;
        e.compute = static_cast<uint64_t>(spec.parallel) * 3 * 224 * 224 * 4 * 64;
        return e;
    }
    e.weights_private = !spec.use_mmap   ? info.tensor_bytes
                        : !spec.repack() ? 0
                                         : (spec.determinism == Determinism::kFast
                                                ? info.repackable_bytes
                                                : info.invariant_repackable_bytes);
    // K and V in f16 for every layer and KV head.
    e.kv_per_token = static_cast<uint64_t>(info.n_layer) * info.n_head_kv *
                     (info.head_dim_k + info.head_dim_v) * 2;
    e.kv_per_sequence =
        e.kv_per_token * static_cast<uint64_t>(spec.kv_tokens > 0 ? spec.kv_tokens : spec.ctx_size);
    // Scratch of one decode call: logits of every output row, plus activations
    // of a batch (about 16 floats per embedding element, a margin over the FFN
    // and attention temporaries of the llama and gemma3 graphs; docs/memory.md).
    const uint64_t batch = static_cast<uint64_t>(std::max(spec.batch_size, spec.parallel));
    e.compute = static_cast<uint64_t>(info.n_vocab) * 4 * batch +
                batch * static_cast<uint64_t>(info.n_embd) * 4 * 16;
    return e;
}

}  // namespace resident
