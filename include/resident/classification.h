// Image classification (task "classify"): a request is one encoded image (JPEG,
// PNG, BMP or GIF bytes), the outcome the model's top classes. The engine
// (src/engines/onnx) decodes and prepares each image as the model's
// preprocessing spec says (ImagePreprocess), so callers hand over file bytes.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <optional>
#include <string>
#include <vector>

#include "resident/status.h"

namespace resident {

// How a model wants its images: decoded to RGB, the shorter side resized to
// `resize` and the centre `crop` x `crop` square cut out (one resampling of
// that square), then per channel (pixel - mean) / std, in the channel order
// and layout the model was trained with. Kept with the model: the catalog
// entry, or a "<model file>.resident.json" beside a model given by path.
struct ImagePreprocess {
    int32_t resize = 256;  // shorter side before the crop; 0 = squash the whole image to crop
    int32_t crop = 224;    // side of the square the model sees
    std::array<float, 3> mean = {123.675f, 116.28f, 103.53f};  // RGB, in 0-255 units
    std::array<float, 3> std = {58.395f, 57.12f, 57.375f};
    bool nchw = true;                 // planes (N,C,H,W); false: interleaved (N,H,W,C)
    bool bgr = false;                 // channels in B,G,R order (Caffe-trained models)
    bool softmax = true;              // the model outputs logits; false: probabilities already
    int64_t max_pixels = 50'000'000;  // larger images are refused, not decoded

    // Parses the "preprocess" object of a catalog entry or sidecar file.
    // Errors: InvalidArgument naming the field.
    static Result<ImagePreprocess> from_json(std::string_view json, std::string_view origin);
    std::string to_json() const;
};

// One image to classify: an encoded file, or (channels > 0) decoded pixels.
struct ImageRequest {
    // The encoded file, as read from disk or a binaryFile column; or, when
    // `channels` is set, `height` rows of `width` x `channels` bytes, top row
    // first, channels B, G, R (and A), or one grey channel: the layout of
    // Spark's image data source.
    std::string bytes;
    int32_t top_k = 5;  // classes returned, best first (1 to the model's classes)
    int32_t width = 0;
    int32_t height = 0;
    int32_t channels = 0;  // 0 = `bytes` is an encoded file; else 1, 3 or 4
};

struct ClassScore {
    int32_t index = 0;  // class index in the model's output
    std::string label;  // the model's label, or "class <index>" when it has none
    float score = 0;    // probability (softmax of the outputs unless they are probabilities)
};

struct Classification {
    std::vector<ClassScore> top;  // top_k classes, best first (ties: lower index first)
    int32_t width = 0;            // of the decoded image
    int32_t height = 0;
};

// Validates `request` against a model with `classes` outputs.
Status validate_image_request(const ImageRequest& request, int32_t classes);

// One thread's handle on a resident classifier (light: the session is the
// model's). NOT thread-safe: one thread at a time, like a Predictor.
class Classifier {
   public:
    virtual ~Classifier() = default;
    // Errors, per image: InvalidArgument for bytes that are not a supported
    // image (empty, truncated, corrupt, too large); Internal when the engine fails.
    virtual Result<Classification> classify(const ImageRequest& request) = 0;
    // Decodes every image, then runs the good ones in batches of the model's
    // batch size; one outcome per request, in order.
    virtual std::vector<Result<Classification>> classify_all(
        const std::vector<ImageRequest>& requests) = 0;
};

struct ClassifyEngineStats {
    int64_t submitted = 0;
    int64_t completed = 0;
    int64_t failed = 0;     // bad images included
    int64_t run_calls = 0;  // batched inference calls
    int32_t max_batch = 0;  // most images in one call
};

// Serves images from many threads through batched inference calls: the
// submitting thread decodes and prepares its image, the engine's thread
// gathers what is ready (up to `batch_size` images, waiting at most
// `batch_wait` for more once one is there) into one call. Thread-safe. The
// destructor fails what is still queued (Cancelled) and joins its thread.
class ClassifyEngine {
   public:
    using Completion = std::function<void(Result<Classification>)>;
    virtual ~ClassifyEngine() = default;
    // Prepares the image on this thread and queues it; `done` gets the
    // outcome exactly once (here for a bad image). Blocks while the queue is full.
    virtual void enqueue(ImageRequest request, Completion done) = 0;
    virtual void shutdown() = 0;
    virtual ClassifyEngineStats stats() const = 0;

    std::future<Result<Classification>> submit(ImageRequest request) {
        auto promise = std::make_shared<std::promise<Result<Classification>>>();
        auto future = promise->get_future();
        enqueue(std::move(request),
                [promise](Result<Classification> r) { promise->set_value(std::move(r)); });
        return future;
    }
};

}  // namespace resident
