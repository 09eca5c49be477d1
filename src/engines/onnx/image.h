// Image decoding and preparation for classifiers: encoded bytes (JPEG, PNG,
// BMP, GIF by stb_image; WebP by libwebp) to the float tensor a model expects,
// as its ImagePreprocess says.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "resident/classification.h"

namespace resident::internal::onnx {

// The encoded formats decoded, as error messages name them. Others (TIFF,
// HEIC, AVIF, ...) are named when recognised and refused.
inline constexpr std::string_view kAcceptedFormats = "JPEG, PNG, BMP, GIF or WebP";

// The tensor of one image: `width` x `height` pixels x 3 channels, laid out
// and normalised as the spec says (planes for NCHW, else interleaved).
struct PreparedImage {
    std::vector<float> values;
    int32_t source_width = 0;  // the decoded image's size
    int32_t source_height = 0;
};

// Decodes the request's image (or takes its pixels) and prepares a `width` x
// `height` input. Errors: InvalidArgument naming what is wrong with the image
// (empty, not a supported format, truncated or corrupt, pixels that do not
// match their stated size, over spec.max_pixels: checked from the header,
// before decoding); ResourceExhausted when the decoder runs out of memory.
Result<PreparedImage> prepare_image(const ImageRequest& image, const ImagePreprocess& spec,
                                    int32_t width, int32_t height);

}  // namespace resident::internal::onnx
