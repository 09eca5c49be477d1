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
            // Per-layer values (some architectures): the largest one. The
            // element type is checked before the data is asked for: ggml
            // aborts on the data of a string array.
            const gguf_type type = gguf_get_arr_type(g, id);
            if (type != GGUF_TYPE_UINT32 && type != GGUF_TYPE_INT32) return std::nullopt;
            const size_t n = gguf_get_arr_n(g, id);
            const void* data = gguf_get_arr_data(g, id);
            std::optional<int64_t> best;
            for (size_t i = 0; i < n; ++i) {
                const int64_t v = type == GGUF_TYPE_UINT32 ? static_cast<const uint32_t*>(data)[i]
                                                           : static_cast<const int32_t*>(data)[i];
                best = std::max(best.value_or(v), v);
            }
            return best;
        }
        default:
            return std::nullopt;
    }
}

// What a key holds, for errors: "string", "array of string", ...
std::string type_text(const gguf_context* g, int64_t id) {
    const gguf_type type = gguf_get_kv_type(g, id);
    if (type != GGUF_TYPE_ARRAY) return gguf_type_name(type);
    return fmt::format("array of {}", gguf_type_name(gguf_get_arr_type(g, id)));
}

Status wrong_type(const gguf_context* g, const std::string& path, const std::string& key,
                  std::string_view wanted) {
    const int64_t id = gguf_find_key(g, key.c_str());
    return data_loss(fmt::format(
        "'{}' is a damaged GGUF file: its metadata key '{}' holds {} where {} belongs; convert "
        "or fetch the model again",
        path, key, type_text(g, id), wanted));
}

// An integer key Resident reads: absent is nullopt; present, it must be an
// integer (or an array of 32-bit integers: per-layer values) within
// [min, max], else the file is refused with the key named.
Result<std::optional<int64_t>> read_int(const gguf_context* g, const std::string& path,
                                        const std::string& key, int64_t min = 0,
                                        int64_t max = INT32_MAX) {
    if (gguf_find_key(g, key.c_str()) < 0) return std::optional<int64_t>();
    const std::optional<int64_t> v = get_int(g, key);
    if (!v) return wrong_type(g, path, key, "an integer");
    if (*v < min || *v > max) {
        return data_loss(fmt::format(
            "'{}' is a damaged GGUF file: its metadata key '{}' is {}, outside [{}, {}]; convert "
            "or fetch the model again",
            path, key, *v, min, max));
    }
    return v;
}

// A string key Resident reads: absent is "", any other type is refused.
Result<std::string> read_string(const gguf_context* g, const std::string& path,
                                const std::string& key) {
    const int64_t id = gguf_find_key(g, key.c_str());
    if (id < 0) return std::string();
    if (gguf_get_kv_type(g, id) != GGUF_TYPE_STRING) return wrong_type(g, path, key, "a string");
    return std::string(gguf_get_val_str(g, id));
}

