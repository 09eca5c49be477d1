#include "classify_job.h"

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>

#include "fmt/format.h"
#include "progress.h"
#include "resident/classification.h"
#include "resident/memory.h"
#include "resident/registry.h"

namespace resident::cli {

namespace {

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

struct ImageRow {
    json fields;                       // the row as read ({"path": ...} for folders and lists)
    std::string path;                  // the image file
    std::optional<std::string> error;  // why the row names no image
};

bool is_image_name(const fs::path& p) {
    std::string ext = p.extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), ::tolower);
    return ext == ".jpg" || ext == ".jpeg" || ext == ".png" || ext == ".bmp" || ext == ".gif";
}

Result<std::vector<ImageRow>> read_image_rows(const ClassifyOptions& o) {
    std::error_code ec;
    std::vector<ImageRow> rows;
    if (fs::is_directory(o.input, ec)) {
        std::vector<std::string> paths;
        for (const auto& e : fs::recursive_directory_iterator(o.input, ec)) {
            if (e.is_regular_file() && is_image_name(e.path())) paths.push_back(e.path().string());
        }
        std::sort(paths.begin(), paths.end());
        for (auto& p : paths) rows.push_back({json{{"path", p}}, p, std::nullopt});
        return rows;
    }
    std::ifstream in(o.input);
    if (!in) {
        return not_found(fmt::format(
            "input '{}' cannot be read: give a folder of images, a .txt list of paths or a "
            ".jsonl file",
            o.input));
    }
    const bool jsonl = o.input.ends_with(".jsonl") || o.input.ends_with(".json");
    const fs::path base = fs::path(o.input).parent_path();
    std::string line;
    for (int64_t n = 1; std::getline(in, line); ++n) {
        if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
        ImageRow row;
        if (!jsonl) {
            if (line.back() == '\r') line.pop_back();
            row.fields = json{{"path", line}};
        } else {
            row.fields = json::parse(line, nullptr, false);
            if (row.fields.is_discarded() || !row.fields.is_object()) {
                row.fields = json{{"line", n}};
                row.error = fmt::format("line {} is not a JSON object", n);
            } else if (!row.fields.contains(o.path_field) ||
                       !row.fields[o.path_field].is_string()) {
                row.error = fmt::format(
                    "line {} has no '{}' text field: give each row the image's path, or name the "
                    "field with --path-field",
                    n, o.path_field);
            } else {
                line = row.fields[o.path_field].get<std::string>();
            }
        }
        if (!row.error) {
            fs::path p(line);
            row.path = (p.is_relative() ? base / p : p).string();  // relative to the list
        }
        rows.push_back(std::move(row));
    }
    return rows;
}

Result<std::string> read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return not_found(fmt::format("image file '{}' cannot be read", path));
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// Writes rows in input order, whatever order they finish in.
class Writer {
   public:
    Writer(std::ofstream& out, const std::vector<ImageRow>& rows) : out_(out), rows_(rows) {}

    void put(size_t i, const Result<Classification>& r) {
        json row = rows_[i].fields;
        if (r.is_ok()) {
            json top = json::array();
            for (const auto& c : r->top) {
                top.push_back({{"label", c.label}, {"index", c.index}, {"score", c.score}});
            }
            row["label"] = r->top.front().label;
            row["score"] = r->top.front().score;
            row["top_k"] = std::move(top);
            row["width"] = r->width;
            row["height"] = r->height;
            row["error"] = nullptr;
            ++ok_;
        } else {
            row["label"] = nullptr;
            row["score"] = nullptr;
            row["top_k"] = json::array();
            row["error"] = r.status().to_string();
            ++failed_;
        }
        std::lock_guard lock(mu_);
        pending_[i] = row.dump(-1, ' ', false, json::error_handler_t::replace);
        while (!pending_.empty() && pending_.begin()->first == next_) {
            out_ << pending_.begin()->second << '\n';
            pending_.erase(pending_.begin());
            ++next_;
        }
        written_.notify_all();
    }
    int64_t done() const { return ok_ + failed_; }
    // Waits until every row is written.
    void wait_all() {
        std::unique_lock lock(mu_);
        written_.wait(lock, [&] { return next_ == rows_.size(); });
    }
    std::atomic<int64_t> ok_{0}, failed_{0};

   private:
    std::ofstream& out_;
    const std::vector<ImageRow>& rows_;
    std::mutex mu_;
    std::condition_variable written_;
    std::map<size_t, std::string> pending_;  // guarded by mu_
    size_t next_ = 0;                        // guarded by mu_
};

// The request of row i, or why it has none.
Result<ImageRequest> request_of(const ImageRow& row, int32_t top_k) {
    if (row.error) return invalid_argument(*row.error);
    RESIDENT_ASSIGN_OR_RETURN(std::string bytes, read_file(row.path));
    return ImageRequest{std::move(bytes), top_k};
}

}  // namespace

