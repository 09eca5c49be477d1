#include "resident/system_info.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <nlohmann/json.hpp>

namespace resident {

std::string SystemInfo::summary() const {
    // Best first: the variants ranked above the chosen one that could not
    // run or were denied (not those a pin passed over).
    std::vector<std::string> skipped;
    for (const auto& v : variants) {
        if (v.chosen) break;
        if (v.present && (!v.usable || v.reason.starts_with("denied"))) {
            skipped.push_back(fmt::format("{}: {}", v.name, v.reason));
        }
    }
    std::string line = fmt::format("CPU variant {} (selected by {}; {} {}, live check {})",
                                   cpu_variant, selected_by, cpu_vendor, cpu_brand, live_check);
    if (!skipped.empty()) line += fmt::format("; skipped {}", fmt::join(skipped, "; "));
    return line;
}

std::string SystemInfo::to_text() const {
    std::string out;
    out += fmt::format("resident      {}, llama.cpp {}\n", resident_version, llama_cpp_version);
    out += fmt::format("cpu           {} {}\n", cpu_vendor, cpu_brand);
    out += fmt::format("usable ISAs   {}\n", fmt::join(usable_isas, " "));
    out += fmt::format("live check    {}\n", live_check);
    out += fmt::format("cpu variant   {} (selected by {})\n", cpu_variant, selected_by);
    out += fmt::format("plug-in       {}\n", cpu_variant_path);
    out += "variants, best first:\n";
    for (const auto& v : variants) {
        out += fmt::format("  {} {:<15} {}\n", v.chosen ? '*' : ' ', v.name,
                           v.chosen ? "chosen" : v.reason);
    }
    return out;
}

std::string SystemInfo::to_json() const {
    nlohmann::ordered_json list = nlohmann::ordered_json::array();
    for (const auto& v : variants) {
        list.push_back({{"name", v.name},
                        {"present", v.present},
                        {"usable", v.usable},
                        {"chosen", v.chosen},
                        {"reason", v.reason}});
    }
    nlohmann::ordered_json j = {{"resident_version", resident_version},
                                {"llama_cpp_version", llama_cpp_version},
                                {"cpu_vendor", cpu_vendor},
                                {"cpu_brand", cpu_brand},
                                {"usable_isas", usable_isas},
                                {"live_check", live_check},
                                {"cpu_variant", cpu_variant},
                                {"cpu_variant_path", cpu_variant_path},
                                {"selected_by", selected_by},
                                {"variants", list}};
    return j.dump();
}

}  // namespace resident
