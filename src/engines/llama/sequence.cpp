#include "engines/llama/sequence.h"

#include <algorithm>

#include "core/utf8.h"
#include "engines/llama/llama_model.h"
#include "fmt/format.h"

namespace resident::internal::llama {
namespace {

constexpr size_t kMaxPromptBytes = 16u << 20;

Status check_text(std::string_view what, std::string_view text) {
    if (text.size() > kMaxPromptBytes) {
        return invalid_argument(
            fmt::format("{} is {} bytes, more than the {} MiB a prompt may have: "
                        "shorten it",
                        what, text.size(), kMaxPromptBytes >> 20));
    }
    if (auto at = first_invalid_utf8(text)) {
        return invalid_argument(fmt::format(
            "{} is not valid UTF-8 (bad byte 0x{:02X} at offset {}): re-encode the input as UTF-8",
            what, static_cast<unsigned char>(text[*at]), *at));
    }
    return Status::ok();
}

Result<std::string> render_chat(const LlamaModel& model, const GenerationRequest& request) {
    std::vector<llama_chat_message> messages;
    if (request.system_prompt) {
        RESIDENT_RETURN_IF_ERROR(check_text("the system prompt", *request.system_prompt));
        messages.push_back({"system", request.system_prompt->c_str()});
    }
    if (request.messages.empty()) {
        messages.push_back({"user", request.prompt.c_str()});
    }
    size_t chars = request.system_prompt ? request.system_prompt->size() : 0;
    for (size_t i = 0; i < request.messages.size(); ++i) {
        const ChatMessage& m = request.messages[i];
        if (m.role.empty()) {
            return invalid_argument(
                fmt::format("chat message {} has no role: use system, user or "
                            "assistant",
                            i));
        }
        RESIDENT_RETURN_IF_ERROR(check_text(fmt::format("chat message {}", i), m.content));
        messages.push_back({m.role.c_str(), m.content.c_str()});
        chars += m.content.size();
    }
    const char* tmpl = model.chat_template();
    if (tmpl == nullptr) {
        return invalid_argument(fmt::format(
            "model '{}' has no chat template in its metadata: send a raw prompt, without chat "
            "messages or a system prompt",
            model.info().path));
    }
    std::string out(2 * (chars + request.prompt.size()) + 256, '\0');
    for (int attempt = 0; attempt < 2; ++attempt) {
        const int32_t n = llama_chat_apply_template(tmpl, messages.data(), messages.size(), true,
                                                    out.data(), static_cast<int32_t>(out.size()));
        if (n < 0) {
            return invalid_argument(fmt::format(
                "the chat template of '{}' is not one llama.cpp can apply: send a raw prompt "
                "rendered by the caller",
                model.info().path));
        }
        if (static_cast<size_t>(n) <= out.size()) {
            out.resize(n);
            return out;
        }
        out.resize(n);
    }
    return internal_error("chat template output kept growing");
}

}  // namespace

Result<PreparedRequest> prepare_request(const LlamaModel& model, const GenerationRequest& request,
                                        int32_t ctx_size, uint64_t default_seed) {
    RESIDENT_RETURN_IF_ERROR(request.validate());
    const bool chat = !request.messages.empty() || request.system_prompt.has_value();
    if (request.messages.empty()) {
        if (request.prompt.empty()) {
            return invalid_argument("prompt is empty: give each row a non-empty prompt");
        }
        RESIDENT_RETURN_IF_ERROR(check_text("prompt", request.prompt));
    }
    std::string text;
    if (chat) {
        RESIDENT_ASSIGN_OR_RETURN(text, render_chat(model, request));
    }
    const std::string& input = chat ? text : request.prompt;

    PreparedRequest out;
    out.sampling = request.sampling;
    out.seed = effective_seed(request, default_seed);
    out.interrupt = RequestInterrupt(request);
    // Special tokens are parsed only in text the chat template produced, so
    // that row data can never inject control tokens into a raw prompt.
    const auto len = static_cast<int32_t>(input.size());
    out.prompt.resize(input.size() + 2);
    int32_t n = llama_tokenize(model.vocab(), input.data(), len, out.prompt.data(),
                               static_cast<int32_t>(out.prompt.size()), true, chat);
    if (n < 0 && n != INT32_MIN) {
        out.prompt.resize(-n);
        n = llama_tokenize(model.vocab(), input.data(), len, out.prompt.data(),
                           static_cast<int32_t>(out.prompt.size()), true, chat);
    }
    if (n < 0) return invalid_argument("prompt could not be tokenized: shorten it");
    if (n == 0) return invalid_argument("prompt has no tokens: give each row a non-empty prompt");
    out.prompt.resize(n);
    if (n >= ctx_size) {
        return invalid_argument(fmt::format(
            "prompt has {} tokens but a sequence's context holds {}: shorten the prompt or raise "
            "the context size (ctx_size / --ctx-size, and kv_tokens when set)",
            n, ctx_size));
    }
    return out;
}

namespace {

SamplerPtr make_sampler(const SamplingParams& s, uint64_t seed) {
    llama_sampler_chain_params params = llama_sampler_chain_default_params();
    params.no_perf = true;
    SamplerPtr chain(llama_sampler_chain_init(params));
    if (s.temperature <= 0.0f) {
        llama_sampler_chain_add(chain.get(), llama_sampler_init_greedy());
        return chain;
    }
    if (s.top_k > 0) llama_sampler_chain_add(chain.get(), llama_sampler_init_top_k(s.top_k));
    if (s.top_p < 1.0f) llama_sampler_chain_add(chain.get(), llama_sampler_init_top_p(s.top_p, 1));
    if (s.min_p > 0.0f) llama_sampler_chain_add(chain.get(), llama_sampler_init_min_p(s.min_p, 1));
    llama_sampler_chain_add(chain.get(), llama_sampler_init_temp(s.temperature));
    // llama.cpp reads the seed 0xFFFFFFFF as "pick a random one": never pass it.
    auto seed32 = static_cast<uint32_t>(seed ^ (seed >> 32));
    if (seed32 == LLAMA_DEFAULT_SEED) seed32 -= 1;
    llama_sampler_chain_add(chain.get(), llama_sampler_init_dist(seed32));
    return chain;
}

}  // namespace

Sequence::Sequence(const LlamaModel& model, PreparedRequest request, int32_t ctx_size)
    : vocab_(model.vocab()),
      request_(std::move(request)),
      ctx_size_(ctx_size),
      sampler_(make_sampler(request_.sampling, request_.seed)) {}

void Sequence::start_clock() { started_ = std::chrono::steady_clock::now(); }

bool Sequence::sample(llama_context* ctx, int32_t output_index) {
    last_token_ = llama_sampler_sample(sampler_.get(), ctx, output_index);
    last_token_at_ = std::chrono::steady_clock::now();
    if (completion_tokens_ == 0) first_token_ = last_token_at_;
    ++completion_tokens_;
    if (!request_.sampling.ignore_eos && llama_vocab_is_eog(vocab_, last_token_)) {
        finish_ = FinishReason::kStop;
        return true;
    }
    if (append_piece(last_token_)) {
        finish_ = FinishReason::kStop;
        return true;
    }
    if (completion_tokens_ >= request_.sampling.max_tokens) {
        finish_ = FinishReason::kLength;
        return true;
    }
    // The token just sampled needs a cell of its own to be decoded.
    if (n_prompt() + completion_tokens_ >= ctx_size_) {
        finish_ = FinishReason::kContext;
        return true;
    }
    return false;
}

// Appends the token's text; true when a stop string now appears (the text is
// cut before it).
bool Sequence::append_piece(llama_token token) {
    char buf[256];
    int32_t n = llama_token_to_piece(vocab_, token, buf, sizeof buf, 0, false);
    const size_t before = text_.size();
    if (n < 0) {
        std::string big(static_cast<size_t>(-n), '\0');
        n = llama_token_to_piece(vocab_, token, big.data(), -n, 0, false);
        if (n > 0) text_.append(big.data(), n);
    } else {
        text_.append(buf, n);
    }
    size_t cut = std::string::npos;  // the earliest match wins
    for (const std::string& stop : request_.sampling.stop) {
        // Only a match that ends in the new piece is new.
        const size_t from = before >= stop.size() ? before - stop.size() + 1 : 0;
        cut = std::min(cut, text_.find(stop, from));
    }
    if (cut == std::string::npos) return false;
    text_.resize(cut);
    return true;
}

Generation Sequence::take_result() {
    Generation g;
    g.text = sanitize_utf8(text_);
    g.prompt_tokens = n_prompt();
    g.completion_tokens = completion_tokens_;
    g.finish_reason = finish_;
    g.seed = request_.seed;
    using Seconds = std::chrono::duration<double>;
    if (started_ != std::chrono::steady_clock::time_point{}) {
        g.prompt_seconds = Seconds(first_token_ - started_).count();
    }
    g.generation_seconds = Seconds(last_token_at_ - first_token_).count();
    return g;
}

}  // namespace resident::internal::llama
