// A predictor: one llama_context (one sequence, its own KV cache) over a
// shared resident model. Not thread-safe: one thread uses it at a time.
#pragma once

#include <memory>

#include "engines/llama/llama_handles.h"
#include "engines/llama/llama_model.h"
#include "resident/model.h"

namespace resident::internal::llama {

class LlamaPredictor final : public Predictor {
   public:
    LlamaPredictor(std::shared_ptr<const LlamaModel> model, SizedContext ctx,
                   const ModelSpec& options);

    Result<Generation> generate(const GenerationRequest& request) override;

   private:
    std::shared_ptr<const LlamaModel> model_;  // outlives ctx_
    SizedContext ctx_;  // grown when a row needs more cells; empty after a failed growth
    ModelSpec options_;
    Batch batch_;
};

// Decodes the prompt `tokens` of sequence `seq` (token i at position i) from
// token `from` on, in chunks that start at multiples of `batch.capacity()`,
// asking for the logits of the last token only. Shared by the predictor and
// the invariant mode of the batch engine, so that both feed llama.cpp the same
// shapes: a prompt continued from a reused prefix of whole chunks (`from` a
// multiple of the capacity) is decoded exactly as it would be from 0.
// Returns the batch index of the last token's output. Errors: Internal when
// llama_decode fails.
Result<int32_t> decode_prompt(llama_context* ctx, Batch& batch,
                              const std::vector<llama_token>& tokens, int32_t from,
                              llama_seq_id seq);

// Maps llama_decode's return code to a Status.
Status decode_status(int32_t rc, int32_t n_tokens);

}  // namespace resident::internal::llama
