// GGUF header inspection (src/engines/llama/gguf_inspect.cpp) over any bytes:
// an error Status is fine, a crash or a sanitizer report is a bug.
#include "fuzz_file.h"
#include "resident/model.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string path = resident::fuzz::as_file(data, size);
    auto info = resident::inspect_model(path);
    if (info.is_ok()) {
        resident::ModelSpec spec;
        spec.source = path;
        (void)resident::estimate_memory(*info, spec);
    }
    return 0;
}
