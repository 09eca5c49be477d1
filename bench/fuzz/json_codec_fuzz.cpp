// The JNI layer's JSON codec (src/jni/json_codec.cpp) over any bytes: specs
// and requests as the JVM sends them; a crash or a sanitizer report is a bug.
#include <string_view>

#include "jni/json_codec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace resident::internal::jni;
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    auto j = parse_json(text, "fuzz input");
    if (!j.is_ok()) return 0;
    (void)spec_from_json(*j);
    if (auto r = request_from_json(*j); r.is_ok()) (void)r->validate();
    if (j->is_array()) {
        for (const auto& e : *j) (void)request_from_json(e);
    }
    return 0;
}
