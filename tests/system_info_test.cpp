// The CPU variant this process actually runs: chosen by the probe, loaded,
// and every plug-in that the build made known to the engine's table.
#include "resident/system_info.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "core/cpu_probe.h"
#include "engines/llama/cpu_variants.h"

namespace resident {
namespace {

TEST(SystemInfo, TheLoadedVariantPassesTheLiveProbeHere) {
    auto info = system_info();
    ASSERT_TRUE(info.is_ok()) << info.status().to_string();
    EXPECT_FALSE(info->cpu_variant.empty());
    EXPECT_TRUE(std::filesystem::exists(info->cpu_variant_path)) << info->cpu_variant_path;
    // Probe again, independently: the chosen variant must be the best one
    // whose every instruction set executes on this machine.
    internal::CpuFacts facts = internal::read_cpu_facts();
    internal::run_live_checks(facts);
    auto again =
        internal::llama::choose_cpu_variant(facts, internal::llama::known_cpu_variants(), {});
    ASSERT_TRUE(again.is_ok()) << again.status().to_string();
    EXPECT_EQ(info->cpu_variant, again->chosen);
    const auto chosen = std::find_if(info->variants.begin(), info->variants.end(),
                                     [](const CpuVariantReport& r) { return r.chosen; });
    ASSERT_NE(chosen, info->variants.end());
    EXPECT_TRUE(chosen->usable && chosen->present);
    EXPECT_NE(info->summary().find("CPU variant " + info->cpu_variant), std::string::npos);
    EXPECT_NE(info->to_json().find("\"cpu_variant\":\"" + info->cpu_variant + "\""),
              std::string::npos);
}

// A new llama.cpp pin that adds or renames a CPU variant must update the
// engine's table (src/engines/llama/cpu_variants.cpp), or the jar would carry
// plug-ins that are never chosen.
TEST(SystemInfo, TheVariantTableMatchesThePlugInsTheBuildMade) {
    auto info = system_info();
    ASSERT_TRUE(info.is_ok()) << info.status().to_string();
    std::vector<std::string> built;
    for (const auto& entry : std::filesystem::directory_iterator(
             std::filesystem::path(info->cpu_variant_path).parent_path())) {
        const std::string f = entry.path().filename().string();
        if (f.starts_with("libggml-cpu-") && f.ends_with(".so")) {
            built.push_back(f.substr(12, f.size() - 15));
        }
    }
    std::vector<std::string> known = internal::llama::known_cpu_variants();
    std::sort(built.begin(), built.end());
    std::sort(known.begin(), known.end());
    EXPECT_EQ(built, known);
    for (const auto& r : info->variants) EXPECT_TRUE(r.present) << r.name;
}

}  // namespace
}  // namespace resident
