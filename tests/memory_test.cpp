// Memory governance with the real models: admission against the process
// budget, least-recently-used eviction and reload, KV caches sized to the
// rows, split (sharded) models, and weights shared between processes.
#include <fcntl.h>
#include <ggml.h>
#include <gguf.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "resident/memory_budget.h"
#include "resident/registry.h"
#include "test_support.h"

namespace resident {
namespace {

constexpr uint64_t kMiB = 1ull << 20;

// A budget for one test; the automatic one comes back after.
struct BudgetGuard {
    BudgetGuard(uint64_t bytes, std::string source) { set_memory_budget(bytes, std::move(source)); }
    ~BudgetGuard() { set_memory_budget(0, ""); }
};

using testing::gemma_path;

// All weights private (read, not mapped), so that the budget sees them, and
// small compute buffers, so that the weights dominate what a load reserves.
ModelSpec private_spec(const std::string& path) {
    ModelSpec s = testing::small_spec();
    s.source = path;
    s.use_mmap = false;
    s.batch_size = 16;
    s.parallel = 1;
    return s;
}

// What a load of `spec` reserves: its private weights and its smallest context.
uint64_t load_need(const ModelSpec& spec) {
    auto info = inspect_model(spec.source);
    EXPECT_TRUE(info.is_ok());
    ModelSpec one = spec;
    one.parallel = 1;
    one.kv_tokens = std::min(64, spec.ctx_size);
    const MemoryEstimate e = estimate_memory(*info, one);
    return e.weights_private + e.kv_per_sequence + e.compute;
}

GenerationRequest prompt(std::string text, int max_tokens) {
    GenerationRequest r;
    r.prompt = std::move(text);
    r.sampling.max_tokens = max_tokens;
    r.sampling.temperature = 0;
    return r;
}

std::string repeat(const std::string& s, int n) {
    std::string out;
    for (int i = 0; i < n; ++i) out += s;
    return out;
}

const ModelStats* stats_of(const std::vector<ModelStats>& all, const std::string& path) {
    for (const auto& s : all) {
        if (s.path == std::filesystem::weakly_canonical(path).string()) return &s;
    }
    return nullptr;
}

TEST(MemoryBudget, AModelOverTheBudgetIsRefusedWithTheNumbersAndTheSetting) {
    BudgetGuard budget(64 * kMiB, "spark.executor.memoryOverhead");
    Registry registry;
    auto r = registry.acquire(private_spec(testing::model_path()));
    ASSERT_FALSE(r.is_ok());
    EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);  // no retry can help
    const std::string msg = r.status().message();
    EXPECT_NE(msg.find("SmolLM2-135M-Instruct.Q4_1.gguf"), std::string::npos) << msg;
    EXPECT_NE(msg.find("budget is 64.0 MiB (spark.executor.memoryOverhead)"), std::string::npos)
        << msg;
    EXPECT_NE(msg.find("raise spark.executor.memoryOverhead"), std::string::npos) << msg;
    EXPECT_FALSE(r.status().is_retryable());
    EXPECT_EQ(registry.total_loads(), 0);
    EXPECT_EQ(memory_budget().used, 0u);
}

TEST(MemoryBudget, IdleModelsAreEvictedLeastRecentlyUsedFirstAndReloadOnDemand) {
    const ModelSpec a = private_spec(testing::model_path());
    const ModelSpec b = private_spec(gemma_path());
    // Room for either model, never for both.
    const uint64_t limit = std::max(load_need(a), load_need(b)) + 8 * kMiB;
    BudgetGuard budget(limit, "the test budget");
    Registry registry;
    ASSERT_TRUE(registry.acquire(a).is_ok());  // the handle goes at once: a is idle
    ASSERT_TRUE(registry.acquire(b).is_ok());  // does not fit beside a: a is evicted
    {
        const auto s = registry.stats();
        ASSERT_TRUE(stats_of(s, a.source) && stats_of(s, b.source));
        EXPECT_FALSE(stats_of(s, a.source)->resident);
        EXPECT_EQ(stats_of(s, a.source)->evictions, 1);
        EXPECT_TRUE(stats_of(s, b.source)->resident);
    }
    auto again = registry.acquire(a);  // reloads a, evicting b
    ASSERT_TRUE(again.is_ok()) << again.status().to_string();
    auto p = (*again)->create_predictor(a);
    ASSERT_TRUE(p.is_ok()) << p.status().to_string();
    auto g = (*p)->generate(prompt("The capital of France is", 4));
    ASSERT_TRUE(g.is_ok()) << g.status().to_string();
    const auto s = registry.stats();
    EXPECT_EQ(stats_of(s, a.source)->loads, 2);
    EXPECT_EQ(stats_of(s, b.source)->evictions, 1);
    EXPECT_FALSE(stats_of(s, b.source)->resident);
    EXPECT_EQ(registry.total_evictions(), 2);
    EXPECT_LE(memory_budget().used, limit);
}

class KvSizing : public ::testing::Test {
   protected:
    void SetUp() override {
        spec_ = testing::small_spec();
        spec_.ctx_size = 2048;
        spec_.parallel = 2;
        // Mapped weights on every CPU (AMX ones would hold a private copy in
        // the budget): the budgets below count contexts only.
        spec_.weights = Weights::kShared;
        auto m = Registry::global().acquire(spec_);
        ASSERT_TRUE(m.is_ok()) << m.status().to_string();
        model_ = *m;
    }
    ModelSpec spec_;
    ModelHandle model_;
};

TEST_F(KvSizing, TheCacheStartsSmallAndGrowsForALongerRow) {
    auto e = model_->create_batch_engine(spec_);
    ASSERT_TRUE(e.is_ok()) << e.status().to_string();
    EXPECT_EQ((*e)->stats().kv_cells, 64);  // not parallel x ctx_size up front
    auto short_row = (*e)->submit(prompt("Hi", 4)).get();
    ASSERT_TRUE(short_row.is_ok()) << short_row.status().to_string();
    EXPECT_EQ((*e)->stats().kv_growths, 0);
    // About 150 prompt tokens + 8 new: the next power of two is 256 cells.
    auto long_row = (*e)->submit(prompt(repeat("one two three four five ", 30), 8)).get();
    ASSERT_TRUE(long_row.is_ok()) << long_row.status().to_string();
    EXPECT_GT(long_row->prompt_tokens, 128);
    EXPECT_EQ((*e)->stats().kv_cells, 256);
    EXPECT_EQ((*e)->stats().kv_growths, 1);
    // Rows of both lengths mixed: all served, no more growth.
    std::vector<std::future<Result<Generation>>> fs;
    for (int i = 0; i < 3; ++i) {
        fs.push_back((*e)->submit(prompt("Hello there", 4)));
        fs.push_back((*e)->submit(prompt(repeat("six seven eight nine ten ", 25), 4)));
    }
    for (auto& f : fs) EXPECT_TRUE(f.get().is_ok());
    EXPECT_EQ((*e)->stats().kv_growths, 1);

    // A predictor grows the same way.
    auto p = model_->create_predictor(spec_);
    ASSERT_TRUE(p.is_ok());
    EXPECT_TRUE((*p)->generate(prompt("Hi", 4)).is_ok());
    EXPECT_TRUE((*p)->generate(prompt(repeat("one two three four five ", 30), 8)).is_ok());
}

TEST_F(KvSizing, AFixedCacheRefusesARowThatCannotFitAndServesTheRest) {
    spec_.kv_tokens = 32;
    auto e = model_->create_batch_engine(spec_);
    ASSERT_TRUE(e.is_ok());
    auto too_long = (*e)->submit(prompt(repeat("one two three four five ", 10), 4));
    auto fine = (*e)->submit(prompt("Hi", 4));
    auto r = too_long.get();
    ASSERT_FALSE(r.is_ok());
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find("kv_tokens"), std::string::npos) << r.status().message();
    EXPECT_TRUE(fine.get().is_ok());
    EXPECT_EQ((*e)->stats().kv_cells, 32);
}

