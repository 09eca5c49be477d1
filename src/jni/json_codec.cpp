#include "jni/json_codec.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "core/row_json.h"

namespace resident::internal::jni {
namespace {

// Reads the fields of one JSON object into typed values, and names any field
// left unread: a typo in an option is an error, not a silent default.
class Fields {
   public:
    Fields(const json& j, std::string_view what) : j_(j), what_(what) {}

    template <typename T>
    Status read(const char* key, T& out) {
        auto it = j_.find(key);
        if (it == j_.end() || it->is_null()) return Status::ok();
        seen_.push_back(key);
        try {
            if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
                if (!it->is_number_integer()) throw std::invalid_argument("not an integer");
                const auto v = it->template get<int64_t>();
                if (v < static_cast<int64_t>(std::numeric_limits<T>::min()) ||
                    (v > 0 && static_cast<uint64_t>(v) > std::numeric_limits<T>::max())) {
                    throw std::out_of_range("out of range");
                }
                out = static_cast<T>(v);
            } else if constexpr (std::is_floating_point_v<T>) {
                // JSON has no NaN or infinity; Jackson writes them as these strings.
                // They reach the range checks, which name the field and its range.
                if (it->is_string()) {
                    const auto& v = it->template get_ref<const std::string&>();
                    if (v == "NaN") {
                        out = std::numeric_limits<T>::quiet_NaN();
                    } else if (v == "Infinity" || v == "-Infinity") {
                        out = (v[0] == '-' ? -1 : 1) * std::numeric_limits<T>::infinity();
                    } else {
                        throw std::invalid_argument("not a number");
                    }
                } else {
                    out = it->template get<T>();
                }
            } else {
                out = it->template get<T>();
            }
        } catch (const std::exception&) {
            return invalid_argument(
                fmt::format("{} field '{}' has the wrong type: {}", what_, key, it->dump()));
        }
        return Status::ok();
    }

    Status no_others() const {
        for (auto it = j_.begin(); it != j_.end(); ++it) {
            if (std::find(seen_.begin(), seen_.end(), it.key()) == seen_.end() && !it->is_null()) {
                return invalid_argument(fmt::format("unknown {} field '{}'", what_, it.key()));
            }
        }
        return Status::ok();
    }

   private:
    const json& j_;
    std::string_view what_;
    std::vector<std::string> seen_;
};

}  // namespace

Result<json> parse_json(std::string_view text, std::string_view what) {
    json j = json::parse(text, nullptr, false);
    if (j.is_discarded()) return invalid_argument(fmt::format("{} is not valid JSON", what));
    return j;
}

Result<ModelSpec> spec_from_json(const json& j) {
    if (!j.is_object()) return invalid_argument("a model spec must be a JSON object");
    ModelSpec s;
    Fields f(j, "model spec");
    std::string task, determinism, weights;
    RESIDENT_RETURN_IF_ERROR(f.read("source", s.source));
    RESIDENT_RETURN_IF_ERROR(f.read("engine", s.engine));
    RESIDENT_RETURN_IF_ERROR(f.read("task", task));
    RESIDENT_RETURN_IF_ERROR(f.read("use_mmap", s.use_mmap));
    RESIDENT_RETURN_IF_ERROR(f.read("weights", weights));
    RESIDENT_RETURN_IF_ERROR(f.read("kv_tokens", s.kv_tokens));
    RESIDENT_RETURN_IF_ERROR(f.read("gpu_layers", s.gpu_layers));
    RESIDENT_RETURN_IF_ERROR(f.read("ctx_size", s.ctx_size));
    RESIDENT_RETURN_IF_ERROR(f.read("threads", s.threads));
    RESIDENT_RETURN_IF_ERROR(f.read("batch_size", s.batch_size));
    RESIDENT_RETURN_IF_ERROR(f.read("parallel", s.parallel));
    RESIDENT_RETURN_IF_ERROR(f.read("queue_capacity", s.queue_capacity));
    RESIDENT_RETURN_IF_ERROR(f.read("determinism", determinism));
    RESIDENT_RETURN_IF_ERROR(f.read("prefix_reuse", s.prefix_reuse));
    RESIDENT_RETURN_IF_ERROR(f.read("seed", s.seed));
    RESIDENT_RETURN_IF_ERROR(f.read("memory_limit_bytes", s.memory_limit_bytes));
    RESIDENT_RETURN_IF_ERROR(f.no_others());
    if (!task.empty()) {
        RESIDENT_ASSIGN_OR_RETURN(s.task, parse_task(task));
    }
    if (!weights.empty()) {
        RESIDENT_ASSIGN_OR_RETURN(s.weights, parse_weights(weights));
    }
    if (!determinism.empty()) {
        RESIDENT_ASSIGN_OR_RETURN(s.determinism, parse_determinism(determinism));
    }
    RESIDENT_RETURN_IF_ERROR(s.validate());
    return s;
}

