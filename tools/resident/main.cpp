// `resident`: the batch job on one machine, without Spark, plus model tools.
//
//   resident run --model NAME|PATH --input FILE --output FILE [options]
//   resident classify --model NAME|PATH --input DIR|LIST|JSONL --output FILE [options]
//   resident inspect NAME|PATH [--ctx-size N --parallel N]
//   resident inspect --system [--json]
//   resident models list | pull NAME | path NAME
#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "classify_job.h"
#include "fmt/format.h"
#include "job.h"
#include "resident/catalog.h"
#include "resident/memory.h"
#include "resident/memory_budget.h"
#include "resident/model.h"
#include "resident/model_cache.h"
#include "resident/registry.h"
#include "resident/system_info.h"
#include "resident/version.h"

namespace resident::cli {
namespace {

int fail(const Status& st) {
    std::fprintf(stderr, "resident: error: %s\n", st.to_string().c_str());
    // Exit codes a script can act on: 2 bad input or options, 3 not found,
    // 4 out of memory, 5 retryable, 1 anything else.
    switch (st.code()) {
        case StatusCode::kInvalidArgument:
            return 2;
        case StatusCode::kNotFound:
            return 3;
        case StatusCode::kResourceExhausted:
        case StatusCode::kFailedPrecondition:  // e.g. a model larger than the memory budget
            return 4;
        case StatusCode::kUnavailable:
            return 5;
        default:
            return 1;
    }
}

// Options that shape the model spec, shared by run and inspect.
struct SpecFlags {
    std::string determinism{determinism_name(ModelSpec{}.determinism)};
    std::string memory_limit;
    std::string memory_budget;
    std::string weights = "auto";
    bool no_mmap = false;
    bool no_repack = false;
    bool no_prefix_reuse = false;

    void add(CLI::App& app, ModelSpec& spec, bool with_model_flag) {
        if (with_model_flag) {
            app.add_option("-m,--model", spec.source, "catalog name or .gguf path")->required();
        }
        app.add_option("-c,--ctx-size", spec.ctx_size,
                       "most tokens one row may use (prompt + generated)")
            ->capture_default_str();
        app.add_option("--kv-tokens", spec.kv_tokens,
                       "KV cache cells per sequence (0 = sized to the rows, grown on demand)")
            ->capture_default_str();
        app.add_option("-t,--threads", spec.threads, "compute threads (0 = all cores)")
            ->capture_default_str();
        app.add_option("-b,--batch-size", spec.batch_size, "tokens per decode call")
            ->capture_default_str();
        app.add_option("-p,--parallel", spec.parallel,
                       "sequences in flight (batched) or worker threads (other strategies)")
            ->capture_default_str();
        app.add_option("--gpu-layers", spec.gpu_layers, "layers to offload to a GPU (-1 = all)")
            ->capture_default_str();
        app.add_option("--determinism", determinism,
                       "invariant (a seeded row's text never depends on what else is in flight) "
                       "or fast (fastest kernels; text may change with the batch)")
            ->capture_default_str();
        app.add_option("--memory-budget", memory_budget,
                       "native memory this process may use for models and contexts, e.g. 6G "
                       "(default: RESIDENT_MEMORY_BUDGET, the cgroup limit, else the machine)");
        app.add_option("--memory-limit", memory_limit, "the same, for this model only");
        app.add_option("--weights", weights,
                       "auto, shared (mapped, one copy per machine) or private (repacked, faster; "
                       "needs --determinism fast)")
            ->capture_default_str();
        app.add_flag("--no-mmap", no_mmap,
                     "read the weights into private memory instead of mapping");
        app.add_flag("--no-repack", no_repack, "the same as --weights shared");
        app.add_flag("--no-prefix-reuse", no_prefix_reuse,
                     "decode every prompt in full, even a prefix already decoded");
    }

    // A size flag's value, its error naming the flag.
    static Result<uint64_t> flag_size(std::string_view flag, const std::string& text) {
        auto bytes = parse_memory_size(text);
        if (!bytes.is_ok()) {
            return invalid_argument(fmt::format("{}: {}", flag, bytes.status().message()));
        }
        return bytes;
    }

