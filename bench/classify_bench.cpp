// resident-classify-bench: image classification throughput of Resident's onnx
// engine beside ONNX Runtime on its own, on the same model, threads and images.
//
//   ort                  an Ort::Session of its own with the engine's session
//                        options (intra-op threads T, inter-op 1, ORT_ENABLE_ALL,
//                        no spinning), Run on float tensors made before the clock
//                        starts: the ceiling for any engine on this runtime
//   engine (tensors)     the engine's inference path without decoding:
//                        OnnxModel::run on images prepared before the clock
//                        starts (a fresh input tensor per call, the copy in, the
//                        ranking of the top classes out)
//   engine (from bytes)  Classifier::classify_all over the encoded photos: decode,
//                        resize, normalise and run, on one calling thread
//   batch engine         a ClassifyEngine fed by T submitting threads, each
//                        decoding and preparing its images, the engine's thread
//                        running what is ready in calls of up to B images
//
// For each batch size B the four run in turns (the order rotated each round)
// after one warm-up turn each; each turn classifies the same --count images
// (the photos cycled), and the medians over --rounds are reported as images/s
// with their ratio to "ort". The photos' encoded bytes are read from disk once;
// every turn of the last two decodes them again. A turn during which other
// processes took more than --noise-limit of the machine runs again once they
// are quiet (up to --redo times; a machine shared with builds halves these
// rates); one still disturbed is kept and the table says so.
#include <sys/resource.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <future>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "bench_util.h"
#include "engines/onnx/onnx_model.h"
#include "engines/onnx/ort.h"
#include "fmt/format.h"
#include "resident/model.h"
#include "resident/registry.h"

namespace resident::bench {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;
using internal::onnx::OnnxModel;
using internal::onnx::PreparedImage;

constexpr const char* kOrt = "ort";
constexpr const char* kTensors = "engine-tensors";
constexpr const char* kBytes = "engine-bytes";
constexpr const char* kBatch = "batch-engine";
constexpr double kTarget = 0.9;  // engine (tensors) / ort

// The photos of tests/test_support.h's test_photo(), all real camera images.
const std::vector<std::string> kDefaultPhotos = {"coffee.png",    "chelsea.png",
                                                 "rocket.jpg",    "motorcycle_left.png",
                                                 "astronaut.png", "camera.png"};

struct Options {
    std::string model = "efficientnet-lite0";
    int32_t threads = 0;  // 0 = all cores
    std::vector<int32_t> batches = {1, 8};
    std::vector<std::string> images;  // files or one folder; empty = the test photos
    int32_t count = 48;
    int32_t rounds = 5;
    int32_t top_k = 5;
    std::vector<std::string> modes = {kOrt, kTensors, kBytes, kBatch};
    double noise_limit = 0.10;  // share of all cores other processes may take during a turn
    int32_t redo = 3;           // times a disturbed turn is run again
    double quiet_wait = 60;     // seconds to wait for quiet before running it again
    std::string json_path;
};

void progress(const std::string& line) {
    std::fprintf(stderr, "[resident-classify-bench] %s\n", line.c_str());
    std::fflush(stderr);
}

std::string cache_root() {
    if (const char* c = std::getenv("RESIDENT_CACHE_DIR"); c && *c) return c;
    if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) return std::string(x) + "/resident";
    const char* home = std::getenv("HOME");
    return std::string(home ? home : ".") + "/.cache/resident";
}

std::string cpu_name() {
    std::ifstream in("/proc/cpuinfo");
    for (std::string line; std::getline(in, line);) {
        if (line.rfind("model name", 0) == 0) {
            const auto colon = line.find(':');
            if (colon != std::string::npos)
                return line.substr(line.find_first_not_of(' ', colon + 1));
        }
    }
    return "unknown CPU";
}