TEST_F(KvSizing, GrowthBeyondTheBudgetFailsThatRowAloneWithoutAnOom) {
    auto info = inspect_model(spec_.source);
    ASSERT_TRUE(info.is_ok());
    ModelSpec small = spec_;
    small.kv_tokens = 64;
    const MemoryEstimate est = estimate_memory(*info, small);
    const uint64_t small_ctx = est.kv_per_sequence * spec_.parallel + est.compute;
    // Room for the small context and a little more, not for 2 x 2048 cells.
    BudgetGuard budget(memory_budget().used + small_ctx + est.kv_per_token * 512,
                       "the test budget");
    auto e = model_->create_batch_engine(spec_);
    ASSERT_TRUE(e.is_ok()) << e.status().to_string();
    auto huge = (*e)->submit(prompt(repeat("one two three four five ", 250), 4)).get();
    ASSERT_FALSE(huge.is_ok());
    EXPECT_EQ(huge.status().code(), StatusCode::kFailedPrecondition) << huge.status().to_string();
    EXPECT_NE(huge.status().message().find("x 2048 KV cells"), std::string::npos)
        << huge.status().message();
    // The engine is back on a small cache and serves the next rows.
    auto next = (*e)->submit(prompt("Hi", 4)).get();
    EXPECT_TRUE(next.is_ok()) << next.status().to_string();
    EXPECT_EQ((*e)->stats().kv_cells, 64);
}

