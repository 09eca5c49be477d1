#include "engines/llama/llama_predictor.h"

#include <algorithm>

#include "engines/llama/sequence.h"
#include "fmt/format.h"

namespace resident::internal::llama {

Status decode_status(int32_t rc, int32_t n_tokens) {
    switch (rc) {
        case 0:
            return Status::ok();
        case 1:
            return resource_exhausted(fmt::format(
                "llama_decode found no KV cache room for {} tokens: lower the prompt length or "
                "raise the context size",
                n_tokens));
        case 2:
            return cancelled("llama_decode was aborted");
        default:
            return internal_error(fmt::format("llama_decode failed with code {}", rc));
    }
}

Result<int32_t> decode_prompt(llama_context* ctx, Batch& batch,
                              const std::vector<llama_token>& tokens, int32_t from,
                              llama_seq_id seq) {
    const auto n = static_cast<int32_t>(tokens.size());
    const int32_t cap = batch.capacity();
    int32_t last = -1;
    for (int32_t start = from; start < n;) {
        const int32_t end = std::min(n, (start / cap + 1) * cap);
        batch.clear();
        for (int32_t i = start; i < end; ++i) last = batch.add(tokens[i], i, seq, i == n - 1);
        RESIDENT_RETURN_IF_ERROR(decode_status(llama_decode(ctx, batch.get()), batch.size()));
        start = end;
    }
    return last;
}

LlamaPredictor::LlamaPredictor(std::shared_ptr<const LlamaModel> model, SizedContext ctx,
                               const ModelSpec& options)
    : model_(std::move(model)),
      ctx_(std::move(ctx)),
      options_(options),
      batch_(static_cast<int32_t>(llama_n_batch(ctx_.ctx.get()))) {}

Result<Generation> LlamaPredictor::generate(const GenerationRequest& request) {
    const int32_t limit = options_.row_tokens();
    RESIDENT_ASSIGN_OR_RETURN(PreparedRequest prepared,
                              prepare_request(*model_, request, limit, options_.seed));
    const int32_t need = prepared.kv_need(limit);
    if (!ctx_.ctx || ctx_.cells < need) {
        // Grow to this row's size; the old context goes first so that its
        // memory is back in the budget.
        ctx_ = {};
        RESIDENT_ASSIGN_OR_RETURN(
            ctx_, model_->new_context(options_, 1, LlamaModel::cells_for(options_, need)));
    }
    llama_context* ctx = ctx_.ctx.get();
    llama_memory_clear(llama_get_memory(ctx), true);
    Sequence seq(*model_, std::move(prepared), limit);
    seq.start_clock();
    RESIDENT_RETURN_IF_ERROR(seq.interrupted());
    RESIDENT_ASSIGN_OR_RETURN(int32_t out, decode_prompt(ctx, batch_, seq.prompt(), 0, 0));
    while (!seq.sample(ctx, out)) {
        RESIDENT_RETURN_IF_ERROR(seq.interrupted());
        batch_.clear();
        out = batch_.add(seq.last_token(), seq.next_pos(), 0, true);
        RESIDENT_RETURN_IF_ERROR(decode_status(llama_decode(ctx, batch_.get()), 1));
    }
    return seq.take_result();
}

}  // namespace resident::internal::llama
