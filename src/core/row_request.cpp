#include "resident/row_request.h"

#include <fmt/format.h>

namespace resident {

namespace {

constexpr std::string_view kPlaceholder = "{prompt}";

std::string apply_template(const std::string& tmpl, const std::string& prompt) {
    if (tmpl.empty()) return prompt;
    std::string out;
    size_t from = 0;
    for (size_t at; (at = tmpl.find(kPlaceholder, from)) != std::string::npos;) {
        out.append(tmpl, from, at - from);
        out += prompt;
        from = at + kPlaceholder.size();
    }
    out.append(tmpl, from);
    return out;
}

}  // namespace

Status RowRules::validate() const {
    if (!prompt_template.empty() && prompt_template.find(kPlaceholder) == std::string::npos) {
        return invalid_argument(
            fmt::format("prompt_template = '{}': it has no {{prompt}} placeholder; put {{prompt}} "
                        "where the row's prompt goes, or leave the template empty",
                        prompt_template));
    }
    GenerationRequest request;  // the sampling and timeout rules of a request
    request.sampling = sampling;
    request.timeout_seconds = timeout_seconds;
    return request.validate();
}

std::string row_key(const RowInput& row) {
    if (row.id) return "id:" + *row.id;
    if (row.messages) {
        // Unit and record separators keep "a" + "bc" apart from "ab" + "c".
        std::string key = "messages:";
        for (const auto& m : *row.messages) {
            key += m.role.value_or("");
            key += '\x1f';
            key += m.content.value_or("");
            key += '\x1e';
        }
        return key;
    }
    return "prompt:" + row.prompt.value_or("");
}

Result<GenerationRequest> row_request(const RowInput& row, const RowRules& rules) {
    RESIDENT_RETURN_IF_ERROR(rules.validate());
    GenerationRequest req;
    req.sampling = rules.sampling;
    req.timeout_seconds = rules.timeout_seconds;
    if (!rules.system_prompt.empty()) req.messages.push_back({"system", rules.system_prompt});
    if (row.messages) {
        if (row.messages->empty()) {
            return invalid_argument("the row's chat has no messages: give it at least one");
        }
        for (size_t i = 0; i < row.messages->size(); ++i) {
            const RowMessage& m = (*row.messages)[i];
            if (!m.role || !m.content) {
                return invalid_argument(fmt::format(
                    "chat message {} of the row lacks its {}: give every message a role and a "
                    "content",
                    i + 1, m.role ? "content" : "role"));
            }
            req.messages.push_back({*m.role, *m.content});
        }
    } else if (row.prompt) {
        std::string prompt = apply_template(rules.prompt_template, *row.prompt);
        if (rules.chat || !req.messages.empty()) {
            req.messages.push_back({"user", std::move(prompt)});
        } else {
            req.prompt = std::move(prompt);
        }
    } else {
        return invalid_argument(
            "the row has no prompt: give each row a prompt (text or chat messages), or filter out "
            "rows without one");
    }
    req.row_key = row_key(row);
    return req;
}

}  // namespace resident
