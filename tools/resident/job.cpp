#include "job.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <mutex>
#include <thread>

#include "core/row_json.h"
#include "fmt/format.h"
#include "progress.h"
#include "resident/memory.h"
#include "resident/memory_budget.h"
#include "resident/predictor_pool.h"
#include "resident/registry.h"

namespace resident::cli {

Result<ProgressMode> parse_progress_mode(std::string_view name) {
    if (name == "auto") return ProgressMode::kAuto;
    if (name == "bar") return ProgressMode::kBar;
    if (name == "lines") return ProgressMode::kLines;
    if (name == "none") return ProgressMode::kNone;
    return invalid_argument(
        fmt::format("unknown progress mode '{}': use auto, bar, lines or none", name));
}

double JobSummary::generated_tokens_per_second() const {
    return wall_seconds > 0 ? static_cast<double>(completion_tokens) / wall_seconds : 0;
}

namespace {

using Clock = std::chrono::steady_clock;
using json = nlohmann::ordered_json;

std::string describe(const json& v) {
    if (v.is_number()) return "a number";
    if (v.is_boolean()) return "a boolean";
    if (v.is_object()) return "an object";
    if (v.is_array()) return "an array";
    return "not text";
}

// The row as the row contract reads it (a JSON value becomes text, chat
// messages or an error naming the line and the field).
Result<RowInput> row_input(const InputRow& row, const JobOptions& o) {
    RowInput in;
    auto it = row.fields.find(o.prompt_field);
    if (it == row.fields.end() || it->is_null()) {
        return invalid_argument(
            fmt::format("line {} has no '{}' field: give each row a prompt, or name the field with "
                        "--prompt-field",
                        row.line, o.prompt_field));
    }
    if (it->is_array()) {
        in.messages.emplace();
        for (const auto& m : *it) {
            if (!m.is_object()) {
                return invalid_argument(fmt::format(
                    "line {}: field '{}' is an array but not of {{\"role\", \"content\"}} messages",
                    row.line, o.prompt_field));
            }
            RowMessage message;
            for (auto [key, out] :
                 {std::pair{"role", &message.role}, {"content", &message.content}}) {
                auto part = m.find(key);
                if (part == m.end() || part->is_null()) continue;
                if (!part->is_string()) {
                    return invalid_argument(fmt::format("line {}: a message's '{}' is {}, not text",
                                                        row.line, key, describe(*part)));
                }
                *out = part->get<std::string>();
            }
            in.messages->push_back(std::move(message));
        }
    } else if (it->is_string()) {
        in.prompt = it->get<std::string>();
    } else {
        return invalid_argument(fmt::format("line {}: field '{}' is {}, not a string", row.line,
                                            o.prompt_field, describe(*it)));
    }
    auto id = row.fields.find(o.id_field);
    if (id != row.fields.end() && !id->is_null()) {
        in.id = internal::row_id_text(*id);
        if (!in.id) {
            return invalid_argument(
                fmt::format("line {}: field '{}' is {}: an id is text or a number", row.line,
                            o.id_field, describe(*id)));
        }
    }
    return in;
}

// The request of one row, or why the row has none.
Result<GenerationRequest> build_request(const InputRow& row, const JobOptions& o) {
    if (row.error) return invalid_argument(*row.error);
    RESIDENT_ASSIGN_OR_RETURN(RowInput in, row_input(row, o));
    auto req = row_request(in, o.rules);
    if (!req.is_ok()) return req.status().with_context(fmt::format("line {}", row.line));
    return req;
}

// Writes output rows in input order, whatever order they finish in.
class OrderedWriter {
   public:
    OrderedWriter(std::ofstream& out, const std::vector<InputRow>& rows) : out_(out), rows_(rows) {}

    void put(size_t index, const Result<Generation>& result) {
        json row = rows_[index].fields;
        if (result.is_ok()) {
            row["completion"] = result->text;
            row["prompt_tokens"] = result->prompt_tokens;
            row["completion_tokens"] = result->completion_tokens;
            row["finish_reason"] = finish_reason_name(result->finish_reason);
            row["error"] = nullptr;
            ok_ += 1;
            prompt_tokens_ += result->prompt_tokens;
            completion_tokens_ += result->completion_tokens;
        } else {
            row["completion"] = nullptr;
            row["prompt_tokens"] = 0;
            row["completion_tokens"] = 0;
            row["finish_reason"] = nullptr;
            row["error"] = result.status().to_string();
            failed_ += 1;
        }
        std::lock_guard lock(mu_);
        // Invalid UTF-8 from a CSV field is replaced, never a reason to lose the row.
        pending_[index] = row.dump(-1, ' ', false, json::error_handler_t::replace);
        while (!pending_.empty() && pending_.begin()->first == next_) {
            out_ << pending_.begin()->second << '\n';
            pending_.erase(pending_.begin());
            ++next_;
        }
    }

