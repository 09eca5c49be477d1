#include "resident/model_spec.h"

#include <algorithm>
#include <thread>

#include "fmt/format.h"

namespace resident {

std::string_view task_name(Task task) {
    switch (task) {
        case Task::kEmbed:
            return "embed";
        case Task::kClassify:
            return "classify";
        case Task::kGenerate:
            break;
    }
    return "generate";
}

std::string_view determinism_name(Determinism d) {
    return d == Determinism::kInvariant ? "invariant" : "fast";
}

std::string_view weights_name(Weights w) {
    switch (w) {
        case Weights::kShared:
            return "shared";
        case Weights::kPrivate:
            return "private";
        case Weights::kAuto:
            break;
    }
    return "auto";
}

Result<Weights> parse_weights(std::string_view name) {
    if (name == "auto") return Weights::kAuto;
    if (name == "shared") return Weights::kShared;
    if (name == "private") return Weights::kPrivate;
    return invalid_argument(
        fmt::format("unknown weights placement '{}': use auto, shared or private", name));
}

Result<Task> parse_task(std::string_view name) {
    if (name == "generate") return Task::kGenerate;
    if (name == "embed") return Task::kEmbed;
    if (name == "classify") return Task::kClassify;
    return invalid_argument(
        fmt::format("unknown task '{}': use generate, embed or classify", name));
}

Result<Determinism> parse_determinism(std::string_view name) {
    // "exact" and "batched" are the names of release 0.1, kept for a release.
    if (name == "invariant" || name == "exact") return Determinism::kInvariant;
    if (name == "fast" || name == "batched") return Determinism::kFast;
    return invalid_argument(fmt::format("unknown determinism '{}': use invariant or fast", name));
}

namespace {
Status out_of_range(std::string_view field, int64_t value, std::string_view range) {
    return invalid_argument(fmt::format("{} = {} is out of range: use {}", field, value, range));
}
}  // namespace

Status ModelSpec::validate() const {
    if (source.empty()) {
        return invalid_argument(
            "model source is empty: give a catalog name (resident models list) or a .gguf path");
    }
    if (engine != "llama" && engine != "onnx") {
        return invalid_argument(
            fmt::format("unknown engine '{}': the engines are: llama, onnx", engine));
    }
    if (engine == "llama" && task != Task::kGenerate) {
        return invalid_argument(fmt::format(
            "task '{}' is not supported yet by engine llama: use generate", task_name(task)));
    }
    if (engine == "onnx" && task != Task::kClassify) {
        return invalid_argument(fmt::format(
            "task '{}' is not supported by engine onnx: use classify", task_name(task)));
    }
    if (gpu_layers < -1) return out_of_range("gpu_layers", gpu_layers, "-1 (all) or more");
    if (ctx_size < 16 || ctx_size > (1 << 20)) {
        return out_of_range("ctx_size", ctx_size, "16 to 1048576 tokens");
    }
    if (kv_tokens != 0 && (kv_tokens < 16 || kv_tokens > ctx_size)) {
        return invalid_argument(fmt::format(
            "kv_tokens = {} is out of range: use 0 (sized to the rows) or 16 to ctx_size ({})",
            kv_tokens, ctx_size));
    }
    if (threads < 0 || threads > 512)
        return out_of_range("threads", threads, "0 (all cores) to 512");
    if (batch_size < 1 || batch_size > 65536) {
        return out_of_range("batch_size", batch_size, "1 to 65536 tokens");
    }
    if (parallel < 1 || parallel > 256)
        return out_of_range("parallel", parallel, "1 to 256 sequences");
    if (queue_capacity < 0)
        return out_of_range("queue_capacity", queue_capacity, "0 (auto) or more");
    return Status::ok();
}

std::string ModelSpec::load_options_key() const {
    // Repacked weights are laid out per mode (invariant: batch-invariant
    // layouts only), so the mode is part of a repacked model's identity.
    // An ONNX Runtime session owns its thread pool: threads are a load option.
    if (engine == "onnx") return fmt::format("engine=onnx;threads={}", effective_threads());
    return fmt::format("engine={};mmap={};weights={};repack={};gpu_layers={}", engine, use_mmap,
                       weights_name(weights),
                       repack() ? determinism_name(determinism) : std::string_view("none"),
                       gpu_layers);
}

int32_t ModelSpec::effective_threads() const {
    if (threads > 0) return threads;
    return static_cast<int32_t>(std::max(1u, std::thread::hardware_concurrency()));
}

}  // namespace resident
