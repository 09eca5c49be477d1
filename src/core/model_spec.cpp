#include "resident/model_spec.h"

#include <algorithm>
#include <thread>

#include "fmt/format.h"

namespace resident {

std::string_view task_name(Task task) { return task == Task::kGenerate ? "generate" : "embed"; }

std::string_view determinism_name(Determinism d) {
    return d == Determinism::kBatched ? "batched" : "exact";
}

Result<Task> parse_task(std::string_view name) {
    if (name == "generate") return Task::kGenerate;
    if (name == "embed") return Task::kEmbed;
    return invalid_argument(fmt::format("unknown task '{}': use generate or embed", name));
}

Result<Determinism> parse_determinism(std::string_view name) {
    if (name == "batched") return Determinism::kBatched;
    if (name == "exact") return Determinism::kExact;
    return invalid_argument(fmt::format("unknown determinism '{}': use batched or exact", name));
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
    if (engine != "llama") {
        return invalid_argument(fmt::format("unknown engine '{}': the engines are: llama", engine));
    }
    if (task != Task::kGenerate) {
        return invalid_argument(fmt::format(
            "task '{}' is not supported yet by engine llama: use generate", task_name(task)));
    }
    if (gpu_layers < -1) return out_of_range("gpu_layers", gpu_layers, "-1 (all) or more");
    if (ctx_size < 16 || ctx_size > (1 << 20)) {
        return out_of_range("ctx_size", ctx_size, "16 to 1048576 tokens");
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
    return fmt::format("engine={};mmap={};repack={};gpu_layers={}", engine, use_mmap, repack,
                       gpu_layers);
}

int32_t ModelSpec::effective_threads() const {
    if (threads > 0) return threads;
    return static_cast<int32_t>(std::max(1u, std::thread::hardware_concurrency()));
}

}  // namespace resident