// Writes `path` as `parts` shards the way llama.cpp's gguf-split does: every
// part a GGUF of its own with split.no / split.count / split.tensors.count,
// the first with all of the model's metadata, the tensors in order. Returns
// the first part's path.
std::string split_model(const std::string& path, int parts, const std::string& prefix) {
    ggml_context* data = nullptr;
    gguf_init_params params{/*no_alloc=*/false, &data};
    gguf_context* src = gguf_init_from_file(path.c_str(), params);
    EXPECT_TRUE(src && data) << path;
    if (!src || !data) return "";
    const int64_t n = gguf_get_n_tensors(src);
    std::string first;
    for (int k = 0; k < parts; ++k) {
        gguf_context* out = gguf_init_empty();
        if (k == 0) gguf_set_kv(out, src);
        gguf_set_val_u16(out, "split.no", static_cast<uint16_t>(k));
        gguf_set_val_u16(out, "split.count", static_cast<uint16_t>(parts));
        gguf_set_val_i32(out, "split.tensors.count", static_cast<int32_t>(n));
        for (int64_t i = k * n / parts; i < (k + 1) * n / parts; ++i) {
            gguf_add_tensor(out, ggml_get_tensor(data, gguf_get_tensor_name(src, i)));
        }
        char name[512];
        std::snprintf(name, sizeof name, "%s-%05d-of-%05d.gguf", prefix.c_str(), k + 1, parts);
        EXPECT_TRUE(gguf_write_to_file(out, name, false)) << name;
        if (k == 0) first = name;
        gguf_free(out);
    }
    gguf_free(src);
    ggml_free(data);
    return first;
}

TEST(SplitModel, LoadsFromItsFirstPartAndAnswersLikeTheWholeFile) {
    testing::ScratchDir dir;
    const std::string first = split_model(testing::model_path(), 3, dir.file("smol"));
    ASSERT_EQ(first, dir.file("smol-00001-of-00003.gguf"));
    auto info = inspect_model(first);
    ASSERT_TRUE(info.is_ok()) << info.status().to_string();
    EXPECT_EQ(info->split_count, 3);
    auto whole_info = inspect_model(testing::model_path());
    EXPECT_EQ(info->tensor_bytes, whole_info->tensor_bytes);

    Registry registry;
    ModelSpec whole = testing::small_spec();
    ModelSpec split = whole;
    split.source = first;
    auto a = registry.acquire(whole);
    auto b = registry.acquire(split);
    ASSERT_TRUE(a.is_ok() && b.is_ok()) << b.status().to_string();
    auto pa = (*a)->create_predictor(whole);
    auto pb = (*b)->create_predictor(split);
    ASSERT_TRUE(pa.is_ok() && pb.is_ok());
    auto ga = (*pa)->generate(prompt("The capital of France is", 8));
    auto gb = (*pb)->generate(prompt("The capital of France is", 8));
    ASSERT_TRUE(ga.is_ok() && gb.is_ok());
    EXPECT_EQ(ga->text, gb->text);
    EXPECT_EQ(gb->completion_tokens, 8);
}

