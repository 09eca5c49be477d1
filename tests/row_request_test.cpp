#include "resident/row_request.h"

#include <gtest/gtest.h>

#include "resident/strategy.h"

namespace resident {
namespace {

RowInput text(std::string prompt, std::optional<std::string> id = std::nullopt) {
    RowInput row;
    row.prompt = std::move(prompt);
    row.id = std::move(id);
    return row;
}

RowInput chat(std::vector<RowMessage> messages) {
    RowInput row;
    row.messages = std::move(messages);
    return row;
}

TEST(RowRequest, ATextRowIsItsPromptKeyedByItsContent) {
    auto r = row_request(text("Name a colour."), RowRules{});
    ASSERT_TRUE(r.is_ok()) << r.status().to_string();
    EXPECT_EQ(r->prompt, "Name a colour.");
    EXPECT_TRUE(r->messages.empty());
    EXPECT_EQ(r->row_key, "prompt:Name a colour.");
    EXPECT_FALSE(r->sampling.seed);  // seeded from the key and the model's base seed
}

TEST(RowRequest, AnIdKeysTheRowWhateverItsPrompt) {
    auto a = row_request(text("one", "7"), RowRules{});
    auto b = row_request(text("two", "7"), RowRules{});
    ASSERT_TRUE(a.is_ok() && b.is_ok());
    EXPECT_EQ(a->row_key, "id:7");
    EXPECT_EQ(b->row_key, "id:7");
    EXPECT_EQ(effective_seed(*a, 42), effective_seed(*b, 42));
    EXPECT_NE(effective_seed(*a, 42), effective_seed(*a, 43));  // the base seed still counts
    EXPECT_NE(effective_seed(*a, 42), effective_seed(*row_request(text("one", "8"), {}), 42));
}

TEST(RowRequest, TheTemplateWrapsTextButNotTheKey) {
    RowRules rules;
    rules.prompt_template = "Q: {prompt}\nA ({prompt}):";
    auto r = row_request(text("why?"), rules);
    ASSERT_TRUE(r.is_ok());
    EXPECT_EQ(r->prompt, "Q: why?\nA (why?):");
    EXPECT_EQ(r->row_key, "prompt:why?");  // the row, not the job's settings
}

TEST(RowRequest, ChatAndSystemPromptRenderTextAsMessages) {
    RowRules rules;
    rules.chat = true;
    auto plain = row_request(text("hi"), rules);
    ASSERT_TRUE(plain.is_ok());
    ASSERT_EQ(plain->messages.size(), 1u);
    EXPECT_EQ(plain->messages[0].role, "user");
    EXPECT_EQ(plain->messages[0].content, "hi");

    RowRules system;  // a system prompt implies chat
    system.system_prompt = "Be brief.";
    system.prompt_template = "<{prompt}>";
    auto r = row_request(text("hi"), system);
    ASSERT_TRUE(r.is_ok());
    ASSERT_EQ(r->messages.size(), 2u);
    EXPECT_EQ(r->messages[0].role, "system");
    EXPECT_EQ(r->messages[0].content, "Be brief.");
    EXPECT_EQ(r->messages[1].content, "<hi>");
    EXPECT_TRUE(r->prompt.empty());
}

TEST(RowRequest, ChatRowsKeepTheirMessagesAfterTheSystemPrompt) {
    RowRules rules;
    rules.system_prompt = "S";
    rules.prompt_template = "T {prompt}";  // not applied to chats
    auto r = row_request(chat({{"user", "a"}, {"assistant", "b"}, {"user", "c"}}), rules);
    ASSERT_TRUE(r.is_ok());
    ASSERT_EQ(r->messages.size(), 4u);
    EXPECT_EQ(r->messages[0].content, "S");
    EXPECT_EQ(r->messages[1].content, "a");
    EXPECT_EQ(r->messages[3].content, "c");
    // Where one message ends and the next begins is part of the key.
    EXPECT_NE(row_key(chat({{"user", "ab"}, {"user", "c"}})),
              row_key(chat({{"user", "a"}, {"user", "bc"}})));
    EXPECT_NE(row_key(chat({{"user", "x"}})), row_key(text("x")));
}

TEST(RowRequest, RowsWithoutAPromptOrWithBrokenMessagesSayWhy) {
    auto none = row_request(RowInput{}, RowRules{});
    EXPECT_EQ(none.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(none.status().message().find("has no prompt"), std::string::npos);

    auto empty = row_request(chat({}), RowRules{});
    EXPECT_NE(empty.status().message().find("no messages"), std::string::npos);

    RowMessage no_content;
    no_content.role = "user";
    auto broken = row_request(chat({{"user", "a"}, no_content}), RowRules{});
    EXPECT_EQ(broken.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(broken.status().message().find("chat message 2 of the row lacks its content"),
              std::string::npos)
        << broken.status().message();
}

TEST(RowRules, ATemplateNeedsItsPlaceholderAndSamplingIsChecked) {
    RowRules rules;
    EXPECT_TRUE(rules.validate().is_ok());
    rules.prompt_template = "no placeholder";
    EXPECT_NE(rules.validate().message().find("prompt_template"), std::string::npos);
    rules.prompt_template = "{prompt}";
    rules.sampling.top_p = 2;
    EXPECT_NE(rules.validate().message().find("top_p = 2"), std::string::npos);
    rules.sampling.top_p = 1;
    rules.timeout_seconds = -1;
    EXPECT_NE(rules.validate().message().find("timeout_seconds"), std::string::npos);
}

TEST(Strategy, OneSetOfNamesWithTheFormerCliNamesAsAliases) {
    for (Strategy s : {Strategy::kSharedBatched, Strategy::kShared, Strategy::kPerPartition}) {
        EXPECT_EQ(*parse_strategy(strategy_name(s)), s);
    }
    EXPECT_EQ(*parse_strategy(" Batched "), Strategy::kSharedBatched);
    EXPECT_EQ(*parse_strategy("predictor-per-thread"), Strategy::kShared);
    auto bad = parse_strategy("fast");
    EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(bad.status().message().find("shared-batched, shared or per-partition"),
              std::string::npos);
}

}  // namespace
}  // namespace resident
