// WebP decoding for the image engine, over the system's libwebp (libwebp-dev):
// the only place that includes libwebp's headers. Still images, and the first
// frame of an animated one (as GIF's first frame is taken).
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "resident/status.h"

namespace resident::internal::onnx {

// True when the bytes start as a WebP file does (a RIFF container of WEBP).
bool looks_like_webp(std::string_view bytes);

// What a WebP file's header says, read without decoding any pixels.
struct WebPHeader {
    int32_t width = 0;  // of the canvas, for an animation
    int32_t height = 0;
    bool animated = false;
};

// Reads the header. Errors: InvalidArgument naming what is wrong (truncated
// before its size, not a WebP bitstream).
Result<WebPHeader> read_webp_header(std::string_view bytes);

// Decodes the image (an animation's first frame, composited on its canvas) to
// `header.width` x `header.height` RGB pixels, alpha dropped as for the other
// formats. Errors: InvalidArgument when the data are truncated or corrupt;
// ResourceExhausted when the decoder runs out of memory.
Result<std::vector<unsigned char>> decode_webp_rgb(std::string_view bytes,
                                                   const WebPHeader& header);

}  // namespace resident::internal::onnx
