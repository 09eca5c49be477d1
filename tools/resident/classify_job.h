// The local image job behind `resident classify`: images in (a folder, a list
// of paths, or JSON lines naming them), one JSON line of top classes out per
// image, in input order, through the same three strategies as `resident run`.
#pragma once

#include <cstdint>
#include <string>

#include "job.h"
#include "resident/model_spec.h"
#include "resident/status.h"

namespace resident::cli {

struct ClassifyOptions {
    ModelSpec spec;                   // engine onnx, task classify; spec.parallel = images per call
    std::string input;                // a folder (every file, sorted), a .txt list or .jsonl rows
    std::string output;               // JSONL, one row per input file or line
    std::string path_field = "path";  // of JSONL rows
    int32_t top_k = 5;
    Strategy strategy = Strategy::kSharedBatched;
    int32_t workers = 0;     // threads reading and preparing images; 0 = cores
    int32_t partitions = 0;  // per-partition: 0 = one per worker
    std::string summary_path;
    ProgressMode progress = ProgressMode::kAuto;
};

struct ClassifySummary {
    std::string model;
    std::string strategy;
    int64_t images = 0;
    int64_t images_ok = 0;
    int64_t images_failed = 0;
    int64_t model_loads = 0;
    double load_seconds = 0;
    double wall_seconds = 0;
    int64_t run_calls = 0;  // batched inference calls (batched strategy)
    int32_t max_batch = 0;
    uint64_t peak_rss_bytes = 0;
    double images_per_second() const { return wall_seconds > 0 ? images / wall_seconds : 0; }
};

// Per-image faults (unreadable file, not an image) become error rows; the
// Status is an error only when the job cannot run at all.
Result<ClassifySummary> run_classify(const ClassifyOptions& options);

}  // namespace resident::cli
