#include "engines/onnx/image.h"

#include <stb/stb_image.h>
#include <stb/stb_image_resize.h>

#include <algorithm>
#include <cmath>
#include <memory>

#include "fmt/format.h"

namespace resident::internal::onnx {

namespace {

// The decoder's reason for its last failure on this thread, as " (reason)".
std::string reason() {
    const char* r = stbi_failure_reason();
    return r && *r ? fmt::format(" ({})", r) : "";
}

struct StbFree {
    void operator()(unsigned char* p) const { stbi_image_free(p); }
};

// What the image's first bytes say it is, for error messages.
std::string_view sniff(std::string_view b) {
    if (b.starts_with("\xFF\xD8\xFF")) return "JPEG";
    if (b.starts_with("\x89PNG")) return "PNG";
    if (b.starts_with("GIF8")) return "GIF";
    if (b.starts_with("BM")) return "BMP";
    return "";
}

}  // namespace

Result<PreparedImage> prepare_image(std::string_view bytes, const ImagePreprocess& spec,
                                    int32_t width, int32_t height) {
    if (bytes.empty()) return invalid_argument("the image is empty (0 bytes)");
    if (bytes.size() > static_cast<size_t>(INT32_MAX)) {
        return invalid_argument(fmt::format("the image is {} bytes, over 2 GiB", bytes.size()));
    }
    const auto* data = reinterpret_cast<const unsigned char*>(bytes.data());
    const int len = static_cast<int>(bytes.size());
    int w = 0, h = 0, channels = 0;
    const std::string_view kind = sniff(bytes);
    if (!stbi_info_from_memory(data, len, &w, &h, &channels)) {
        if (kind.empty()) {
            return invalid_argument(
                fmt::format("the bytes ({} of them) are not an image: use JPEG, PNG, BMP or GIF",
                            bytes.size()));
        }
        return invalid_argument(
            fmt::format("the {} image's header is unreadable{}", kind, reason()));
    }
    if (w <= 0 || h <= 0 || static_cast<int64_t>(w) * static_cast<int64_t>(h) > spec.max_pixels) {
        return invalid_argument(
            fmt::format("the image is {} x {} pixels, over the limit of {} pixels: shrink it "
                        "or raise max_pixels",
                        w, h, spec.max_pixels));
    }
    std::unique_ptr<unsigned char, StbFree> pixels(
        stbi_load_from_memory(data, len, &w, &h, &channels, 3));
    if (!pixels) {
        return invalid_argument(
            fmt::format("the {} image is truncated or corrupt{}", kind, reason()));
    }
    // The crop box in source pixels: the centre of the image the model's
    // aspect, `crop` / `resize` of the shorter side (or everything).
    int bx = 0, by = 0, bw = w, bh = h;
    if (spec.resize > 0) {
        const double scale = static_cast<double>(spec.resize) / std::min(w, h);
        bw = std::clamp(static_cast<int>(std::lround(width / scale)), 1, w);
        bh = std::clamp(static_cast<int>(std::lround(height / scale)), 1, h);
        bx = (w - bw) / 2;
        by = (h - bh) / 2;
    }
    std::vector<unsigned char> rgb(static_cast<size_t>(width) * height * 3);
    const unsigned char* origin = pixels.get() + (static_cast<size_t>(by) * w + bx) * 3;
    if (bw == width && bh == height) {
        // Already the model's size: copied, not resampled (a filter at
        // scale 1 would still blur).
        for (int y = 0; y < height; ++y) {
            std::copy_n(origin + static_cast<size_t>(y) * w * 3, static_cast<size_t>(width) * 3,
                        &rgb[static_cast<size_t>(y) * width * 3]);
        }
    } else if (!stbir_resize_uint8_generic(origin, bw, bh, w * 3, rgb.data(), width, height,
                                           width * 3, 3, STBIR_ALPHA_CHANNEL_NONE, 0,
                                           STBIR_EDGE_CLAMP, STBIR_FILTER_DEFAULT,
                                           STBIR_COLORSPACE_LINEAR, nullptr)) {
        return internal_error("resizing the image failed (out of memory?)");
    }
    PreparedImage out;
    out.source_width = w;
    out.source_height = h;
    const size_t plane = static_cast<size_t>(width) * height;
    out.values.resize(plane * 3);
    for (size_t i = 0; i < plane; ++i) {
        for (int c = 0; c < 3; ++c) {
            // Channel c of the model's order comes from source channel src.
            const int src = spec.bgr ? 2 - c : c;
            const float v = (static_cast<float>(rgb[i * 3 + src]) - spec.mean[src]) / spec.std[src];
            out.values[spec.nchw ? c * plane + i : i * 3 + c] = v;
        }
    }
    return out;
}

}  // namespace resident::internal::onnx
