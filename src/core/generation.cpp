#include "resident/generation.h"

#include <fmt/format.h>

#include "core/utf8.h"

namespace resident {

Status SamplingParams::validate() const {
    if (max_tokens < 1) {
        return invalid_argument(fmt::format("max_tokens = {}: use 1 or more", max_tokens));
    }
    if (!(temperature >= 0.0f) || temperature > 100.0f) {
        return invalid_argument(
            fmt::format("temperature = {}: use 0 (greedy) to 100", temperature));
    }
    if (top_k < 0) return invalid_argument(fmt::format("top_k = {}: use 0 (off) or more", top_k));
    if (!(top_p > 0.0f && top_p <= 1.0f)) {
        return invalid_argument(fmt::format("top_p = {}: use a value in (0, 1]", top_p));
    }
    if (!(min_p >= 0.0f && min_p <= 1.0f)) {
        return invalid_argument(fmt::format("min_p = {}: use a value in [0, 1]", min_p));
    }
    for (const auto& s : stop) {
        if (s.empty()) return invalid_argument("a stop string is empty: remove it");
        if (auto at = internal::first_invalid_utf8(s)) {
            return invalid_argument(fmt::format(
                "a stop string is not valid UTF-8 (bad byte 0x{:02X} at offset {}): re-encode it",
                static_cast<unsigned char>(s[*at]), *at));
        }
    }
    return Status::ok();
}

Status GenerationRequest::validate() const {
    RESIDENT_RETURN_IF_ERROR(sampling.validate());
    if (!(timeout_seconds >= 0) || timeout_seconds > 1e9) {
        return invalid_argument(fmt::format(
            "timeout_seconds = {}: use 0 (no deadline) or a number of seconds", timeout_seconds));
    }
    return Status::ok();
}

RequestInterrupt::RequestInterrupt(const GenerationRequest& request)
    : token_(request.cancel), timeout_seconds_(request.timeout_seconds) {
    if (request.timeout_seconds > 0) {
        deadline_ = std::chrono::steady_clock::now() +
                    std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                        std::chrono::duration<double>(request.timeout_seconds));
    }
}

Status RequestInterrupt::check() const {
    if (token_ && token_->cancelled()) return cancelled("the request was cancelled by its caller");
    if (deadline_ && std::chrono::steady_clock::now() >= *deadline_) {
        return deadline_exceeded(fmt::format(
            "the request ran past its deadline of {} s (timeout_seconds, time queued included): "
            "raise the timeout or lower max_tokens",
            timeout_seconds_));
    }
    return Status::ok();
}

std::string_view finish_reason_name(FinishReason reason) {
    switch (reason) {
        case FinishReason::kStop:
            return "stop";
        case FinishReason::kLength:
            return "length";
        case FinishReason::kContext:
            return "context";
    }
    return "unknown";
}

namespace {
// FNV-1a, then SplitMix64's finaliser: stable across platforms and releases,
// so a row key names the same seed everywhere (docs/determinism.md).
uint64_t mix(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
}  // namespace

uint64_t effective_seed(const GenerationRequest& request, uint64_t default_seed) {
    if (request.sampling.seed) return *request.sampling.seed;
    if (!request.row_key) return default_seed;
    uint64_t h = 0xcbf29ce484222325ull;
    for (unsigned char c : *request.row_key) {
        h ^= c;
        h *= 0x100000001b3ull;
    }
    return mix(h ^ mix(default_seed));
}

}  // namespace resident
