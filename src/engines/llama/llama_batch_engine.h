// The batch engine: one llama_context with `parallel` sequences and one thread
// that decodes every request in flight together. Continuous batching: a
// sequence that finishes frees its slot, and the next queued request takes it
// in the very next decode step.
#pragma once

#include <atomic>
#include <future>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "engines/llama/llama_handles.h"
#include "engines/llama/llama_model.h"
#include "engines/llama/sequence.h"
#include "resident/model.h"
#include "scheduler/bounded_queue.h"

namespace resident::internal::llama {

class LlamaBatchEngine final : public BatchEngine {
   public:
    static Result<std::unique_ptr<BatchEngine>> create(std::shared_ptr<const LlamaModel> model,
                                                       const ModelSpec& options);
    ~LlamaBatchEngine() override;

    bool enqueue(GenerationRequest request, Completion done,
                 std::optional<std::chrono::milliseconds> timeout) override;
    void shutdown() override;
    BatchEngineStats stats() const override;
    int32_t slots() const override { return options_.parallel; }

   private:
    struct Pending {
        PreparedRequest request;
        Completion done;
    };
    struct Slot {
        llama_seq_id id = 0;
        std::unique_ptr<Sequence> seq;  // null when the slot is free
        Completion done;
        int32_t prompt_done = 0;  // prompt tokens in the KV cache so far
        int32_t output = -1;      // batch row of this slot's logits in the last decode
        // An idle slot's last prompt, whose KV cells its stream still holds
        // (positions 0..size-1): a later prompt may start from them.
        std::vector<llama_token> kept;
        bool copy_pending = false;  // cells copied in by the next decode: no source yet
    };

    LlamaBatchEngine(std::shared_ptr<const LlamaModel> model, SizedContext ctx,
                     const ModelSpec& options);

    void run();
    // Gives `done` its outcome and counts it.
    void settle(const Completion& done, Result<Generation> result);
    // Ends the requests whose caller cancelled them or whose deadline passed:
    // running ones (their slots free for the next step) and queued ones.
    void drop_interrupted();
    bool admit(bool wait);
    void place(Slot& slot, Pending pending);
    // Starts the slot's new prompt from the longest prefix whose KV cells an
    // engine stream holds (spec.prefix_reuse).
    void reuse_prefix(Slot& slot);
    // Forgets every kept prompt (the KV cells are gone or not trusted).
    void forget_kept();
    // With no sequence in flight: a context whose sequences hold `need` cells.
    Status grow(int32_t need);
    void step_batched();    // fast mode; invariant mode once new prompts are in
    void step_invariant();  // invariant mode
    void sample_outputs();
    void finish(Slot& slot, Result<Generation> result);
    void fail_active(const Status& status);

    std::shared_ptr<const LlamaModel> model_;  // outlives ctx_
    SizedContext ctx_;  // engine thread only after create(); empty after a failed growth
    const ModelSpec options_;
    // Taken from the queue but waiting for cells: the sequences in flight
    // finish, then the context grows for it. Engine thread only.
    std::optional<Pending> held_;
    Batch batch_;              // all sequences together
    Batch solo_batch_;         // one prompt, predictor-sized (invariant mode)
    std::vector<Slot> slots_;  // engine thread only
    BoundedQueue<Pending> queue_;
    std::atomic<bool> stopping_{false};
    std::once_flag shutdown_once_;

    mutable std::mutex stats_mu_;
    BatchEngineStats stats_;  // guarded by stats_mu_

    std::thread thread_;  // last: starts after every other member exists
};

}  // namespace resident::internal::llama
