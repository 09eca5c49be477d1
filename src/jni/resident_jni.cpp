// The JNI shim of dev.resident.internal.NativeBridge: the only file that
// includes jni.h. Every entry point runs its body inside `guarded`, which
// turns a failed Status or any C++ exception into a Java ResidentException,
// so nothing native ever unwinds into the JVM or aborts it.
//
// Documents cross as UTF-8 JSON in byte arrays (json_codec.h); handles cross
// as jlong pointers to the small structs below, which the Java side frees
// exactly once (its AutoCloseable wrappers and Cleaners guarantee that), and
// only after every Java call that holds the pointer has returned
// (dev.resident.internal.NativeHandle pins it around each call). Each struct
// also counts the calls inside it (Gate), so that a close waits for them to
// leave before it frees anything, whoever calls it.
#include <fmt/format.h>
#include <jni.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

#include "core/crash_report.h"
#include "jni/json_codec.h"
#include "resident/memory.h"
#include "resident/memory_budget.h"
#include "resident/registry.h"
#include "resident/system_info.h"
#include "resident/version.h"

namespace resident::internal::jni {
namespace {

constexpr const char* kExceptionClass = "dev/resident/ResidentException";

// The JNI calls inside one handle. A close first refuses new calls, then
// stops what the calls inside wait for (an engine's shutdown), then waits for
// them to leave, and only then frees the handle. Thread-safe.
class Gate {
   public:
    ~Gate() { magic_ = kFreed; }
    // False once closed: the call must not touch the handle. A pointer that
    // was never a handle (or one freed already) aborts loudly here, in
    // Resident's code, where the crash report names it.
    bool enter() {
        if (magic_ != kLive) {
            std::fprintf(stderr,
                         "[resident] fatal: a JNI call got a handle that is not live (%s)\n",
                         magic_ == kFreed ? "freed" : "never made");
            std::abort();
        }
        std::lock_guard lock(mu_);
        if (closed_) return false;
        ++calls_;
        return true;
    }
    void leave() {
        std::lock_guard lock(mu_);
        if (--calls_ == 0) left_.notify_all();
    }
    // Refuses every later call.
    void close() {
        std::lock_guard lock(mu_);
        closed_ = true;
    }
    // Waits until no call is inside.
    void drain() {
        std::unique_lock lock(mu_);
        left_.wait(lock, [&] { return calls_ == 0; });
    }

