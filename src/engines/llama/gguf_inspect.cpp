#include "engines/llama/gguf_inspect.h"

#include <llama.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <vector>

#include "engines/llama/llama_backend.h"
#include "engines/llama/llama_handles.h"
#include "fmt/format.h"

namespace resident::internal::llama {
namespace {

namespace fs = std::filesystem;

// gguf's typed getters abort on a type mismatch, so every read checks the type.
std::optional<int64_t> get_int(const gguf_context* g, const std::string& key) {
    const int64_t id = gguf_find_key(g, key.c_str());
    if (id < 0) return std::nullopt;
    switch (gguf_get_kv_type(g, id)) {
        case GGUF_TYPE_UINT8:
            return gguf_get_val_u8(g, id);
        case GGUF_TYPE_INT8:
            return gguf_get_val_i8(g, id);
        case GGUF_TYPE_UINT16:
            return gguf_get_val_u16(g, id);
        case GGUF_TYPE_INT16:
            return gguf_get_val_i16(g, id);
        case GGUF_TYPE_UINT32:
            return gguf_get_val_u32(g, id);
        case GGUF_TYPE_INT32:
            return gguf_get_val_i32(g, id);
        case GGUF_TYPE_UINT64:
            return static_cast<int64_t>(gguf_get_val_u64(g, id));
        case GGUF_TYPE_INT64:
            return gguf_get_val_i64(g, id);
        case GGUF_TYPE_ARRAY: {
            // Per-layer values (some architectures): the largest one.
            const size_t n = gguf_get_arr_n(g, id);
            const void* data = gguf_get_arr_data(g, id);
            std::optional<int64_t> best;
            for (size_t i = 0; i < n; ++i) {
                int64_t v;
                switch (gguf_get_arr_type(g, id)) {
                    case GGUF_TYPE_UINT32:
                        v = static_cast<const uint32_t*>(data)[i];
                        break;
                    case GGUF_TYPE_INT32:
                        v = static_cast<const int32_t*>(data)[i];
                        break;
                    default:
                        return std::nullopt;
                }
                best = std::max(best.value_or(v), v);
            }
            return best;
        }
        default:
            return std::nullopt;
    }
}

std::string get_string(const gguf_context* g, const std::string& key) {
    const int64_t id = gguf_find_key(g, key.c_str());
    if (id < 0 || gguf_get_kv_type(g, id) != GGUF_TYPE_STRING) return "";
    return gguf_get_val_str(g, id);
}

int64_t array_length(const gguf_context* g, const std::string& key) {
    const int64_t id = gguf_find_key(g, key.c_str());
    if (id < 0 || gguf_get_kv_type(g, id) != GGUF_TYPE_ARRAY) return 0;
    return static_cast<int64_t>(gguf_get_arr_n(g, id));
}

bool starts_with_gguf_magic(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    char magic[4] = {};
    return in.read(magic, 4) && std::memcmp(magic, "GGUF", 4) == 0;
}

// Types the CPU backend repacks into interleaved layouts when allowed (where
// AMX comes first, it also takes what amx_takes says).
bool is_repackable(ggml_type t) {
    return t == GGML_TYPE_Q4_0 || t == GGML_TYPE_Q4_K || t == GGML_TYPE_IQ4_NL ||
           t == GGML_TYPE_Q8_0;
}

// Whether the AMX buffer type takes a weight: a 2-D matrix whose type and
// shape its matrix product serves (mirrors its supports_op in the pinned
// llama.cpp). Its kernels sum each output row the same way whatever the
// number of rows in the call (docs/determinism.md), unlike CPU_REPACK's.
bool amx_takes(ggml_type t, const int64_t* ne) {
    int64_t align = 0;
    switch (t) {
        case GGML_TYPE_Q4_0:
        case GGML_TYPE_Q4_1:
        case GGML_TYPE_Q8_0:
            align = 32;
            break;
        case GGML_TYPE_Q4_K:
        case GGML_TYPE_Q5_K:
        case GGML_TYPE_Q6_K:
        case GGML_TYPE_IQ4_XS:
            align = 256;
            break;
        default:
            return false;
    }
    return ne[2] == 1 && ne[3] == 1 && ne[0] % align == 0 && ne[1] % 32 == 0;
}

// Whether the chosen CPU variant's preferred repacking buffer is AMX (then
// CPU_REPACK only gets what AMX declines).
bool amx_comes_first() {
    const std::vector<std::string>& extra = cpu_extra_buffer_types();
    return !extra.empty() && extra.front() == "AMX" &&
           std::all_of(extra.begin(), extra.end(),
                       [](const std::string& b) { return b == "AMX" || b == "CPU_REPACK"; });
}

struct PartSummary {
    uint64_t tensor_bytes = 0;
    uint64_t repackable_bytes = 0;
    uint64_t n_params = 0;
    // For the invariant mode's repacking (AMX only): the bytes AMX takes,
    // whether a matrix AMX declines could go to CPU_REPACK instead, and the
    // tied output (token_embd used as the output matrix when there is none).
    uint64_t amx_bytes = 0;
    bool repack_risk = false;
    bool has_output = false;
    uint64_t token_embd_amx_bytes = 0;
    bool token_embd_risk = false;
};

// Types the pinned llama.cpp's CPU_REPACK buffer takes on x86 (Q4_0, Q4_K,
// IQ4_NL, MXFP4 with AVX2; Q2_K with AVX-512): a matrix of these that AMX
// declines is repacked with batch-dependent sums.
bool cpu_repack_type(ggml_type t) {
    return t == GGML_TYPE_Q4_0 || t == GGML_TYPE_Q4_K || t == GGML_TYPE_Q2_K ||
           t == GGML_TYPE_IQ4_NL || t == GGML_TYPE_MXFP4;
}

// Opens one file (one split part) and checks that every tensor's data lies
// within it.
Result<GgufPtr> open_part(const std::string& path, PartSummary& summary) {
    std::error_code ec;
    if (!fs::exists(path, ec)) {
        return not_found(
            fmt::format("model file '{}' does not exist: check the path, or use a "
                        "catalog name (resident models list)",
                        path));
    }
    if (fs::is_directory(path, ec)) {
        return invalid_argument(
            fmt::format("model path '{}' is a folder: give the .gguf file", path));
    }
    const uint64_t file_size = fs::file_size(path, ec);
    if (ec) return not_found(fmt::format("cannot read model file '{}': {}", path, ec.message()));
    if (!starts_with_gguf_magic(path)) {
        return data_loss(fmt::format(
            "'{}' is not a GGUF model file (it lacks the GGUF magic bytes): pass a .gguf file "
            "converted for llama.cpp",
            path));
    }
    RESIDENT_RETURN_IF_ERROR(ensure_backend());
    LogCapture capture;
    gguf_init_params params{/*no_alloc=*/true, /*ctx=*/nullptr};
    GgufPtr g(gguf_init_from_file(path.c_str(), params));
    if (!g) {
        return data_loss(fmt::format(
            "'{}' is a corrupt or truncated GGUF file ({}): fetch it again (resident models pull)",
            path, capture.text().empty() ? "unreadable header" : capture.text()));
    }
    const uint64_t data_offset = gguf_get_data_offset(g.get());
    const int64_t n_tensors = gguf_get_n_tensors(g.get());
    for (int64_t i = 0; i < n_tensors; ++i) {
        const uint64_t size = gguf_get_tensor_size(g.get(), i);
        const uint64_t end = data_offset + gguf_get_tensor_offset(g.get(), i) + size;
        if (end > file_size) {
            return data_loss(fmt::format(
                "'{}' is truncated: tensor '{}' ends at byte {} but the file has {} bytes; fetch "
                "it again (resident models pull)",
                path, gguf_get_tensor_name(g.get(), i), end, file_size));
        }
        summary.tensor_bytes += size;
        const ggml_type type = gguf_get_tensor_type(g.get(), i);
        const char* name = gguf_get_tensor_name(g.get(), i);
        const int64_t* ne = gguf_get_tensor_ne(g.get(), i);
        if (std::strcmp(name, "output.weight") == 0) summary.has_output = true;
        const bool amx = amx_comes_first() && amx_takes(type, ne);
        if ((amx || is_repackable(type)) && std::strcmp(name, "token_embd.weight") != 0) {
            summary.repackable_bytes += size;
        }
        const bool risk = !amx && cpu_repack_type(type);
        if (std::strcmp(name, "token_embd.weight") == 0) {
            summary.token_embd_amx_bytes = amx ? size : 0;
            summary.token_embd_risk = risk;
        } else {
            summary.amx_bytes += amx ? size : 0;
            summary.repack_risk = summary.repack_risk || risk;
        }
        uint64_t elements = 1;
        for (int d = 0; d < GGML_MAX_DIMS; ++d) elements *= static_cast<uint64_t>(ne[d]);
        summary.n_params += elements;
    }
    return g;
}

}  // namespace

std::vector<std::string> split_part_paths(const std::string& first, int32_t split_count) {
    std::vector<std::string> parts{first};
    std::vector<char> prefix(first.size() + 1);
    if (split_count <= 1 ||
        llama_split_prefix(prefix.data(), prefix.size(), first.c_str(), 0, split_count) <= 0) {
        return parts;
    }
    for (int i = 1; i < split_count; ++i) {
        std::vector<char> part(first.size() + 32);
        llama_split_path(part.data(), part.size(), prefix.data(), i, split_count);
        parts.emplace_back(part.data());
    }
    return parts;
}

Result<ModelInfo> inspect_gguf(const std::string& path) {
    PartSummary summary;
    RESIDENT_ASSIGN_OR_RETURN(GgufPtr g, open_part(path, summary));
    const gguf_context* meta = g.get();

    ModelInfo info;
    info.path = path;
    std::error_code ec;
    info.file_bytes = fs::file_size(path, ec);

    const int64_t split_count = get_int(meta, "split.count").value_or(1);
    if (split_count > 1) {
        if (get_int(meta, "split.no").value_or(0) != 0) {
            return invalid_argument(
                fmt::format("'{}' is a later part of a split model: give the first part "
                            "(…-00001-of-{:05d}.gguf)",
                            path, split_count));
        }
        std::vector<char> prefix(path.size() + 1);
        if (llama_split_prefix(prefix.data(), prefix.size(), path.c_str(), 0,
                               static_cast<int>(split_count)) <= 0) {
            return invalid_argument(
                fmt::format("'{}' is the first of {} split parts but is not named like one "
                            "(NAME-00001-of-{:05d}.gguf): keep the names gguf-split gave the parts",
                            path, split_count, split_count));
        }
        const auto parts = split_part_paths(path, static_cast<int32_t>(split_count));
        for (size_t i = 1; i < parts.size(); ++i) {
            RESIDENT_ASSIGN_OR_RETURN(GgufPtr other, open_part(parts[i], summary));
            info.file_bytes += fs::file_size(parts[i], ec);
        }
        info.split_count = static_cast<int32_t>(split_count);
    }

    info.architecture = get_string(meta, "general.architecture");
    if (info.architecture.empty()) {
        return data_loss(fmt::format(
            "'{}' has no general.architecture: it is not a llama.cpp language model", path));
    }
    info.name = get_string(meta, "general.name");
    if (auto ft = get_int(meta, "general.file_type")) {
        info.quantization = llama_ftype_name(static_cast<llama_ftype>(*ft));
    }
    const std::string& a = info.architecture;
    auto arch_int = [&](const char* key) {
        return static_cast<int32_t>(get_int(meta, a + "." + key).value_or(0));
    };
    info.n_ctx_train = arch_int("context_length");
    info.n_embd = arch_int("embedding_length");
    info.n_layer = arch_int("block_count");
    info.n_head = arch_int("attention.head_count");
    info.n_head_kv = arch_int("attention.head_count_kv");
    if (info.n_head_kv == 0) info.n_head_kv = info.n_head;
    const int32_t head_dim = info.n_head > 0 ? info.n_embd / info.n_head : 0;
    info.head_dim_k = arch_int("attention.key_length");
    info.head_dim_v = arch_int("attention.value_length");
    if (info.head_dim_k == 0) info.head_dim_k = head_dim;
    if (info.head_dim_v == 0) info.head_dim_v = head_dim;
    info.n_vocab = static_cast<int32_t>(array_length(meta, "tokenizer.ggml.tokens"));
    info.chat_template = get_string(meta, "tokenizer.chat_template");
    info.n_params = summary.n_params;
    info.tensor_bytes = summary.tensor_bytes;
    info.repackable_bytes = summary.repackable_bytes;
    // The invariant mode repacks only where the CPU variant's preferred
    // repacking buffer is AMX and no matrix would fall through to CPU_REPACK
    // (whose sums depend on the batch). Without an output matrix, token_embd
    // is also the output matrix (a copy AMX takes).
    const bool tied = !summary.has_output;
    const bool risk = summary.repack_risk || (tied && summary.token_embd_risk);
    if (amx_comes_first() && !risk) {
        info.invariant_repackable_bytes =
            summary.amx_bytes + (tied ? summary.token_embd_amx_bytes : 0);
    }
    return info;
}

}  // namespace resident::internal::llama
