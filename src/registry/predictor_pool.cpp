#include "resident/predictor_pool.h"

namespace resident {

PredictorLease::PredictorLease(PredictorPool* pool, std::unique_ptr<Predictor> p)
    : pool_(pool), predictor_(std::move(p)) {}

PredictorLease::PredictorLease(PredictorLease&& other) noexcept
    : pool_(other.pool_), predictor_(std::move(other.predictor_)) {}

PredictorLease::~PredictorLease() {
    if (predictor_) pool_->give_back(std::move(predictor_));
}

PredictorPool::PredictorPool(std::shared_ptr<const Model> model, ModelSpec options,
                             size_t max_predictors)
    : model_(std::move(model)), options_(std::move(options)), max_(max_predictors) {}

Result<std::unique_ptr<Predictor>> PredictorPool::create() {
    auto p = model_->create_predictor(options_);
    std::lock_guard lock(mu_);
    if (p.is_ok()) ++created_;
    return p;
}

Result<PredictorLease> PredictorPool::checkout() {
    {
        std::unique_lock lock(mu_);
        returned_.wait(lock, [&] { return !free_.empty() || max_ == 0 || out_ < max_; });
        ++out_;
        if (!free_.empty()) {
            auto p = std::move(free_.back());
            free_.pop_back();
            return PredictorLease(this, std::move(p));
        }
    }
    // Created outside the lock: a context allocation takes a while.
    auto p = create();
    if (!p.is_ok()) {
        std::lock_guard lock(mu_);
        --out_;
        returned_.notify_one();
        return p.status();
    }
    return PredictorLease(this, std::move(p).value());
}

void PredictorPool::give_back(std::unique_ptr<Predictor> p) {
    std::lock_guard lock(mu_);
    free_.push_back(std::move(p));
    --out_;
    returned_.notify_one();
}

Result<Predictor*> PredictorPool::for_this_thread() {
    const auto me = std::this_thread::get_id();
    {
        std::lock_guard lock(mu_);
        if (auto it = per_thread_.find(me); it != per_thread_.end()) return it->second.get();
    }
    RESIDENT_ASSIGN_OR_RETURN(std::unique_ptr<Predictor> p, create());
    std::lock_guard lock(mu_);
    Predictor* raw = p.get();
    per_thread_[me] = std::move(p);
    return raw;
}

void PredictorPool::release_this_thread() {
    std::unique_ptr<Predictor> gone;
    std::lock_guard lock(mu_);
    if (auto it = per_thread_.find(std::this_thread::get_id()); it != per_thread_.end()) {
        gone = std::move(it->second);
        per_thread_.erase(it);
    }
}

size_t PredictorPool::created() const {
    std::lock_guard lock(mu_);
    return created_;
}

}  // namespace resident
