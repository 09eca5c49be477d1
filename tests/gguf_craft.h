// A structure-aware GGUF (version 3) reader and writer for tests: it reads a
// real model's header into key/value and tensor records, lets a test change
// any value, type, count or offset, and writes a file with valid framing
// around the hostile values, followed by the original tensor data. The
// crafted files reach the code that reads metadata (Resident's and
// llama.cpp's), which byte-level mutation rarely gets past the parser to.
#pragma once

#include <cstdint>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace resident::testing::gguf {

// GGUF value types (the file format's numbering).
enum Type : uint32_t {
    kU8 = 0,
    kI8 = 1,
    kU16 = 2,
    kI16 = 3,
    kU32 = 4,
    kI32 = 5,
    kF32 = 6,
    kBool = 7,
    kString = 8,
    kArray = 9,
    kU64 = 10,
    kI64 = 11,
    kF64 = 12,
};

// One key/value: `raw` holds the value's encoded bytes (after the type).
struct Kv {
    std::string key;
    uint32_t type = kU32;
    std::string raw;
};

struct TensorInfo {
    std::string name;
    std::vector<int64_t> ne;
    uint32_t type = 0;
    uint64_t offset = 0;  // from the start of the data section
};

struct File {
    uint32_t version = 3;
    std::vector<Kv> kvs;
    std::vector<TensorInfo> tensors;
    // Counts written in the header instead of the true ones (lies), when set.
    int64_t n_kv_written = -1;
    int64_t n_tensors_written = -1;
    uint64_t alignment = 32;
    // Where the original tensor data lies: [data_begin, end of source).
    std::string source;
    uint64_t data_begin = 0;

    Kv* find(const std::string& key) {
        for (Kv& kv : kvs)
            if (kv.key == key) return &kv;
        return nullptr;
    }
    // Sets (or adds) a key's type and encoded value.
    void set(const std::string& key, uint32_t type, std::string raw) {
        if (Kv* kv = find(key)) {
            kv->type = type;
            kv->raw = std::move(raw);
        } else {
            kvs.push_back({key, type, std::move(raw)});
        }
    }
    void erase(const std::string& key) {
        for (auto it = kvs.begin(); it != kvs.end(); ++it)
            if (it->key == key) {
                kvs.erase(it);
                return;
            }
    }
};

// Encoders for values.
template <typename T>
std::string pod(T v) {
    std::string out(sizeof v, '\0');
    std::memcpy(out.data(), &v, sizeof v);
    return out;
}
inline std::string str(const std::string& s) { return pod<uint64_t>(s.size()) + s; }
// An array: element type, count (which may lie), then the elements' bytes.
inline std::string array(uint32_t elem_type, uint64_t count, const std::string& elems) {
    return pod<uint32_t>(elem_type) + pod<uint64_t>(count) + elems;
}
inline std::string string_array(const std::vector<std::string>& items) {
    std::string elems;
    for (const auto& s : items) elems += str(s);
    return array(kString, items.size(), elems);
}

namespace detail {

class Reader {
   public:
    explicit Reader(const std::string& path) : in_(path, std::ios::binary) {
        if (!in_) throw std::runtime_error("cannot open " + path);
    }
    std::string bytes(uint64_t n) {
        if (n > (1u << 30)) throw std::runtime_error("implausible length in the source file");
        std::string out(n, '\0');
        if (!in_.read(out.data(), static_cast<std::streamsize>(n)))
            throw std::runtime_error("short read");
        return out;
    }
    template <typename T>
    T pod() {
        T v;
        std::memcpy(&v, bytes(sizeof v).data(), sizeof v);
        return v;
    }
    uint64_t tell() { return static_cast<uint64_t>(in_.tellg()); }

