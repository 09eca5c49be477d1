// Model files and options that cannot work: each gives a clear error that
// names the input and what to do, and nothing crashes.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "resident/registry.h"
#include "test_support.h"

namespace resident {
namespace {

struct Expect {
    StatusCode code;
    std::string needle;
};

void expect_load_error(const ModelSpec& spec, const Expect& e) {
    Registry registry;
    auto r = registry.acquire(spec);
    ASSERT_FALSE(r.is_ok()) << "loaded " << spec.source;
    EXPECT_EQ(r.status().code(), e.code) << r.status().to_string();
    EXPECT_NE(r.status().message().find(e.needle), std::string::npos) << r.status().message();
}

TEST(BadModel, MissingFile) {
    ModelSpec s = testing::small_spec();
    s.source = "/nonexistent/model.gguf";
    expect_load_error(s, {StatusCode::kNotFound, "does not exist"});
}

TEST(BadModel, UnknownCatalogName) {
    ModelSpec s = testing::small_spec();
    s.source = "llama-99b";
    expect_load_error(s, {StatusCode::kNotFound, "neither a file nor a catalog name"});
}

TEST(BadModel, FolderInsteadOfFile) {
    testing::ScratchDir dir;
    std::filesystem::create_directories(dir.file("x.gguf"));
    ModelSpec s = testing::small_spec();
    s.source = dir.file("x.gguf");
    expect_load_error(s, {StatusCode::kInvalidArgument, "is a folder"});
}

TEST(BadModel, NotAGgufFile) {
    testing::ScratchDir dir;
    ModelSpec s = testing::small_spec();
    s.source = dir.write("model.gguf", "this is a text file, not weights\n");
    expect_load_error(s, {StatusCode::kDataLoss, "is not a GGUF model file"});
    s.source = dir.write("empty.gguf", "");
    expect_load_error(s, {StatusCode::kDataLoss, "is not a GGUF model file"});
}

TEST(BadModel, TruncatedFilesAtManyLengths) {
    testing::ScratchDir dir;
    ModelSpec s = testing::small_spec();
    s.source = dir.file("cut.gguf");
    const auto full = std::filesystem::file_size(testing::model_path());
    for (size_t bytes : {size_t{4}, size_t{24}, size_t{1000}, size_t{200000}, size_t{5u << 20},
                         static_cast<size_t>(full - 1)}) {
        testing::copy_prefix(testing::model_path(), s.source, bytes);
        SCOPED_TRACE(bytes);
        expect_load_error(s, {StatusCode::kDataLoss, "cut.gguf"});
    }
}

TEST(BadModel, CorruptedHeaderBytes) {
    testing::ScratchDir dir;
    ModelSpec s = testing::small_spec();
    s.source = dir.file("corrupt.gguf");
    // Overwrite bytes in the metadata with garbage at several places; each
    // must be an error or (if the bytes happened not to matter) a clean load.
    for (size_t offset : {8u, 16u, 40u, 300u, 2000u, 60000u}) {
        std::filesystem::copy_file(testing::model_path(), s.source,
                                   std::filesystem::copy_options::overwrite_existing);
        std::fstream f(s.source, std::ios::in | std::ios::out | std::ios::binary);
        f.seekp(static_cast<std::streamoff>(offset));
        const char garbage[8] = {'\xFF', '\x7F', '\x00', '\x13', '\xFF', '\xFF', '\xFF', '\x7F'};
        f.write(garbage, sizeof garbage);
        f.close();
        Registry registry;
        auto r = registry.acquire(s);
        if (!r.is_ok()) {
            EXPECT_EQ(r.status().code(), StatusCode::kDataLoss)
                << offset << ": " << r.status().to_string();
            EXPECT_NE(r.status().message().find("corrupt.gguf"), std::string::npos);
        }
    }
}

TEST(BadModel, MoreMemoryThanAllowedIsRefusedBeforeLoading) {
    ModelSpec s = testing::small_spec();
    s.memory_limit_bytes = 16u << 20;
    expect_load_error(s, {StatusCode::kFailedPrecondition, "memory limit"});
}

TEST(BadModel, InvalidOptionsNameTheField) {
    ModelSpec s = testing::small_spec();
    s.ctx_size = 0;
    expect_load_error(s, {StatusCode::kInvalidArgument, "ctx_size"});
}

TEST(SecondArchitecture, Gemma3GeneratesText) {
    const std::string path = testing::gemma_path();
    ASSERT_FALSE(path.empty());
    auto info = inspect_model(path);
    ASSERT_TRUE(info.is_ok());
    EXPECT_EQ(info->architecture, "gemma3");
    ModelSpec s = testing::small_spec();
    s.source = path;
    Registry registry;
    auto model = registry.acquire(s);
    ASSERT_TRUE(model.is_ok()) << model.status().to_string();
    auto p = (*model)->create_predictor(s);
    ASSERT_TRUE(p.is_ok());
    GenerationRequest r;
    r.prompt = "The capital of France is";
    r.sampling.max_tokens = 12;
    auto g = (*p)->generate(r);
    ASSERT_TRUE(g.is_ok()) << g.status().to_string();
    EXPECT_EQ(g->completion_tokens, 12);
    // A coherent continuation stays on the subject.
    EXPECT_TRUE(g->text.find("Paris") != std::string::npos ||
                g->text.find("France") != std::string::npos)
        << g->text;

    // This file carries no chat template: chat requests are refused clearly.
    EXPECT_TRUE(info->chat_template.empty());
    r.messages = {{"user", "Hello"}};
    auto chat = (*p)->generate(r);
    ASSERT_FALSE(chat.is_ok());
    EXPECT_NE(chat.status().message().find("has no chat template"), std::string::npos);
}

}  // namespace
}  // namespace resident