// The length of a string array (the vocabulary): absent is 0.
Result<int64_t> read_string_array_length(const gguf_context* g, const std::string& path,
                                         const std::string& key) {
    const int64_t id = gguf_find_key(g, key.c_str());
    if (id < 0) return int64_t{0};
    if (gguf_get_kv_type(g, id) != GGUF_TYPE_ARRAY ||
        gguf_get_arr_type(g, id) != GGUF_TYPE_STRING) {
        return wrong_type(g, path, key, "an array of strings");
    }
    const size_t n = gguf_get_arr_n(g, id);
    if (n > static_cast<size_t>(INT32_MAX)) {
        return data_loss(
            fmt::format("'{}' is a damaged GGUF file: '{}' has {} entries", path, key, n));
    }
    return static_cast<int64_t>(n);
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

    // llama.cpp reads split.count and split.no as 16-bit (a later part's
    // split.no without checking its type).
    RESIDENT_ASSIGN_OR_RETURN(const auto split_key, read_int(meta, path, "split.count", 0, 65535));
    const int64_t split_count = split_key.value_or(1);
    if (split_count > 1) {
        RESIDENT_ASSIGN_OR_RETURN(const auto split_no, read_int(meta, path, "split.no", 0, 65535));
        if (split_no.value_or(0) != 0) {
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
            std::error_code exists_ec;
            if (!fs::exists(parts[i], exists_ec)) {
                return not_found(fmt::format(
                    "'{}' is the first of {} parts of a split model, but part {} ('{}') is "
                    "missing: put every part beside the first, with the names gguf-split gave "
                    "them",
                    path, split_count, i + 1, parts[i]));
            }
            RESIDENT_ASSIGN_OR_RETURN(GgufPtr other, open_part(parts[i], summary));
            const int64_t no = gguf_find_key(other.get(), "split.no");
            if (no < 0 || gguf_get_kv_type(other.get(), no) != GGUF_TYPE_UINT16 ||
                gguf_get_val_u16(other.get(), no) != i) {
                return data_loss(fmt::format(
                    "'{}' is not part {} of the split model '{}' (its split.no is {}): keep the "
                    "parts gguf-split wrote together, or fetch them again",
                    parts[i], i + 1, path,
                    no < 0 ? "missing"
                    : gguf_get_kv_type(other.get(), no) == GGUF_TYPE_UINT16
                        ? std::to_string(gguf_get_val_u16(other.get(), no))
                        : "a " + type_text(other.get(), no)));
            }
            info.file_bytes += fs::file_size(parts[i], ec);
        }
        info.split_count = static_cast<int32_t>(split_count);
    }

    RESIDENT_ASSIGN_OR_RETURN(info.architecture, read_string(meta, path, "general.architecture"));
    if (info.architecture.empty()) {
        return data_loss(fmt::format(
            "'{}' has no general.architecture: it is not a llama.cpp language model", path));
    }
    RESIDENT_ASSIGN_OR_RETURN(info.name, read_string(meta, path, "general.name"));
    RESIDENT_ASSIGN_OR_RETURN(const auto ft, read_int(meta, path, "general.file_type"));
    if (ft) info.quantization = llama_ftype_name(static_cast<llama_ftype>(*ft));
    const std::string& a = info.architecture;
    // Each architecture key as a non-negative 32-bit count (0 when absent).
    struct ArchKey {
        const char* key;
        int32_t* out;
    };
    const ArchKey arch_keys[] = {
        {"context_length", &info.n_ctx_train},
        {"embedding_length", &info.n_embd},
        {"block_count", &info.n_layer},
        {"attention.head_count", &info.n_head},
        {"attention.head_count_kv", &info.n_head_kv},
        {"attention.key_length", &info.head_dim_k},
        {"attention.value_length", &info.head_dim_v},
    };
    for (const ArchKey& k : arch_keys) {
        RESIDENT_ASSIGN_OR_RETURN(const auto v, read_int(meta, path, a + "." + k.key));
        *k.out = static_cast<int32_t>(v.value_or(0));
    }
    if (info.n_head_kv == 0) info.n_head_kv = info.n_head;
    if (info.n_head_kv > info.n_head) {
        // Attention groups share key/value heads; more of those than query
        // heads is no model (and sizes its memory estimate absurdly).
        return data_loss(
            fmt::format("'{}' is a damaged GGUF file: {}.attention.head_count_kv ({}) exceeds "
                        "{}.attention.head_count ({}); convert or fetch the model again",
                        path, a, info.n_head_kv, a, info.n_head));
    }
    const int32_t head_dim = info.n_head > 0 ? info.n_embd / info.n_head : 0;
    if (info.head_dim_k == 0) info.head_dim_k = head_dim;
    if (info.head_dim_v == 0) info.head_dim_v = head_dim;
    RESIDENT_ASSIGN_OR_RETURN(const int64_t n_vocab,
                              read_string_array_length(meta, path, "tokenizer.ggml.tokens"));
    info.n_vocab = static_cast<int32_t>(n_vocab);
    RESIDENT_ASSIGN_OR_RETURN(info.chat_template,
                              read_string(meta, path, "tokenizer.chat_template"));
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