    Status apply(ModelSpec& spec) const {
        spec.use_mmap = !no_mmap;
        spec.prefix_reuse = !no_prefix_reuse;
        RESIDENT_ASSIGN_OR_RETURN(spec.weights, parse_weights(no_repack ? "shared" : weights));
        RESIDENT_RETURN_IF_ERROR(memory_budget_from_environment().status());
        if (!memory_budget.empty()) {
            RESIDENT_ASSIGN_OR_RETURN(const uint64_t bytes,
                                      flag_size("--memory-budget", memory_budget));
            if (bytes == 0) {
                return invalid_argument(
                    "--memory-budget 0 holds nothing: give a size like 6G, or leave the flag out "
                    "for the automatic budget");
            }
            set_memory_budget(bytes, "--memory-budget");
        }
        RESIDENT_ASSIGN_OR_RETURN(spec.determinism, parse_determinism(determinism));
        if (!memory_limit.empty()) {
            RESIDENT_ASSIGN_OR_RETURN(spec.memory_limit_bytes,
                                      flag_size("--memory-limit", memory_limit));
        }
        return spec.validate();
    }
};

void print_summary(const JobSummary& s, const std::string& output) {
    std::fprintf(stderr,
                 "resident: %lld rows (%lld ok, %lld failed) in %.2f s, strategy %s -> %s\n"
                 "  model loads %lld (%.2f s)  tokens in %lld, out %lld  generated %.1f tok/s  "
                 "peak RSS %s\n"
                 "  memory budget %s (%s): peak %s held by models and contexts, %lld evictions\n",
                 static_cast<long long>(s.rows), static_cast<long long>(s.rows_ok),
                 static_cast<long long>(s.rows_failed), s.wall_seconds, s.strategy.c_str(),
                 output.c_str(), static_cast<long long>(s.model_loads), s.load_seconds,
                 static_cast<long long>(s.prompt_tokens),
                 static_cast<long long>(s.completion_tokens), s.generated_tokens_per_second(),
                 format_bytes(s.peak_rss_bytes).c_str(), format_bytes(s.budget_bytes).c_str(),
                 s.budget_source.c_str(), format_bytes(s.budget_peak_bytes).c_str(),
                 static_cast<long long>(s.evictions));
}

Status write_summary(const JobSummary& s, const JobOptions& o) {
    nlohmann::ordered_json j = {
        {"model", s.model},
        {"strategy", s.strategy},
        {"parallel", o.spec.parallel},
        {"threads", o.spec.effective_threads()},
        {"rows", s.rows},
        {"rows_ok", s.rows_ok},
        {"rows_failed", s.rows_failed},
        {"prompt_tokens", s.prompt_tokens},
        {"reused_prompt_tokens", s.reused_prompt_tokens},
        {"completion_tokens", s.completion_tokens},
        {"model_loads", s.model_loads},
        {"load_seconds", s.load_seconds},
        {"wall_seconds", s.wall_seconds},
        {"generated_tokens_per_second", s.generated_tokens_per_second()},
        {"peak_rss_bytes", s.peak_rss_bytes},
        {"evictions", s.evictions},
        {"budget_bytes", s.budget_bytes},
        {"budget_source", s.budget_source},
        {"budget_peak_bytes", s.budget_peak_bytes},
        // What the rows' text may depend on: the mode, and in every mode the
        // CPU variant (its kernels sum in their own order).
        {"determinism", determinism_name(o.spec.determinism)},
    };
    if (auto info = system_info(); info.is_ok()) j["cpu_variant"] = info->cpu_variant;
    std::ofstream out(o.summary_path);
    out << j.dump(2) << '\n';
    if (!out) return invalid_argument(fmt::format("cannot write summary '{}'", o.summary_path));
    return Status::ok();
}

// The CPU, its usable instruction sets and the CPU variant chosen, with why
// each better one was skipped.
int cmd_inspect_system(bool as_json) {
    auto info = system_info();
    if (!info.is_ok()) return fail(info.status());
    if (as_json) {
        std::printf("%s\n", info->to_json().c_str());
    } else {
        std::printf("%s", info->to_text().c_str());
    }
    return 0;
}

// "resident 0.1.0 (llama.cpp 0.5.0, commit de3ff815), CPU variant icelake".
std::string version_line() {
    std::string line = fmt::format("resident {} (llama.cpp {}, commit {})", RESIDENT_VERSION,
                                   RESIDENT_LLAMA_CPP_VERSION,
                                   std::string(RESIDENT_LLAMA_CPP_COMMIT).substr(0, 8));
    auto info = system_info();
    if (info.is_ok()) {
        line +=
            fmt::format(", CPU variant {} (resident inspect --system says why)", info->cpu_variant);
    } else {
        line += fmt::format(", no CPU variant: {}", info.status().message());
    }
    return line;
}

// An image classifier: loaded (a session is the only way to read its input,
// classes and labels), then described.
int cmd_inspect_classifier(ModelSpec spec, const std::string& path, bool as_json) {
    spec.engine = "onnx";
    spec.task = Task::kClassify;
    spec.source = path;
    Registry registry;
    auto model = registry.acquire(spec);
    if (!model.is_ok()) return fail(model.status());
    const Model& m = **model;
    if (as_json) {
        nlohmann::ordered_json j = {{"path", path},
                                    {"engine", "onnx"},
                                    {"file_bytes", m.info().file_bytes},
                                    {"classes", m.classes()},
                                    {"load_seconds", m.load_seconds()},
                                    {"session", m.placement()}};
        std::printf("%s\n", j.dump(2).c_str());
        return 0;
    }
    std::printf("model          %s\n", path.c_str());
    std::printf("engine         onnx (image classifier)\n");
    std::printf("file size      %s\n", format_bytes(m.info().file_bytes).c_str());
    std::printf("classes        %d\n", m.classes());
    std::printf("session        %s\n", m.placement().c_str());
    std::printf("load           %.2f s (with one blank image through the model)\n",
                m.load_seconds());
    return 0;
}

int cmd_inspect(const ModelSpec& spec_in, const SpecFlags& flags, bool as_json) {
    ModelSpec spec = spec_in;
    if (Status st = flags.apply(spec); !st.is_ok()) return fail(st);
    auto catalog = Catalog::load_default();
    if (!catalog.is_ok()) return fail(catalog.status());
    ModelCache cache;
    auto path = cache.resolve(spec.source, *catalog, [](std::string_view l) {
        std::fprintf(stderr, "resident: %.*s\n", static_cast<int>(l.size()), l.data());
    });
    if (!path.is_ok()) return fail(path.status());
    if (catalog->engine_of(spec.source) == "onnx")
        return cmd_inspect_classifier(spec, *path, as_json);
    auto info = inspect_model(*path, spec.engine);
    if (!info.is_ok()) return fail(info.status());
    const WeightsChoice placement = resolve_weights(*info, spec);
    spec.weights = placement.weights;
    const MemoryEstimate m = estimate_memory(*info, spec);
    const BudgetInfo budget = memory_budget();
    const int32_t row_tokens = spec.row_tokens();
    if (as_json) {
        nlohmann::ordered_json j = {{"path", info->path},
                                    {"file_bytes", info->file_bytes},
                                    {"split_count", info->split_count},
                                    {"architecture", info->architecture},
                                    {"name", info->name},
                                    {"quantization", info->quantization},
                                    {"parameters", info->n_params},
                                    {"context_length", info->n_ctx_train},
                                    {"embedding_length", info->n_embd},
                                    {"layers", info->n_layer},
                                    {"heads", info->n_head},
                                    {"kv_heads", info->n_head_kv},
                                    {"vocab_size", info->n_vocab},
                                    {"has_chat_template", !info->chat_template.empty()},
                                    {"memory",
                                     {{"ctx_size", spec.ctx_size},
                                      {"kv_tokens", row_tokens},
                                      {"sequences", spec.parallel},
                                      {"weights", weights_name(placement.weights)},
                                      {"weights_reason", placement.reason},
                                      {"weights_bytes", m.weights},
                                      {"weights_private_bytes", m.weights_private},
                                      {"kv_per_token_bytes", m.kv_per_token},
                                      {"kv_bytes", m.kv_per_sequence * spec.parallel},
                                      {"compute_bytes", m.compute},
                                      {"private_total_bytes", m.private_total(spec.parallel)},
                                      {"total_bytes", m.total(spec.parallel)},
                                      {"budget_bytes", budget.limit},
                                      {"budget_source", budget.source}}}};
        std::printf("%s\n", j.dump(2).c_str());
        return 0;
    }
    std::printf("model          %s\n", info->path.c_str());
    std::printf("name           %s\n", info->name.c_str());
    std::printf("architecture   %s\n", info->architecture.c_str());
    std::printf("parameters     %.1f M\n", static_cast<double>(info->n_params) / 1e6);
    std::printf("quantization   %s\n", info->quantization.c_str());
    std::printf("file size      %s (%d part%s)\n", format_bytes(info->file_bytes).c_str(),
                info->split_count, info->split_count > 1 ? "s" : "");
    std::printf("context        %d tokens trained\n", info->n_ctx_train);
    std::printf("shape          %d layers, %d wide, %d heads (%d KV), vocabulary %d\n",
                info->n_layer, info->n_embd, info->n_head, info->n_head_kv, info->n_vocab);
    std::printf("chat template  %s\n", info->chat_template.empty() ? "none" : "yes");
    std::printf("memory for %d sequences of %s%d tokens (mmap %s):\n", spec.parallel,
                spec.kv_tokens > 0 ? "" : "at most ", row_tokens, spec.use_mmap ? "on" : "off");
    std::printf("  weights      %s, of which private %s\n", format_bytes(m.weights).c_str(),
                format_bytes(m.weights_private).c_str());
    std::printf("               %s: %s\n", std::string(weights_name(placement.weights)).c_str(),
                placement.reason.c_str());
    std::printf("  KV cache     %s (%s per token; sized to the rows unless --kv-tokens)\n",
                format_bytes(m.kv_per_sequence * spec.parallel).c_str(),
                format_bytes(m.kv_per_token).c_str());
    std::printf("  compute      %s\n", format_bytes(m.compute).c_str());
    std::printf("  total        %s (private %s); budget %s (%s); available now %s\n",
                format_bytes(m.total(spec.parallel)).c_str(),
                format_bytes(m.private_total(spec.parallel)).c_str(),
                format_bytes(budget.limit).c_str(), budget.source.c_str(),
                format_bytes(available_memory_bytes()).c_str());
    return 0;
}

int cmd_models(const std::string& action, const std::string& name) {
    auto catalog = Catalog::load_default();
    if (!catalog.is_ok()) return fail(catalog.status());
    ModelCache cache;
    if (action == "list") {
        std::printf("%-24s %-6s %-18s %-7s %10s  %s\n", "NAME", "ENGINE", "ARCH", "QUANT", "SIZE",
                    "STATUS");
        for (const auto& e : catalog->entries()) {
            auto path = cache.cached_path(e);
            std::printf("%-24s %-6s %-18s %-7s %10s  %s\n", e.name.c_str(), e.engine.c_str(),
                        e.architecture.c_str(), e.quantization.c_str(),
                        format_bytes(e.size).c_str(), path ? path->c_str() : "not pulled");
        }
        std::printf("model cache: %s\n", cache.dir().c_str());
        return 0;
    }
    const CatalogEntry* entry = catalog->find(name);
    if (!entry) {
        return fail(
            not_found(fmt::format("'{}' is not in the catalog: see resident models list", name)));
    }
    if (action == "path") {
        auto path = cache.cached_path(*entry);
        if (!path)
            return fail(
                not_found(fmt::format("'{}' is not pulled: resident models pull {}", name, name)));
        std::printf("%s\n", path->c_str());
        return 0;
    }
    auto path = cache.pull(*entry, [](std::string_view l) {
        std::fprintf(stderr, "resident: %.*s\n", static_cast<int>(l.size()), l.data());
    });
    if (!path.is_ok()) return fail(path.status());
    std::printf("%s\n", path->c_str());
    return 0;
}

void print_classify_summary(const ClassifySummary& s, const std::string& output) {
    std::fprintf(stderr,
                 "resident: %lld images (%lld ok, %lld failed) in %.2f s, strategy %s -> %s\n"
                 "  model loads %lld (%.2f s)  %.1f images/s  peak RSS %s\n",
                 static_cast<long long>(s.images), static_cast<long long>(s.images_ok),
                 static_cast<long long>(s.images_failed), s.wall_seconds, s.strategy.c_str(),
                 output.c_str(), static_cast<long long>(s.model_loads), s.load_seconds,
                 s.images_per_second(), format_bytes(s.peak_rss_bytes).c_str());
}

Status write_classify_summary(const ClassifySummary& s, const ClassifyOptions& o) {
    nlohmann::ordered_json j = {
        {"model", s.model},
        {"strategy", s.strategy},
        {"batch", o.spec.parallel},
        {"threads", o.spec.effective_threads()},
        {"images", s.images},
        {"images_ok", s.images_ok},
        {"images_failed", s.images_failed},
        {"model_loads", s.model_loads},
        {"load_seconds", s.load_seconds},
        {"wall_seconds", s.wall_seconds},
        {"images_per_second", s.images_per_second()},
        {"run_calls", s.run_calls},
        {"max_batch", s.max_batch},
        {"peak_rss_bytes", s.peak_rss_bytes},
    };
    std::ofstream out(o.summary_path);
    out << j.dump(2) << '\n';
    if (!out) return invalid_argument(fmt::format("cannot write summary '{}'", o.summary_path));
    return Status::ok();
}

}  // namespace
}  // namespace resident::cli