// Busy and total jiffies of all cores since boot (/proc/stat).
std::pair<int64_t, int64_t> cpu_jiffies() {
    std::ifstream in("/proc/stat");
    std::string cpu;
    int64_t v[8] = {};
    in >> cpu;
    for (int64_t& x : v) in >> x;
    int64_t total = 0;
    for (int64_t x : v) total += x;
    return {total - v[3] - v[4], total};  // idle and iowait are not busy
}

// CPU seconds of this process, all its threads.
double own_cpu_seconds() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
           static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// The share of all cores that other processes used while it lived: busy
// time of the machine minus this process's own CPU time.
class OtherLoad {
   public:
    OtherLoad() : start_(cpu_jiffies()), own_(own_cpu_seconds()) {}
    double share() const {
        const auto [busy, total] = cpu_jiffies();
        const double tick = static_cast<double>(sysconf(_SC_CLK_TCK));
        const double own = (own_cpu_seconds() - own_) * tick;
        const double span = std::max<int64_t>(1, total - start_.second);
        return std::max(0.0, (static_cast<double>(busy - start_.first) - own) / span);
    }

   private:
    std::pair<int64_t, int64_t> start_;
    double own_;
};

// Waits, up to `seconds`, until other processes leave the cores idle.
void wait_for_quiet(double limit, double seconds) {
    const auto deadline = Clock::now() + std::chrono::duration<double>(seconds);
    while (Clock::now() < deadline) {
        OtherLoad load;
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
        if (load.share() < limit) return;
    }
}

bool is_image_name(const fs::path& p) {
    std::string ext = p.extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    return ext == ".jpg" || ext == ".jpeg" || ext == ".png" || ext == ".bmp" || ext == ".gif";
}

// The image files to use: those given (a folder means its images), else
// the test photos in the user cache.
std::vector<std::string> image_files(const std::vector<std::string>& given) {
    std::vector<std::string> files;
    if (given.empty()) {
        const std::string dir = cache_root() + "/test-data/skimage-0.25.2";
        for (const auto& name : kDefaultPhotos) files.push_back(dir + "/" + name);
        for (const auto& f : files) {
            if (!fs::exists(f)) {
                die(not_found(fmt::format(
                        "'{}' is missing: the tests fetch scikit-image 0.25.2's photos there "
                        "(bench/classify_bench.py does too), or pass --images",
                        f)),
                    "finding the photos");
            }
        }
        return files;
    }
    for (const auto& g : given) {
        if (fs::is_directory(g)) {
            std::vector<std::string> in_dir;
            for (const auto& e : fs::directory_iterator(g)) {
                if (e.is_regular_file() && is_image_name(e.path()))
                    in_dir.push_back(e.path().string());
            }
            std::sort(in_dir.begin(), in_dir.end());
            files.insert(files.end(), in_dir.begin(), in_dir.end());
        } else {
            files.push_back(g);
        }
    }
    if (files.empty()) die(invalid_argument("no image files there"), "--images");
    return files;
}

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) die(not_found(fmt::format("cannot read '{}'", path)), "reading the images");
    return std::string(std::istreambuf_iterator<char>(in), {});
}

// One timed turn: a rate in images/s, and for the batch engine its calls.
struct Turn {
    double images_per_second = 0;
    int64_t run_calls = 0;
    double other_load = 0;  // share of all cores other processes took meanwhile
};

// What a measurement needs for one batch size; each method runs one turn.
class Workload {
   public:
    Workload(const OnnxModel& model, Ort::Session& session, const std::vector<std::string>& photos,
             const Options& o, int32_t batch)
        : model_(model), session_(session), o_(o), batch_(batch) {
        for (int32_t i = 0; i < o.count; ++i) {
            ImageRequest r;
            r.bytes = photos[static_cast<size_t>(i) % photos.size()];
            r.top_k = o.top_k;
            requests_.push_back(std::move(r));
        }
        for (const auto& r : requests_) {
            prepared_.push_back(or_die(model.prepare(r), "preparing an image"));
        }
        make_tensors();
        ModelSpec spec = model.spec();
        spec.parallel = batch;
        classifier_ = or_die(model.create_classifier(spec), "creating the classifier");
        engine_ = or_die(model.create_classify_engine(spec), "creating the classify engine");
    }

