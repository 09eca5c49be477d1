#include <gtest/gtest.h>

#include <cmath>

#include "resident/generation.h"
#include "resident/model_spec.h"

namespace resident {
namespace {

ModelSpec valid() {
    ModelSpec s;
    s.source = "model.gguf";
    return s;
}

TEST(ModelSpec, DefaultsAreValid) { EXPECT_TRUE(valid().validate().is_ok()); }

TEST(ModelSpec, EachBadFieldIsNamed) {
    struct Case {
        void (*mutate)(ModelSpec&);
        const char* field;
    };
    const Case cases[] = {
        {[](ModelSpec& s) { s.source.clear(); }, "source"},
        {[](ModelSpec& s) { s.engine = "onnx"; }, "engine"},
        {[](ModelSpec& s) { s.task = Task::kEmbed; }, "task"},
        {[](ModelSpec& s) { s.ctx_size = 0; }, "ctx_size"},
        {[](ModelSpec& s) { s.threads = -1; }, "threads"},
        {[](ModelSpec& s) { s.batch_size = 0; }, "batch_size"},
        {[](ModelSpec& s) { s.parallel = 0; }, "parallel"},
        {[](ModelSpec& s) { s.gpu_layers = -2; }, "gpu_layers"},
    };
    for (const auto& c : cases) {
        ModelSpec s = valid();
        c.mutate(s);
        const Status st = s.validate();
        EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << c.field;
        EXPECT_NE(st.message().find(c.field), std::string::npos) << st.message();
    }
}

TEST(ModelSpec, LoadKeyIgnoresContextOptions) {
    ModelSpec a = valid(), b = valid();
    b.ctx_size = 4096;
    b.parallel = 2;
    EXPECT_EQ(a.load_options_key(), b.load_options_key());
    b.weights = Weights::kShared;
    EXPECT_NE(a.load_options_key(), b.load_options_key());
}

TEST(ModelSpec, InvariantByDefaultAndRepackedPerMode) {
    ModelSpec s = valid();
    EXPECT_EQ(s.determinism, Determinism::kInvariant);
    s.weights = Weights::kPrivate;
    EXPECT_TRUE(s.validate().is_ok());
    EXPECT_TRUE(s.repack());
    // Weights repacked for each mode are laid out differently: two loads.
    ModelSpec fast = s;
    fast.determinism = Determinism::kFast;
    EXPECT_NE(s.load_options_key(), fast.load_options_key());
    // Mapped weights are the same in both modes: one load.
    s.weights = fast.weights = Weights::kShared;
    EXPECT_EQ(s.load_options_key(), fast.load_options_key());
    // The names of release 0.1 are aliases.
    EXPECT_EQ(*parse_determinism("exact"), Determinism::kInvariant);
    EXPECT_EQ(*parse_determinism("batched"), Determinism::kFast);
    EXPECT_EQ(determinism_name(*parse_determinism("invariant")), "invariant");
    EXPECT_FALSE(parse_determinism("sometimes").is_ok());
}

TEST(Seed, ExplicitSeedWinsThenRowKeyThenDefault) {
    GenerationRequest r;
    EXPECT_EQ(effective_seed(r, 42), 42u);
    r.row_key = "row-17";
    const uint64_t from_key = effective_seed(r, 42);
    EXPECT_NE(from_key, 42u);
    EXPECT_EQ(effective_seed(r, 42), from_key);  // stable
    EXPECT_NE(effective_seed(r, 43), from_key);  // the base seed matters
    r.row_key = "row-18";
    EXPECT_NE(effective_seed(r, 42), from_key);
    r.sampling.seed = 7;
    EXPECT_EQ(effective_seed(r, 42), 7u);
}

TEST(Sampling, EachBadFieldIsNamedWithItsRange) {
    EXPECT_TRUE(SamplingParams{}.validate().is_ok());
    struct Case {
        void (*set)(SamplingParams&);
        std::string needle;
    };
    const Case cases[] = {
        {[](SamplingParams& s) { s.max_tokens = 0; }, "max_tokens = 0: use 1 or more"},
        {[](SamplingParams& s) { s.temperature = std::nanf(""); }, "temperature = nan"},
        {[](SamplingParams& s) { s.temperature = -0.5f; }, "temperature = -0.5"},
        {[](SamplingParams& s) { s.top_k = -1; }, "top_k = -1"},
        {[](SamplingParams& s) { s.top_p = 0.0f; }, "top_p = 0: use a value in (0, 1]"},
        {[](SamplingParams& s) { s.min_p = 1.5f; }, "min_p = 1.5"},
        {[](SamplingParams& s) { s.stop = {""}; }, "a stop string is empty"},
        {[](SamplingParams& s) {
             s.stop = {"ok", "\xff"};
         },
         "not valid UTF-8"},
    };
    for (const auto& c : cases) {
        SamplingParams s;
        c.set(s);
        const Status st = s.validate();
        EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << c.needle;
        EXPECT_NE(st.message().find(c.needle), std::string::npos) << st.message();
    }
}

}  // namespace
}  // namespace resident
