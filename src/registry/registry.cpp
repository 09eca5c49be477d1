#include "resident/registry.h"

#include <cstdlib>
#include <filesystem>
#include <future>
#include <map>
#include <mutex>

#include "core/log.h"
#include "engines/engines.h"
#include "fmt/format.h"
#include "resident/memory.h"
#include "resident/memory_budget.h"

namespace resident {

namespace {
using LoadResult = Result<std::shared_ptr<const Model>>;
}  // namespace

struct Registry::Impl {
    struct Entry {
        std::string path;
        std::shared_ptr<const Model> model;  // the registry's reference; null when not loaded
        // Set while a load is in flight; every concurrent acquire waits on it.
        std::shared_future<LoadResult> loading;
        int64_t loads = 0;
        int64_t failed_loads = 0;
        int64_t evictions = 0;
        double load_seconds = 0;
        std::chrono::system_clock::time_point last_use{};
    };

    explicit Impl(RegistryOptions o) : options(std::move(o)), cache(options.cache) {}

    // Frees the least recently used model no handle holds (the budget asks
    // when a claim does not fit). Returns whether one was freed.
    bool evict_lru(uint64_t missing) {
        std::shared_ptr<const Model> freed;
        {
            std::lock_guard lock(mu);
            Entry* lru = nullptr;
            for (auto& [key, e] : entries) {
                if (e.model && e.model.use_count() == 1 && (!lru || e.last_use < lru->last_use)) {
                    lru = &e;
                }
            }
            if (!lru) return false;
            ++lru->evictions;
            freed = std::move(lru->model);
        }
        event(
            fmt::format("evicted {} (least recently used, idle; the memory budget needed {} "
                        "more)",
                        freed->info().path, format_bytes(missing)));
        return true;
    }

    void event(const std::string& line) {
        if (options.on_event) {
            options.on_event(line);
        } else {
            internal::logger().info("{}", line);
        }
    }

    RegistryOptions options;
    ModelCache cache;
    Result<Catalog> catalog = Catalog::load_default();
    mutable std::mutex mu;
    std::map<std::string, Entry> entries;  // guarded by mu

