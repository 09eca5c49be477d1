#include "resident/memory_budget.h"

#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <fstream>
#include <map>
#include <mutex>

#include "fmt/format.h"
#include "resident/memory.h"
#include "resident/model.h"

namespace resident {
namespace {

// How long a waiting claim waits for others to give memory back before it
// fails: long enough for a partition's load and rows, short enough that a
// stuck job says so.
constexpr auto kMaxWait = std::chrono::minutes(10);

struct Budget {
    std::mutex mu;
    std::condition_variable released;
    uint64_t explicit_limit = 0;  // set_memory_budget
    std::string explicit_source;
    uint64_t used = 0;
    uint64_t peak = 0;
    std::map<int, MemoryEvictor> evictors;
    int next_id = 1;

    // Guarded by mu. An invalid RESIDENT_MEMORY_BUDGET is an error naming
    // it, never a silent fall-back to the machine's memory.
    Result<std::pair<uint64_t, std::string>> limit() const {
        if (explicit_limit > 0) return std::pair{explicit_limit, explicit_source};
        RESIDENT_ASSIGN_OR_RETURN(const uint64_t env, memory_budget_from_environment());
        if (env > 0) return std::pair{env, std::string("RESIDENT_MEMORY_BUDGET")};
        if (uint64_t cg = cgroup_memory_limit_bytes(); cg > 0)
            return std::pair{cg, std::string("the cgroup memory limit")};
        return std::pair{total_memory_bytes(), std::string("the machine's memory")};
    }
};

Budget& budget() {
    static Budget* b = new Budget();  // never destroyed: reservations may outlive statics
    return *b;
}

void give_back(uint64_t bytes) {
    if (bytes == 0) return;
    Budget& b = budget();
    {
        std::lock_guard lock(b.mu);
        b.used -= std::min(b.used, bytes);
    }
    b.released.notify_all();
}

// Asks every evictor, outside the lock, to free `missing` bytes.
bool run_evictors(uint64_t missing) {
    std::vector<MemoryEvictor> evictors;
    {
        std::lock_guard lock(budget().mu);
        for (const auto& [id, e] : budget().evictors) evictors.push_back(e);
    }
    bool any = false;
    for (const auto& e : evictors) any = e(missing) || any;
    return any;
}

}  // namespace

void set_memory_budget(uint64_t bytes, std::string source) {
    Budget& b = budget();
    {
        std::lock_guard lock(b.mu);
        b.explicit_limit = bytes;
        b.explicit_source = bytes > 0 ? std::move(source) : "";
    }
    b.released.notify_all();
}

Result<uint64_t> memory_budget_from_environment() {
    const char* env = std::getenv("RESIDENT_MEMORY_BUDGET");
    if (!env || !*env) return uint64_t{0};
    auto v = parse_memory_size(env);
    if (!v.is_ok()) {
        return invalid_argument(
            fmt::format("RESIDENT_MEMORY_BUDGET: {} (or unset it)", v.status().message()));
    }
    if (*v == 0) {
        return invalid_argument(
            "RESIDENT_MEMORY_BUDGET is 0, a budget that holds nothing: give a size like 6G, or "
            "unset it for the automatic budget");
    }
    return *v;
}

BudgetInfo memory_budget() {
    Budget& b = budget();
    std::lock_guard lock(b.mu);
    auto limit = b.limit();
    if (!limit.is_ok()) return {0, limit.status().message(), b.used, b.peak};
    return {limit->first, std::move(limit->second), b.used, b.peak};
}

MemoryReservation::~MemoryReservation() { give_back(bytes_); }

MemoryReservation::MemoryReservation(MemoryReservation&& other) noexcept
    : bytes_(std::exchange(other.bytes_, 0)) {}

MemoryReservation& MemoryReservation::operator=(MemoryReservation&& other) noexcept {
    if (this != &other) {
        give_back(bytes_);
        bytes_ = std::exchange(other.bytes_, 0);
    }
    return *this;
}

Result<MemoryReservation> reserve_memory(uint64_t bytes, std::string_view what, uint64_t limit,
                                         bool wait, std::string_view lower) {
    Budget& b = budget();
    const auto deadline = std::chrono::steady_clock::now() + kMaxWait;
    for (bool may_wait = false;;) {
        uint64_t missing = 0;
        std::string source;
        uint64_t cap = 0;
        uint64_t used = 0;
        // The machine must hold it now too (other processes use memory the
        // budget does not see).
        const uint64_t available = bytes > 0 ? available_memory_bytes() : 0;
        const bool machine_has = bytes == 0 || available == 0 || bytes <= available;
        {
            std::unique_lock lock(b.mu);
            RESIDENT_ASSIGN_OR_RETURN(auto process, b.limit());
            auto& [process_limit, process_source] = process;
            cap = limit > 0 ? limit : process_limit;
            source = limit > 0 ? "the model's memory limit (memory_limit_bytes, --memory-limit)"
                               : process_source;
            used = b.used;
            if (used + bytes <= cap && machine_has) {
                b.used += bytes;
                b.peak = std::max(b.peak, b.used);
                return MemoryReservation(bytes);
            }
            missing = used + bytes > cap ? used + bytes - cap : bytes - available;
            if (may_wait) {
                // Others hold what is missing and give it back when their
                // rows are done: per-partition loads queue here.
                b.released.wait_until(lock, deadline);
                may_wait = false;
                continue;
            }
        }
        if (run_evictors(missing)) continue;
        if (wait && machine_has && bytes <= cap && std::chrono::steady_clock::now() < deadline) {
            may_wait = true;
            continue;
        }
        if (!machine_has) {
            return resource_exhausted(fmt::format(
                "{} needs {} but the machine has only {} available now: free memory on this "
                "machine, run fewer processes per node, or lower what it needs ({})",
                what, format_bytes(bytes), format_bytes(available), lower));
        }
        const std::string text = fmt::format(
            "{} needs {} but this process's native memory budget is {} ({}) with {} in use by "
            "other models and contexts: raise {}, or lower what it needs ({})",
            what, format_bytes(bytes), format_bytes(cap), source, format_bytes(used),
            source == "the machine's memory" ? "the memory of the machine" : source, lower);
        // Larger than the whole budget: no retry can help, only a setting.
        return bytes > cap ? failed_precondition(text) : resource_exhausted(text);
    }
}

int add_memory_evictor(MemoryEvictor evictor) {
    std::lock_guard lock(budget().mu);
    const int id = budget().next_id++;
    budget().evictors.emplace(id, std::move(evictor));
    return id;
}

void remove_memory_evictor(int id) {
    std::lock_guard lock(budget().mu);
    budget().evictors.erase(id);
}

Result<uint64_t> parse_memory_size(std::string_view text) {
    // Strict on purpose: a size that silently became 0 (automatic) or a
    // different number would lift or move a budget without a word. So: digits,
    // an optional fraction, an optional unit; nothing else (no sign, exponent,
    // hex, inf/nan, spaces), and a result that is whole bytes and fits.
    const auto refuse = [&](std::string_view why) {
        return invalid_argument(fmt::format(
            "memory size '{}' {}: write a whole number of bytes (4096) or a number with a unit "
            "B, K, M, G or T (also KB/KiB, ...; powers of 1024), like 8G, 512M or 1.5G",
            text, why));
    };
    size_t i = 0;
    uint64_t whole = 0;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
        const uint64_t digit = static_cast<uint64_t>(text[i] - '0');
        if (whole > (UINT64_MAX - digit) / 10) return refuse("is too large");
        whole = whole * 10 + digit;
        ++i;
    }
    if (i == 0) return refuse("does not start with a digit");
    // The fraction as digits over a power of ten, at most 18 digits (exact).
    uint64_t frac = 0;
    uint64_t frac_scale = 1;
    if (i < text.size() && text[i] == '.') {
        ++i;
        const size_t first = i;
        while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
            if (i - first >= 18) return refuse("has too many decimals");
            frac = frac * 10 + static_cast<uint64_t>(text[i] - '0');
            frac_scale *= 10;
            ++i;
        }
        if (i == first) return refuse("has a point with no digits after it");
    }
    std::string unit(text.substr(i));
    for (char& c : unit) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (unit.size() == 3 && unit[1] == 'I' && unit[2] == 'B') unit.erase(1, 1);  // GiB -> GB
    if (unit.size() == 2 && unit[1] == 'B') unit.pop_back();                     // GB -> G
    int shift = -1;
    if (unit.empty() || unit == "B") shift = 0;
    if (unit == "K") shift = 10;
    if (unit == "M") shift = 20;
    if (unit == "G") shift = 30;
    if (unit == "T") shift = 40;
    if (shift < 0) return refuse(fmt::format("has an unknown unit '{}'", text.substr(i)));
    if (whole > (UINT64_MAX >> shift)) return refuse("is too large");
    // frac / frac_scale of 2^shift bytes, exactly: a part of a byte is refused.
    const unsigned __int128 part = (static_cast<unsigned __int128>(frac) << shift);
    if (part % frac_scale != 0) return refuse("is not a whole number of bytes");
    const unsigned __int128 bytes =
        (static_cast<unsigned __int128>(whole) << shift) + part / frac_scale;
    if (bytes > UINT64_MAX) return refuse("is too large");
    return static_cast<uint64_t>(bytes);
}

