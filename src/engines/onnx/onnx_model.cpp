#include "engines/onnx/onnx_model.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <numeric>
#include <sstream>
#include <thread>

#include "core/crash_report.h"
#include "fmt/format.h"
#include "fmt/ranges.h"
#include "nlohmann/json.hpp"

namespace resident::internal::onnx {

namespace fs = std::filesystem;

Result<ModelInfo> inspect_onnx(const std::string& path) {
    std::error_code ec;
    const auto size = fs::file_size(path, ec);
    if (ec) return not_found(fmt::format("model file '{}' cannot be read: {}", path, ec.message()));
    ModelInfo info;
    info.path = path;
    info.file_bytes = size;
    info.tensor_bytes = size;
    info.architecture = "onnx";
    info.name = fs::path(path).stem().string();
    return info;
}

namespace {

std::string shape_text(const std::vector<int64_t>& shape) {
    std::vector<std::string> dims;
    for (int64_t d : shape) dims.push_back(d < 0 ? "?" : std::to_string(d));
    return fmt::format("[{}]", fmt::join(dims, ","));
}

// The sidecar "<model>.resident.json": {"preprocess": {...}, "labels": [...]}.
Status read_sidecar(const std::string& model_path, ImagePreprocess& preprocess,
                    std::vector<std::string>& labels) {
    const std::string path = model_path + ".resident.json";
    std::ifstream in(path);
    if (!in) return Status::ok();  // none: ImageNet defaults, numbered classes
    std::stringstream ss;
    ss << in.rdbuf();
    nlohmann::json j = nlohmann::json::parse(ss.str(), nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
        return invalid_argument(fmt::format("'{}' is not a JSON object: fix or remove it", path));
    }
    if (j.contains("preprocess")) {
        RESIDENT_ASSIGN_OR_RETURN(preprocess,
                                  ImagePreprocess::from_json(j["preprocess"].dump(), path));
    }
    if (j.contains("labels")) {
        if (!j["labels"].is_array()) {
            return invalid_argument(fmt::format("'{}': labels must be an array of strings", path));
        }
        for (const auto& l : j["labels"]) {
            if (!l.is_string())
                return invalid_argument(fmt::format("'{}': labels must be strings", path));
            labels.push_back(l.get<std::string>());
        }
    }
    return Status::ok();
}

void rank(const float* out, int32_t classes, bool softmax, int32_t k,
          const std::vector<std::string>& labels, Classification& c) {
    std::vector<float> p(out, out + classes);
    if (softmax) {
        const float top = *std::max_element(p.begin(), p.end());
        double sum = 0;
        for (float& v : p) {
            v = std::exp(v - top);
            sum += v;
        }
        for (float& v : p) v = static_cast<float>(v / sum);
    }
    std::vector<int32_t> idx(static_cast<size_t>(classes));
    std::iota(idx.begin(), idx.end(), 0);
    k = std::min(k, classes);
    std::partial_sort(idx.begin(), idx.begin() + k, idx.end(),
                      [&](int32_t a, int32_t b) { return p[a] > p[b] || (p[a] == p[b] && a < b); });
    for (int32_t i = 0; i < k; ++i) {
        const int32_t j = idx[static_cast<size_t>(i)];
        c.top.push_back({j,
                         static_cast<size_t>(j) < labels.size() ? labels[static_cast<size_t>(j)]
                                                                : fmt::format("class {}", j),
                         p[static_cast<size_t>(j)]});
    }
}

}  // namespace

Result<std::shared_ptr<OnnxModel>> OnnxModel::load(const ModelSpec& spec) {
    RESIDENT_RETURN_IF_ERROR(spec.validate());
    RESIDENT_ASSIGN_OR_RETURN(ModelInfo info, inspect_onnx(spec.source));
    std::shared_ptr<OnnxModel> m(new OnnxModel());
    m->spec_ = spec;
    m->info_ = info;
    RESIDENT_RETURN_IF_ERROR(read_sidecar(spec.source, m->preprocess_, m->labels_));
    // The runtime holds the weights in its own buffers (it reads the file).
    RESIDENT_ASSIGN_OR_RETURN(m->memory_,
                              reserve_memory(info.file_bytes, fmt::format("model '{}'", info.path),
                                             spec.memory_limit_bytes, true, "a smaller model"));
    RESIDENT_ASSIGN_OR_RETURN(Ort::Env * env, ort_env());
    const auto start = std::chrono::steady_clock::now();
    try {
        Ort::SessionOptions options;
        options.SetIntraOpNumThreads(spec.effective_threads());
        options.SetInterOpNumThreads(1);
        options.SetGraphOptimizationLevel(GraphOptimizationLevel::ORT_ENABLE_ALL);
        // Idle pool threads sleep instead of spinning: an executor's task
        // threads need those cores between calls.
        options.AddConfigEntry("session.intra_op.allow_spinning", "0");
        m->session_ = std::make_unique<Ort::Session>(*env, spec.source.c_str(), options);
    } catch (const Ort::Exception& e) {
        return data_loss(fmt::format("ONNX Runtime cannot load '{}': {}", info.path, e.what()));
    }
    Ort::Session& s = *m->session_;
    Ort::AllocatorWithDefaultOptions alloc;
    if (s.GetInputCount() != 1 || s.GetOutputCount() < 1) {
        return failed_precondition(fmt::format(
            "model '{}' has {} inputs and {} outputs: an image classifier takes one image batch "
            "and gives class scores first",
            info.path, s.GetInputCount(), s.GetOutputCount()));
    }
    m->input_name_ = s.GetInputNameAllocated(0, alloc).get();
    m->output_name_ = s.GetOutputNameAllocated(0, alloc).get();
    const Ort::TypeInfo in_type = s.GetInputTypeInfo(0);  // owns what in_info views
    auto in_info = in_type.GetTensorTypeAndShapeInfo();
    m->input_shape_ = in_info.GetShape();
    const auto& d = m->input_shape_;
    if (in_info.GetElementType() != ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT || d.size() != 4 ||
        (d[1] != 3 && d[3] != 3)) {
        return failed_precondition(fmt::format(
            "model '{}' takes {} {}: Resident feeds float image batches, (N,3,H,W) or (N,H,W,3)",
            info.path, d.size() == 4 ? "a tensor of shape" : "an input of shape", shape_text(d)));
    }
    // The layout follows the model's input; the size too, where it is fixed.
    m->preprocess_.nchw = d[1] == 3;
    const int64_t h = m->preprocess_.nchw ? d[2] : d[1];
    const int64_t w = m->preprocess_.nchw ? d[3] : d[2];
    m->height_ = static_cast<int32_t>(h > 0 ? h : m->preprocess_.crop);
    m->width_ = static_cast<int32_t>(w > 0 ? w : m->preprocess_.crop);
    m->fixed_batch_ = d[0] > 0 ? d[0] : 0;

    // One blank image through the model, every class ranked: checks it runs
    // and counts its classes (classes_ is 0, unknown, until then).
    PreparedImage blank;
    blank.values.assign(static_cast<size_t>(m->width_) * m->height_ * 3, 0.f);
    const PreparedImage* one = &blank;
    const int32_t all = INT32_MAX;
    RESIDENT_ASSIGN_OR_RETURN(auto probe, m->run_chunk(&one, 1, &all));
    m->classes_ = static_cast<int32_t>(probe[0].top.size());
    if (!m->labels_.empty() && static_cast<int32_t>(m->labels_.size()) != m->classes_) {
        return invalid_argument(fmt::format(
            "'{}.resident.json' has {} labels but the model has {} classes: fix the labels",
            info.path, m->labels_.size(), m->classes_));
    }
    m->load_seconds_ =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    crash_report_add_model(fs::path(info.path).filename().string());
    m->in_crash_report_ = true;
    m->placement_ =
        fmt::format("onnxruntime {} session, {} intra-op threads, input {} {}, {} classes",
                    ort_version(), spec.effective_threads(), m->preprocess_.nchw ? "NCHW" : "NHWC",
                    shape_text(m->input_shape_), m->classes_);
    return m;
}

OnnxModel::~OnnxModel() {
    if (in_crash_report_) {
        crash_report_remove_model(fs::path(info_.path).filename().string());
    }
}

Result<PreparedImage> OnnxModel::prepare(const ImageRequest& request) const {
    RESIDENT_RETURN_IF_ERROR(validate_image_request(request, classes_));
    return prepare_image(request, preprocess_, width_, height_);
}

Result<std::vector<Classification>> OnnxModel::run(const std::vector<const PreparedImage*>& images,
                                                   const std::vector<int32_t>& top_k) const {
    std::vector<Classification> out;
    out.reserve(images.size());
    const size_t step = fixed_batch_ > 0 ? static_cast<size_t>(fixed_batch_) : images.size();
    for (size_t i = 0; i < images.size(); i += step) {
        const size_t n = std::min(step, images.size() - i);
        RESIDENT_ASSIGN_OR_RETURN(auto part, run_chunk(images.data() + i, n, top_k.data() + i));
        for (auto& c : part) out.push_back(std::move(c));
    }
    return out;
}

Result<std::vector<Classification>> OnnxModel::run_chunk(const PreparedImage* const* images,
                                                         size_t n, const int32_t* top_k) const {
    const size_t per = static_cast<size_t>(width_) * height_ * 3;
    // A model of fixed batch size gets that many images, the rest blank.
    const size_t rows = fixed_batch_ > 0 ? static_cast<size_t>(fixed_batch_) : n;
    std::vector<float> input(rows * per, 0.f);
    for (size_t i = 0; i < n; ++i) std::copy_n(images[i]->values.data(), per, &input[i * per]);
    std::vector<int64_t> shape = input_shape_;
    shape[0] = static_cast<int64_t>(rows);
    if (preprocess_.nchw) {
        shape[2] = height_;
        shape[3] = width_;
    } else {
        shape[1] = height_;
        shape[2] = width_;
    }
    try {
        auto mem = Ort::MemoryInfo::CreateCpu(OrtArenaAllocator, OrtMemTypeDefault);
        Ort::Value in = Ort::Value::CreateTensor<float>(mem, input.data(), input.size(),
                                                        shape.data(), shape.size());
        const char* in_name = input_name_.c_str();
        const char* out_name = output_name_.c_str();
        auto outputs = session_->Run(Ort::RunOptions{nullptr}, &in_name, &in, 1, &out_name, 1);
        auto info = outputs[0].GetTensorTypeAndShapeInfo();
        if (info.GetElementType() != ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT) {
            return failed_precondition("the model's first output is not float class scores");
        }
        const size_t total = info.GetElementCount();
        if (rows == 0 || total % rows != 0 || total / rows == 0) {
            return internal_error(
                fmt::format("the model gave {} scores for {} images", total, rows));
        }
        const auto classes = static_cast<int32_t>(total / rows);
        if (classes_ > 0 && classes != classes_) {
            return internal_error(
                fmt::format("the model gave {} classes, {} at load", classes, classes_));
        }
        const float* scores = outputs[0].GetTensorData<float>();
        std::vector<Classification> out(n);
        for (size_t i = 0; i < n; ++i) {
            out[i].width = images[i]->source_width;
            out[i].height = images[i]->source_height;
            rank(scores + i * static_cast<size_t>(classes), classes, preprocess_.softmax, top_k[i],
                 labels_, out[i]);
        }
        return out;
    } catch (const Ort::Exception& e) {
        return internal_error(fmt::format("ONNX Runtime failed on {} images: {}", n, e.what()));
    } catch (const std::bad_alloc&) {
        return resource_exhausted(fmt::format("out of memory running {} images", n));
    }
}

Result<std::unique_ptr<Predictor>> OnnxModel::create_predictor(const ModelSpec&) const {
    return invalid_argument(
        fmt::format("model '{}' is an image classifier (engine onnx): classify images, it does not "
                    "generate text",
                    info_.path));
}

Result<std::unique_ptr<BatchEngine>> OnnxModel::create_batch_engine(const ModelSpec& o) const {
    return create_predictor(o).status();
}

namespace {

class OnnxClassifier final : public Classifier {
   public:
    OnnxClassifier(std::shared_ptr<const OnnxModel> model, int32_t batch)
        : model_(std::move(model)), batch_(batch) {}