Result<GenerationRequest> request_from_json(const json& j) {
    if (!j.is_object()) return invalid_argument("a generation request must be a JSON object");
    // A request is a row and the rules of its job: the row contract
    // (row_request) makes it, as it does for the CLI's rows.
    RowInput row;
    RowRules rules;
    Fields f(j, "request");
    json prompt, messages, id;
    std::string row_key;
    uint64_t seed = 0;
    RESIDENT_RETURN_IF_ERROR(f.read("prompt", prompt));
    RESIDENT_RETURN_IF_ERROR(f.read("messages", messages));
    RESIDENT_RETURN_IF_ERROR(f.read("id", id));
    RESIDENT_RETURN_IF_ERROR(f.read("row_key", row_key));
    RESIDENT_RETURN_IF_ERROR(f.read("prompt_template", rules.prompt_template));
    RESIDENT_RETURN_IF_ERROR(f.read("system_prompt", rules.system_prompt));
    RESIDENT_RETURN_IF_ERROR(f.read("chat", rules.chat));
    RESIDENT_RETURN_IF_ERROR(f.read("max_tokens", rules.sampling.max_tokens));
    RESIDENT_RETURN_IF_ERROR(f.read("temperature", rules.sampling.temperature));
    RESIDENT_RETURN_IF_ERROR(f.read("top_k", rules.sampling.top_k));
    RESIDENT_RETURN_IF_ERROR(f.read("top_p", rules.sampling.top_p));
    RESIDENT_RETURN_IF_ERROR(f.read("min_p", rules.sampling.min_p));
    RESIDENT_RETURN_IF_ERROR(f.read("seed", seed));
    RESIDENT_RETURN_IF_ERROR(f.read("stop", rules.sampling.stop));
    RESIDENT_RETURN_IF_ERROR(f.read("ignore_eos", rules.sampling.ignore_eos));
    RESIDENT_RETURN_IF_ERROR(f.read("timeout_seconds", rules.timeout_seconds));
    RESIDENT_RETURN_IF_ERROR(f.no_others());
    if (j.contains("seed") && !j["seed"].is_null()) rules.sampling.seed = seed;
    if (prompt.is_string()) {
        row.prompt = prompt.get<std::string>();
    } else if (!prompt.is_null()) {
        return invalid_argument("request field 'prompt' must be text");
    }
    if (messages.is_array()) {
        row.messages.emplace();
        for (const auto& m : messages) {
            if (!m.is_object()) return invalid_argument("each chat message must be an object");
            RowMessage message;
            if (m.contains("role") && m["role"].is_string()) message.role = m["role"];
            if (m.contains("content") && m["content"].is_string()) message.content = m["content"];
            row.messages->push_back(std::move(message));
        }
    } else if (!messages.is_null()) {
        return invalid_argument("request field 'messages' must be an array");
    }
    if (auto text = row_id_text(id)) {
        row.id = *text;
    } else if (!id.is_null()) {
        return invalid_argument("request field 'id' must be text, a number or a boolean");
    }
    RESIDENT_ASSIGN_OR_RETURN(GenerationRequest r, row_request(row, rules));
    if (j.contains("row_key") && !j["row_key"].is_null()) {
        if (row.id) return invalid_argument("a request has an id or a row_key, not both");
        r.row_key = row_key;  // the caller's own key (the Java API), used as it is
    }
    return r;
}

json to_json(const ModelSpec& s) {
    return {{"source", s.source},
            {"engine", s.engine},
            {"task", task_name(s.task)},
            {"use_mmap", s.use_mmap},
            {"weights", weights_name(s.weights)},
            {"kv_tokens", s.kv_tokens},
            {"gpu_layers", s.gpu_layers},
            {"ctx_size", s.ctx_size},
            {"threads", s.threads},
            {"batch_size", s.batch_size},
            {"parallel", s.parallel},
            {"queue_capacity", s.queue_capacity},
            {"determinism", determinism_name(s.determinism)},
            {"prefix_reuse", s.prefix_reuse},
            {"seed", s.seed},
            {"memory_limit_bytes", s.memory_limit_bytes}};
}

