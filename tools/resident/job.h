// The local batch job behind `resident run`: rows in, completions out, in
// input order, through one of the three loading strategies of the brief.
#pragma once

#include <cstdint>
#include <string>

#include "input.h"
#include "resident/generation.h"
#include "resident/model_spec.h"
#include "resident/row_request.h"
#include "resident/status.h"
#include "resident/strategy.h"

namespace resident::cli {

enum class ProgressMode { kAuto, kBar, kLines, kNone };
Result<ProgressMode> parse_progress_mode(std::string_view name);

struct JobOptions {
    ModelSpec spec;  // model and its options; spec.parallel = sequences or workers
    std::string input;
    std::string output;
    InputFormat input_format = InputFormat::kAuto;
    std::string prompt_field = "prompt";
    std::string id_field{kRowIdField};  // the row's id (seeds it); absent: its prompt seeds it
    RowRules rules;                     // template, system prompt, chat, sampling (docs/rows.md)
    Strategy strategy = Strategy::kSharedBatched;
    int32_t partitions = 0;    // per-partition: 0 = one per worker
    std::string summary_path;  // JSON summary, when set
    ProgressMode progress = ProgressMode::kAuto;
};

struct JobSummary {
    std::string model;
    std::string strategy;
    int64_t rows = 0;
    int64_t rows_ok = 0;
    int64_t rows_failed = 0;
    int64_t prompt_tokens = 0;
    int64_t reused_prompt_tokens = 0;  // of which the engine reused KV cells (prefix reuse)
    int64_t completion_tokens = 0;
    int64_t model_loads = 0;
    double load_seconds = 0;
    double wall_seconds = 0;
    uint64_t peak_rss_bytes = 0;
    int64_t evictions = 0;           // idle models evicted during the job
    uint64_t budget_bytes = 0;       // the process's native memory budget
    std::string budget_source;       // where the budget came from
    uint64_t budget_peak_bytes = 0;  // the most of it models and contexts held
    double generated_tokens_per_second() const;
};

// Runs the job. Per-row faults become error rows; the Status is an error only
// when the job cannot run at all (bad options, unreadable input, model that
// cannot load, unwritable output).
Result<JobSummary> run_job(const JobOptions& options);

}  // namespace resident::cli