    Result<Classification> classify(const ImageRequest& request) override {
        RESIDENT_ASSIGN_OR_RETURN(PreparedImage img, model_->prepare(request));
        const PreparedImage* one = &img;
        RESIDENT_ASSIGN_OR_RETURN(auto out, model_->run({one}, {request.top_k}));
        return std::move(out[0]);
    }

    std::vector<Result<Classification>> classify_all(
        const std::vector<ImageRequest>& requests) override {
        std::vector<Result<Classification>> out(requests.size(),
                                                Result<Classification>(internal_error("not run")));
        std::vector<PreparedImage> prepared(requests.size());
        std::vector<size_t> good;
        for (size_t i = 0; i < requests.size(); ++i) {
            auto p = model_->prepare(requests[i]);
            if (p.is_ok()) {
                prepared[i] = std::move(*p);
                good.push_back(i);
            } else {
                out[i] = p.status();
            }
        }
        for (size_t at = 0; at < good.size(); at += static_cast<size_t>(batch_)) {
            const size_t n = std::min(static_cast<size_t>(batch_), good.size() - at);
            std::vector<const PreparedImage*> imgs;
            std::vector<int32_t> ks;
            for (size_t j = at; j < at + n; ++j) {
                imgs.push_back(&prepared[good[j]]);
                ks.push_back(requests[good[j]].top_k);
            }
            auto r = model_->run(imgs, ks);
            for (size_t j = 0; j < n; ++j) {
                out[good[at + j]] = r.is_ok() ? Result<Classification>(std::move((*r)[j]))
                                              : Result<Classification>(r.status());
            }
        }
        return out;
    }

