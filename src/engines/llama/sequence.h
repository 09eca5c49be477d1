// One request's way through the engine, shared by the predictor and the batch
// engine so both paths tokenize, sample and stop in exactly the same way:
//
//   GenerationRequest --prepare_request--> PreparedRequest (prompt tokens)
//     --Sequence--> sample, detokenize, check stops --> Generation
#pragma once

#include <llama.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include "engines/llama/llama_handles.h"
#include "resident/generation.h"
#include "resident/status.h"

namespace resident::internal::llama {

class LlamaModel;

struct PreparedRequest {
    std::vector<llama_token> prompt;  // [n_prompt]
    // KV cells the row can need: prompt + max_tokens, at most `limit`.
    int32_t kv_need(int32_t limit) const {
        return static_cast<int32_t>(
            std::min<int64_t>(static_cast<int64_t>(prompt.size()) + sampling.max_tokens, limit));
    }
    SamplingParams sampling;
    uint64_t seed = 0;
    RequestInterrupt interrupt;  // from the moment it was prepared (submitted)
};

// Validates the request, renders chat messages with the model's template and
// tokenizes. Thread-safe: reads the shared model only. Errors: InvalidArgument
// naming the fault (empty prompt, invalid UTF-8, prompt longer than
// `ctx_size` tokens, bad sampling parameters, no chat template).
Result<PreparedRequest> prepare_request(const LlamaModel& model, const GenerationRequest& request,
                                        int32_t ctx_size, uint64_t default_seed);

// The decoding state of one sequence: its sampler, its text so far and the
// stop checks. Belongs to one thread at a time.
class Sequence {
   public:
    Sequence(const LlamaModel& model, PreparedRequest request, int32_t ctx_size);

    const std::vector<llama_token>& prompt() const { return request_.prompt; }
    int32_t n_prompt() const { return static_cast<int32_t>(request_.prompt.size()); }

    // Ok while the request may go on; else why it must stop now (cancelled,
    // past its deadline).
    Status interrupted() const { return request_.interrupt.check(); }
    // Marks the start of prompt processing (for Generation::prompt_seconds).
    void start_clock();
    // Samples the next token from output row `output_index` of the context's
    // last decode. Returns true when the sequence has finished; otherwise the
    // token must be decoded next, at position next_pos().
    bool sample(llama_context* ctx, int32_t output_index);
    llama_token last_token() const { return last_token_; }
    llama_pos next_pos() const { return n_prompt() + completion_tokens_ - 1; }

    // The result; call once, after sample() returned true.
    Generation take_result();

   private:
    bool append_piece(llama_token token);

    const llama_vocab* vocab_;
    PreparedRequest request_;
    int32_t ctx_size_;
    SamplerPtr sampler_;
    std::string text_;
    int32_t completion_tokens_ = 0;
    llama_token last_token_ = 0;
    FinishReason finish_ = FinishReason::kStop;
    std::chrono::steady_clock::time_point started_{}, first_token_{}, last_token_at_{};
};

}  // namespace resident::internal::llama