    // Lets the process budget call evict_lru while this registry lives.
    struct Hook {
        std::mutex mu;
        Impl* impl = nullptr;  // null once the registry is gone
    };
    std::shared_ptr<Hook> hook = std::make_shared<Hook>();
    int evictor_id = 0;
};

Registry::Registry(RegistryOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {
    impl_->hook->impl = impl_.get();
    impl_->evictor_id =
        add_memory_evictor([weak = std::weak_ptr<Impl::Hook>(impl_->hook)](uint64_t missing) {
            auto hook = weak.lock();
            if (!hook) return false;
            std::lock_guard lock(hook->mu);
            return hook->impl != nullptr && hook->impl->evict_lru(missing);
        });
}

Registry::~Registry() {
    remove_memory_evictor(impl_->evictor_id);
    {
        std::lock_guard lock(impl_->hook->mu);
        impl_->hook->impl = nullptr;
    }
    shutdown();
}

Registry& Registry::global() {
    // Never destroyed: other threads may still hold it at exit. An exit hook
    // frees the models it keeps.
    static Registry* instance = [] {
        auto* r = new Registry();
        std::atexit([] { Registry::global().shutdown(); });
        return r;
    }();
    return *instance;
}

const Catalog& Registry::catalog() const {
    static const Catalog empty;
    return impl_->catalog.is_ok() ? *impl_->catalog : empty;
}

const ModelCache& Registry::cache() const { return impl_->cache; }

namespace {
struct Resolved {
    std::string path;
    std::string key;
};

// The registry key of a spec: its canonical local path and load options.
Resolved make_key(std::string path, const ModelSpec& spec) {
    std::error_code ec;
    const std::string canonical = std::filesystem::weakly_canonical(path, ec).string();
    if (!ec) path = canonical;
    std::string key = path + "|" + spec.load_options_key();
    return {std::move(path), std::move(key)};
}

// Whether a loaded model serves `spec`: the same load options, where
// weights=auto accepts either placement.
bool serves(const Model& model, const ModelSpec& spec) {
    const ModelSpec& m = model.spec();
    if (spec.engine == "onnx") {
        return m.engine == spec.engine && m.effective_threads() == spec.effective_threads();
    }
    return m.engine == spec.engine && m.use_mmap == spec.use_mmap &&
           m.gpu_layers == spec.gpu_layers &&
           (spec.weights == Weights::kAuto || m.weights == spec.weights);
}
}  // namespace

Result<ModelHandle> Registry::acquire(const ModelSpec& spec) {
    RESIDENT_RETURN_IF_ERROR(spec.validate());
    if (!impl_->catalog.is_ok()) return impl_->catalog.status();
    // Resolution may download; it runs outside the lock (pulls lock a file).
    RESIDENT_ASSIGN_OR_RETURN(
        std::string local,
        impl_->cache.resolve(spec.source, *impl_->catalog,
                             [&](std::string_view l) { impl_->event(std::string(l)); }));
    // Named members, not a structured binding: lambdas below capture them.
    const auto made = make_key(std::move(local), spec);
    const std::string& path = made.path;
    const std::string& key = made.key;

    std::promise<LoadResult> promise;
    std::shared_future<LoadResult> wait_on;
    {
        std::lock_guard lock(impl_->mu);
        const auto now = std::chrono::system_clock::now();
        // A copy already resident under other requested options that resolve
        // to the same weights (weights=auto and its resolved placement).
        for (auto& [other_key, other] : impl_->entries) {
            if (other_key != key && other.path == path && other.model &&
                serves(*other.model, spec)) {
                other.last_use = now;
                return ModelHandle(other.model);
            }
        }
        Impl::Entry& e = impl_->entries[key];
        e.path = path;
        e.last_use = now;
        if (e.model) return ModelHandle(e.model);
        if (e.loading.valid()) {
            wait_on = e.loading;
        } else {
            e.loading = promise.get_future().share();
        }
    }
    if (wait_on.valid()) return wait_on.get();

    // This thread loads; the others wait on `promise`.
    ModelSpec load_spec = spec;
    load_spec.source = path;
    LoadResult result = [&]() -> LoadResult {
        try {
            return internal::load_model(load_spec);
        } catch (const std::exception& ex) {
            return internal_error(fmt::format("loading '{}' threw: {}", path, ex.what()));
        }
    }();
    {
        std::lock_guard lock(impl_->mu);
        Impl::Entry& e = impl_->entries[key];
        e.loading = {};
        if (result.is_ok()) {
            e.model = *result;
            ++e.loads;
            e.load_seconds += (*result)->load_seconds();
        } else {
            ++e.failed_loads;
        }
    }
    if (result.is_ok()) {
        impl_->event(fmt::format("loaded {} in {:.2f} s ({}; {})", path, (*result)->load_seconds(),
                                 format_bytes((*result)->loaded_bytes()), (*result)->placement()));
    }
    promise.set_value(result);
    return result;
}

size_t Registry::evict_idle() {
    std::vector<std::shared_ptr<const Model>> freed;  // freed outside the lock
    {
        std::lock_guard lock(impl_->mu);
        for (auto& [key, e] : impl_->entries) {
            if (e.model && e.model.use_count() == 1) {
                ++e.evictions;
                freed.push_back(std::move(e.model));
            }
        }
    }
    for (const auto& m : freed) impl_->event(fmt::format("evicted {}", m->info().path));
    return freed.size();
}

Status Registry::evict(const ModelSpec& spec) {
    std::string local = spec.source;
    if (const CatalogEntry* entry = catalog().find(spec.source)) {
        local = impl_->cache.cached_path(*entry).value_or(spec.source);
    }
    const std::string key = make_key(local, spec).key;
    std::shared_ptr<const Model> freed;
    {
        std::lock_guard lock(impl_->mu);
        auto it = impl_->entries.find(key);
        if (it == impl_->entries.end() || !it->second.model) {
            return not_found(fmt::format("model '{}' is not loaded", spec.source));
        }
        if (it->second.model.use_count() > 1) {
            return failed_precondition(
                fmt::format("model '{}' is in use by {} handles: release them before evicting it",
                            spec.source, it->second.model.use_count() - 1));
        }
        ++it->second.evictions;
        freed = std::move(it->second.model);
    }
    impl_->event(fmt::format("evicted {}", freed->info().path));
    return Status::ok();
}

void Registry::shutdown() {
    std::vector<std::shared_ptr<const Model>> dropped;
    {
        std::lock_guard lock(impl_->mu);
        for (auto& [key, e] : impl_->entries) {
            if (e.model) dropped.push_back(std::move(e.model));
        }
    }
    // Models still held elsewhere are freed with their last handle.
}

std::vector<ModelStats> Registry::stats() const {
    std::lock_guard lock(impl_->mu);
    std::vector<ModelStats> out;
    for (const auto& [key, e] : impl_->entries) {
        ModelStats s;
        s.key = key;
        s.path = e.path;
        s.loads = e.loads;
        s.failed_loads = e.failed_loads;
        s.evictions = e.evictions;
        if (e.model) s.placement = e.model->placement();
        s.load_seconds = e.load_seconds;
        s.resident = e.model != nullptr;
        s.loaded_bytes = e.model ? e.model->loaded_bytes() : 0;
        s.handles = e.model ? e.model.use_count() - 1 : 0;
        s.last_use = e.last_use;
        out.push_back(std::move(s));
    }
    return out;
}

int64_t Registry::total_loads() const {
    int64_t n = 0;
    for (const auto& s : stats()) n += s.loads;
    return n;
}

int64_t Registry::total_evictions() const {
    int64_t n = 0;
    for (const auto& s : stats()) n += s.evictions;
    return n;
}

double Registry::total_load_seconds() const {
    double t = 0;
    for (const auto& s : stats()) t += s.load_seconds;
    return t;
}

}  // namespace resident
