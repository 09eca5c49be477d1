// `resident classify` end to end over folders and lists that hold more than
// images (issue #19, "every input is a row"): each file of a folder, each
// line of a list or JSONL file, is one output row, a result or an error
// naming why, and the summary counts them all.
#include <gtest/gtest.h>
#include <stb/stb_image.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <webp/encode.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "test_support.h"

namespace resident {
namespace {

namespace fs = std::filesystem;
using testing::ScratchDir;
using testing::test_photo;

struct Classified {
    int exit_code = -1;
    std::string output;                     // stdout and stderr
    std::vector<nlohmann::json> rows;       // the output file's rows
    std::map<std::string, size_t> by_path;  // a row's "path" -> its index
    nlohmann::json summary;
};

// Runs `resident classify` on `input` with EfficientNet-Lite0.
Classified classify(const ScratchDir& dir, const std::string& input,
                    const std::string& extra = "") {
    const std::string out = dir.file("out.jsonl"), summary = dir.file("summary.json");
    const std::string cmd = std::string(RESIDENT_BINARY) + " classify -m efficientnet-lite0 -i " +
                            input + " -o " + out + " --progress none --summary " + summary +
                            " -t " + std::to_string(testing::threads()) + " " + extra + " 2>&1";
    Classified c;
    FILE* pipe = popen(cmd.c_str(), "r");
    char buf[4096];
    for (size_t n; (n = fread(buf, 1, sizeof buf, pipe)) > 0;) c.output.append(buf, n);
    const int status = pclose(pipe);
    c.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    std::ifstream in(out);
    for (std::string line; std::getline(in, line);) {
        c.rows.push_back(nlohmann::json::parse(line));
        if (c.rows.back().contains("path") && c.rows.back()["path"].is_string()) {
            c.by_path[c.rows.back()["path"]] = c.rows.size() - 1;
        }
    }
    if (fs::exists(summary)) c.summary = nlohmann::json::parse(testing::read_bytes(summary));
    return c;
}

// A test photo as a lossless WebP, made by libwebp's encoder.
std::string webp_of(const std::string& name) {
    const std::string file = testing::read_bytes(test_photo(name));
    int w = 0, h = 0, n = 0;
    unsigned char* rgb = stbi_load_from_memory(reinterpret_cast<const unsigned char*>(file.data()),
                                               static_cast<int>(file.size()), &w, &h, &n, 3);
    EXPECT_NE(rgb, nullptr);
    uint8_t* out = nullptr;
    const size_t size = WebPEncodeLosslessRGB(rgb, w, h, w * 3, &out);
    stbi_image_free(rgb);
    EXPECT_GT(size, 0u);
    std::string webp(reinterpret_cast<const char*>(out), size);
    WebPFree(out);
    return webp;
}

bool is_cat(const std::string& label) {
    return label.starts_with("tabby") || label.starts_with("tiger cat") ||
           label.starts_with("Egyptian cat");
}

// The error of the row for `path`, or "" when it has a result.
std::string error_of(const Classified& c, const std::string& path) {
    const auto it = c.by_path.find(path);
    if (it == c.by_path.end()) return "(no row for " + path + ")";
    const auto& row = c.rows[it->second];
    return row["error"].is_null() ? "" : row["error"].get<std::string>();
}

TEST(ImageInput, EveryFileOfAFolderIsOneRowWithItsErrorNamed) {
    ScratchDir dir;
    const std::string photos = dir.file("photos");
    fs::create_directories(photos + "/nested");
    fs::copy_file(test_photo("coffee.png"), photos + "/coffee.png");
    fs::copy_file(test_photo("rocket.jpg"), photos + "/nested/rocket.jpg");
    dir.write("photos/cat.webp", webp_of("chelsea.png"));
    dir.write("photos/scan.tiff", std::string("II*\0\x08\0\0\0", 8) + std::string(64, '\0'));
    dir.write("photos/notes.txt", "a shopping list, not a photo\n");
    dir.write("photos/nested/empty.png", "");
    fs::create_symlink(photos + "/deleted.jpg", photos + "/gone.jpg");
    ASSERT_EQ(mkfifo((photos + "/pipe").c_str(), 0600), 0);  // must not block the job
    // A 3 GiB sparse file: refused from its size, never read.
    dir.write("photos/huge.bmp", "BM");
    fs::resize_file(photos + "/huge.bmp", 3ull << 30);
    // A link to a folder outside is followed; a second way to a folder is not.
    const std::string outside = dir.file("elsewhere");
    fs::create_directories(outside);
    fs::copy_file(test_photo("coffee.png"), outside + "/coffee.png");
    fs::create_directory_symlink(outside, photos + "/linked");
    fs::create_directory_symlink(photos + "/nested", photos + "/again");

    const Classified c = classify(dir, photos);
    ASSERT_EQ(c.exit_code, 0) << c.output;
    const std::vector<std::string> want_paths = {"again",
                                                 "cat.webp",
                                                 "coffee.png",
                                                 "gone.jpg",
                                                 "huge.bmp",
                                                 "linked/coffee.png",
                                                 "nested/empty.png",
                                                 "nested/rocket.jpg",
                                                 "notes.txt",
                                                 "pipe",
                                                 "scan.tiff"};
    ASSERT_EQ(c.rows.size(), want_paths.size()) << c.output;
    for (size_t i = 0; i < want_paths.size(); ++i) {
        EXPECT_EQ(c.rows[i]["path"], photos + "/" + want_paths[i]) << "rows in sorted path order";
    }
    auto error = [&](const std::string& name) { return error_of(c, photos + "/" + name); };
    EXPECT_EQ(error("coffee.png"), "");
    EXPECT_EQ(error("linked/coffee.png"), "");
    EXPECT_EQ(error("nested/rocket.jpg"), "");
    EXPECT_EQ(error("cat.webp"), "");
    EXPECT_TRUE(is_cat(c.rows[c.by_path.at(photos + "/cat.webp")]["label"])) << c.rows[1].dump();
    EXPECT_EQ(c.rows[c.by_path.at(photos + "/coffee.png")]["label"], "espresso");
    const std::map<std::string, std::vector<std::string>> want_errors = {
        {"scan.tiff", {"TIFF", "not supported", "JPEG, PNG, BMP, GIF or WebP"}},
        {"notes.txt", {"not an image", "JPEG, PNG, BMP, GIF or WebP"}},
        {"gone.jpg", {"dangling link", "deleted.jpg"}},
        {"pipe", {"not a regular file"}},
        {"huge.bmp", {"3221225472 bytes", "too large"}},
        {"nested/empty.png", {"empty"}},
        {"again", {"read already"}},
    };
    for (const auto& [name, parts] : want_errors) {
        const std::string e = error(name);
        for (const auto& part : parts)
            EXPECT_NE(e.find(part), std::string::npos) << name << ": " << e;
    }
    EXPECT_EQ(c.summary["images"], 11) << c.summary.dump();
    EXPECT_EQ(c.summary["images_ok"], 4);
    EXPECT_EQ(c.summary["images_failed"], 7);
}

TEST(ImageInput, EveryLineOfAListOrJsonlFileIsOneRow) {
    ScratchDir dir;
    fs::copy_file(test_photo("coffee.png"), dir.file("coffee.png"));
    dir.write("cat.webp", webp_of("chelsea.png"));
    fs::create_symlink(dir.file("deleted.png"), dir.file("gone.png"));
    fs::create_directories(dir.file("folder"));
    const std::string list =
        dir.write("list.txt", "coffee.png\nmissing.png\n\ngone.png\nfolder\ncat.webp\n");
    const Classified l = classify(dir, list);
    ASSERT_EQ(l.exit_code, 0) << l.output;
    ASSERT_EQ(l.rows.size(), 5u) << "one row per line (a blank line is not a row)\n" << l.output;
    EXPECT_EQ(error_of(l, "coffee.png"), "");
    EXPECT_EQ(error_of(l, "cat.webp"), "");
    EXPECT_NE(error_of(l, "missing.png").find("does not exist"), std::string::npos);
    EXPECT_NE(error_of(l, "gone.png").find("dangling link"), std::string::npos);
    EXPECT_NE(error_of(l, "folder").find("is a folder"), std::string::npos);
    EXPECT_EQ(l.summary["images"], 5);
    EXPECT_EQ(l.summary["images_failed"], 3);

    const std::string jsonl = dir.write("rows.jsonl",
                                        "{\"id\": 1, \"path\": \"cat.webp\"}\n"
                                        "{\"id\": 2}\n"
                                        "not json\n"
                                        "{\"id\": 4, \"path\": 7}\n"
                                        "{\"id\": 5, \"path\": \"gone.png\"}\n");
    const Classified j = classify(dir, jsonl);
    ASSERT_EQ(j.exit_code, 0) << j.output;
    ASSERT_EQ(j.rows.size(), 5u) << j.output;
    EXPECT_TRUE(j.rows[0]["error"].is_null()) << j.rows[0].dump();
    EXPECT_TRUE(is_cat(j.rows[0]["label"])) << j.rows[0].dump();
    EXPECT_EQ(j.rows[1]["id"], 2);
    EXPECT_NE(j.rows[1]["error"].get<std::string>().find("no 'path'"), std::string::npos);
    EXPECT_NE(j.rows[2]["error"].get<std::string>().find("line 3"), std::string::npos);
    EXPECT_EQ(j.rows[3]["id"], 4);
    EXPECT_NE(j.rows[4]["error"].get<std::string>().find("dangling link"), std::string::npos);
    EXPECT_EQ(j.summary["images"], 5);
    EXPECT_EQ(j.summary["images_ok"], 1);
}

}  // namespace
}  // namespace resident
