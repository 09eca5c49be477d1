#include "resident/catalog.h"

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "fmt/format.h"
#include "resident/classification.h"

namespace resident {

namespace internal {
// The text of models/catalog.json, compiled in (see CMakeLists.txt).
extern const char* const kBuiltinCatalog;
}  // namespace internal

Result<Catalog> Catalog::parse(std::string_view text, std::string_view origin) {
    nlohmann::json doc = nlohmann::json::parse(text, nullptr, false);
    if (doc.is_discarded() || !doc.is_object() || !doc.contains("models") ||
        !doc["models"].is_array()) {
        return invalid_argument(
            fmt::format("catalog '{}' is not a JSON object with a \"models\" array", origin));
    }
    Catalog catalog;
    for (const auto& m : doc["models"]) {
        try {
            CatalogEntry e;
            e.name = m.at("name").get<std::string>();
            e.description = m.value("description", "");
            e.architecture = m.value("architecture", "");
            e.quantization = m.value("quantization", "");
            e.file = m.at("file").get<std::string>();
            e.sha256 = m.at("sha256").get<std::string>();
            e.size = m.at("size").get<uint64_t>();
            e.license = m.value("license", "");
            e.engine = m.value("engine", "llama");
            e.task = m.value("task", e.engine == "onnx" ? "classify" : "generate");
            auto part = [](const nlohmann::json& p) {
                return CatalogPart{p.at("pypi").get<std::string>(),
                                   p.at("version").get<std::string>(),
                                   p.at("member").get<std::string>()};
            };
            for (const auto& p : m.at("parts")) e.parts.push_back(part(p));
            e.convert = m.value("convert", "");
            e.source_sha256 = m.value("source_sha256", "");
            if (m.contains("labels")) {
                const auto& l = m["labels"];
                if (l.is_array()) {
                    e.labels = l.get<std::vector<std::string>>();
                } else {
                    e.labels_part = part(l);
                    e.labels_sha256 = l.at("sha256").get<std::string>();
                }
            }
            if (m.contains("preprocess")) {
                e.preprocess_json = m["preprocess"].dump();
                RESIDENT_RETURN_IF_ERROR(
                    ImagePreprocess::from_json(e.preprocess_json,
                                               fmt::format("{} ({})", origin, e.name))
                        .status());
            }
            if (e.engine != "llama" && e.engine != "onnx") {
                return invalid_argument(
                    fmt::format("catalog '{}': model '{}' has engine '{}': use "
                                "llama or onnx",
                                origin, e.name, e.engine));
            }
            if (!e.convert.empty() && e.source_sha256.size() != 64) {
                return invalid_argument(
                    fmt::format("catalog '{}': model '{}' is converted at pull time and needs the "
                                "source_sha256 of its parts",
                                origin, e.name));
            }
            if (e.parts.empty() || e.sha256.size() != 64 || e.file.find('/') != std::string::npos) {
                return invalid_argument(fmt::format(
                    "catalog '{}': model '{}' needs parts, a 64-digit sha256 and a plain file name",
                    origin, e.name));
            }
            catalog.entries_.push_back(std::move(e));
        } catch (const nlohmann::json::exception& ex) {
            return invalid_argument(fmt::format("catalog '{}': bad model entry {}: {}", origin,
                                                m.dump().substr(0, 80), ex.what()));
        }
    }
    return catalog;
}

Result<Catalog> Catalog::from_file(const std::string& path) {
    std::ifstream in(path);
    if (!in) return not_found(fmt::format("catalog file '{}' cannot be read", path));
    std::stringstream ss;
    ss << in.rdbuf();
    return parse(ss.str(), path);
}

Result<Catalog> Catalog::load_default() {
    if (const char* path = std::getenv("RESIDENT_CATALOG"); path && *path) return from_file(path);
    return parse(internal::kBuiltinCatalog, "built-in catalog");
}

const CatalogEntry* Catalog::find(std::string_view name) const {
    for (const auto& e : entries_) {
        if (e.name == name) return &e;
    }
    return nullptr;
}

Status Catalog::check_engine(std::string_view source, std::string_view engine) const {
    const bool known =
        find(source) != nullptr || source.ends_with(".gguf") || source.ends_with(".onnx");
    const std::string needs = engine_of(source);
    if (!known || needs == engine) return Status::ok();
    return invalid_argument(
        fmt::format("model '{}' is {} (engine {}), not {}: {}", source,
                    needs == "onnx" ? "an image classifier" : "a language model", needs,
                    engine == "onnx" ? "an image classifier" : "a language model",
                    needs == "onnx" ? "classify images with it (resident classify, ImageClassifier)"
                                    : "generate text with it (resident run, TextGenerator)"));
}

std::string Catalog::engine_of(std::string_view source) const {
    if (const CatalogEntry* e = find(source)) return e->engine;
    return source.ends_with(".onnx") ? "onnx" : "llama";
}

}  // namespace resident