    Turn run(std::string_view mode) {
        if (mode == kOrt) return ort();
        if (mode == kTensors) return tensors();
        if (mode == kBytes) return from_bytes();
        return batch_engine();
    }

    int64_t ort_calls() const { return static_cast<int64_t>(inputs_.size()); }

   private:
    // The inputs of every call, made once: chunks of `batch_` images (of the
    // model's fixed batch size instead, zero-padded, when it has one, as
    // the engine does).
    void make_tensors() {
        Ort::AllocatorWithDefaultOptions alloc;
        input_name_ = session_.GetInputNameAllocated(0, alloc).get();
        output_name_ = session_.GetOutputNameAllocated(0, alloc).get();
        const Ort::TypeInfo type = session_.GetInputTypeInfo(0);
        std::vector<int64_t> shape = type.GetTensorTypeAndShapeInfo().GetShape();
        const size_t per = prepared_.front().values.size();
        // A dynamic height or width is the engine's square crop.
        const auto side = static_cast<int64_t>(std::lround(std::sqrt(per / 3.0)));
        for (size_t d = 1; d < shape.size(); ++d) {
            if (shape[d] <= 0) shape[d] = side;
        }
        const int64_t fixed = shape[0] > 0 ? shape[0] : 0;
        const size_t step = fixed > 0 ? static_cast<size_t>(fixed) : static_cast<size_t>(batch_);
        auto mem = Ort::MemoryInfo::CreateCpu(OrtArenaAllocator, OrtMemTypeDefault);
        for (size_t at = 0; at < prepared_.size(); at += step) {
            const size_t n = std::min(step, prepared_.size() - at);
            const size_t rows = fixed > 0 ? step : n;
            std::vector<float> buffer(rows * per, 0.f);  // [rows, 3, H, W] or [rows, H, W, 3]
            for (size_t i = 0; i < n; ++i) {
                std::copy_n(prepared_[at + i].values.data(), per, &buffer[i * per]);
            }
            buffers_.push_back(std::move(buffer));
            shape[0] = static_cast<int64_t>(rows);
            inputs_.push_back(Ort::Value::CreateTensor<float>(
                mem, buffers_.back().data(), buffers_.back().size(), shape.data(), shape.size()));
        }
    }

    Turn ort() {
        const char* in_name = input_name_.c_str();
        const char* out_name = output_name_.c_str();
        const auto start = Clock::now();
        try {
            for (Ort::Value& in : inputs_) {
                auto out = session_.Run(Ort::RunOptions{nullptr}, &in_name, &in, 1, &out_name, 1);
                if (out.empty()) die(internal_error("no output"), "ort Run");
            }
        } catch (const Ort::Exception& e) {
            die(internal_error(e.what()), "ort Run");
        }
        return {o_.count / seconds_since(start), ort_calls()};
    }

    Turn tensors() {
        const auto start = Clock::now();
        int64_t calls = 0;
        for (size_t at = 0; at < prepared_.size(); at += static_cast<size_t>(batch_)) {
            const size_t n = std::min(static_cast<size_t>(batch_), prepared_.size() - at);
            std::vector<const PreparedImage*> images;
            std::vector<int32_t> top_k;
            for (size_t i = at; i < at + n; ++i) {
                images.push_back(&prepared_[i]);
                top_k.push_back(o_.top_k);
            }
            or_die(model_.run(images, top_k), "OnnxModel::run");
            ++calls;
        }
        return {o_.count / seconds_since(start), calls};
    }

    Turn from_bytes() {
        const auto start = Clock::now();
        const auto results = classifier_->classify_all(requests_);
        const double secs = seconds_since(start);
        for (const auto& r : results) {
            if (!r.is_ok()) die(r.status(), "classify_all");
        }
        return {o_.count / secs, (o_.count + batch_ - 1) / batch_};
    }