    int64_t done() const { return ok_ + failed_; }
    std::atomic<int64_t> ok_{0}, failed_{0}, prompt_tokens_{0}, completion_tokens_{0};

   private:
    std::ofstream& out_;
    const std::vector<InputRow>& rows_;
    std::mutex mu_;
    std::map<size_t, std::string> pending_;  // guarded by mu_
    size_t next_ = 0;                        // guarded by mu_
};

struct Plan {
    const JobOptions& options;
    const std::vector<InputRow>& rows;
    std::vector<Result<GenerationRequest>> requests;
    OrderedWriter& writer;
    int64_t reused_tokens = 0;  // prompt tokens a batch engine took from earlier prompts

    // Emits row i from its request, computed by `run` when the row has one.
    template <typename F>
    void serve(size_t i, F&& run) {
        const auto& req = requests[i];
        if (!req.is_ok()) {
            writer.put(i, req.status());
            return;
        }
        try {
            writer.put(i, run(*req));
        } catch (const std::exception& e) {
            writer.put(i, internal_error(fmt::format("row failed: {}", e.what())));
        }
    }
};

// Compute threads of one predictor when `workers` predictors share the cores.
ModelSpec per_worker_spec(const ModelSpec& spec, int32_t workers) {
    ModelSpec s = spec;
    s.threads = std::max(1, spec.effective_threads() / workers);
    return s;
}

Status run_batched(Plan& plan, Registry& registry) {
    RESIDENT_ASSIGN_OR_RETURN(ModelHandle model, registry.acquire(plan.options.spec));
    RESIDENT_ASSIGN_OR_RETURN(std::unique_ptr<BatchEngine> engine,
                              model->create_batch_engine(plan.options.spec));
    // One thread submits in row order (blocking when the engine is full), the
    // other collects in the same order, so the output needs no reordering.
    std::mutex mu;
    std::condition_variable cv;
    std::deque<std::pair<size_t, std::future<Result<Generation>>>> inflight;
    bool submitted_all = false;
    std::thread submitter([&] {
        for (size_t i = 0; i < plan.rows.size(); ++i) {
            std::future<Result<Generation>> f;
            if (plan.requests[i].is_ok()) {
                f = engine->submit(*plan.requests[i]);
            } else {
                std::promise<Result<Generation>> p;
                p.set_value(plan.requests[i].status());
                f = p.get_future();
            }
            std::lock_guard lock(mu);
            inflight.emplace_back(i, std::move(f));
            cv.notify_one();
        }
        std::lock_guard lock(mu);
        submitted_all = true;
        cv.notify_one();
    });
    for (;;) {
        std::unique_lock lock(mu);
        cv.wait(lock, [&] { return !inflight.empty() || submitted_all; });
        if (inflight.empty()) break;
        auto [i, f] = std::move(inflight.front());
        inflight.pop_front();
        lock.unlock();
        plan.writer.put(i, f.get());
    }
    submitter.join();
    plan.reused_tokens = engine->stats().reused_tokens;
    return Status::ok();
}

Status run_predictor_per_thread(Plan& plan, Registry& registry) {
    const int32_t workers = plan.options.spec.parallel;
    RESIDENT_ASSIGN_OR_RETURN(ModelHandle model, registry.acquire(plan.options.spec));
    PredictorPool pool(model, per_worker_spec(plan.options.spec, workers));
    std::atomic<size_t> next{0};
    on_threads(workers, [&](int32_t) {
        for (size_t i; (i = next++) < plan.rows.size();) {
            plan.serve(i, [&](const GenerationRequest& req) -> Result<Generation> {
                RESIDENT_ASSIGN_OR_RETURN(Predictor * p, pool.for_this_thread());
                return p->generate(req);
            });
        }
        pool.release_this_thread();
    });
    return Status::ok();
}

// The naive Spark pattern: every partition loads its own copy of the model
// (a private registry), serves its rows with one predictor and frees it.
Status run_per_partition(Plan& plan, int64_t& loads, double& load_seconds) {
    const int32_t workers = plan.options.spec.parallel;
    const auto n_rows = static_cast<int64_t>(plan.rows.size());
    const int64_t parts =
        std::max<int64_t>(1, plan.options.partitions > 0 ? plan.options.partitions : workers);
    const ModelSpec spec = per_worker_spec(plan.options.spec, workers);
    std::atomic<int64_t> next{0};
    std::mutex mu;
    Status fatal;
    on_threads(workers, [&](int32_t) {
        for (int64_t p; (p = next++) < parts;) {
            Registry local;
            auto model = local.acquire(spec);
            auto predictor = model.is_ok() ? (*model)->create_predictor(spec)
                                           : Result<std::unique_ptr<Predictor>>(model.status());
            {
                std::lock_guard lock(mu);
                loads += local.total_loads();
                load_seconds += local.total_load_seconds();
                if (!predictor.is_ok() && fatal.is_ok()) fatal = predictor.status();
            }
            if (!predictor.is_ok()) return;
            for (int64_t i = n_rows * p / parts; i < n_rows * (p + 1) / parts; ++i) {
                plan.serve(static_cast<size_t>(i), [&](const GenerationRequest& req) {
                    return (*predictor)->generate(req);
                });
            }
        }
    });
    return fatal;
}

}  // namespace

Result<JobSummary> run_job(const JobOptions& options) {
    // Every setting is checked before any work: a bad one stops the job
    // (exit 2) instead of failing every row.
    RESIDENT_RETURN_IF_ERROR(options.spec.validate());
    RESIDENT_RETURN_IF_ERROR(
        Registry::global().catalog().check_engine(options.spec.source, options.spec.engine));
    RESIDENT_RETURN_IF_ERROR(options.rules.validate());
    if (options.partitions < 0) {
        return invalid_argument(fmt::format(
            "partitions = {}: use 1 or more, or 0 for one per worker", options.partitions));
    }
    RESIDENT_ASSIGN_OR_RETURN(std::vector<InputRow> rows,
                              read_rows(options.input, options.input_format));
    const std::string partial = options.output + ".partial";
    std::ofstream out(partial, std::ios::binary | std::ios::trunc);
    if (!out) {
        return invalid_argument(
            fmt::format("output '{}' cannot be written: check the folder exists "
                        "and is writable",
                        options.output));
    }
    const auto start = Clock::now();
    OrderedWriter writer(out, rows);
    Plan plan{options, rows, {}, writer};
    plan.requests.reserve(rows.size());
    for (const auto& row : rows) plan.requests.push_back(build_request(row, options));

    JobSummary summary;
    Registry& registry = Registry::global();
    const int64_t loads_before = registry.total_loads();
    const double load_seconds_before = registry.total_load_seconds();
    const int64_t evictions_before = registry.total_evictions();
    Status st;
    {
        ProgressReporter progress(
            options.progress, static_cast<int64_t>(rows.size()), [&] { return writer.done(); },
            [&](double secs) {
                return fmt::format("{:.1f} tok/s", secs > 0 ? writer.completion_tokens_ / secs : 0);
            });
        switch (options.strategy) {
            case Strategy::kSharedBatched:
                st = run_batched(plan, registry);
                break;
            case Strategy::kShared:
                st = run_predictor_per_thread(plan, registry);
                break;
            case Strategy::kPerPartition:
                st = run_per_partition(plan, summary.model_loads, summary.load_seconds);
                break;
        }
    }
    out.close();
    std::error_code ec;
    if (!st.is_ok()) {
        std::filesystem::remove(partial, ec);
        return st;
    }
    if (!out) return internal_error(fmt::format("writing '{}' failed: is the disk full?", partial));
    std::filesystem::rename(partial, options.output, ec);
    if (ec)
        return internal_error(fmt::format("cannot create '{}': {}", options.output, ec.message()));

    summary.model = options.spec.source;
    summary.strategy = std::string(strategy_name(options.strategy));
    summary.rows = static_cast<int64_t>(rows.size());
    summary.rows_ok = writer.ok_;
    summary.rows_failed = writer.failed_;
    summary.prompt_tokens = writer.prompt_tokens_;
    summary.reused_prompt_tokens = plan.reused_tokens;
    summary.completion_tokens = writer.completion_tokens_;
    summary.model_loads += registry.total_loads() - loads_before;
    summary.load_seconds += registry.total_load_seconds() - load_seconds_before;
    summary.wall_seconds = std::chrono::duration<double>(Clock::now() - start).count();
    summary.peak_rss_bytes = peak_rss_bytes();
    summary.evictions = registry.total_evictions() - evictions_before;
    const BudgetInfo budget = memory_budget();
    summary.budget_bytes = budget.limit;
    summary.budget_source = budget.source;
    summary.budget_peak_bytes = budget.peak;
    return summary;
}

}  // namespace resident::cli
