#include "engines/onnx/image.h"

#include <stb/stb_image.h>
#include <stb/stb_image_resize.h>

#include <algorithm>
#include <cmath>
#include <memory>

#include "engines/onnx/webp.h"
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

// What the image's first bytes say it is, for error messages: the formats
// decoded, then others a photo folder holds that are not.
std::string_view sniff(std::string_view b) {
    if (b.starts_with("\xFF\xD8\xFF")) return "JPEG";
    if (b.starts_with("\x89PNG")) return "PNG";
    if (b.starts_with("GIF8")) return "GIF";
    if (b.starts_with("BM")) return "BMP";
    if (looks_like_webp(b)) return "WebP";
    return "";
}

std::string_view sniff_unsupported(std::string_view b) {
    using namespace std::string_view_literals;
    if (b.starts_with("II*\0"sv) || b.starts_with("MM\0*"sv)) return "TIFF";
    if (b.size() >= 12 && b.substr(4, 4) == "ftyp") {
        const std::string_view brand = b.substr(8, 4);
        if (brand == "avif" || brand == "avis") return "AVIF";
        if (brand == "heic" || brand == "heix" || brand == "mif1" || brand == "msf1" ||
            brand == "heim" || brand == "heis" || brand == "hevc") {
            return "HEIC";
        }
    }
    if (b.starts_with("\xFF\x0A"sv) || b.starts_with("\0\0\0\x0CJXL "sv)) return "JPEG XL";
    if (b.starts_with("8BPS")) return "Photoshop (PSD)";
    return "";
}

Status too_large(int64_t w, int64_t h, int64_t max_pixels) {
    return invalid_argument(
        fmt::format("the image is {} x {} pixels, over the limit of {} pixels: shrink it "
                    "or raise max_pixels",
                    w, h, max_pixels));
}

bool fits(int64_t w, int64_t h, int64_t max_pixels) {
    return w > 0 && h > 0 && w * h <= max_pixels;
}

// An image decoded to RGB: by stb_image, or into a buffer of ours.
struct DecodedRgb {
    std::unique_ptr<unsigned char, StbFree> stb;
    std::vector<unsigned char> owned;
    const unsigned char* data() const { return stb ? stb.get() : owned.data(); }
};

// Decodes an encoded image to RGB, refusing it before decoding when too large.
Result<DecodedRgb> decode(std::string_view bytes, const ImagePreprocess& spec, int& w, int& h) {
    if (bytes.empty()) return invalid_argument("the image is empty (0 bytes)");
    if (bytes.size() > static_cast<size_t>(INT32_MAX)) {
        return invalid_argument(fmt::format("the image is {} bytes, over 2 GiB", bytes.size()));
    }
    const std::string_view kind = sniff(bytes);
    DecodedRgb out;
    if (kind == "WebP") {
        RESIDENT_ASSIGN_OR_RETURN(const WebPHeader header, read_webp_header(bytes));
        w = header.width;
        h = header.height;
        if (!fits(w, h, spec.max_pixels)) return too_large(w, h, spec.max_pixels);
        RESIDENT_ASSIGN_OR_RETURN(out.owned, decode_webp_rgb(bytes, header));
        return out;
    }
    const auto* data = reinterpret_cast<const unsigned char*>(bytes.data());
    const int len = static_cast<int>(bytes.size());
    int channels = 0;
    if (!stbi_info_from_memory(data, len, &w, &h, &channels)) {
        if (kind.empty()) {
            const std::string_view other = sniff_unsupported(bytes);
            if (!other.empty()) {
                return invalid_argument(fmt::format(
                    "the image is {}, which is not supported: use {} (convert it first)", other,
                    kAcceptedFormats));
            }
            return invalid_argument(fmt::format("the bytes ({} of them) are not an image: use {}",
                                                bytes.size(), kAcceptedFormats));
        }
        return invalid_argument(
            fmt::format("the {} image's header is unreadable{}", kind, reason()));
    }
    if (!fits(w, h, spec.max_pixels)) return too_large(w, h, spec.max_pixels);
    out.stb.reset(stbi_load_from_memory(data, len, &w, &h, &channels, 3));
    if (!out.stb) {
        return invalid_argument(
            fmt::format("the {} image is truncated or corrupt{}", kind, reason()));
    }
    return out;
}

// Pixels from Spark's image layout (B,G,R[,A] or grey, rows top first) as RGB.
Result<std::vector<unsigned char>> raw_rgb(const ImageRequest& r, const ImagePreprocess& spec) {
    if (r.channels != 1 && r.channels != 3 && r.channels != 4) {
        return invalid_argument(fmt::format(
            "the image has {} channels: decoded pixels must have 1 (grey), 3 (BGR) or 4 (BGRA)",
            r.channels));
    }
    if (r.width <= 0 || r.height <= 0) {
        return invalid_argument(
            fmt::format("the image is {} x {} pixels: an image source could not decode this file",
                        r.width, r.height));
    }
    const int64_t pixels = static_cast<int64_t>(r.width) * r.height;
    if (pixels > spec.max_pixels) return too_large(r.width, r.height, spec.max_pixels);
    if (static_cast<int64_t>(r.bytes.size()) != pixels * r.channels) {
        return invalid_argument(
            fmt::format("the image's data has {} bytes, but {} x {} pixels of {} channels need {}",
                        r.bytes.size(), r.width, r.height, r.channels, pixels * r.channels));
    }
    std::vector<unsigned char> rgb(static_cast<size_t>(pixels) * 3);
    const auto* src = reinterpret_cast<const unsigned char*>(r.bytes.data());
    for (int64_t i = 0; i < pixels; ++i) {
        const unsigned char* p = src + i * r.channels;
        unsigned char* q = &rgb[static_cast<size_t>(i) * 3];
        if (r.channels == 1) {
            q[0] = q[1] = q[2] = p[0];
        } else {
            q[0] = p[2];
            q[1] = p[1];
            q[2] = p[0];
        }
    }
    return rgb;
}

}  // namespace

Result<PreparedImage> prepare_image(const ImageRequest& image, const ImagePreprocess& spec,
                                    int32_t width, int32_t height) {
    DecodedRgb decoded;
    std::vector<unsigned char> raw;
    const unsigned char* pixels_rgb = nullptr;
    int w = 0, h = 0;
    if (image.channels > 0) {
        RESIDENT_ASSIGN_OR_RETURN(raw, raw_rgb(image, spec));
        pixels_rgb = raw.data();
        w = image.width;
        h = image.height;
    } else {
        RESIDENT_ASSIGN_OR_RETURN(decoded, decode(image.bytes, spec, w, h));
        pixels_rgb = decoded.data();
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
    const unsigned char* origin = pixels_rgb + (static_cast<size_t>(by) * w + bx) * 3;
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