   private:
    static constexpr uint64_t kLive = 0x7265736964656e74;   // "resident"
    static constexpr uint64_t kFreed = 0x6465616468616e64;  // "deadhand"
    volatile uint64_t magic_ = kLive;  // first: read before anything else of the handle
    std::mutex mu_;
    std::condition_variable left_;
    int64_t calls_ = 0;    // guarded by mu_
    bool closed_ = false;  // guarded by mu_
};

// A model held from the JVM. `own` is set for a private load (the
// per-partition strategy): that copy is freed with the last reference,
// instead of staying resident in the process-wide registry.
struct ModelRef {
    Gate gate;
    std::unique_ptr<Registry> own;
    ModelHandle model;
};

// A predictor or batch engine held from the JVM, with the model it serves
// (the handle keeps the weights alive while it lives).
template <typename T>
struct ServingRef {
    Gate gate;
    ModelHandle model;
    std::unique_ptr<T> serving;
};
using PredictorRef = ServingRef<Predictor>;
using EngineRef = ServingRef<BatchEngine>;
using ClassifierRef = ServingRef<Classifier>;
using ClassifyEngineRef = ServingRef<ClassifyEngine>;

// Raised inside a guarded body to leave it with a Status.
struct StatusError {
    Status status;
};

template <typename T>
T value_or_throw(Result<T> r) {
    if (!r.is_ok()) throw StatusError{r.status()};
    return std::move(r).value();
}

void throw_java(JNIEnv* env, std::string_view code, std::string_view message) {
    if (env->ExceptionCheck()) return;  // one pending exception is enough
    jclass cls = env->FindClass(kExceptionClass);
    if (cls == nullptr) return;  // NoClassDefFoundError is pending
    jmethodID ctor = env->GetMethodID(cls, "<init>", "(Ljava/lang/String;[B)V");
    if (ctor == nullptr) return;
    jstring jcode = env->NewStringUTF(std::string(code).c_str());
    jbyteArray jmsg = env->NewByteArray(static_cast<jsize>(message.size()));
    if (jcode == nullptr || jmsg == nullptr) return;  // OutOfMemoryError is pending
    env->SetByteArrayRegion(jmsg, 0, static_cast<jsize>(message.size()),
                            reinterpret_cast<const jbyte*>(message.data()));
    auto ex = static_cast<jthrowable>(env->NewObject(cls, ctor, jcode, jmsg));
    if (ex != nullptr) env->Throw(ex);
}

// Runs `body`; on any failure throws the Java exception and returns `fallback`
// (which the JVM ignores, as an exception is pending).
template <typename R, typename F>
R guarded(JNIEnv* env, R fallback, F&& body) {
    try {
        return body();
    } catch (const StatusError& e) {
        throw_java(env, status_code_name(e.status.code()), e.status.message());
    } catch (const std::bad_alloc&) {
        throw_java(env, "resource_exhausted", "native code ran out of memory");
    } catch (const std::exception& e) {
        throw_java(env, "internal", fmt::format("native code failed: {}", e.what()));
    } catch (...) {
        throw_java(env, "internal", "native code failed with an unknown exception");
    }
    return fallback;
}

std::string bytes_of(JNIEnv* env, jbyteArray array, std::string_view what) {
    if (array == nullptr) throw StatusError{invalid_argument(fmt::format("{} is null", what))};
    const jsize n = env->GetArrayLength(array);
    std::string out(static_cast<size_t>(n), '\0');
    env->GetByteArrayRegion(array, 0, n, reinterpret_cast<jbyte*>(out.data()));
    return out;
}

jbyteArray to_bytes(JNIEnv* env, const json& j) {
    // Replace, not throw, on invalid UTF-8: text from the model is already
    // valid, and a diagnostic string must never fail to cross.
    const std::string s = j.dump(-1, ' ', false, json::error_handler_t::replace);
    jbyteArray out = env->NewByteArray(static_cast<jsize>(s.size()));
    if (out == nullptr) throw std::bad_alloc();
    env->SetByteArrayRegion(out, 0, static_cast<jsize>(s.size()),
                            reinterpret_cast<const jbyte*>(s.data()));
    return out;
}

json json_arg(JNIEnv* env, jbyteArray array, std::string_view what) {
    return value_or_throw(parse_json(bytes_of(env, array, what), what));
}

ModelSpec spec_arg(JNIEnv* env, jbyteArray array) {
    return value_or_throw(spec_from_json(json_arg(env, array, "model spec")));
}

Status closed_error(std::string_view what) {
    return failed_precondition(fmt::format("the {} is closed", what));
}

// The handle of one call, counted inside its gate until the call returns.
template <typename T>
class Pinned {
   public:
    Pinned(jlong handle, std::string_view what) : ref_(reinterpret_cast<T*>(handle)) {
        if (ref_ == nullptr || !ref_->gate.enter()) throw StatusError{closed_error(what)};
    }
    ~Pinned() { ref_->gate.leave(); }
    Pinned(const Pinned&) = delete;
    Pinned& operator=(const Pinned&) = delete;
    T& operator*() const { return *ref_; }
    T* operator->() const { return ref_; }

