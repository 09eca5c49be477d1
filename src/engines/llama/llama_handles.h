// RAII owners for llama.cpp's C handles. Every handle the engine creates lives
// in one of these, so no path (error, cancel, shutdown) leaks one.
#pragma once

#include <gguf.h>
#include <llama.h>

#include <memory>

namespace resident::internal::llama {

struct ModelDeleter {
    void operator()(llama_model* m) const { llama_model_free(m); }
};
struct ContextDeleter {
    void operator()(llama_context* c) const { llama_free(c); }
};
struct SamplerDeleter {
    void operator()(llama_sampler* s) const { llama_sampler_free(s); }
};
struct GgufDeleter {
    void operator()(gguf_context* g) const { gguf_free(g); }
};

using ModelPtr = std::unique_ptr<llama_model, ModelDeleter>;
using ContextPtr = std::unique_ptr<llama_context, ContextDeleter>;
using SamplerPtr = std::unique_ptr<llama_sampler, SamplerDeleter>;
using GgufPtr = std::unique_ptr<gguf_context, GgufDeleter>;

// A llama_batch with room for `capacity` tokens of one sequence id each.
class Batch {
   public:
    explicit Batch(int32_t capacity)
        : batch_(llama_batch_init(capacity, 0, 1)), capacity_(capacity) {}
    ~Batch() { llama_batch_free(batch_); }
    Batch(const Batch&) = delete;
    Batch& operator=(const Batch&) = delete;

    void clear() { batch_.n_tokens = 0; }
    // Index of the added token in the batch.
    int32_t add(llama_token token, llama_pos pos, llama_seq_id seq, bool output) {
        const int32_t i = batch_.n_tokens++;
        batch_.token[i] = token;
        batch_.pos[i] = pos;
        batch_.n_seq_id[i] = 1;
        batch_.seq_id[i][0] = seq;
        batch_.logits[i] = output;
        return i;
    }
    int32_t size() const { return batch_.n_tokens; }
    int32_t capacity() const { return capacity_; }
    const llama_batch& get() const { return batch_; }

   private:
    llama_batch batch_;
    int32_t capacity_;
};

}  // namespace resident::internal::llama
