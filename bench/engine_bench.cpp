// resident-bench: generation throughput of one resident model through the
// public API, in the shapes that llama.cpp's own benchmarks measure, so that
// bench/run_bench.py can print the two side by side.
//
//   batched               one BatchEngine with N sequences in flight and all
//                         cores: N requests submitted at once, wall time until
//                         the last completes
//   predictor-per-thread  N threads, each with its own Predictor and
//                         max(1, cores / N) compute threads, the same N requests
//   single                one Predictor, decode speed of one row: tokens after
//                         the first over generation_seconds
//
// Every request has the same prompt of about --pp tokens (the text is grown
// until the model's tokenizer gives that many) and generates exactly --tg
// tokens (ignore_eos). Each measurement runs --reps times after one warm-up;
// the JSON on stdout has every run and the median.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <latch>
#include <nlohmann/json.hpp>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

#include "bench_util.h"
#include "fmt/format.h"
#include "resident/model.h"
#include "resident/registry.h"

namespace resident::bench {
namespace {

using json = nlohmann::ordered_json;

struct Options {
    std::string model;
    int32_t pp = 32;
    int32_t tg = 128;
    std::vector<int32_t> npl = {1, 2, 4, 8, 16};
    int32_t reps = 3;
    int32_t single_reps = 0;  // 0 = reps
    int32_t threads = 0;      // 0 = all cores
    int32_t ctx_size = 0;     // 0 = prompt + tg rounded up to 256, as llama-batched-bench gets
    int32_t batch_size = 512;
    // fast by default: the kernels llama-bench and llama-batched-bench run
    // (flash attention, repacked weights), so that the two sides compare.
    std::string determinism = "fast";
    std::vector<std::string> modes = {"single", "batched", "predictor-per-thread"};
    std::string output = "-";
};

void progress(const std::string& line) {
    std::fprintf(stderr, "[resident-bench] %s\n", line.c_str());
    std::fflush(stderr);
}

GenerationRequest make_request(const std::string& prompt, int32_t max_tokens) {
    GenerationRequest r;
    r.prompt = prompt;
    r.sampling.max_tokens = max_tokens;
    r.sampling.ignore_eos = true;  // every request generates exactly max_tokens
    return r;
}

// Plain prose, one token per word in the usual BPE vocabularies.
std::string words(int32_t n) {
    static const char* const kWords[] = {
        "the",   "river", "ran",   "past", "the",   "old",   "mill",   "and",
        "into",  "a",     "quiet", "town", "where", "small", "boats",  "waited",
        "for",   "the",   "tide",  "to",   "turn",  "while", "people", "sold",
        "bread", "and",   "fish",  "on",   "the",   "long",  "stone",  "bridge"};
    constexpr int32_t kCount = sizeof(kWords) / sizeof(kWords[0]);
    std::string out;
    for (int32_t i = 0; i < n; ++i) {
        if (i > 0) out += ' ';
        out += kWords[i % kCount];
    }
    return out;
}

// A prompt of `pp` tokens under this model's tokenizer, or the closest one
// found; `tokens` gets its real length.
std::string calibrate_prompt(const Model& model, const ModelSpec& spec, int32_t pp,
                             int32_t& tokens) {
    ModelSpec s = spec;
    s.ctx_size = std::max(2048, 4 * pp + 64);
    auto predictor = or_die(model.create_predictor(s), "creating the calibration predictor");
    int32_t n_words = pp;
    std::string best;
    int32_t best_tokens = 0;
    for (int attempt = 0; attempt < 16; ++attempt) {
        const std::string text = words(std::max(1, n_words));
        const Generation g =
            or_die(predictor->generate(make_request(text, 1)), "calibrating the prompt");
        if (best.empty() || std::abs(g.prompt_tokens - pp) < std::abs(best_tokens - pp)) {
            best = text;
            best_tokens = g.prompt_tokens;
        }
        if (g.prompt_tokens == pp) break;
        n_words += pp - g.prompt_tokens;
    }
    tokens = best_tokens;
    return best;
}

struct Round {
    double wall = 0;
    int64_t generated = 0;
    int64_t prompt_tokens = 0;
    double mean_prompt_seconds = 0;
    double mean_generation_seconds = 0;
};

void add_generation(Round& r, const Generation& g, int32_t tg) {
    if (g.completion_tokens != tg) {
        die(internal_error(fmt::format("a request generated {} tokens, not {}: ignore_eos failed?",
                                       g.completion_tokens, tg)),
            "checking a request");
    }
    r.generated += g.completion_tokens;
    r.prompt_tokens += g.prompt_tokens;
    r.mean_prompt_seconds += g.prompt_seconds;
    r.mean_generation_seconds += g.generation_seconds;
}

void finish_round(Round& r, int32_t n) {
    r.mean_prompt_seconds /= n;
    r.mean_generation_seconds /= n;
}

// The runs of one measurement as JSON, with medians.
json summarize(const std::vector<Round>& rounds) {
    std::vector<double> tps, walls, prompt_s, gen_s;
    for (const Round& r : rounds) {
        tps.push_back(static_cast<double>(r.generated) / r.wall);
        walls.push_back(r.wall);
        prompt_s.push_back(r.mean_prompt_seconds);
        gen_s.push_back(r.mean_generation_seconds);
    }
    return json{{"tok_s", median(tps)},
                {"wall_s", median(walls)},
                {"mean_prompt_s", median(prompt_s)},
                {"mean_generation_s", median(gen_s)},
                {"generated_tokens", rounds.empty() ? 0 : rounds.front().generated},
                {"tok_s_runs", tps},
                {"wall_s_runs", walls}};
}

json bench_batched(const Model& model, const ModelSpec& base, const std::string& prompt,
                   const Options& o, int32_t n) {
    ModelSpec spec = base;
    spec.parallel = n;
    auto engine = or_die(model.create_batch_engine(spec), "creating the batch engine");
    auto round = [&](int32_t max_tokens) {
        Round r;
        std::vector<std::future<Result<Generation>>> futures;
        futures.reserve(n);
        const auto start = Clock::now();
        for (int32_t i = 0; i < n; ++i)
            futures.push_back(engine->submit(make_request(prompt, max_tokens)));
        for (auto& f : futures) add_generation(r, or_die(f.get(), "a batched request"), max_tokens);
        r.wall = seconds_since(start);
        finish_round(r, n);
        return r;
    };
    round(std::min(o.tg, 8));  // warm-up
    const BatchEngineStats before = engine->stats();
    std::vector<Round> rounds;
    for (int32_t rep = 0; rep < o.reps; ++rep) rounds.push_back(round(o.tg));
    const BatchEngineStats after = engine->stats();
    json j = {{"n", n}, {"threads", spec.effective_threads()}};
    j.update(summarize(rounds));
    // An ideal round is one call for all prompts and tg - 1 calls that decode
    // every sequence together; more means sequences were admitted late.
    j["decode_calls_per_round"] =
        static_cast<double>(after.decode_calls - before.decode_calls) / o.reps;
    j["max_in_flight"] = after.max_in_flight;
    progress(fmt::format(
        "batched              N={:<3} {:8.2f} tok/s  (wall {:.2f} s, {:.0f} decode calls/round)", n,
        j["tok_s"].get<double>(), j["wall_s"].get<double>(),
        j["decode_calls_per_round"].get<double>()));
    return j;
}

json bench_predictor_per_thread(const Model& model, const ModelSpec& base,
                                const std::string& prompt, const Options& o, int32_t n) {
    ModelSpec spec = base;
    spec.threads = std::max(1, base.effective_threads() / n);
    std::vector<std::unique_ptr<Predictor>> predictors;
    for (int32_t i = 0; i < n; ++i) {
        predictors.push_back(or_die(model.create_predictor(spec), "creating a predictor"));
    }
    auto round = [&](int32_t max_tokens) {
        std::vector<Result<Generation>> results(n, Result<Generation>(internal_error("not run")));
        std::latch go(1);
        std::vector<std::thread> threads;
        for (int32_t i = 0; i < n; ++i) {
            // Each predictor is used by its one thread only.
            threads.emplace_back([&, i] {
                go.wait();
                results[i] = predictors[i]->generate(make_request(prompt, max_tokens));
            });
        }
        const auto start = Clock::now();
        go.count_down();
        for (auto& t : threads) t.join();
        Round r;
        r.wall = seconds_since(start);
        for (auto& res : results)
            add_generation(r, or_die(std::move(res), "a predictor request"), max_tokens);
        finish_round(r, n);
        return r;
    };
    round(std::min(o.tg, 8));  // warm-up
    std::vector<Round> rounds;
    for (int32_t rep = 0; rep < o.reps; ++rep) rounds.push_back(round(o.tg));
    json j = {{"n", n}, {"threads_per_predictor", spec.threads}};
    j.update(summarize(rounds));
    progress(fmt::format(
        "predictor-per-thread N={:<3} {:8.2f} tok/s  (wall {:.2f} s, {} thread(s) each)", n,
        j["tok_s"].get<double>(), j["wall_s"].get<double>(), spec.threads));
    return j;
}

json bench_single(const Model& model, const ModelSpec& spec, const std::string& prompt,
                  const Options& o) {
    auto predictor = or_die(model.create_predictor(spec), "creating the predictor");
    or_die(predictor->generate(make_request(prompt, std::min(o.tg, 8))), "warm-up");
    std::vector<double> decode, prompt_rate, walls;
    const int32_t reps = o.single_reps > 0 ? o.single_reps : o.reps;
    for (int32_t rep = 0; rep < reps; ++rep) {
        const auto start = Clock::now();
        const Generation g =
            or_die(predictor->generate(make_request(prompt, o.tg)), "a single request");
        walls.push_back(seconds_since(start));
        // The first token comes out of the prompt's decode call; the rest out
        // of one decode call each, which is what llama-bench's tg measures.
        decode.push_back(g.generation_seconds > 0 ? (g.completion_tokens - 1) / g.generation_seconds
                                                  : 0);
        prompt_rate.push_back(g.prompt_seconds > 0 ? g.prompt_tokens / g.prompt_seconds : 0);
    }
    json j = {{"threads", spec.effective_threads()}, {"decode_tok_s", median(decode)},
              {"prompt_tok_s", median(prompt_rate)}, {"wall_s", median(walls)},
              {"decode_tok_s_runs", decode},         {"prompt_tok_s_runs", prompt_rate}};
    progress(fmt::format("single row           decode {:.2f} tok/s, prompt {:.2f} tok/s",
                         j["decode_tok_s"].get<double>(), j["prompt_tok_s"].get<double>()));
    return j;
}

bool wants(const Options& o, std::string_view mode) {
    return std::find(o.modes.begin(), o.modes.end(), mode) != o.modes.end();
}

int run(const Options& o) {
    ModelSpec spec;
    spec.source = o.model;
    spec.threads = o.threads;
    spec.batch_size = o.batch_size;
    spec.parallel = 1;
    spec.determinism = or_die(parse_determinism(o.determinism), "--determinism");
    Registry registry;
    const auto load_start = Clock::now();
    ModelHandle model = or_die(registry.acquire(spec), "loading the model");
    const double load_wall = seconds_since(load_start);
    const ModelInfo& info = model->info();
    progress(fmt::format("loaded {} ({} layers, {} wide, {:.1f} M parameters, {}) in {:.2f} s",
                         info.path, info.n_layer, info.n_embd, info.n_params / 1e6,
                         info.quantization, model->load_seconds()));

    int32_t prompt_tokens = 0;
    const std::string prompt = calibrate_prompt(*model, spec, o.pp, prompt_tokens);
    // Each sequence's context holds its prompt and its tokens, rounded up as
    // llama.cpp rounds KV cache sizes.
    spec.ctx_size = o.ctx_size > 0 ? o.ctx_size : (prompt_tokens + o.tg + 1 + 255) / 256 * 256;
    progress(fmt::format(
        "prompt of {} tokens (asked {}), {} generated per request, ctx {} per sequence, "
        "{} thread(s), {} rep(s)",
        prompt_tokens, o.pp, o.tg, spec.ctx_size, spec.effective_threads(), o.reps));

    json doc = {{"tool", "resident-bench"},
                {"model", info.path},
                {"model_name", info.name},
                {"quantization", info.quantization},
                {"n_params", info.n_params},
                {"n_layer", info.n_layer},
                {"n_embd", info.n_embd},
                {"cores", std::thread::hardware_concurrency()},
                {"threads", spec.effective_threads()},
                {"pp_requested", o.pp},
                {"prompt_tokens", prompt_tokens},
                {"prompt", prompt},
                {"tg", o.tg},
                {"reps", o.reps},
                {"ctx_size", spec.ctx_size},
                {"batch_size", spec.batch_size},
                // Resident leaves flash attention to llama.cpp's default (auto).
                {"flash_attn", "auto"},
                {"load_seconds", model->load_seconds()},
                {"load_wall_seconds", load_wall}};

    if (wants(o, "single")) doc["single"] = bench_single(*model, spec, prompt, o);
    json batched = json::array(), ppt = json::array();
    // Both strategies at one N before the next N, so slow drift of the
    // machine's speed hits both alike.
    for (int32_t n : o.npl) {
        if (wants(o, "batched")) batched.push_back(bench_batched(*model, spec, prompt, o, n));
        if (wants(o, "predictor-per-thread")) {
            ppt.push_back(bench_predictor_per_thread(*model, spec, prompt, o, n));
        }
    }
    doc["batched"] = batched;
    doc["predictor_per_thread"] = ppt;

    const std::string text = doc.dump(2) + "\n";
    if (o.output == "-") {
        std::fputs(text.c_str(), stdout);
    } else {
        std::ofstream out(o.output);
        out << text;
        if (!out)
            die(invalid_argument(fmt::format("cannot write '{}'", o.output)),
                "writing the results");
    }
    return 0;
}

}  // namespace
}  // namespace resident::bench

