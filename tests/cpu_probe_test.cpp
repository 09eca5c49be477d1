// The CPU probe's decision as a pure function of injected machine facts, the
// variant choice over them, and the crash line, without a model.
#include "core/cpu_probe.h"

#include <gtest/gtest.h>

#include <csignal>
#include <cstdlib>

#include "core/crash_report.h"
#include "engines/llama/cpu_variants.h"

namespace resident::internal {
namespace {

using llama::choose_cpu_variant;
using llama::known_cpu_variants;
using llama::VariantPolicy;

constexpr uint32_t bit(int n) { return 1u << n; }

// Leaf 1 ecx: SSE4.2, FMA, OSXSAVE, AVX, F16C.
constexpr uint32_t kHaswellLeaf1 = bit(20) | bit(12) | bit(27) | bit(28) | bit(29);
// Leaf 7 ebx: AVX2, BMI2.
constexpr uint32_t kHaswellLeaf7 = bit(5) | bit(8);
// Leaf 7 ebx: AVX-512 F, DQ, CD, BW, VL.
constexpr uint32_t kAvx512Leaf7 = bit(16) | bit(17) | bit(28) | bit(30) | bit(31);

// Every instruction set that `f` advertises and enables ran in the child.
void all_live_passed(CpuFacts& f) {
    for (size_t i = 0; i < kIsaCount; ++i) {
        const Isa isa = static_cast<Isa>(i);
        CpuFacts probe = f;
        probe.live_unavailable = "just asking";
        if (check_isa(probe, isa).usable) f.live[i] = LiveResult::kPassed;
    }
}

// A Sapphire Rapids whose OS enables everything, AMX included.
CpuFacts sapphire_rapids() {
    CpuFacts f;
    f.vendor = "GenuineIntel";
    f.leaf1_ecx = kHaswellLeaf1;
    f.leaf7_ebx = kHaswellLeaf7 | kAvx512Leaf7;
    f.leaf7_ecx = bit(1) | bit(11);      // VBMI, VNNI
    f.leaf7_edx = bit(24) | bit(25);     // AMX-TILE, AMX-INT8
    f.leaf7_1_eax = bit(4) | bit(5);     // AVX-VNNI, AVX512-BF16
    f.xcr0 = 0x7 | 0xe0 | (3ull << 17);  // x87/SSE/AVX, AVX-512, tile config and data
    f.xcomp_supp_known = true;
    f.xcomp_supp = f.xcr0;
    all_live_passed(f);
    return f;
}

std::string choose(const CpuFacts& f, VariantPolicy policy = {}) {
    auto choice = choose_cpu_variant(f, known_cpu_variants(), policy);
    EXPECT_TRUE(choice.is_ok()) << choice.status().to_string();
    return choice.is_ok() ? choice->chosen : "";
}

std::string reason_for(const CpuFacts& f, const std::string& variant) {
    auto choice = choose_cpu_variant(f, known_cpu_variants(), {});
    if (!choice.is_ok()) return choice.status().message();
    for (const auto& r : choice->variants) {
        if (r.name == variant) return r.reason;
    }
    return "no such variant";
}

TEST(CpuProbe, EverythingPresentPicksTheBestVariant) {
    EXPECT_EQ(choose(sapphire_rapids()), "sapphirerapids");
}

TEST(CpuProbe, AmxAdvertisedButNotOfferedByTheKernelIsSkipped) {
    CpuFacts f = sapphire_rapids();
    f.xcomp_supp &= ~(1ull << 18);  // the hypervisor has not enabled tile data
    f.live = {};
    all_live_passed(f);
    EXPECT_EQ(choose(f), "zen4");
    EXPECT_NE(reason_for(f, "sapphirerapids").find("AMX-TILE advertised, not enabled by the OS"),
              std::string::npos)
        << reason_for(f, "sapphirerapids");
}

TEST(CpuProbe, AmxMissingFromXcr0IsSkipped) {
    CpuFacts f = sapphire_rapids();
    f.xcr0 &= ~(3ull << 17);
    EXPECT_EQ(choose(f), "zen4");
    EXPECT_NE(reason_for(f, "sapphirerapids").find("tile"), std::string::npos);
}

TEST(CpuProbe, AmxPermissionRefusedIsSkipped) {
    CpuFacts f = sapphire_rapids();
    f.live[static_cast<size_t>(Isa::kAmxTile)] = LiveResult::kPermissionRefused;
    f.live[static_cast<size_t>(Isa::kAmxInt8)] = LiveResult::kPermissionRefused;
    EXPECT_EQ(choose(f), "zen4");
    EXPECT_NE(reason_for(f, "sapphirerapids").find("refused the tile-data permission"),
              std::string::npos);
}

TEST(CpuProbe, AvxFiveTwelveAdvertisedButZmmStateOffFallsToAvx2) {
    CpuFacts f = sapphire_rapids();
    f.xcr0 = 0x7;  // the hypervisor cleared the opmask and ZMM bits
    f.live = {};
    all_live_passed(f);
    EXPECT_EQ(choose(f), "alderlake");  // AVX2 + AVX-VNNI
    EXPECT_NE(reason_for(f, "icelake").find("AVX-512 advertised, not enabled by the OS"),
              std::string::npos)
        << reason_for(f, "icelake");
}

TEST(CpuProbe, AnInstructionThatTrapsInTheChildIsNotUsed) {
    CpuFacts f = sapphire_rapids();
    f.live[static_cast<size_t>(Isa::kAvx512)] = LiveResult::kTrapped;
    EXPECT_EQ(choose(f), "alderlake");
    EXPECT_NE(reason_for(f, "skylakex").find("trapped in a child process"), std::string::npos);
}

TEST(CpuProbe, Avx2OnlyMachinePicksHaswell) {
    CpuFacts f;
    f.vendor = "AuthenticAMD";
    f.leaf1_ecx = kHaswellLeaf1;
    f.leaf7_ebx = kHaswellLeaf7;
    f.xcr0 = 0x7;
    f.xcomp_supp_known = true;
    f.xcomp_supp = 0x7;
    all_live_passed(f);
    EXPECT_EQ(choose(f), "haswell");
    EXPECT_NE(reason_for(f, "skylakex").find("AVX-512 not advertised"), std::string::npos);
}

TEST(CpuProbe, BaselineMachinePicksX64) {
    CpuFacts f;  // no optional instruction set at all
    EXPECT_EQ(choose(f), "x64");
}

TEST(CpuProbe, WithoutTheLiveCheckTheOsAnswersDecide) {
    CpuFacts f = sapphire_rapids();
    f.live = {};
    f.live_unavailable = "fork failed: out of memory";
    EXPECT_EQ(choose(f), "sapphirerapids");
    f.xcomp_supp = 0x7 | 0xe0;
    EXPECT_EQ(choose(f), "zen4");
}

TEST(CpuProbe, ALiveCheckThatDidNotRunIsNotTrusted) {
    CpuFacts f = sapphire_rapids();
    f.live[static_cast<size_t>(Isa::kAvx512Bf16)] = LiveResult::kNotRun;
    EXPECT_EQ(choose(f), "icelake");
}

TEST(CpuVariants, APinIsHonouredOrRefusedWithTheReason) {
    EXPECT_EQ(choose(sapphire_rapids(), {"haswell", {}}), "haswell");
    CpuFacts f = sapphire_rapids();
    f.xcomp_supp &= ~(1ull << 18);
    auto refused = choose_cpu_variant(f, known_cpu_variants(), {"sapphirerapids", {}});
    ASSERT_FALSE(refused.is_ok());
    EXPECT_EQ(refused.status().code(), StatusCode::kFailedPrecondition);
    EXPECT_NE(refused.status().message().find("RESIDENT_CPU_VARIANT=sapphirerapids cannot run"),
              std::string::npos);
    EXPECT_NE(refused.status().message().find("not enabled by the OS"), std::string::npos);
    EXPECT_NE(refused.status().message().find("zen4"), std::string::npos);  // what can
}

TEST(CpuVariants, DeniedAndAbsentVariantsAreSkipped) {
    EXPECT_EQ(choose(sapphire_rapids(), {"", {"sapphirerapids", "zen4"}}), "cooperlake");
    auto choice = choose_cpu_variant(sapphire_rapids(), {"haswell", "x64"}, {});
    ASSERT_TRUE(choice.is_ok());
    EXPECT_EQ(choice->chosen, "haswell");
    auto none = choose_cpu_variant(CpuFacts{}, {"haswell"}, {});
    ASSERT_FALSE(none.is_ok());
    EXPECT_EQ(none.status().code(), StatusCode::kFailedPrecondition);
}

TEST(CpuVariants, PolicyFromTheEnvironmentRejectsUnknownNames) {
    setenv("RESIDENT_CPU_VARIANT", "icelake", 1);
    setenv("RESIDENT_CPU_VARIANT_DENY", "zen4, sapphirerapids", 1);
    auto policy = llama::variant_policy_from_env();
    ASSERT_TRUE(policy.is_ok()) << policy.status().to_string();
    EXPECT_EQ(policy->pin, "icelake");
    EXPECT_EQ(policy->deny, (std::vector<std::string>{"zen4", "sapphirerapids"}));
    setenv("RESIDENT_CPU_VARIANT", "pentium", 1);
    auto bad = llama::variant_policy_from_env();
    unsetenv("RESIDENT_CPU_VARIANT");
    unsetenv("RESIDENT_CPU_VARIANT_DENY");
    ASSERT_FALSE(bad.is_ok());
    EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(bad.status().message().find("'pentium' is not a CPU variant"), std::string::npos);
}

TEST(CpuProbe, TheLiveCheckOnThisMachineAgreesWithCpuid) {
    CpuFacts f = read_cpu_facts();
    run_live_checks(f);
    ASSERT_TRUE(f.live_unavailable.empty()) << f.live_unavailable;
    // What is advertised and enabled must also execute, or be reported.
    for (size_t i = 0; i < kIsaCount; ++i) {
        const Isa isa = static_cast<Isa>(i);
        CpuFacts os_only = f;
        os_only.live_unavailable = "ignore";
        if (check_isa(os_only, isa).usable) {
            EXPECT_NE(f.live[i], LiveResult::kNotRun) << isa_name(isa);
        } else {
            EXPECT_EQ(f.live[i], LiveResult::kNotRun) << isa_name(isa);
        }
    }
    EXPECT_TRUE(check_isa(f, Isa::kSse42).usable || f.vendor.empty());
}

// The crash line: a real SIGILL in this process's own code, reported and then
// handed to the default action, so the process still dies of SIGILL.
TEST(CrashReportDeathTest, ANativeFaultNamesResidentTheVariantAndTheModels) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    EXPECT_EXIT(
        {
            install_crash_report(/*in_jvm=*/false);
            crash_report_set_cpu_variant("testvariant");
            crash_report_add_model("first.gguf");
            crash_report_add_model("second.gguf");
            crash_report_remove_model("first.gguf");
            __builtin_trap();
        },
        ::testing::KilledBySignal(SIGILL),
        "fatal SIGILL.*resident 0\\.1\\.0 .*CPU variant testvariant, models: second\\.gguf\\.");
}

// In a JVM, faults outside Resident's libraries are the JVM's business (it
// makes them on purpose): no line, and the signal still reaches the old handler.
TEST(CrashReportDeathTest, InAJvmFaultsOutsideResidentCodeAreNotClaimed) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    EXPECT_EXIT(
        {
            install_crash_report(/*in_jvm=*/true);
            __builtin_trap();
        },
        ::testing::KilledBySignal(SIGILL), "^$");
}

}  // namespace
}  // namespace resident::internal
