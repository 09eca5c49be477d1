// The row contract: how one input row becomes a generation request. Every
// front end (the CLI, the JVM and so Spark, SQL and Python) hands its rows to
// `row_request`, so the same row with the same settings is the same request,
// and so the same text, wherever it runs. docs/rows.md is the contract in
// prose.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "resident/generation.h"
#include "resident/status.h"

namespace resident {

// A chat message as a front end read it: either part may be missing, and the
// contract says what that means (an error naming the message).
struct RowMessage {
    std::optional<std::string> role;
    std::optional<std::string> content;
};

// One row as a front end read it: its prompt (text or chat messages, or
// neither when the row has none) and its id (as text: front ends write an
// integer in decimal and a string as it is; unset when the row has none).
struct RowInput {
    std::optional<std::string> prompt;
    std::optional<std::vector<RowMessage>> messages;
    std::optional<std::string> id;
};

// The field (CLI) or column (Spark) a row's id is read from by default, when
// the row has it.
inline constexpr std::string_view kRowIdField = "id";

// A job's settings that shape every row's request. The defaults are the
// defaults of every front end.
struct RowRules {
    // Wraps a text prompt: "{prompt}" is replaced by the row's prompt; empty =
    // the prompt as it is. Chat rows are not templated.
    std::string prompt_template;
    // A system message put before the row's messages; empty = none. Renders a
    // text prompt as a chat.
    std::string system_prompt;
    // Renders a text prompt with the model's chat template, as one user
    // message (implied by a system prompt).
    bool chat = false;
    SamplingParams sampling;
    double timeout_seconds = 0;  // per row; 0 = no deadline

    // The rules' own checks and the sampling's. Errors: InvalidArgument naming
    // the setting (e.g. a template without {prompt}).
    Status validate() const;
};

// The request of one row by the rules: the prompt (templated) or the
// messages, the system message, and the row key that seeds the row's sampler:
// "id:<id>" when the row has an id, else the row's own content ("prompt:" and
// the prompt before templating, or "messages:" and the messages), so a row's
// text never depends on its position, its partition or a retry. The seed is
// then derived from the key and the model's base seed (effective_seed).
// Errors: InvalidArgument saying what is wrong with the row and how to fix it.
Result<GenerationRequest> row_request(const RowInput& row, const RowRules& rules);

// The key of a row (see row_request); the row must have a prompt or messages.
std::string row_key(const RowInput& row);

}  // namespace resident