   private:
    std::shared_ptr<const OnnxModel> model_;
    int32_t batch_;
};

// Images prepared on their submitting threads, run in batches on one thread.
class OnnxClassifyEngine final : public ClassifyEngine {
   public:
    OnnxClassifyEngine(std::shared_ptr<const OnnxModel> model, int32_t batch, int32_t capacity)
        : model_(std::move(model)), batch_(batch), capacity_(capacity) {
        thread_ = std::thread([this] { loop(); });
    }
    ~OnnxClassifyEngine() override { shutdown(); }

    void enqueue(ImageRequest request, Completion done) override {
        {
            std::lock_guard lock(mu_);
            ++stats_.submitted;
        }
        auto prepared = model_->prepare(request);
        if (!prepared.is_ok()) {
            fail(done, prepared.status());
            return;
        }
        std::unique_lock lock(mu_);
        room_.wait(lock, [&] { return stop_ || static_cast<int32_t>(queue_.size()) < capacity_; });
        if (stop_) {
            lock.unlock();
            fail(done, cancelled("the classify engine was shut down"));
            return;
        }
        queue_.push_back({std::move(*prepared), request.top_k, std::move(done)});
        ready_.notify_one();
    }

    void shutdown() override {
        {
            std::lock_guard lock(mu_);
            if (stop_ && !thread_.joinable()) return;
            stop_ = true;
        }
        ready_.notify_all();
        room_.notify_all();
        if (thread_.joinable()) thread_.join();
    }