Result<ClassifySummary> run_classify(const ClassifyOptions& o) {
    RESIDENT_RETURN_IF_ERROR(o.spec.validate());
    RESIDENT_RETURN_IF_ERROR(Registry::global().catalog().check_engine(o.spec.source, "onnx"));
    if (o.top_k < 1) return invalid_argument(fmt::format("top_k = {}: use 1 or more", o.top_k));
    if (o.workers < 0 || o.partitions < 0) {
        return invalid_argument("workers and partitions must be 0 (automatic) or more");
    }
    RESIDENT_ASSIGN_OR_RETURN(std::vector<ImageRow> rows, read_image_rows(o));
    const std::string partial = o.output + ".partial";
    std::ofstream out(partial, std::ios::binary | std::ios::trunc);
    if (!out) {
        return invalid_argument(fmt::format(
            "output '{}' cannot be written: check the folder exists and is writable", o.output));
    }
    const int32_t workers = o.workers > 0 ? o.workers : o.spec.effective_threads();
    const auto start = std::chrono::steady_clock::now();
    Writer writer(out, rows);
    ClassifySummary summary;
    Registry& registry = Registry::global();
    const int64_t loads_before = registry.total_loads();
    const double load_seconds_before = registry.total_load_seconds();
    Status fatal;
    std::mutex mu;
    {
        ProgressReporter progress(
            o.progress, static_cast<int64_t>(rows.size()), [&] { return writer.done(); },
            [&](double secs) {
                return fmt::format("{:.1f} img/s", secs > 0 ? writer.done() / secs : 0);
            });
        std::atomic<size_t> next{0};
        switch (o.strategy) {
            case Strategy::kSharedBatched: {
                // Workers read and prepare images; the engine batches them.
                RESIDENT_ASSIGN_OR_RETURN(ModelHandle model, registry.acquire(o.spec));
                RESIDENT_ASSIGN_OR_RETURN(auto engine, model->create_classify_engine(o.spec));
                on_threads(workers, [&](int32_t) {
                    for (size_t i; (i = next++) < rows.size();) {
                        auto req = request_of(rows[i], o.top_k);
                        if (!req.is_ok()) {
                            writer.put(i, req.status());
                            continue;
                        }
                        engine->enqueue(std::move(*req), [&writer, i](Result<Classification> r) {
                            writer.put(i, r);
                        });
                    }
                });
                writer.wait_all();  // the engine's last batches
                summary.run_calls = engine->stats().run_calls;
                summary.max_batch = engine->stats().max_batch;
                break;
            }
            case Strategy::kShared: {
                RESIDENT_ASSIGN_OR_RETURN(ModelHandle model, registry.acquire(o.spec));
                on_threads(workers, [&](int32_t) {
                    auto c = model->create_classifier(o.spec);
                    for (size_t i; (i = next++) < rows.size();) {
                        auto req = request_of(rows[i], o.top_k);
                        writer.put(i, !req.is_ok() ? Result<Classification>(req.status())
                                      : !c.is_ok() ? Result<Classification>(c.status())
                                                   : (*c)->classify(*req));
                    }
                });
                break;
            }
            case Strategy::kPerPartition: {
                const auto n = static_cast<int64_t>(rows.size());
                const int64_t parts =
                    std::max<int64_t>(1, o.partitions > 0 ? o.partitions : workers);
                std::atomic<int64_t> next_part{0};
                on_threads(workers, [&](int32_t) {
                    for (int64_t p; (p = next_part++) < parts;) {
                        Registry local;  // this partition's own copy of the model
                        auto model = local.acquire(o.spec);
                        auto c = model.is_ok()
                                     ? (*model)->create_classifier(o.spec)
                                     : Result<std::unique_ptr<Classifier>>(model.status());
                        {
                            std::lock_guard lock(mu);
                            summary.model_loads += local.total_loads();
                            summary.load_seconds += local.total_load_seconds();
                            if (!c.is_ok() && fatal.is_ok()) fatal = c.status();
                        }
                        if (!c.is_ok()) return;
                        std::vector<size_t> idx;
                        std::vector<ImageRequest> reqs;
                        for (int64_t i = n * p / parts; i < n * (p + 1) / parts; ++i) {
                            auto req = request_of(rows[static_cast<size_t>(i)], o.top_k);
                            if (!req.is_ok()) {
                                writer.put(static_cast<size_t>(i), req.status());
                                continue;
                            }
                            idx.push_back(static_cast<size_t>(i));
                            reqs.push_back(std::move(*req));
                        }
                        auto results = (*c)->classify_all(reqs);
                        for (size_t j = 0; j < idx.size(); ++j) writer.put(idx[j], results[j]);
                    }
                });
                break;
            }
        }
    }
    out.close();
    std::error_code ec;
    if (!fatal.is_ok()) {
        fs::remove(partial, ec);
        return fatal;
    }
    if (!out) return internal_error(fmt::format("writing '{}' failed: is the disk full?", partial));
    fs::rename(partial, o.output, ec);
    if (ec) return internal_error(fmt::format("cannot create '{}': {}", o.output, ec.message()));
    summary.model = o.spec.source;
    summary.strategy = std::string(strategy_name(o.strategy));
    summary.images = static_cast<int64_t>(rows.size());
    summary.images_ok = writer.ok_;
    summary.images_failed = writer.failed_;
    summary.model_loads += registry.total_loads() - loads_before;
    summary.load_seconds += registry.total_load_seconds() - load_seconds_before;
    summary.wall_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    summary.peak_rss_bytes = peak_rss_bytes();
    return summary;
}

}  // namespace resident::cli