   private:
    std::ifstream in_;
};

inline size_t scalar_size(uint32_t type) {
    switch (type) {
        case kU8:
        case kI8:
        case kBool:
            return 1;
        case kU16:
        case kI16:
            return 2;
        case kU32:
        case kI32:
        case kF32:
            return 4;
        case kU64:
        case kI64:
        case kF64:
            return 8;
        default:
            return 0;
    }
}

// A value's encoded bytes, read as they are.
inline std::string read_value(Reader& r, uint32_t type) {
    if (type == kString) {
        const auto n = r.pod<uint64_t>();
        return gguf::pod<uint64_t>(n) + r.bytes(n);
    }
    if (type == kArray) {
        const auto elem = r.pod<uint32_t>();
        const auto n = r.pod<uint64_t>();
        std::string out = gguf::pod<uint32_t>(elem) + gguf::pod<uint64_t>(n);
        for (uint64_t i = 0; i < n; ++i) out += read_value(r, elem);
        return out;
    }
    const size_t size = scalar_size(type);
    if (size == 0) throw std::runtime_error("unknown value type in the source file");
    return r.bytes(size);
}

}  // namespace detail

// Reads a well-formed GGUF's header (throws on anything else: the source is
// a real model, not a hostile one).
inline File read(const std::string& path) {
    detail::Reader r(path);
    if (r.bytes(4) != "GGUF") throw std::runtime_error(path + " is not a GGUF file");
    File f;
    f.source = path;
    f.version = r.pod<uint32_t>();
    const auto n_tensors = r.pod<uint64_t>();
    const auto n_kv = r.pod<uint64_t>();
    for (uint64_t i = 0; i < n_kv; ++i) {
        Kv kv;
        kv.key = r.bytes(r.pod<uint64_t>());
        kv.type = r.pod<uint32_t>();
        kv.raw = detail::read_value(r, kv.type);
        if (kv.key == "general.alignment") std::memcpy(&f.alignment, kv.raw.data(), 4);
        f.kvs.push_back(std::move(kv));
    }
    for (uint64_t i = 0; i < n_tensors; ++i) {
        TensorInfo t;
        t.name = r.bytes(r.pod<uint64_t>());
        t.ne.resize(r.pod<uint32_t>());
        for (auto& d : t.ne) d = r.pod<int64_t>();
        t.type = r.pod<uint32_t>();
        t.offset = r.pod<uint64_t>();
        f.tensors.push_back(std::move(t));
    }
    const uint64_t end_of_header = r.tell();
    f.data_begin = (end_of_header + f.alignment - 1) / f.alignment * f.alignment;
    return f;
}

// Writes `f`: its header, padding to its alignment, then `data_bytes` of the
// source's tensor data (all of it when negative).
inline void write(const File& f, const std::string& path, int64_t data_bytes = -1) {
    std::string h = "GGUF" + pod<uint32_t>(f.version);
    h += pod<uint64_t>(f.n_tensors_written >= 0 ? static_cast<uint64_t>(f.n_tensors_written)
                                                : f.tensors.size());
    h += pod<uint64_t>(f.n_kv_written >= 0 ? static_cast<uint64_t>(f.n_kv_written) : f.kvs.size());
    for (const Kv& kv : f.kvs) h += str(kv.key) + pod<uint32_t>(kv.type) + kv.raw;
    for (const TensorInfo& t : f.tensors) {
        h += str(t.name) + pod<uint32_t>(static_cast<uint32_t>(t.ne.size()));
        for (int64_t d : t.ne) h += pod<int64_t>(d);
        h += pod<uint32_t>(t.type) + pod<uint64_t>(t.offset);
    }
    const uint64_t align = f.alignment > 0 ? f.alignment : 1;
    h.resize((h.size() + align - 1) / align * align, '\0');
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(h.data(), static_cast<std::streamsize>(h.size()));
    std::ifstream in(f.source, std::ios::binary);
    in.seekg(static_cast<std::streamoff>(f.data_begin));
    std::vector<char> buf(1 << 20);
    uint64_t left = data_bytes < 0 ? UINT64_MAX : static_cast<uint64_t>(data_bytes);
    while (left > 0 && in) {
        in.read(buf.data(), static_cast<std::streamsize>(std::min<uint64_t>(buf.size(), left)));
        const auto got = in.gcount();
        if (got <= 0) break;
        out.write(buf.data(), got);
        left -= static_cast<uint64_t>(got);
    }
}

}  // namespace resident::testing::gguf