    Turn batch_engine() {
        const int32_t submitters = model_.spec().effective_threads();
        const int64_t calls_before = engine_->stats().run_calls;
        std::vector<std::vector<std::future<Result<Classification>>>> futures(
            static_cast<size_t>(submitters));
        std::atomic<int32_t> next{0};
        const auto start = Clock::now();
        std::vector<std::thread> threads;
        for (int32_t t = 0; t < submitters; ++t) {
            threads.emplace_back([&, t] {
                for (int32_t i; (i = next++) < o_.count;) {
                    futures[static_cast<size_t>(t)].push_back(
                        engine_->submit(requests_[static_cast<size_t>(i)]));
                }
            });
        }
        for (auto& t : threads) t.join();
        for (auto& mine : futures) {
            for (auto& f : mine) {
                if (auto r = f.get(); !r.is_ok()) die(r.status(), kBatch);
            }
        }
        const double secs = seconds_since(start);
        return {o_.count / secs, engine_->stats().run_calls - calls_before};
    }

    const OnnxModel& model_;
    Ort::Session& session_;
    const Options& o_;
    const int32_t batch_;
    std::vector<ImageRequest> requests_;
    std::vector<PreparedImage> prepared_;
    std::string input_name_;
    std::string output_name_;
    std::vector<std::vector<float>> buffers_;  // the tensors' memory
    std::vector<Ort::Value> inputs_;
    std::unique_ptr<Classifier> classifier_;
    std::unique_ptr<ClassifyEngine> engine_;
};

bool wants(const Options& o, std::string_view mode) {
    return std::find(o.modes.begin(), o.modes.end(), mode) != o.modes.end();
}

std::string label_of(std::string_view mode) {
    if (mode == kOrt) return "ort";
    if (mode == kTensors) return "engine (tensors)";
    if (mode == kBytes) return "engine (from bytes)";
    return "batch engine";
}

json bench_batch(const OnnxModel& model, Ort::Session& session,
                 const std::vector<std::string>& photos, const Options& o, int32_t batch) {
    Workload w(model, session, photos, o, batch);
    std::vector<std::string> modes;
    for (const char* m : {kOrt, kTensors, kBytes, kBatch}) {
        if (wants(o, m)) modes.push_back(m);
    }
    for (const auto& m : modes) w.run(m);  // warm-up: first-call allocations, page faults
    std::map<std::string, std::vector<double>> rates, calls, loads;
    int32_t redone = 0, disturbed = 0;
    for (int32_t round = 0; round < o.rounds; ++round) {
        // The order rotates, so that no measurement always follows the same one.
        for (size_t k = 0; k < modes.size(); ++k) {
            const std::string& m = modes[(k + static_cast<size_t>(round)) % modes.size()];
            Turn t;
            // A turn that other processes disturbed (a shared machine) runs
            // again once they are quiet; one still disturbed is kept, counted.
            for (int32_t attempt = 0;; ++attempt) {
                const OtherLoad load;
                t = w.run(m);
                t.other_load = load.share();
                if (t.other_load <= o.noise_limit) break;
                if (attempt == o.redo) {
                    ++disturbed;
                    break;
                }
                ++redone;
                wait_for_quiet(o.noise_limit, o.quiet_wait);
            }
            rates[m].push_back(t.images_per_second);
            calls[m].push_back(static_cast<double>(t.run_calls));
            loads[m].push_back(t.other_load);
        }
    }
    json j = {{"batch", batch}};
    json results = json::object();
    std::string line = fmt::format("batch {}:", batch);
    for (const auto& m : modes) {
        const double rate = median(rates[m]);
        results[m] = {{"images_per_second", rate},
                      {"run_calls_per_turn", median(calls[m])},
                      {"images_per_second_runs", rates[m]},
                      {"other_load_runs", loads[m]}};
        line += fmt::format(" {} {:.1f} img/s;", m, rate);
    }
    j["modes"] = results;
    j["turns_redone"] = redone;
    j["turns_disturbed"] = disturbed;  // kept although other processes were busy
    if (wants(o, kOrt)) {
        json ratios = json::object();
        const double base = median(rates[kOrt]);
        for (const auto& m : modes) {
            if (m != kOrt) ratios[m] = median(rates[m]) / base;
        }
        j["vs_ort"] = ratios;
    }
    if (redone > 0 || disturbed > 0) {
        line += fmt::format(" ({} turns run again, {} still disturbed)", redone, disturbed);
    }
    progress(line);
    return j;
}