int count_other_mappers(const std::string& path) {
    DIR* proc = opendir("/proc");
    if (!proc) return 0;
    const std::string self = std::to_string(getpid());
    int count = 0;
    while (dirent* d = readdir(proc)) {
        const std::string pid = d->d_name;
        if (pid.empty() || pid.find_first_not_of("0123456789") != std::string::npos) continue;
        if (pid == self) continue;
        std::ifstream maps("/proc/" + pid + "/maps");
        std::string line;
        while (std::getline(maps, line)) {
            if (line.size() >= path.size() &&
                line.compare(line.size() - path.size(), path.size(), path) == 0) {
                ++count;
                break;
            }
        }
    }
    closedir(proc);
    return count;
}

WeightsChoice resolve_weights(const ModelInfo& info, const ModelSpec& spec) {
    if (!spec.use_mmap) return {Weights::kPrivate, "mmap is off"};
    const bool invariant = spec.determinism == Determinism::kInvariant;
    if (invariant && info.invariant_repackable_bytes == 0) {
        return {Weights::kShared,
                "determinism is invariant and this CPU has no repacked layout for this model "
                "whose sums do not depend on the batch (AMX)"};
    }
    if (spec.weights != Weights::kAuto) {
        return {spec.weights, fmt::format("weights={} was asked for", weights_name(spec.weights))};
    }
    ModelSpec as_private = spec;
    as_private.weights = Weights::kPrivate;
    // Room for the contexts too: sequences of kv_tokens, or of up to 512 tokens.
    if (as_private.kv_tokens == 0) as_private.kv_tokens = std::min(spec.ctx_size, 512);
    const MemoryEstimate est = estimate_memory(info, as_private);
    const uint64_t copy = est.weights_private;
    const uint64_t need = est.private_total(spec.parallel);
    if ((invariant ? info.invariant_repackable_bytes : info.repackable_bytes) == 0) {
        return {Weights::kShared, "nothing in this model would be repacked"};
    }
    const BudgetInfo b = memory_budget();
    const uint64_t cap = spec.memory_limit_bytes > 0 ? spec.memory_limit_bytes : b.limit;
    if (invariant) {
        // The placement picks the kernels, and so the text: decide it from
        // the settings alone (the budget's size, not what is free now), so
        // that every executor of a job decides alike.
        if (need > cap) {
            return {Weights::kShared,
                    fmt::format("determinism is invariant and a private copy ({}) and its "
                                "contexts ({} in all) exceed the budget ({}, {})",
                                format_bytes(copy), format_bytes(need), format_bytes(cap),
                                spec.memory_limit_bytes > 0 ? "memory_limit_bytes" : b.source)};
        }
        return {Weights::kPrivate,
                fmt::format("determinism is invariant, this CPU repacks for AMX (whose sums do "
                            "not depend on the batch), and a private copy ({}) and its contexts "
                            "({} in all) fit the budget ({})",
                            format_bytes(copy), format_bytes(need), format_bytes(cap))};
    }
    const uint64_t budget_free = cap > b.used ? cap - b.used : 0;
    const uint64_t available = available_memory_bytes();
    const int others = count_other_mappers(info.path);
    const std::string others_text =
        others > 0 ? fmt::format("; {} other process(es) on this machine map it", others) : "";
    if (need > budget_free) {
        return {Weights::kShared,
                fmt::format("a private copy ({}) and its contexts ({} in all) exceed the {} left "
                            "in the budget ({}){}",
                            format_bytes(copy), format_bytes(need), format_bytes(budget_free),
                            spec.memory_limit_bytes > 0 ? "memory_limit_bytes" : b.source,
                            others_text)};
    }
    // Keep room for one more process loading a copy at the same moment.
    if (available > 0 && 2 * need > available) {
        return {Weights::kShared,
                fmt::format("a private copy ({}) and its contexts ({} in all) would take more "
                            "than half of the {} the machine has free{}",
                            format_bytes(copy), format_bytes(need), format_bytes(available),
                            others_text)};
    }
    return {Weights::kPrivate,
            fmt::format("a private copy ({}) and its contexts ({}) fit the budget ({} free of "
                        "{}) and the machine ({} free){}",
                        format_bytes(copy), format_bytes(need), format_bytes(budget_free),
                        format_bytes(cap), format_bytes(available), others_text)};
}

}  // namespace resident