    ClassifyEngineStats stats() const override {
        std::lock_guard lock(mu_);
        return stats_;
    }

   private:
    struct Item {
        PreparedImage image;
        int32_t top_k;
        Completion done;
    };

    void fail(const Completion& done, Status s) {
        {
            std::lock_guard lock(mu_);
            ++stats_.failed;
        }
        done(std::move(s));
    }

    void loop() {
        for (;;) {
            std::vector<Item> items;
            {
                std::unique_lock lock(mu_);
                ready_.wait(lock, [&] { return stop_ || !queue_.empty(); });
                if (stop_) break;
                // Once one image is here, wait briefly for a fuller batch:
                // the other task threads are preparing theirs.
                ready_.wait_for(lock, kBatchWait, [&] {
                    return stop_ || static_cast<int32_t>(queue_.size()) >= batch_;
                });
                while (!queue_.empty() && static_cast<int32_t>(items.size()) < batch_) {
                    items.push_back(std::move(queue_.front()));
                    queue_.pop_front();
                }
            }
            room_.notify_all();
            std::vector<const PreparedImage*> imgs;
            std::vector<int32_t> ks;
            for (const Item& it : items) {
                imgs.push_back(&it.image);
                ks.push_back(it.top_k);
            }
            auto r = model_->run(imgs, ks);
            {
                std::lock_guard lock(mu_);
                ++stats_.run_calls;
                stats_.max_batch = std::max(stats_.max_batch, static_cast<int32_t>(items.size()));
                (r.is_ok() ? stats_.completed : stats_.failed) +=
                    static_cast<int64_t>(items.size());
            }
            for (size_t i = 0; i < items.size(); ++i) {
                items[i].done(r.is_ok() ? Result<Classification>(std::move((*r)[i]))
                                        : Result<Classification>(r.status()));
            }
        }
        // Shut down: what is still queued is cancelled.
        std::deque<Item> left;
        {
            std::lock_guard lock(mu_);
            left.swap(queue_);
            stats_.failed += static_cast<int64_t>(left.size());
        }
        for (Item& it : left) it.done(cancelled("the classify engine was shut down"));
    }

    static constexpr std::chrono::milliseconds kBatchWait{5};
    std::shared_ptr<const OnnxModel> model_;
    const int32_t batch_;
    const int32_t capacity_;
    mutable std::mutex mu_;
    std::condition_variable ready_;
    std::condition_variable room_;
    std::deque<Item> queue_;
    bool stop_ = false;
    ClassifyEngineStats stats_;
    std::thread thread_;
};

}  // namespace

Result<std::unique_ptr<Classifier>> OnnxModel::create_classifier(const ModelSpec& options) const {
    if (options.parallel < 1) return invalid_argument("parallel must be at least 1 image");
    return std::unique_ptr<Classifier>(
        std::make_unique<OnnxClassifier>(shared_from_this(), options.parallel));
}

Result<std::unique_ptr<ClassifyEngine>> OnnxModel::create_classify_engine(
    const ModelSpec& options) const {
    if (options.parallel < 1) return invalid_argument("parallel must be at least 1 image");
    const int32_t capacity =
        options.queue_capacity > 0 ? options.queue_capacity : 2 * options.parallel;
    return std::unique_ptr<ClassifyEngine>(
        std::make_unique<OnnxClassifyEngine>(shared_from_this(), options.parallel, capacity));
}

}  // namespace resident::internal::onnx
