#include "classify_job.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <climits>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <system_error>

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

// The most an image file may have: what the decoder takes (larger files are
// refused before they are read).
constexpr uintmax_t kMaxImageBytes = INT32_MAX;

// Lists a folder tree as rows: every file, whatever its name (the decoder,
// not the extension, says whether it is an image, and an error row says why
// not), and every other entry that is not a folder, for the read to explain
// (a dangling link, a pipe). Links to folders are followed after the tree's
// own folders, each folder read once: a link to one read already (a loop, a
// second way in) is an error row. Entries go in name order, so the rows do not
// depend on the order the system lists them in.
class FolderLister {
   public:
    explicit FolderLister(std::vector<ImageRow>& rows) : rows_(rows) {}

    void list(const fs::path& root) {
        std::error_code ec;
        seen_.insert(fs::canonical(root, ec));
        walk(root);
        while (!links_.empty()) {
            const fs::path link = links_.front();
            links_.pop_front();
            const fs::path real = fs::canonical(link, ec);
            if (ec) {
                error_row(link, fmt::format("folder '{}' cannot be resolved ({}): its files are "
                                            "not in the output",
                                            link.string(), ec.message()));
            } else if (!seen_.insert(real).second) {
                error_row(link, fmt::format("'{}' links to folder '{}', which is read already: "
                                            "not read twice",
                                            link.string(), real.string()));
            } else {
                walk(link);
            }
        }
    }

   private:
    void error_row(const fs::path& p, std::string why) {
        rows_.push_back({json{{"path", p.string()}}, p.string(), std::move(why)});
    }

    void walk(const fs::path& dir) {
        std::error_code ec;
        std::vector<fs::path> entries;
        for (fs::directory_iterator it(dir, ec); !ec && it != fs::directory_iterator();
             it.increment(ec)) {
            entries.push_back(it->path());
        }
        if (ec) {
            error_row(dir, fmt::format("folder '{}' cannot be listed ({}): its files are not in "
                                       "the output",
                                       dir.string(), ec.message()));
        }
        std::sort(entries.begin(), entries.end());
        for (const fs::path& p : entries) {
            std::error_code st_ec;
            if (!fs::is_directory(fs::status(p, st_ec))) {
                rows_.push_back({json{{"path", p.string()}}, p.string(), std::nullopt});
            } else if (fs::is_symlink(fs::symlink_status(p, st_ec))) {
                links_.push_back(p);
            } else if (!seen_.insert(fs::canonical(p, st_ec)).second) {
                // Inside a linked folder: a folder read already through another link.
                error_row(p, fmt::format("folder '{}' is read already (through a link): not read "
                                         "twice",
                                         p.string()));
            } else {
                walk(p);
            }
        }
    }

    std::vector<ImageRow>& rows_;
    std::set<fs::path> seen_;     // folders read, by their real path
    std::deque<fs::path> links_;  // links to folders, to follow once the tree is read
};

Result<std::vector<ImageRow>> read_image_rows(const ClassifyOptions& o) {
    std::error_code ec;
    std::vector<ImageRow> rows;
    if (fs::is_directory(o.input, ec)) {
        const fs::directory_iterator probe(o.input, ec);  // the input itself must list
        if (ec) {
            return not_found(
                fmt::format("input folder '{}' cannot be listed ({})", o.input, ec.message()));
        }
        FolderLister(rows).list(o.input);
        std::sort(rows.begin(), rows.end(),
                  [](const ImageRow& a, const ImageRow& b) { return a.path < b.path; });
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

// An open file descriptor, closed when it goes.
struct ScopedFd {
    explicit ScopedFd(int f) : fd(f) {}
    ScopedFd(const ScopedFd&) = delete;
    ScopedFd& operator=(const ScopedFd&) = delete;
    ~ScopedFd() {
        if (fd >= 0) ::close(fd);
    }
    const int fd;
};

// The bytes of an image file, or why it has none: missing, a dangling link, a
// folder, not a regular file (never opened: a pipe would block), too large
// (refused before it is read), unreadable (the system's reason).
Result<std::string> read_file(const std::string& path) {
    std::error_code ec;
    const fs::file_status link = fs::symlink_status(path, ec);
    if (!fs::exists(link)) return not_found(fmt::format("image file '{}' does not exist", path));
    const fs::file_status target = fs::status(path, ec);
    if (fs::is_symlink(link) && !fs::exists(target)) {
        std::error_code read_ec;
        const fs::path to = fs::read_symlink(path, read_ec);
        if (ec && ec != std::errc::no_such_file_or_directory) {
            return not_found(
                fmt::format("'{}' is a link that cannot be followed ({})", path, ec.message()));
        }
        return not_found(fmt::format("'{}' is a dangling link: its target '{}' does not exist",
                                     path, to.string()));
    }
    if (fs::is_directory(target)) {
        return invalid_argument(fmt::format("'{}' is a folder, not an image file", path));
    }
    if (fs::exists(target) && !fs::is_regular_file(target)) {
        return invalid_argument(
            fmt::format("'{}' is not a regular file (a pipe, socket or device): not read", path));
    }
    // Opened without blocking, and checked again once open: the file may have
    // changed since it was listed.
    const ScopedFd file(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
    const int fd = file.fd;
    if (fd < 0) {
        const int err = errno;
        const std::string why = std::system_category().message(err);
        if (err == ENOENT) return not_found(fmt::format("image file '{}' does not exist", path));
        if (err == EACCES || err == EPERM) {
            return failed_precondition(fmt::format(
                "image file '{}' cannot be read ({}): check its permissions", path, why));
        }
        return unavailable(fmt::format("image file '{}' cannot be opened ({})", path, why));
    }
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        return invalid_argument(fmt::format("'{}' is not a regular file: not read", path));
    }
    if (static_cast<uintmax_t>(st.st_size) > kMaxImageBytes) {
        return invalid_argument(fmt::format(
            "image file '{}' is {} bytes, too large: an image may have {} at most (not read)", path,
            static_cast<uintmax_t>(st.st_size), kMaxImageBytes));
    }
    std::string bytes(static_cast<size_t>(st.st_size), '\0');
    size_t got = 0;
    while (got < bytes.size()) {
        const ssize_t n = ::read(fd, bytes.data() + got, bytes.size() - got);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            return data_loss(fmt::format("reading image file '{}' failed after {} of {} bytes ({})",
                                         path, got, bytes.size(),
                                         std::system_category().message(errno)));
        }
        if (n == 0) break;  // shrunk since fstat: the decoder judges what is there
        got += static_cast<size_t>(n);
    }
    bytes.resize(got);
    return bytes;
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