// A hold_model process, its stdin kept open until stop().
class Holder {
   public:
    Holder(const std::string& model, const std::string& weights) {
        int in[2], out[2];
        EXPECT_EQ(pipe2(in, O_CLOEXEC), 0);
        EXPECT_EQ(pipe2(out, O_CLOEXEC), 0);
        pid_ = fork();
        if (pid_ == 0) {
            dup2(in[0], 0);
            dup2(out[1], 1);
            execl(RESIDENT_HOLD_MODEL, "hold_model", model.c_str(), weights.c_str(), nullptr);
            _exit(127);
        }
        close(in[0]);
        close(out[1]);
        stdin_ = in[1];
        stdout_ = fdopen(out[0], "r");
    }
    ~Holder() { stop(); }
    // The line the holder printed once the model was loaded and used.
    std::string ready() {
        char buf[256] = {0};
        return std::fgets(buf, sizeof buf, stdout_) ? std::string(buf) : std::string();
    }
    // Rss and Pss, in bytes, of the holder's mappings of `path`.
    std::pair<uint64_t, uint64_t> mapped(const std::string& path) const {
        std::ifstream smaps("/proc/" + std::to_string(pid_) + "/smaps");
        std::string line;
        bool in_model = false;
        uint64_t rss = 0, pss = 0;
        while (std::getline(smaps, line)) {
            const size_t dash = line.find('-');
            const bool header = dash != std::string::npos && dash < line.find(' ') &&
                                std::isxdigit(static_cast<unsigned char>(line[0]));
            if (header) {
                in_model = line.size() >= path.size() &&
                           line.compare(line.size() - path.size(), path.size(), path) == 0;
                continue;
            }
            if (!in_model) continue;
            std::istringstream fields(line);
            std::string key;
            uint64_t kb = 0;
            fields >> key >> kb;
            if (key == "Rss:") rss += kb * 1024;
            if (key == "Pss:") pss += kb * 1024;
        }
        return {rss, pss};
    }
    // Anonymous (private) memory of the holder, in bytes.
    uint64_t anonymous() const {
        std::ifstream rollup("/proc/" + std::to_string(pid_) + "/smaps_rollup");
        std::string key;
        uint64_t kb = 0;
        while (rollup >> key) {
            if (key == "Anonymous:" && rollup >> kb) return kb * 1024;
            rollup.ignore(1 << 20, '\n');
        }
        return 0;
    }
    void stop() {
        if (pid_ <= 0) return;
        close(stdin_);
        std::fclose(stdout_);
        int status = 0;
        waitpid(pid_, &status, 0);
        pid_ = 0;
    }

   private:
    pid_t pid_ = 0;
    int stdin_ = -1;
    FILE* stdout_ = nullptr;
};

TEST(SharedWeights, TwoProcessesMappingOneModelHoldOneCopy) {
    const std::string path = std::filesystem::weakly_canonical(gemma_path()).string();
    auto info = inspect_model(path);
    ASSERT_TRUE(info.is_ok());
    ASSERT_GT(info->repackable_bytes, 0u);  // private would have repacked: shared is a choice
    Holder one(path, "shared");
    ASSERT_EQ(one.ready(), "ready shared\n");
    Holder two(path, "shared");
    ASSERT_EQ(two.ready(), "ready shared\n");
    const auto [rss1, pss1] = one.mapped(path);
    const auto [rss2, pss2] = two.mapped(path);
    // Each process reaches most of the weights through its mapping...
    EXPECT_GT(rss1, info->tensor_bytes / 2);
    EXPECT_GT(rss2, info->tensor_bytes / 2);
    // ...and the two together account for one copy: PSS splits shared pages.
    EXPECT_LE(pss1 + pss2, std::max(rss1, rss2) * 6 / 5)
        << "rss " << rss1 << " " << rss2 << " pss " << pss1 << " " << pss2;
    // A private holder carries its own repacked copy on top; shared ones do not.
    Holder mine(path, "private");
    ASSERT_EQ(mine.ready(), "ready private\n");
    const uint64_t shared_anon = std::max(one.anonymous(), two.anonymous());
    EXPECT_GE(mine.anonymous(), shared_anon + info->repackable_bytes * 4 / 5)
        << "private " << mine.anonymous() << " shared " << shared_anon << " repackable "
        << info->repackable_bytes;
    // ...and no longer maps the file pages it repacked from.
    const uint64_t left_mapped = info->tensor_bytes - info->repackable_bytes;
    EXPECT_LE(mine.mapped(path).first, left_mapped + info->tensor_bytes / 10)
        << "mapped rss " << mine.mapped(path).first << " of tensors left mapped " << left_mapped;
}

}  // namespace
}  // namespace resident