void print_table(const json& doc, const Options& o) {
    std::printf("\n== Resident image classification benchmark ==\n");
    std::printf("model     %s  (%s)\n", doc["model"].get<std::string>().c_str(),
                doc["placement"].get<std::string>().c_str());
    std::printf("machine   %s, %d cores; %d intra-op threads everywhere, %d submitting threads\n",
                doc["cpu"].get<std::string>().c_str(), doc["cores"].get<int>(),
                doc["threads"].get<int>(), doc["threads"].get<int>());
    std::printf(
        "workload  %d images per turn (%zu photos, cycled), top %d; medians of %d rounds "
        "in turns\n\n",
        o.count, doc["photos"].size(), o.top_k, o.rounds);
    std::string header = fmt::format("{:>5} | {:<20} | {:>9} | {:>8} | {:>9}", "batch",
                                     "measurement", "images/s", "vs ort", "calls/turn");
    std::printf("%s\n%s\n", header.c_str(), std::string(header.size(), '-').c_str());
    for (const auto& b : doc["batches"]) {
        for (const auto& [mode, r] : b["modes"].items()) {
            const std::string ratio = b.contains("vs_ort") && b["vs_ort"].contains(mode)
                                          ? fmt::format("{:.2f}x", b["vs_ort"][mode].get<double>())
                                          : "";
            std::printf("%s\n", fmt::format("{:>5} | {:<20} | {:>9.2f} | {:>8} | {:>9.0f}",
                                            b["batch"].get<int>(), label_of(mode),
                                            r["images_per_second"].get<double>(), ratio,
                                            r["run_calls_per_turn"].get<double>())
                                    .c_str());
        }
    }
    int disturbed = 0;
    for (const auto& b : doc["batches"]) disturbed += b["turns_disturbed"].get<int>();
    if (disturbed > 0) {
        std::printf(
            "\nNOISY: %d turn(s) ran while other processes took > %.0f%% of the machine: "
            "rerun when it is quiet\n",
            disturbed, 100 * o.noise_limit);
    }
    if (wants(o, kOrt) && wants(o, kTensors)) {
        std::printf("\nTarget: engine (tensors) >= %.1fx ort\n", kTarget);
        for (const auto& b : doc["batches"]) {
            const double r = b["vs_ort"][kTensors].get<double>();
            std::printf("  batch %-3d %.2fx  %s\n", b["batch"].get<int>(), r,
                        r >= kTarget ? "PASS" : "MISS");
        }
    }
    std::fflush(stdout);
}

