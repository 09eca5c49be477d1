// The llama.cpp engine's resident model: a llama_model loaded once, shared
// read-only by every predictor and batch engine created from it.
#pragma once

#include <llama.h>

#include <memory>
#include <string>

#include "engines/llama/llama_handles.h"
#include "resident/memory_budget.h"
#include "resident/model.h"

namespace resident::internal::llama {

// A llama_context with the budget it holds and the size of its sequences.
struct SizedContext {
    ContextPtr ctx;
    MemoryReservation memory;
    int32_t cells = 0;  // KV cells per sequence
};

class LlamaModel final : public Model, public std::enable_shared_from_this<LlamaModel> {
   public:
    // Checks the file and the memory it needs, then loads it. `spec.source`
    // is the resolved local path. Errors: see inspect_gguf; ResourceExhausted
    // when the estimate exceeds the memory limit; DataLoss when llama.cpp
    // rejects the file.
    static Result<std::shared_ptr<LlamaModel>> load(const ModelSpec& spec);
    ~LlamaModel() override;

    const ModelInfo& info() const override { return info_; }
    const ModelSpec& spec() const override { return spec_; }
    double load_seconds() const override { return load_seconds_; }
    uint64_t loaded_bytes() const override;
    Result<std::unique_ptr<Predictor>> create_predictor(const ModelSpec& options) const override;
    Result<std::unique_ptr<BatchEngine>> create_batch_engine(
        const ModelSpec& options) const override;

    const llama_model* get() const { return model_.get(); }
    const llama_vocab* vocab() const { return llama_model_get_vocab(model_.get()); }
    // The chat template from the file's metadata, or nullptr.
    const char* chat_template() const { return llama_model_chat_template(model_.get(), nullptr); }

    // A context for `n_seq` sequences of `cells` KV cells each (one stream
    // per sequence), its memory reserved in the process budget first.
    // Errors: ResourceExhausted when the budget or llama.cpp cannot hold it.
    Result<SizedContext> new_context(const ModelSpec& options, int32_t n_seq, int32_t cells) const;
    // KV cells per sequence for a row that needs `need` tokens: kv_tokens when
    // set, else the next power of two (at least 64), at most ctx_size.
    static int32_t cells_for(const ModelSpec& options, int32_t need);
    const std::string& placement() const override { return placement_; }

   private:
    // How the crash report names the model: its file name.
    static std::string crash_name(const ModelSpec& spec);
    LlamaModel(ModelSpec spec, ModelInfo info, ModelPtr model, double seconds,
               MemoryReservation memory, std::string placement);

    ModelSpec spec_;
    ModelInfo info_;
    ModelPtr model_;
    double load_seconds_;
    MemoryReservation memory_;  // the private weights, in the process budget
    std::string placement_;
};

}  // namespace resident::internal::llama