int main(int argc, char** argv) {
    resident::bench::Options o;
    CLI::App app{
        "resident-bench: batched vs predictor-per-thread vs one-row throughput of a model"};
    app.add_option("-m,--model", o.model, ".gguf path (or catalog name)")->required();
    app.add_option("--pp", o.pp, "prompt tokens per request")
        ->capture_default_str()
        ->check(CLI::Range(1, 100000));
    app.add_option("--tg", o.tg, "tokens generated per request")
        ->capture_default_str()
        ->check(CLI::Range(2, 100000));
    app.add_option("--npl", o.npl, "sequences in flight to measure, e.g. 1,2,4,8,16")
        ->delimiter(',')
        ->capture_default_str()
        ->check(CLI::Range(1, 256));
    app.add_option("-r,--reps", o.reps, "runs of each measurement (median reported)")
        ->capture_default_str()
        ->check(CLI::Range(1, 1000));
    app.add_option("--single-reps", o.single_reps, "runs of the one-row decode (0 = --reps)")
        ->capture_default_str()
        ->check(CLI::Range(0, 1000));
    app.add_option("-t,--threads", o.threads, "compute threads (0 = all cores)")
        ->capture_default_str();
    app.add_option("-c,--ctx-size", o.ctx_size,
                   "context per sequence (0 = prompt + tg, rounded to 256)")
        ->capture_default_str();
    app.add_option("-b,--batch-size", o.batch_size, "tokens per decode call")
        ->capture_default_str();
    app.add_option("--determinism", o.determinism,
                   "fast (the llama.cpp tools' kernels) or invariant (Resident's default)")
        ->capture_default_str();
    app.add_option("--modes", o.modes, "single, batched, predictor-per-thread")
        ->delimiter(',')
        ->capture_default_str()
        ->check(CLI::IsMember({"single", "batched", "predictor-per-thread"}));
    app.add_option("-o,--output", o.output, "JSON results file ('-' = stdout)")
        ->capture_default_str();
    CLI11_PARSE(app, argc, argv);
    return resident::bench::run(o);
}
