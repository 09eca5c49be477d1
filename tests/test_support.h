// Shared helpers of the model and CLI tests: the real small model, specs
// sized for a 2-core machine, and scratch files.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "core/process.h"
#include "resident/catalog.h"
#include "resident/model_cache.h"
#include "resident/model_spec.h"

namespace resident::testing {

// A catalog model's path in the model cache (pulled on first use); empty
// when it cannot be had.
inline std::string catalog_model_path(const std::string& name) {
    auto catalog = Catalog::load_default();
    if (!catalog.is_ok()) return std::string();
    const CatalogEntry* entry = catalog->find(name);
    if (entry == nullptr) return std::string();
    auto pulled = ModelCache().pull(*entry);
    return pulled.is_ok() ? *pulled : std::string();
}

// The real SmolLM2-135M model: $RESIDENT_TEST_MODEL, else the catalog's copy
// in the model cache (pulled on first use). Fails the test when unavailable.
inline std::string model_path() {
    static const std::string path = [] {
        if (const char* p = std::getenv("RESIDENT_TEST_MODEL"); p && *p) return std::string(p);
        return catalog_model_path("smollm2-135m-instruct");
    }();
    EXPECT_FALSE(path.empty()) << "the test model is unavailable: run `resident models pull "
                                  "smollm2-135m-instruct` or set RESIDENT_TEST_MODEL";
    return path;
}

// The real Gemma 3 270M model (Q4_K_M: a second architecture, and weights
// the CPU backend repacks). Fails the test when unavailable.
inline std::string gemma_path() {
    static const std::string path = catalog_model_path("gemma3-270m");
    EXPECT_FALSE(path.empty()) << "the Gemma test model is unavailable: run `resident models "
                                  "pull gemma3-270m`";
    return path;
}

// The ImageNet classifier (EfficientNet-Lite0, converted at pull time).
inline std::string efficientnet_path() {
    static const std::string path = catalog_model_path("efficientnet-lite0");
    EXPECT_FALSE(path.empty()) << "the image test model is unavailable: run `resident models "
                                  "pull efficientnet-lite0`";
    return path;
}

// A real photo from scikit-image's sample data, fetched once into the user
// cache by scripts/test-photos.sh (the pinned wheel, hash-checked):
// "coffee.png" (an espresso), "chelsea.png" (a tabby cat), "rocket.jpg",
// "motorcycle_left.png", "astronaut.png", "camera.png". Fails the test when
// unavailable.
inline std::string test_photo(const std::string& name) {
    static const std::string dir = []() -> std::string {
        const std::string out = (std::filesystem::temp_directory_path() /
                                 ("resident-photos-" + std::to_string(::getpid())))
                                    .string();
        auto rc = internal::run_command(
            {"bash", "-c", std::string(RESIDENT_SOURCE_DIR) + "/scripts/test-photos.sh > " + out},
            out + ".log");
        std::ifstream in(out);
        std::string folder;
        std::getline(in, folder);
        std::error_code ec;
        std::filesystem::remove(out, ec);
        std::filesystem::remove(out + ".log", ec);
        return rc.is_ok() && *rc == 0 ? folder : std::string();
    }();
    EXPECT_FALSE(dir.empty()) << "the test photos are unavailable: run scripts/test-photos.sh";
    return dir + "/" + name;
}

inline std::string read_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

// Compute threads per context: $RESIDENT_TEST_THREADS, else 2. The TSan preset
// sets 1: ggml's own worker pool inside one decode call trips TSan (a report
// in ggml_compute_forward_mul_mat, upstream's code, not Resident's); with one
// compute thread per context, TSan checks exactly what Resident adds: many
// contexts and threads over one shared model.
inline int threads() {
    const char* t = std::getenv("RESIDENT_TEST_THREADS");
    return t && *t ? std::atoi(t) : 2;
}

// Small contexts so that many of them fit and tests stay quick.
inline ModelSpec small_spec() {
    ModelSpec s;
    s.source = model_path();
    s.ctx_size = 256;
    s.batch_size = 128;
    s.parallel = 4;
    s.threads = threads();
    return s;
}

// A fresh folder under the system temp dir, removed when the object dies.
class ScratchDir {
   public:
    ScratchDir() {
        std::string tmpl =
            (std::filesystem::temp_directory_path() / "resident-test-XXXXXX").string();
        path_ = mkdtemp(tmpl.data());
    }
    ~ScratchDir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    std::string file(const std::string& name) const { return path_ + "/" + name; }
    std::string write(const std::string& name, const std::string& content) const {
        std::ofstream(file(name), std::ios::binary) << content;
        return file(name);
    }

   private:
    std::string path_;
};

// The first `bytes` bytes of `from`, written to `to`.
inline void copy_prefix(const std::string& from, const std::string& to, size_t bytes) {
    std::ifstream in(from, std::ios::binary);
    std::string data(bytes, '\0');
    in.read(data.data(), static_cast<std::streamsize>(bytes));
    data.resize(static_cast<size_t>(in.gcount()));
    std::ofstream(to, std::ios::binary) << data;
}

}  // namespace resident::testing
