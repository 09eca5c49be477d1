#include "resident/generation.h"

namespace resident {

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
