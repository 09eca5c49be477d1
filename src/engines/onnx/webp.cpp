#include "engines/onnx/webp.h"

#include <webp/decode.h>
#include <webp/demux.h>

#include <memory>

#include "fmt/format.h"

namespace resident::internal::onnx {

namespace {

// libwebp's reason for a failure, for error messages.
std::string_view status_name(VP8StatusCode s) {
    switch (s) {
        case VP8_STATUS_OK:
            return "ok";
        case VP8_STATUS_OUT_OF_MEMORY:
            return "out of memory";
        case VP8_STATUS_INVALID_PARAM:
            return "invalid parameter";
        case VP8_STATUS_BITSTREAM_ERROR:
            return "bitstream error";
        case VP8_STATUS_UNSUPPORTED_FEATURE:
            return "unsupported feature";
        case VP8_STATUS_SUSPENDED:
            return "suspended";
        case VP8_STATUS_USER_ABORT:
            return "aborted";
        case VP8_STATUS_NOT_ENOUGH_DATA:
            return "not enough data";
    }
    return "unknown error";
}

struct AnimDecoderFree {
    void operator()(WebPAnimDecoder* d) const { WebPAnimDecoderDelete(d); }
};

// An animation's first frame: the demuxer composites it onto the canvas, in
// RGBA (the only layouts it gives), which is then taken as RGB.
Result<std::vector<unsigned char>> first_frame_rgb(std::string_view bytes, const WebPHeader& h) {
    WebPAnimDecoderOptions options;
    if (!WebPAnimDecoderOptionsInit(&options)) {
        return internal_error("libwebp's animation decoder has another ABI version");
    }
    options.color_mode = MODE_RGBA;
    options.use_threads = 0;  // the caller's threads decode in parallel already
    const WebPData data{reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()};
    std::unique_ptr<WebPAnimDecoder, AnimDecoderFree> dec(WebPAnimDecoderNew(&data, &options));
    if (!dec) return invalid_argument("the animated WebP image is truncated or corrupt");
    WebPAnimInfo info;
    if (!WebPAnimDecoderGetInfo(dec.get(), &info) ||
        info.canvas_width != static_cast<uint32_t>(h.width) ||
        info.canvas_height != static_cast<uint32_t>(h.height)) {
        return invalid_argument("the animated WebP image's canvas does not match its header");
    }
    uint8_t* rgba = nullptr;  // owned by the decoder
    int timestamp = 0;
    if (!WebPAnimDecoderGetNext(dec.get(), &rgba, &timestamp) || rgba == nullptr) {
        return invalid_argument(
            "the animated WebP image is truncated or corrupt (its first frame does not decode)");
    }
    const size_t pixels = static_cast<size_t>(h.width) * static_cast<size_t>(h.height);
    std::vector<unsigned char> rgb(pixels * 3);
    for (size_t i = 0; i < pixels; ++i) {
        rgb[i * 3] = rgba[i * 4];
        rgb[i * 3 + 1] = rgba[i * 4 + 1];
        rgb[i * 3 + 2] = rgba[i * 4 + 2];
    }
    return rgb;
}

}  // namespace

bool looks_like_webp(std::string_view b) {
    return b.size() >= 12 && b.starts_with("RIFF") && b.substr(8, 4) == "WEBP";
}

Result<WebPHeader> read_webp_header(std::string_view bytes) {
    WebPBitstreamFeatures f;
    const VP8StatusCode s =
        WebPGetFeatures(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), &f);
    if (s == VP8_STATUS_NOT_ENOUGH_DATA) {
        return invalid_argument(fmt::format(
            "the WebP image is truncated: its {} bytes end before its size", bytes.size()));
    }
    if (s != VP8_STATUS_OK) {
        return invalid_argument(
            fmt::format("the WebP image's header is unreadable ({})", status_name(s)));
    }
    return WebPHeader{f.width, f.height, f.has_animation != 0};
}

Result<std::vector<unsigned char>> decode_webp_rgb(std::string_view bytes, const WebPHeader& h) {
    if (h.animated) return first_frame_rgb(bytes, h);
    // Decoded straight into our buffer (external memory): no copy, no free.
    const size_t stride = static_cast<size_t>(h.width) * 3;
    std::vector<unsigned char> rgb(stride * static_cast<size_t>(h.height));
    WebPDecoderConfig config;
    if (!WebPInitDecoderConfig(&config)) {
        return internal_error("libwebp's decoder has another ABI version");
    }
    config.output.colorspace = MODE_RGB;
    config.output.is_external_memory = 1;
    config.output.u.RGBA.rgba = rgb.data();
    config.output.u.RGBA.stride = static_cast<int>(stride);
    config.output.u.RGBA.size = rgb.size();
    const auto* data = reinterpret_cast<const uint8_t*>(bytes.data());
    VP8StatusCode s = WebPGetFeatures(data, bytes.size(), &config.input);
    if (s == VP8_STATUS_OK) {
        if (config.input.width != h.width || config.input.height != h.height) {
            return invalid_argument("the WebP image's size does not match its header");
        }
        s = WebPDecode(data, bytes.size(), &config);
    }
    WebPFreeDecBuffer(&config.output);  // frees nothing of ours: external memory
    if (s == VP8_STATUS_OUT_OF_MEMORY) {
        return resource_exhausted(
            fmt::format("decoding the {} x {} WebP image ran out of memory", h.width, h.height));
    }
    if (s != VP8_STATUS_OK) {
        return invalid_argument(
            fmt::format("the WebP image is truncated or corrupt ({})", status_name(s)));
    }
    return rgb;
}

}  // namespace resident::internal::onnx
