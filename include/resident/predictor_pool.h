// Predictors for many threads over one resident model: either one per thread
// (for_this_thread) or a bounded set checked out and returned (checkout).
#pragma once

#include <condition_variable>
#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "resident/model.h"
#include "resident/status.h"

namespace resident {

class PredictorPool;

// A predictor checked out of a pool; goes back to the pool when destroyed.
// Movable, not copyable; one thread uses it at a time.
class PredictorLease {
   public:
    PredictorLease(PredictorLease&& other) noexcept;
    PredictorLease& operator=(PredictorLease&&) = delete;
    ~PredictorLease();
    Predictor& operator*() const { return *predictor_; }
    Predictor* operator->() const { return predictor_.get(); }

   private:
    friend class PredictorPool;
    PredictorLease(PredictorPool* pool, std::unique_ptr<Predictor> p);
    PredictorPool* pool_;
    std::unique_ptr<Predictor> predictor_;
};

// Thread-safe. Must outlive its leases and the threads using for_this_thread.
class PredictorPool {
   public:
    // `options` gives the context options of each predictor; at most
    // `max_predictors` exist at once (0 = no bound).
    PredictorPool(std::shared_ptr<const Model> model, ModelSpec options, size_t max_predictors = 0);

    // A free predictor, creating one while under the bound; waits while all
    // are checked out. Errors: those of Model::create_predictor.
    Result<PredictorLease> checkout();

    // The calling thread's own predictor, created on its first call and kept
    // until release_this_thread() or the pool's end. The pointer is valid
    // until then; only the calling thread may use it.
    Result<Predictor*> for_this_thread();
    void release_this_thread();

    // Predictors created so far.
    size_t created() const;

   private:
    friend class PredictorLease;
    void give_back(std::unique_ptr<Predictor> p);
    Result<std::unique_ptr<Predictor>> create();

    std::shared_ptr<const Model> model_;
    const ModelSpec options_;
    const size_t max_;
    mutable std::mutex mu_;
    std::condition_variable returned_;
    std::vector<std::unique_ptr<Predictor>> free_;                      // guarded by mu_
    std::map<std::thread::id, std::unique_ptr<Predictor>> per_thread_;  // guarded by mu_
    size_t out_ = 0;      // leases outstanding, guarded by mu_
    size_t created_ = 0;  // guarded by mu_
};

}  // namespace resident
