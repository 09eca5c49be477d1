// ggml's CPU backend comes as one plug-in per instruction-set level
// (libggml-cpu-<variant>.so). ggml would pick one by cpuid alone; Resident
// picks the best one whose every instruction set passed the CPU probe
// (core/cpu_probe.h), so a hypervisor that advertises what it does not run
// (AMX, AVX-512) never gets code it cannot execute.
#pragma once

#include <string>
#include <vector>

#include "core/cpu_probe.h"
#include "resident/status.h"
#include "resident/system_info.h"

namespace resident::internal::llama {

// The user's say, from RESIDENT_CPU_VARIANT (one name: use exactly that one)
// and RESIDENT_CPU_VARIANT_DENY (comma-separated names never to use).
struct VariantPolicy {
    std::string pin;
    std::vector<std::string> deny;
};

// Reads the two environment variables. Errors: InvalidArgument for a name that
// is not a variant of this build of ggml.
Result<VariantPolicy> variant_policy_from_env();

struct VariantChoice {
    std::string chosen;                      // empty when none can run
    std::vector<CpuVariantReport> variants;  // every known variant, best first
};

// The best variant that is present (a file beside libllama), allowed by the
// policy, and whose every instruction set passes check_isa. Pure.
// Errors: FailedPrecondition when the pinned variant cannot run here or none
// can, naming each variant's reason and the setting to change.
Result<VariantChoice> choose_cpu_variant(const CpuFacts& facts,
                                         const std::vector<std::string>& present,
                                         const VariantPolicy& policy);

// The variant names of this build of ggml, best first.
std::vector<std::string> known_cpu_variants();

}  // namespace resident::internal::llama