   private:
    T* ref_;
};

// Frees a handle (once: the Java side closes each exactly once) when no call
// is inside it; `stop`, run after new calls are refused and before the wait,
// makes the calls inside return soon.
template <typename T, typename Stop>
void close_ref(jlong handle, Stop stop) {
    auto* r = reinterpret_cast<T*>(handle);
    if (r == nullptr) return;
    r->gate.close();
    stop(*r);
    r->gate.drain();
    delete r;
}
template <typename T>
void close_ref(jlong handle) {
    close_ref<T>(handle, [](T&) {});
}

// A new predictor or engine over the model of `model_handle`, made by `make`
// from the model and the spec; returns its handle.
template <typename T, typename Make>
jlong create_serving(JNIEnv* env, jlong model_handle, jbyteArray spec_json, Make make) {
    return guarded<jlong>(env, 0, [&] {
        Pinned<ModelRef> model(model_handle, "model");
        const ModelSpec spec = spec_arg(env, spec_json);
        auto r = std::make_unique<ServingRef<T>>();
        r->model = model->model;
        r->serving = value_or_throw(make(*r->model, spec));
        return reinterpret_cast<jlong>(r.release());
    });
}

json result_json(const Result<Generation>& r) {
    if (r.is_ok()) return to_json(*r);
    return {{"error", to_json(r.status())}};
}

// Requests the JVM submitted without waiting, named by tickets the JVM picks:
// their cancel tokens while they run, and their outcomes until the JVM's
// completion thread takes them. Process-wide and never destroyed, so an
// engine thread can complete a ticket at any time, even at exit.
class Tickets {
   public:
    // A cancel token for `ticket`, live until the ticket completes or is
    // forgotten: the one an earlier open() made (a cancel since then has
    // already reached it), else a new one.
    std::shared_ptr<CancelToken> open(int64_t ticket) {
        std::lock_guard lock(mu_);
        auto& token = live_[ticket];
        if (token == nullptr) token = std::make_shared<CancelToken>();
        return token;
    }
    // Whether `ticket` is live (opened, not yet completed or forgotten).
    bool is_open(int64_t ticket) {
        std::lock_guard lock(mu_);
        return live_.count(ticket) != 0;
    }
    void forget(int64_t ticket) {
        std::lock_guard lock(mu_);
        live_.erase(ticket);
    }
    // Called on engine threads: must be quick.
    void complete(int64_t ticket, const Result<Generation>& r) {
        json entry = {{"ticket", ticket}, {"result", result_json(r)}};
        std::lock_guard lock(mu_);
        live_.erase(ticket);
        done_.push_back(std::move(entry));
        ready_.notify_one();
    }
    void cancel(int64_t ticket) {
        std::lock_guard lock(mu_);
        if (auto it = live_.find(ticket); it != live_.end()) it->second->cancel();
    }
    // The outcomes completed since the last call, waiting up to `wait` for
    // the first one.
    json take(std::chrono::milliseconds wait) {
        std::unique_lock lock(mu_);
        ready_.wait_for(lock, wait, [&] { return !done_.empty(); });
        json out = std::move(done_);
        done_ = json::array();
        return out;
    }

   private:
    std::mutex mu_;
    std::condition_variable ready_;
    std::unordered_map<int64_t, std::shared_ptr<CancelToken>> live_;  // guarded by mu_
    json done_ = json::array();                                       // guarded by mu_
};

Tickets& tickets() {
    static auto* t = new Tickets();  // leaked on purpose: engine threads may outlive statics
    return *t;
}

// Registers a synchronous call's ticket for cancellation while it runs. A
// ticket the caller opened first (openTicket, so that no cancel can come
// before it is registered) stays open for the caller to close; one opened
// here is forgotten on return.
class TicketScope {
   public:
    TicketScope(int64_t ticket, GenerationRequest& request)
        : ticket_(ticket), owned_(ticket != 0 && !tickets().is_open(ticket)) {
        if (ticket_ != 0) request.cancel = tickets().open(ticket_);
    }
    ~TicketScope() {
        if (owned_) tickets().forget(ticket_);
    }
    TicketScope(const TicketScope&) = delete;
    TicketScope& operator=(const TicketScope&) = delete;