// A float as the shortest decimal that reads back as it (0.95f is 0.95, not
// 0.949999988...): how a person wrote the default, and what Java shows.
namespace {
double shortest(float f) { return std::stod(fmt::format("{}", f)); }
}  // namespace

json to_json(const RowRules& r) {
    return {{"prompt_template", r.prompt_template},
            {"system_prompt", r.system_prompt},
            {"chat", r.chat},
            {"max_tokens", r.sampling.max_tokens},
            {"temperature", shortest(r.sampling.temperature)},
            {"top_k", r.sampling.top_k},
            {"top_p", shortest(r.sampling.top_p)},
            {"min_p", shortest(r.sampling.min_p)},
            {"stop", r.sampling.stop},
            {"ignore_eos", r.sampling.ignore_eos},
            {"timeout_seconds", r.timeout_seconds}};
}

json contract_json() {
    json codes = json::object();
    for (int c = static_cast<int>(StatusCode::kInvalidArgument);
         c <= static_cast<int>(StatusCode::kInternal); ++c) {
        const Status s(static_cast<StatusCode>(c), "");
        codes[std::string(status_code_name(s.code()))] = s.is_retryable();
    }
    return {{"spec", to_json(ModelSpec{})},
            {"rules", to_json(RowRules{})},
            {"classify", {{"top_k", ImageRequest{}.top_k}}},
            {"strategy", strategy_name(Strategy::kSharedBatched)},
            {"id_field", kRowIdField},
            {"retryable", std::move(codes)}};
}

json to_json(const Generation& g) {
    return {{"text", g.text},
            {"prompt_tokens", g.prompt_tokens},
            {"completion_tokens", g.completion_tokens},
            {"finish_reason", finish_reason_name(g.finish_reason)},
            {"seed", g.seed},
            {"prompt_seconds", g.prompt_seconds},
            {"generation_seconds", g.generation_seconds}};
}

json to_json(const Status& s) {
    return {{"code", status_code_name(s.code())},
            {"message", s.message()},
            {"retryable", s.is_retryable()}};
}

json to_json(const ModelInfo& i) {
    return {{"path", i.path},
            {"file_bytes", i.file_bytes},
            {"split_count", i.split_count},
            {"architecture", i.architecture},
            {"name", i.name},
            {"quantization", i.quantization},
            {"n_params", i.n_params},
            {"n_ctx_train", i.n_ctx_train},
            {"n_embd", i.n_embd},
            {"n_layer", i.n_layer},
            {"n_vocab", i.n_vocab},
            {"has_chat_template", !i.chat_template.empty()}};
}

json to_json(const MemoryEstimate& m, int32_t sequences) {
    return {{"weights", m.weights},
            {"weights_private", m.weights_private},
            {"kv_per_token", m.kv_per_token},
            {"kv_per_sequence", m.kv_per_sequence},
            {"compute", m.compute},
            {"sequences", sequences},
            {"private_total", m.private_total(sequences)},
            {"total", m.total(sequences)}};
}

json to_json(const ModelStats& s) {
    const auto last_use =
        std::chrono::duration_cast<std::chrono::milliseconds>(s.last_use.time_since_epoch())
            .count();
    return {{"key", s.key},
            {"path", s.path},
            {"loads", s.loads},
            {"failed_loads", s.failed_loads},
            {"evictions", s.evictions},
            {"placement", s.placement},
            {"load_seconds", s.load_seconds},
            {"loaded_bytes", s.loaded_bytes},
            {"handles", s.handles},
            {"resident", s.resident},
            {"last_use_epoch_ms", last_use}};
}

json to_json(const BatchEngineStats& s) {
    return {{"submitted", s.submitted},
            {"completed", s.completed},
            {"failed", s.failed},
            {"cancelled", s.cancelled},
            {"expired", s.expired},
            {"decode_calls", s.decode_calls},
            {"prompt_tokens", s.prompt_tokens},
            {"reused_tokens", s.reused_tokens},
            {"generated_tokens", s.generated_tokens},
            {"kv_cells", s.kv_cells},
            {"kv_growths", s.kv_growths},
            {"max_in_flight", s.max_in_flight}};
}

}  // namespace resident::internal::jni
