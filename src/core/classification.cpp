#include "resident/classification.h"

#include "fmt/format.h"
#include "nlohmann/json.hpp"

namespace resident {

namespace {

Status bad(std::string_view origin, std::string_view field, std::string_view want) {
    return invalid_argument(fmt::format("{}: preprocess.{} must be {}", origin, field, want));
}

}  // namespace

Result<ImagePreprocess> ImagePreprocess::from_json(std::string_view text, std::string_view origin) {
    const nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
        return invalid_argument(fmt::format("{}: preprocess must be a JSON object", origin));
    }
    ImagePreprocess p;
    for (const auto& [key, v] : j.items()) {
        if (key == "resize" || key == "crop") {
            if (!v.is_number_integer() || v.get<int64_t>() < (key == "crop" ? 1 : 0) ||
                v.get<int64_t>() > 8192) {
                return bad(origin, key, key == "crop" ? "1 to 8192 pixels" : "0 to 8192 pixels");
            }
            (key == "resize" ? p.resize : p.crop) = v.get<int32_t>();
        } else if (key == "mean" || key == "std") {
            if (!v.is_array() || v.size() != 3) return bad(origin, key, "three numbers (R, G, B)");
            auto& dst = key == "mean" ? p.mean : p.std;
            for (size_t i = 0; i < 3; ++i) {
                if (!v[i].is_number()) return bad(origin, key, "three numbers (R, G, B)");
                dst[i] = v[i].get<float>();
                if (key == "std" && !(dst[i] > 0)) return bad(origin, key, "positive");
            }
        } else if (key == "channels") {
            if (v != "RGB" && v != "BGR") return bad(origin, key, "\"RGB\" or \"BGR\"");
            p.bgr = v == "BGR";
        } else if (key == "scores") {
            if (v != "logits" && v != "probabilities")
                return bad(origin, key, "\"logits\" or \"probabilities\"");
            p.softmax = v == "logits";
        } else if (key == "max_pixels") {
            if (!v.is_number_integer() || v.get<int64_t>() < 1) return bad(origin, key, "positive");
            p.max_pixels = v.get<int64_t>();
        } else {
            return invalid_argument(fmt::format(
                "{}: unknown preprocess field '{}': the fields are resize, crop, mean, std, "
                "channels, scores, max_pixels",
                origin, key));
        }
    }
    return p;
}

std::string ImagePreprocess::to_json() const {
    nlohmann::json j = {{"resize", resize},
                        {"crop", crop},
                        {"mean", mean},
                        {"std", std},
                        {"channels", bgr ? "BGR" : "RGB"},
                        {"scores", softmax ? "logits" : "probabilities"},
                        {"max_pixels", max_pixels}};
    return j.dump();
}

Status validate_image_request(const ImageRequest& request, int32_t classes) {
    if (request.top_k < 1 || (classes > 0 && request.top_k > classes)) {
        return invalid_argument(fmt::format("top_k = {} is out of range: use 1 to {}",
                                            request.top_k, classes > 0 ? classes : 1));
    }
    return Status::ok();
}

}  // namespace resident
