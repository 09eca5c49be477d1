#include "engines/llama/cpu_variants.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cstdlib>
#include <string_view>

namespace resident::internal::llama {
namespace {

struct Variant {
    std::string_view name;
    std::vector<Isa> isas;
};

// The x86 variants of the pinned ggml, with the instruction sets each is
// compiled with (ggml/src/CMakeLists.txt, GGML_CPU_ALL_VARIANTS). A new pin
// that adds or changes one must change this table; the test
// CpuVariants.TableMatchesTheBuild compares it with the files the build made.
const std::vector<Variant>& variant_table() {
    using enum Isa;
    static const std::vector<Variant> table = {
        {"x64", {}},
        {"sse42", {kSse42}},
        {"sandybridge", {kSse42, kAvx}},
        {"ivybridge", {kSse42, kAvx, kF16c}},
        {"piledriver", {kSse42, kAvx, kF16c, kFma}},
        {"haswell", {kSse42, kAvx, kF16c, kFma, kAvx2, kBmi2}},
        {"skylakex", {kSse42, kAvx, kF16c, kFma, kAvx2, kBmi2, kAvx512}},
        {"cannonlake", {kSse42, kAvx, kF16c, kFma, kAvx2, kBmi2, kAvx512, kAvx512Vbmi}},
        {"cascadelake", {kSse42, kAvx, kF16c, kFma, kAvx2, kBmi2, kAvx512, kAvx512Vnni}},
        {"icelake", {kSse42, kAvx, kF16c, kFma, kAvx2, kBmi2, kAvx512, kAvx512Vbmi, kAvx512Vnni}},
        {"cooperlake",
         {kSse42, kAvx, kF16c, kFma, kAvx2, kBmi2, kAvx512, kAvx512Vnni, kAvx512Bf16}},
        {"zen4",
         {kSse42, kAvx, kF16c, kFma, kAvx2, kBmi2, kAvx512, kAvx512Vbmi, kAvx512Vnni, kAvx512Bf16}},
        {"alderlake", {kSse42, kAvx, kF16c, kFma, kAvx2, kBmi2, kAvxVnni}},
        {"sapphirerapids",
         {kSse42, kAvx, kF16c, kFma, kAvx2, kBmi2, kAvx512, kAvx512Vbmi, kAvx512Vnni, kAvx512Bf16,
          kAmxTile, kAmxInt8}},
    };
    return table;
}

// The rank ggml's own scoring gives a variant (ggml-cpu/arch/x86/cpu-feats.cpp),
// so that among the variants that can run, Resident picks the one ggml would.
int rank(const Variant& v) {
    int score = 1;
    for (Isa isa : v.isas) {
        switch (isa) {
            case Isa::kFma:
                score += 1;
                break;
            case Isa::kF16c:
                score += 1 << 1;
                break;
            case Isa::kSse42:
                score += 1 << 2;
                break;
            case Isa::kBmi2:
                score += 1 << 3;
                break;
            case Isa::kAvx:
                score += 1 << 4;
                break;
            case Isa::kAvx2:
                score += 1 << 5;
                break;
            case Isa::kAvxVnni:
                score += 1 << 6;
                break;
            case Isa::kAvx512:
                score += 1 << 7;
                break;
            case Isa::kAvx512Vbmi:
                score += 1 << 8;
                break;
            case Isa::kAvx512Bf16:
                score += 1 << 9;
                break;
            case Isa::kAvx512Vnni:
                score += 1 << 10;
                break;
            case Isa::kAmxInt8:
                score += 1 << 11;
                break;
            case Isa::kAmxTile:
                break;  // ggml counts AMX once, by its INT8 part
        }
    }
    return score;
}

std::vector<const Variant*> best_first() {
    std::vector<const Variant*> out;
    for (const Variant& v : variant_table()) out.push_back(&v);
    std::stable_sort(out.begin(), out.end(),
                     [](const Variant* a, const Variant* b) { return rank(*a) > rank(*b); });
    return out;
}

bool contains(const std::vector<std::string>& names, std::string_view name) {
    return std::find(names.begin(), names.end(), name) != names.end();
}

Status check_known(std::string_view setting, std::string_view name) {
    if (contains(known_cpu_variants(), name)) return Status::ok();
    return invalid_argument(
        fmt::format("{}: '{}' is not a CPU variant of this build; the variants are: {}", setting,
                    name, fmt::join(known_cpu_variants(), ", ")));
}

}  // namespace

std::vector<std::string> known_cpu_variants() {
    std::vector<std::string> names;
    for (const Variant* v : best_first()) names.emplace_back(v->name);
    return names;
}

Result<VariantPolicy> variant_policy_from_env() {
    VariantPolicy policy;
    if (const char* pin = std::getenv("RESIDENT_CPU_VARIANT"); pin != nullptr && *pin != '\0') {
        policy.pin = pin;
        RESIDENT_RETURN_IF_ERROR(check_known("RESIDENT_CPU_VARIANT", policy.pin));
    }
    if (const char* deny = std::getenv("RESIDENT_CPU_VARIANT_DENY"); deny != nullptr) {
        std::string_view rest(deny);
        while (!rest.empty()) {
            const size_t comma = rest.find(',');
            std::string name(rest.substr(0, comma));
            rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
            name.erase(0, name.find_first_not_of(' '));
            name.erase(name.find_last_not_of(' ') + 1);
            if (name.empty()) continue;
            RESIDENT_RETURN_IF_ERROR(check_known("RESIDENT_CPU_VARIANT_DENY", name));
            policy.deny.push_back(std::move(name));
        }
    }
    return policy;
}

Result<VariantChoice> choose_cpu_variant(const CpuFacts& facts,
                                         const std::vector<std::string>& present,
                                         const VariantPolicy& policy) {
    VariantChoice choice;
    std::vector<std::string> runnable;  // present, allowed and usable
    for (const Variant* v : best_first()) {
        CpuVariantReport r;
        r.name = v->name;
        r.present = contains(present, v->name);
        r.usable = true;
        for (Isa isa : v->isas) {
            IsaCheck check = check_isa(facts, isa);
            if (!check.usable) {
                r.usable = false;
                r.reason = std::move(check.reason);
                break;
            }
        }
        if (r.usable && !r.present) r.reason = "its plug-in is not beside libllama";
        if (r.usable && r.present && contains(policy.deny, r.name)) {
            r.reason = "denied by RESIDENT_CPU_VARIANT_DENY";
        } else if (r.usable && r.present) {
            runnable.push_back(r.name);
        }
        choice.variants.push_back(std::move(r));
    }
    auto report = [&](std::string_view name) -> CpuVariantReport& {
        return *std::find_if(choice.variants.begin(), choice.variants.end(),
                             [&](const CpuVariantReport& r) { return r.name == name; });
    };
    if (!policy.pin.empty()) {
        const CpuVariantReport& pinned = report(policy.pin);
        if (!contains(runnable, policy.pin)) {
            return failed_precondition(fmt::format(
                "RESIDENT_CPU_VARIANT={} cannot run here: {}; the variants that can: {}. Unset "
                "it or pin one of those",
                policy.pin, pinned.reason.empty() ? "not usable" : pinned.reason,
                runnable.empty() ? "none" : fmt::format("{}", fmt::join(runnable, ", "))));
        }
        choice.chosen = policy.pin;
    } else if (!runnable.empty()) {
        choice.chosen = runnable.front();
    } else {
        std::vector<std::string> why;
        for (const auto& r : choice.variants) why.push_back(r.name + ": " + r.reason);
        return failed_precondition(
            fmt::format("no CPU variant of llama.cpp can run on this machine ({}). Put the "
                        "libggml-cpu-*.so files beside libllama, or unset "
                        "RESIDENT_CPU_VARIANT_DENY",
                        fmt::join(why, "; ")));
    }
    for (auto& r : choice.variants) {
        if (r.name == choice.chosen) {
            r.chosen = true;
            r.reason.clear();
        } else if (r.reason.empty()) {
            r.reason = policy.pin.empty()
                           ? fmt::format("can run; {} ranks higher", choice.chosen)
                           : fmt::format("can run; RESIDENT_CPU_VARIANT pins {}", choice.chosen);
        }
    }
    return choice;
}

}  // namespace resident::internal::llama
