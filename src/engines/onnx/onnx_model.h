// The ONNX Runtime engine's resident model: one inference session per process
// (the weights, and the session's thread pool), shared by every thread's
// Classifier and by batch engines, which gather images into batched calls.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "engines/onnx/image.h"
#include "engines/onnx/ort.h"
#include "resident/classification.h"
#include "resident/memory_budget.h"
#include "resident/model.h"

namespace resident::internal::onnx {

// Reads what can be known of an .onnx file without a session: its size.
// Errors: NotFound.
Result<ModelInfo> inspect_onnx(const std::string& path);

class OnnxModel final : public Model, public std::enable_shared_from_this<OnnxModel> {
   public:
    // Opens the runtime, reads the sidecar (preprocessing and labels: the
    // file "<model>.resident.json", written by the catalog's pull or by the
    // user), creates the session and runs one blank image through it (which
    // checks the model and learns its classes). Errors: FailedPrecondition
    // (no runtime; a model whose input is not an image batch); DataLoss (a
    // file the runtime rejects); InvalidArgument (a bad sidecar).
    static Result<std::shared_ptr<OnnxModel>> load(const ModelSpec& spec);
    ~OnnxModel() override;

    const ModelInfo& info() const override { return info_; }
    const ModelSpec& spec() const override { return spec_; }
    double load_seconds() const override { return load_seconds_; }
    uint64_t loaded_bytes() const override { return info_.file_bytes; }
    const std::string& placement() const override { return placement_; }
    Result<std::unique_ptr<Predictor>> create_predictor(const ModelSpec& options) const override;
    Result<std::unique_ptr<BatchEngine>> create_batch_engine(
        const ModelSpec& options) const override;
    Result<std::unique_ptr<Classifier>> create_classifier(const ModelSpec& options) const override;
    Result<std::unique_ptr<ClassifyEngine>> create_classify_engine(
        const ModelSpec& options) const override;
    int32_t classes() const override { return classes_; }

    // Decodes and prepares one image for this model (checks top_k too).
    Result<PreparedImage> prepare(const ImageRequest& request) const;
    // Runs the prepared images in one call (chunks of the model's fixed batch
    // size, if it has one) and ranks each one's top_k[i] classes. Errors:
    // Internal when the runtime fails (for the whole call).
    Result<std::vector<Classification>> run(const std::vector<const PreparedImage*>& images,
                                            const std::vector<int32_t>& top_k) const;

   private:
    OnnxModel() = default;
    Result<std::vector<Classification>> run_chunk(const PreparedImage* const* images, size_t n,
                                                  const int32_t* top_k) const;

    ModelSpec spec_;
    ModelInfo info_;
    double load_seconds_ = 0;
    std::string placement_;
    MemoryReservation memory_;
    std::unique_ptr<Ort::Session> session_;
    std::string input_name_;
    std::string output_name_;
    std::vector<int64_t> input_shape_;  // with the batch dimension as the model has it
    int64_t fixed_batch_ = 0;           // the model's batch size, 0 = any
    int32_t width_ = 0;
    int32_t height_ = 0;
    int32_t classes_ = 0;
    ImagePreprocess preprocess_;
    std::vector<std::string> labels_;
    bool in_crash_report_ = false;  // named in the crash line while resident
};

}  // namespace resident::internal::onnx