   private:
    int64_t ticket_;
    bool owned_;
};

// The images of one call: `images[i]` encoded, or decoded pixels when
// `shapes` (width, height, channels per image; may be null) says so.
std::vector<ImageRequest> image_requests(JNIEnv* env, jobjectArray images, jintArray shapes,
                                         jint top_k) {
    if (images == nullptr) throw StatusError{invalid_argument("the images are null")};
    const jsize n = env->GetArrayLength(images);
    std::vector<jint> dims;
    if (shapes != nullptr) {
        if (env->GetArrayLength(shapes) != 3 * n) {
            throw StatusError{invalid_argument("shapes must hold 3 ints per image")};
        }
        dims.resize(static_cast<size_t>(3 * n));
        env->GetIntArrayRegion(shapes, 0, 3 * n, dims.data());
    }
    std::vector<ImageRequest> out(static_cast<size_t>(n));
    for (jsize i = 0; i < n; ++i) {
        auto a = static_cast<jbyteArray>(env->GetObjectArrayElement(images, i));
        ImageRequest& r = out[static_cast<size_t>(i)];
        if (a != nullptr) {
            r.bytes = bytes_of(env, a, "image");
            env->DeleteLocalRef(a);
        }
        r.top_k = top_k;
        if (!dims.empty()) {
            r.width = dims[static_cast<size_t>(3 * i)];
            r.height = dims[static_cast<size_t>(3 * i + 1)];
            r.channels = dims[static_cast<size_t>(3 * i + 2)];
        }
    }
    return out;
}

json classification_json(const Result<Classification>& r) {
    if (!r.is_ok()) return {{"error", to_json(r.status())}};
    json top = json::array();
    for (const ClassScore& c : r->top) {
        top.push_back({{"index", c.index}, {"label", c.label}, {"score", c.score}});
    }
    return {{"top", std::move(top)}, {"width", r->width}, {"height", r->height}};
}

// The process's counters, without the per-model list: what a Spark task
// reads at its start and end (cheap: no model is visited).
json process_counters() {
    Registry& registry = Registry::global();
    const LoadCounters process = process_load_counters();
    const BudgetInfo budget = memory_budget();
    // The CPU variant whose kernels produced this process's rows (a row's
    // text can differ between variants: docs/determinism.md); fixed per process.
    static const std::string cpu_variant = [] {
        const auto system = system_info();
        return system.is_ok() ? system->cpu_variant : std::string();
    }();
    return {{"cpu_variant", cpu_variant},
            {"loads", registry.total_loads()},
            {"load_seconds", registry.total_load_seconds()},
            {"evictions", registry.total_evictions()},
            {"budget_bytes", budget.limit},
            {"budget_source", budget.source},
            {"budget_used_bytes", budget.used},
            {"budget_peak_bytes", budget.peak},
            {"process_loads", process.loads},
            {"process_load_seconds", process.seconds},
            {"peak_rss_bytes", peak_rss_bytes()},
            {"rss_bytes", current_rss_bytes()}};
}

}  // namespace
}  // namespace resident::internal::jni

using namespace resident;
using namespace resident::internal::jni;