int main(int argc, char** argv) {
    using namespace resident;
    using namespace resident::cli;
    CLI::App app{
        "Resident: run GGUF language models over datasets, the model loaded once per process"};
    app.require_subcommand(1);
    app.set_version_flag("--version", version_line);

    JobOptions job;
    SpecFlags run_flags;
    std::string strategy = "shared-batched", input_format = "auto", progress = "auto";
    std::vector<std::string> stops;
    std::optional<int64_t> seed;
    auto* run = app.add_subcommand("run", "generate a completion for every row of a file");
    run_flags.add(*run, job.spec, true);
    run->add_option("-i,--input", job.input, "JSONL or CSV file of prompts")->required();
    run->add_option("-o,--output", job.output, "JSONL file of results")->required();
    run->add_option("--input-format", input_format, "auto, jsonl or csv")->capture_default_str();
    run->add_option("--prompt-field", job.prompt_field,
                    "field holding the prompt (text or chat messages)")
        ->capture_default_str();
    run->add_option("--id-field", job.id_field,
                    "field holding the row's id, which seeds its sampler (rows without one: their "
                    "prompt does)")
        ->capture_default_str();
    run->add_flag("--chat", job.rules.chat, "render text prompts with the model's chat template");
    run->add_option("--system", job.rules.system_prompt, "system prompt (implies --chat)");
    run->add_option("--prompt-template", job.rules.prompt_template,
                    "template around each text prompt, with {prompt} where it goes");
    run->add_option("--row-timeout", job.rules.timeout_seconds,
                    "seconds a row may take, time queued included (0 = no limit)")
        ->capture_default_str();
    run->add_option("-n,--max-tokens", job.rules.sampling.max_tokens,
                    "tokens to generate at most per row")
        ->capture_default_str();
    run->add_option("--temperature", job.rules.sampling.temperature, "0 = greedy")
        ->capture_default_str();
    run->add_option("--top-k", job.rules.sampling.top_k)->capture_default_str();
    run->add_option("--top-p", job.rules.sampling.top_p)->capture_default_str();
    run->add_option("--min-p", job.rules.sampling.min_p)->capture_default_str();
    run->add_option("--seed", seed, "base seed; each row's seed derives from it and the row's id");
    run->add_option("--stop", stops, "stop string (repeatable)");
    run->add_flag("--ignore-eos", job.rules.sampling.ignore_eos,
                  "generate past end-of-sequence (benchmarks)");
    run->add_option("--strategy", strategy,
                    "shared-batched, shared or per-partition (batched and "
                    "predictor-per-thread: former names)")
        ->capture_default_str();
    run->add_option("--partitions", job.partitions,
                    "partitions for per-partition (0 = one per worker)");
    run->add_option("--summary", job.summary_path, "write a JSON summary here");
    run->add_option("--progress", progress, "auto, bar, lines or none")->capture_default_str();

    ClassifyOptions cls;
    cls.spec.engine = "onnx";
    cls.spec.task = Task::kClassify;
    std::string cls_strategy = "shared-batched", cls_progress = "auto";
    auto* classify = app.add_subcommand("classify", "classify every image of a folder or list");
    classify->add_option("-m,--model", cls.spec.source, "catalog name or .onnx path")->required();
    classify
        ->add_option("-i,--input", cls.input,
                     "a folder of images (JPEG, PNG, BMP, GIF), a .txt list of paths or a "
                     ".jsonl file of rows naming them")
        ->required();
    classify->add_option("-o,--output", cls.output, "JSONL file of results")->required();
    classify->add_option("--path-field", cls.path_field, "field of .jsonl rows holding the path")
        ->capture_default_str();
    classify->add_option("-k,--top-k", cls.top_k, "classes per image, best first")
        ->capture_default_str();
    classify->add_option("-b,--batch", cls.spec.parallel, "images per inference call")
        ->capture_default_str();
    classify
        ->add_option("-t,--threads", cls.spec.threads,
                     "inference threads of the model (0 = all cores)")
        ->capture_default_str();
    classify
        ->add_option("-w,--workers", cls.workers,
                     "threads reading and decoding images (0 = all cores)")
        ->capture_default_str();
    classify
        ->add_option("--strategy", cls_strategy,
                     "shared-batched, shared or per-partition (batched and "
                     "predictor-per-thread: former names)")
        ->capture_default_str();
    classify->add_option("--partitions", cls.partitions,
                         "partitions for per-partition (0 = one per worker)");
    classify->add_option("--summary", cls.summary_path, "write a JSON summary here");
    classify->add_option("--progress", cls_progress, "auto, bar, lines or none")
        ->capture_default_str();

    ModelSpec inspect_spec;
    SpecFlags inspect_flags;
    bool inspect_json = false;
    bool inspect_system = false;
    auto* inspect = app.add_subcommand(
        "inspect", "print a model's metadata and the memory it needs, or (--system) the CPU");
    inspect->add_option("model", inspect_spec.source, "catalog name or .gguf path");
    inspect_flags.add(*inspect, inspect_spec, false);
    inspect->add_flag("--json", inspect_json, "print JSON");
    inspect->add_flag("--system", inspect_system,
                      "print the CPU, the instruction sets usable here and the CPU variant "
                      "chosen, with why each better one was skipped");

    std::string models_action, model_name;
    auto* models = app.add_subcommand("models", "the model catalog and the local model cache");
    models->add_option("action", models_action, "list, pull or path")
        ->required()
        ->check(CLI::IsMember({"list", "pull", "path"}));
    models->add_option("name", model_name, "catalog name (pull, path)");

    CLI11_PARSE(app, argc, argv);

    if (*inspect) {
        if (inspect_system) return cmd_inspect_system(inspect_json);
        if (inspect_spec.source.empty()) {
            return fail(invalid_argument(
                "inspect needs a model (a catalog name or .gguf path), or --system"));
        }
        return cmd_inspect(inspect_spec, inspect_flags, inspect_json);
    }
    if (*models) {
        if (models_action != "list" && model_name.empty()) {
            return fail(
                invalid_argument(fmt::format("models {} needs a model name", models_action)));
        }
        return cmd_models(models_action, model_name);
    }

    if (*classify) {
        auto st = parse_strategy(cls_strategy);
        if (!st.is_ok()) return fail(st.status());
        cls.strategy = *st;
        auto prog = parse_progress_mode(cls_progress);
        if (!prog.is_ok()) return fail(prog.status());
        cls.progress = *prog;
        auto summary = run_classify(cls);
        if (!summary.is_ok()) return fail(summary.status());
        print_classify_summary(*summary, cls.output);
        if (!cls.summary_path.empty()) {
            if (Status s = write_classify_summary(*summary, cls); !s.is_ok()) return fail(s);
        }
        return 0;
    }

    if (Status st = run_flags.apply(job.spec); !st.is_ok()) return fail(st);
    auto strat = parse_strategy(strategy);
    if (!strat.is_ok()) return fail(strat.status());
    job.strategy = *strat;
    auto fmt_in = parse_input_format(input_format);
    if (!fmt_in.is_ok()) return fail(fmt_in.status());
    job.input_format = *fmt_in;
    auto prog = parse_progress_mode(progress);
    if (!prog.is_ok()) return fail(prog.status());
    job.progress = *prog;
    job.rules.sampling.stop = stops;
    if (seed && *seed < 0) {
        return fail(invalid_argument(fmt::format("--seed = {}: use 0 or more", *seed)));
    }
    if (seed) job.spec.seed = static_cast<uint64_t>(*seed);

    auto summary = run_job(job);
    if (!summary.is_ok()) return fail(summary.status());
    print_summary(*summary, job.output);
    if (!job.summary_path.empty()) {
        if (Status st = write_summary(*summary, job); !st.is_ok()) return fail(st);
    }
    return 0;
}
