// What a caller asks of a text-generation model and what it gets back. Plain
// values: copyable, no handles, safe to move between threads.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "resident/status.h"

namespace resident {

struct ChatMessage {
    std::string role;  // "system", "user", "assistant"
    std::string content;
};

// Per-request sampling. Defaults are deterministic: greedy decoding.
struct SamplingParams {
    int32_t max_tokens = 128;  // tokens to generate at most; >= 1
    float temperature = 0.0f;  // 0 = greedy; > 0 samples
    int32_t top_k = 40;        // 0 = off; used when temperature > 0
    float top_p = 0.95f;       // 1 = off; used when temperature > 0
    float min_p = 0.05f;       // 0 = off; used when temperature > 0
    // Seed of this request's sampler. When unset, the seed is derived from
    // `row_key` if given, else from the model spec's default seed: the same
    // request always yields the same text.
    std::optional<uint64_t> seed;
    std::vector<std::string> stop;  // generation ends before the first match
    bool ignore_eos = false;        // keep generating past end-of-sequence (benchmarks)

    // The one home of the sampling rules: engines check every request with
    // it, and front ends check a job's settings with it before any work.
    // Errors: InvalidArgument naming the field, its value and the valid range.
    Status validate() const;
};

// Stops the requests that hold it, from any thread: a queued request is
// dropped and a running one ends before its next decode step, both with
// Cancelled; its KV cells go to the next request. One token may be shared by
// many requests (e.g. every row of a Spark task).
class CancelToken {
   public:
    void cancel() noexcept { cancelled_.store(true, std::memory_order_relaxed); }
    bool cancelled() const noexcept { return cancelled_.load(std::memory_order_relaxed); }

   private:
    std::atomic<bool> cancelled_{false};
};

struct GenerationRequest {
    // Either a raw prompt, tokenized as is...
    std::string prompt;
    // ...or chat messages, rendered with the model's own chat template. When
    // non-empty, `prompt` is ignored.
    std::vector<ChatMessage> messages;
    // Prepended as a system message; turns a raw prompt into a chat with one
    // user message.
    std::optional<std::string> system_prompt;
    SamplingParams sampling;
    // A stable key of the input row (e.g. its id); seeds the sampler when
    // `sampling.seed` is unset, so a retried Spark task reproduces its rows.
    std::optional<std::string> row_key;
    // Cancels this request when the caller gives up on it; null = never.
    std::shared_ptr<const CancelToken> cancel;
    // The request fails with DeadlineExceeded once this many seconds have
    // passed since it was submitted (time queued included); 0 = no deadline.
    double timeout_seconds = 0;

    // The request's own rules beyond sampling (the timeout). Errors:
    // InvalidArgument naming the field.
    Status validate() const;
};

// When a request must stop: its cancel token or its deadline, fixed when it
// was submitted. Engines check it before every decode step.
class RequestInterrupt {
   public:
    RequestInterrupt() = default;
    explicit RequestInterrupt(const GenerationRequest& request);
    // Ok, or Cancelled / DeadlineExceeded saying why the request stopped.
    Status check() const;

   private:
    std::shared_ptr<const CancelToken> token_;
    std::optional<std::chrono::steady_clock::time_point> deadline_;
    double timeout_seconds_ = 0;
};

enum class FinishReason {
    kStop,     // end-of-sequence token or a stop string
    kLength,   // max_tokens reached
    kContext,  // the sequence filled its context window
};

std::string_view finish_reason_name(FinishReason reason);

struct Generation {
    std::string text;  // valid UTF-8; a token split across the end is dropped
    int32_t prompt_tokens = 0;
    int32_t completion_tokens = 0;
    FinishReason finish_reason = FinishReason::kStop;
    uint64_t seed = 0;  // the seed the sampler used
    // Wall time from the start of prompt processing to the first sampled
    // token, and from there to the last. In a batch engine both include the
    // time other sequences shared the decode calls.
    double prompt_seconds = 0;
    double generation_seconds = 0;
};

// The seed a request will be sampled with (see SamplingParams::seed).
uint64_t effective_seed(const GenerationRequest& request, uint64_t default_seed);

}  // namespace resident