extern "C" {

// Inside a JVM the crash line claims only faults in Resident's, llama's and
// ggml's code: the JVM raises SIGSEGV on purpose (null checks, safepoints)
// and handles those itself, after this handler hands them on.
JNIEXPORT jint JNICALL JNI_OnLoad(JavaVM*, void*) {
    internal::install_crash_report(/*in_jvm=*/true);
    return JNI_VERSION_1_8;
}

JNIEXPORT jbyteArray JNICALL Java_dev_resident_internal_NativeBridge_systemInfo(JNIEnv* env,
                                                                                jclass) {
    return guarded<jbyteArray>(env, nullptr, [&] {
        const SystemInfo info = value_or_throw(system_info());
        return to_bytes(env, json::parse(info.to_json()));
    });
}

JNIEXPORT jbyteArray JNICALL Java_dev_resident_internal_NativeBridge_version(JNIEnv* env, jclass) {
    return guarded<jbyteArray>(env, nullptr, [&] {
        return to_bytes(env, {{"resident", RESIDENT_VERSION},
                              {"llama_cpp", RESIDENT_LLAMA_CPP_VERSION},
                              {"llama_cpp_commit", RESIDENT_LLAMA_CPP_COMMIT}});
    });
}

JNIEXPORT jbyteArray JNICALL Java_dev_resident_internal_NativeBridge_contract(JNIEnv* env, jclass) {
    return guarded<jbyteArray>(env, nullptr, [&] { return to_bytes(env, contract_json()); });
}

// A strategy's canonical name (aliases read as the names they stand for).
JNIEXPORT jbyteArray JNICALL Java_dev_resident_internal_NativeBridge_strategyName(JNIEnv* env,
                                                                                  jclass,
                                                                                  jbyteArray name) {
    return guarded<jbyteArray>(env, nullptr, [&] {
        const Strategy s = value_or_throw(parse_strategy(bytes_of(env, name, "strategy")));
        return to_bytes(env, json(strategy_name(s)));
    });
}

JNIEXPORT jlong JNICALL Java_dev_resident_internal_NativeBridge_acquire(JNIEnv* env, jclass,
                                                                        jbyteArray spec_json) {
    return guarded<jlong>(env, 0, [&] {
        const ModelSpec spec = spec_arg(env, spec_json);
        auto ref = std::make_unique<ModelRef>();
        ref->model = value_or_throw(Registry::global().acquire(spec));
        return reinterpret_cast<jlong>(ref.release());
    });
}

JNIEXPORT jlong JNICALL Java_dev_resident_internal_NativeBridge_loadPrivate(JNIEnv* env, jclass,
                                                                            jbyteArray spec_json) {
    return guarded<jlong>(env, 0, [&] {
        const ModelSpec spec = spec_arg(env, spec_json);
        auto ref = std::make_unique<ModelRef>();
        ref->own = std::make_unique<Registry>();
        ref->model = value_or_throw(ref->own->acquire(spec));
        return reinterpret_cast<jlong>(ref.release());
    });
}

JNIEXPORT void JNICALL Java_dev_resident_internal_NativeBridge_releaseModel(JNIEnv* env, jclass,
                                                                            jlong handle) {
    guarded<int>(env, 0, [&] {
        close_ref<ModelRef>(handle);
        return 0;
    });
}

JNIEXPORT jbyteArray JNICALL Java_dev_resident_internal_NativeBridge_modelInfo(
    JNIEnv* env, jclass, jlong handle, jbyteArray spec_json) {
    return guarded<jbyteArray>(env, nullptr, [&] {
        Pinned<ModelRef> ref(handle, "model");
        const Model& model = *ref->model;
        const ModelSpec spec = spec_arg(env, spec_json);
        const int32_t sequences = spec.parallel;
        return to_bytes(env, {{"info", to_json(model.info())},
                              {"memory", to_json(estimate_memory(model.info(), spec), sequences)},
                              {"load_seconds", model.load_seconds()},
                              {"loaded_bytes", model.loaded_bytes()}});
    });
}

JNIEXPORT jbyteArray JNICALL Java_dev_resident_internal_NativeBridge_inspect(JNIEnv* env, jclass,
                                                                             jbyteArray spec_json) {
    return guarded<jbyteArray>(env, nullptr, [&] {
        const ModelSpec spec = spec_arg(env, spec_json);
        Registry& registry = Registry::global();
        const std::string path =
            value_or_throw(registry.cache().resolve(spec.source, registry.catalog()));
        const ModelInfo info = value_or_throw(inspect_model(path, spec.engine));
        return to_bytes(env, {{"info", to_json(info)},
                              {"memory", to_json(estimate_memory(info, spec), spec.parallel)}});
    });
}

JNIEXPORT jbyteArray JNICALL Java_dev_resident_internal_NativeBridge_resolve(JNIEnv* env, jclass,
                                                                             jbyteArray source) {
    return guarded<jbyteArray>(env, nullptr, [&] {
        Registry& registry = Registry::global();
        const std::string path = value_or_throw(
            registry.cache().resolve(bytes_of(env, source, "model source"), registry.catalog()));
        return to_bytes(env, path);
    });
}

JNIEXPORT jbyteArray JNICALL Java_dev_resident_internal_NativeBridge_engineOf(JNIEnv* env, jclass,
                                                                              jbyteArray source) {
    return guarded<jbyteArray>(env, nullptr, [&] {
        return to_bytes(
            env, Registry::global().catalog().engine_of(bytes_of(env, source, "model source")));
    });
}

JNIEXPORT jbyteArray JNICALL Java_dev_resident_internal_NativeBridge_registryStats(JNIEnv* env,
                                                                                   jclass) {
    return guarded<jbyteArray>(env, nullptr, [&] {
        json models = json::array();
        for (const ModelStats& s : Registry::global().stats()) models.push_back(to_json(s));
        json out = process_counters();
        out["models"] = std::move(models);
        return to_bytes(env, out);
    });
}

JNIEXPORT jbyteArray JNICALL Java_dev_resident_internal_NativeBridge_processCounters(JNIEnv* env,
                                                                                     jclass) {
    return guarded<jbyteArray>(env, nullptr, [&] { return to_bytes(env, process_counters()); });
}

JNIEXPORT void JNICALL Java_dev_resident_internal_NativeBridge_shutdown(JNIEnv* env, jclass) {
    guarded<int>(env, 0, [&] {
        Registry::global().shutdown();
        return 0;
    });
}

JNIEXPORT void JNICALL Java_dev_resident_internal_NativeBridge_setMemoryBudget(JNIEnv* env, jclass,
                                                                               jlong bytes,
                                                                               jbyteArray source) {
    guarded<int>(env, 0, [&] {
        if (bytes < 0) throw StatusError{invalid_argument("a memory budget cannot be negative")};
        set_memory_budget(static_cast<uint64_t>(bytes), bytes_of(env, source, "budget source"));
        return 0;
    });
}

JNIEXPORT void JNICALL Java_dev_resident_internal_NativeBridge_evict(JNIEnv* env, jclass,
                                                                     jbyteArray spec_json) {
    guarded<int>(env, 0, [&] {
        const Status st = Registry::global().evict(spec_arg(env, spec_json));
        if (!st.is_ok()) throw StatusError{st};
        return 0;
    });
}

// Checks a spec and a request against the core's rules without loading
// anything: front ends call it before any work (Spark at transform).
JNIEXPORT void JNICALL Java_dev_resident_internal_NativeBridge_validate(JNIEnv* env, jclass,
                                                                        jbyteArray spec_json,
                                                                        jbyteArray request_json) {
    guarded<int>(env, 0, [&] {
        const ModelSpec spec = spec_arg(env, spec_json);  // parsed specs are validated
        if (Status st = Registry::global().catalog().check_engine(spec.source, spec.engine);
            !st.is_ok()) {
            throw StatusError{st};
        }
        if (request_json == nullptr) return 0;  // the spec alone
        auto request = request_from_json(json_arg(env, request_json, "generation request"));
        if (!request.is_ok()) throw StatusError{request.status()};
        if (Status st = request->validate(); !st.is_ok()) throw StatusError{st};
        return 0;
    });
}

JNIEXPORT jlong JNICALL Java_dev_resident_internal_NativeBridge_createPredictor(
    JNIEnv* env, jclass, jlong model_handle, jbyteArray spec_json) {
    return create_serving<Predictor>(
        env, model_handle, spec_json,
        [](const Model& m, const ModelSpec& spec) { return m.create_predictor(spec); });
}

JNIEXPORT jbyteArray JNICALL Java_dev_resident_internal_NativeBridge_predictorGenerate(
    JNIEnv* env, jclass, jlong handle, jbyteArray request_json, jlong ticket) {
    return guarded<jbyteArray>(env, nullptr, [&] {
        Pinned<PredictorRef> ref(handle, "predictor");
        Predictor& predictor = *ref->serving;
        const json j = json_arg(env, request_json, "generation request");
        auto request = request_from_json(j);
        if (!request.is_ok()) return to_bytes(env, result_json(request.status()));
        TicketScope scope(ticket, *request);
        return to_bytes(env, result_json(predictor.generate(*request)));
    });
}

// Waits for a generation in progress to end (the Java side cancels it first).
JNIEXPORT void JNICALL Java_dev_resident_internal_NativeBridge_closePredictor(JNIEnv* env, jclass,
                                                                              jlong handle) {
    guarded<int>(env, 0, [&] {
        close_ref<PredictorRef>(handle);
        return 0;
    });
}

JNIEXPORT jlong JNICALL Java_dev_resident_internal_NativeBridge_createEngine(JNIEnv* env, jclass,
                                                                             jlong model_handle,
                                                                             jbyteArray spec_json) {
    return create_serving<BatchEngine>(
        env, model_handle, spec_json,
        [](const Model& m, const ModelSpec& spec) { return m.create_batch_engine(spec); });
}

// Queues one request under `ticket`; its outcome reaches the JVM through
// takeCompletions. Waits up to `timeout_ms` for room in the engine's queue
// (< 0: as long as it takes); false when the queue stayed full.
JNIEXPORT jboolean JNICALL Java_dev_resident_internal_NativeBridge_engineSubmit(
    JNIEnv* env, jclass, jlong handle, jbyteArray request_json, jlong ticket, jlong timeout_ms) {
    return guarded<jboolean>(env, JNI_FALSE, [&]() -> jboolean {
        Pinned<EngineRef> ref(handle, "batch engine");
        BatchEngine& engine = *ref->serving;
        auto request = request_from_json(json_arg(env, request_json, "generation request"));
        if (!request.is_ok()) {
            tickets().complete(ticket, request.status());
            return JNI_TRUE;
        }
        request->cancel = tickets().open(ticket);
        std::optional<std::chrono::milliseconds> timeout;
        if (timeout_ms >= 0) timeout = std::chrono::milliseconds(timeout_ms);
        const bool queued = engine.enqueue(
            std::move(request).value(),
            [ticket](Result<Generation> r) { tickets().complete(ticket, r); }, timeout);
        if (!queued) tickets().forget(ticket);
        return queued ? JNI_TRUE : JNI_FALSE;
    });
}

// Registers `ticket` before the call that will run under it, so that a
// cancel from another thread can never come before the registration; the
// caller closes it (closeTicket) once that call has returned.
JNIEXPORT void JNICALL Java_dev_resident_internal_NativeBridge_openTicket(JNIEnv* env, jclass,
                                                                          jlong ticket) {
    guarded<int>(env, 0, [&] {
        if (ticket == 0) throw StatusError{invalid_argument("ticket 0 names no call")};
        tickets().open(ticket);
        return 0;
    });
}

JNIEXPORT void JNICALL Java_dev_resident_internal_NativeBridge_closeTicket(JNIEnv* env, jclass,
                                                                           jlong ticket) {
    guarded<int>(env, 0, [&] {
        tickets().forget(ticket);
        return 0;
    });
}

JNIEXPORT void JNICALL Java_dev_resident_internal_NativeBridge_cancel(JNIEnv* env, jclass,
                                                                      jlong ticket) {
    guarded<int>(env, 0, [&] {
        tickets().cancel(ticket);
        return 0;
    });
}

JNIEXPORT jbyteArray JNICALL
Java_dev_resident_internal_NativeBridge_takeCompletions(JNIEnv* env, jclass, jlong wait_ms) {
    return guarded<jbyteArray>(env, nullptr, [&] {
        return to_bytes(env, tickets().take(std::chrono::milliseconds(wait_ms)));
    });
}

JNIEXPORT jbyteArray JNICALL Java_dev_resident_internal_NativeBridge_engineStats(JNIEnv* env,
                                                                                 jclass,
                                                                                 jlong handle) {
    return guarded<jbyteArray>(env, nullptr, [&] {
        Pinned<EngineRef> ref(handle, "batch engine");
        return to_bytes(env, to_json(ref->serving->stats()));
    });
}

// Stops the engine without freeing it: threads waiting for queue room
// return, and every request still queued or running completes as Cancelled.
// The Java side calls it on a busy engine before it waits for its calls.
JNIEXPORT void JNICALL Java_dev_resident_internal_NativeBridge_shutdownEngine(JNIEnv* env, jclass,
                                                                              jlong handle) {
    guarded<int>(env, 0, [&] {
        Pinned<EngineRef> ref(handle, "batch engine");
        ref->serving->shutdown();
        return 0;
    });
}

JNIEXPORT void JNICALL Java_dev_resident_internal_NativeBridge_closeEngine(JNIEnv* env, jclass,
                                                                           jlong handle) {
    guarded<int>(env, 0, [&] {
        // The shutdown wakes the calls inside before the wait for them.
        close_ref<EngineRef>(handle, [](EngineRef& r) { r.serving->shutdown(); });
        return 0;
    });
}

JNIEXPORT jlong JNICALL Java_dev_resident_internal_NativeBridge_createClassifier(
    JNIEnv* env, jclass, jlong model_handle, jbyteArray spec_json) {
    return create_serving<Classifier>(
        env, model_handle, spec_json,
        [](const Model& m, const ModelSpec& spec) { return m.create_classifier(spec); });
}

// Classifies the images on this thread, in batches of the spec's parallel;
// a JSON array with one outcome per image, in order.
JNIEXPORT jbyteArray JNICALL Java_dev_resident_internal_NativeBridge_classify(
    JNIEnv* env, jclass, jlong handle, jobjectArray images, jintArray shapes, jint top_k) {
    return guarded<jbyteArray>(env, nullptr, [&] {
        Pinned<ClassifierRef> ref(handle, "classifier");
        Classifier& c = *ref->serving;
        json out = json::array();
        for (const auto& r : c.classify_all(image_requests(env, images, shapes, top_k))) {
            out.push_back(classification_json(r));
        }
        return to_bytes(env, out);
    });
}

JNIEXPORT void JNICALL Java_dev_resident_internal_NativeBridge_closeClassifier(JNIEnv* env, jclass,
                                                                               jlong handle) {
    guarded<int>(env, 0, [&] {
        close_ref<ClassifierRef>(handle);
        return 0;
    });
}

JNIEXPORT jlong JNICALL Java_dev_resident_internal_NativeBridge_createClassifyEngine(
    JNIEnv* env, jclass, jlong model_handle, jbyteArray spec_json) {
    return create_serving<ClassifyEngine>(
        env, model_handle, spec_json,
        [](const Model& m, const ModelSpec& spec) { return m.create_classify_engine(spec); });
}

// Submits the images to the executor's engine (which batches them with other
// threads' images) and waits for all; one outcome per image, in order.
JNIEXPORT jbyteArray JNICALL Java_dev_resident_internal_NativeBridge_classifyEngineRun(
    JNIEnv* env, jclass, jlong handle, jobjectArray images, jintArray shapes, jint top_k) {
    return guarded<jbyteArray>(env, nullptr, [&] {
        Pinned<ClassifyEngineRef> ref(handle, "classify engine");
        ClassifyEngine& engine = *ref->serving;
        std::vector<std::future<Result<Classification>>> pending;
        for (auto& r : image_requests(env, images, shapes, top_k)) {
            pending.push_back(engine.submit(std::move(r)));
        }
        json out = json::array();
        for (auto& f : pending) out.push_back(classification_json(f.get()));
        return to_bytes(env, out);
    });
}

JNIEXPORT jbyteArray JNICALL
Java_dev_resident_internal_NativeBridge_classifyEngineStats(JNIEnv* env, jclass, jlong handle) {
    return guarded<jbyteArray>(env, nullptr, [&] {
        Pinned<ClassifyEngineRef> ref(handle, "classify engine");
        const ClassifyEngineStats st = ref->serving->stats();
        return to_bytes(env, {{"submitted", st.submitted},
                              {"completed", st.completed},
                              {"failed", st.failed},
                              {"run_calls", st.run_calls},
                              {"max_batch", st.max_batch}});
    });
}

// As shutdownEngine, for a classify engine: waiting images fail as Cancelled.
JNIEXPORT void JNICALL
Java_dev_resident_internal_NativeBridge_shutdownClassifyEngine(JNIEnv* env, jclass, jlong handle) {
    guarded<int>(env, 0, [&] {
        Pinned<ClassifyEngineRef> ref(handle, "classify engine");
        ref->serving->shutdown();
        return 0;
    });
}

JNIEXPORT void JNICALL Java_dev_resident_internal_NativeBridge_closeClassifyEngine(JNIEnv* env,
                                                                                   jclass,
                                                                                   jlong handle) {
    guarded<int>(env, 0, [&] {
        close_ref<ClassifyEngineRef>(handle, [](ClassifyEngineRef& r) { r.serving->shutdown(); });
        return 0;
    });
}

}  // extern "C"