int run(const Options& o) {
    const std::vector<std::string> files = image_files(o.images);
    std::vector<std::string> photos;
    for (const auto& f : files) photos.push_back(read_file(f));

    ModelSpec spec;
    spec.engine = "onnx";
    spec.task = Task::kClassify;
    spec.source = o.model;
    spec.threads = o.threads;
    spec.parallel = *std::max_element(o.batches.begin(), o.batches.end());
    Registry registry;
    ModelHandle handle = or_die(registry.acquire(spec), "loading the model");
    const auto* model = dynamic_cast<const OnnxModel*>(handle.get());
    if (model == nullptr) die(invalid_argument("not an onnx model"), "loading the model");
    const std::string& path = model->spec().source;
    const int32_t threads = model->spec().effective_threads();
    progress(
        fmt::format("loaded {} in {:.2f} s: {}", path, model->load_seconds(), model->placement()));

    // ONNX Runtime on its own: a second session with the engine's options.
    Ort::Env* env = or_die(internal::onnx::ort_env(), "opening ONNX Runtime");
    std::unique_ptr<Ort::Session> session;
    try {
        Ort::SessionOptions so;
        so.SetIntraOpNumThreads(threads);
        so.SetInterOpNumThreads(1);
        so.SetGraphOptimizationLevel(GraphOptimizationLevel::ORT_ENABLE_ALL);
        so.AddConfigEntry("session.intra_op.allow_spinning", "0");
        session = std::make_unique<Ort::Session>(*env, path.c_str(), so);
    } catch (const Ort::Exception& e) {
        die(internal_error(e.what()), "creating the ort session");
    }

    json names = json::array();
    for (const auto& f : files) names.push_back(fs::path(f).filename().string());
    json doc = {{"tool", "resident-classify-bench"},
                {"model", o.model},
                {"path", path},
                {"placement", model->placement()},
                {"classes", model->classes()},
                {"onnxruntime", internal::onnx::ort_version()},
                {"cpu", cpu_name()},
                {"cores", std::thread::hardware_concurrency()},
                {"threads", threads},
                {"count", o.count},
                {"rounds", o.rounds},
                {"top_k", o.top_k},
                {"photos", names},
                {"target_tensors_vs_ort", kTarget}};
    json batches = json::array();
    for (int32_t b : o.batches) batches.push_back(bench_batch(*model, *session, photos, o, b));
    doc["batches"] = batches;

    print_table(doc, o);
    if (!o.json_path.empty()) {
        std::ofstream out(o.json_path);
        out << doc.dump(2) << "\n";
        if (!out) {
            die(invalid_argument(fmt::format("cannot write '{}'", o.json_path)),
                "writing the results");
        }
    }
    return 0;
}

}  // namespace
}  // namespace resident::bench

int main(int argc, char** argv) {
    resident::bench::g_program = "resident-classify-bench";
    resident::bench::Options o;
    CLI::App app{
        "resident-classify-bench: images/s of the onnx engine beside ONNX Runtime on its own"};
    app.add_option("-m,--model", o.model, "catalog name or .onnx path")->capture_default_str();
    app.add_option("-t,--threads", o.threads,
                   "intra-op threads, and submitting threads (0 = all "
                   "cores)")
        ->capture_default_str();
    app.add_option("-b,--batch", o.batches, "images per inference call, e.g. 1,8")
        ->delimiter(',')
        ->capture_default_str()
        ->check(CLI::Range(1, 1024));
    app.add_option("-i,--images", o.images,
                   "image files or a folder (default: the test photos in the user cache)")
        ->delimiter(',');
    app.add_option("-n,--count", o.count, "images per turn (the photos cycled)")
        ->capture_default_str()
        ->check(CLI::Range(1, 1000000));
    app.add_option("-r,--rounds", o.rounds, "turns of each measurement (median reported)")
        ->capture_default_str()
        ->check(CLI::Range(1, 1000));
    app.add_option("-k,--top-k", o.top_k, "classes ranked per image")
        ->capture_default_str()
        ->check(CLI::Range(1, 1000));
    app.add_option("--modes", o.modes, "ort, engine-tensors, engine-bytes, batch-engine")
        ->delimiter(',')
        ->capture_default_str()
        ->check(CLI::IsMember({resident::bench::kOrt, resident::bench::kTensors,
                               resident::bench::kBytes, resident::bench::kBatch}));
    app.add_option("--noise-limit", o.noise_limit,
                   "share of all cores other processes may take during a turn")
        ->capture_default_str()
        ->check(CLI::Range(0.0, 1.0));
    app.add_option("--redo", o.redo, "times a disturbed turn is run again")
        ->capture_default_str()
        ->check(CLI::Range(0, 100));
    app.add_option("--quiet-wait", o.quiet_wait,
                   "seconds to wait for quiet before running a disturbed turn again")
        ->capture_default_str()
        ->check(CLI::Range(0.0, 3600.0));
    app.add_option("--json", o.json_path, "write every result as JSON here");
    CLI11_PARSE(app, argc, argv);
    return resident::bench::run(o);
}
