#include "engines/llama/llama_batch_engine.h"

#include <algorithm>
#include <exception>

#include "core/log.h"
#include "engines/llama/llama_predictor.h"
#include "fmt/format.h"

namespace resident::internal::llama {
namespace {

// Tokens `a` and `b` share from the start, at most `limit`.
int32_t common_prefix(const llama_token* a, size_t na, const std::vector<llama_token>& b,
                      int32_t limit) {
    const size_t n = std::min({na, b.size(), static_cast<size_t>(std::max(limit, 0))});
    size_t i = 0;
    while (i < n && a[i] == b[i]) ++i;
    return static_cast<int32_t>(i);
}

size_t queue_capacity(const ModelSpec& o) {
    return static_cast<size_t>(o.queue_capacity > 0 ? o.queue_capacity : 2 * o.parallel);
}

}  // namespace

Result<std::unique_ptr<BatchEngine>> LlamaBatchEngine::create(
    std::shared_ptr<const LlamaModel> model, const ModelSpec& options) {
    RESIDENT_ASSIGN_OR_RETURN(
        SizedContext ctx,
        model->new_context(options, options.parallel, LlamaModel::cells_for(options, 1)));
    auto* engine = new LlamaBatchEngine(std::move(model), std::move(ctx), options);
    engine->thread_ = std::thread([engine] { engine->run(); });
    return std::unique_ptr<BatchEngine>(engine);
}

LlamaBatchEngine::LlamaBatchEngine(std::shared_ptr<const LlamaModel> model, SizedContext ctx,
                                   const ModelSpec& options)
    : model_(std::move(model)),
      ctx_(std::move(ctx)),
      options_(options),
      batch_(static_cast<int32_t>(llama_n_batch(ctx_.ctx.get()))),
      solo_batch_(options.batch_size),
      slots_(options.parallel),
      queue_(queue_capacity(options)) {
    for (int32_t i = 0; i < options.parallel; ++i) slots_[i].id = i;
    stats_.kv_cells = ctx_.cells;
}

LlamaBatchEngine::~LlamaBatchEngine() { shutdown(); }

void LlamaBatchEngine::shutdown() {
    std::call_once(shutdown_once_, [this] {
        stopping_ = true;
        for (Pending& p : queue_.close()) {
            settle(p.done, cancelled("the batch engine shut down before this request ran"));
        }
        if (thread_.joinable()) thread_.join();
    });
}

bool LlamaBatchEngine::enqueue(GenerationRequest request, Completion done,
                               std::optional<std::chrono::milliseconds> timeout) {
    {
        std::lock_guard lock(stats_mu_);
        ++stats_.submitted;
    }
    // Validated and tokenized on the caller's thread, off the decode loop.
    auto prepared = prepare_request(*model_, request, options_.row_tokens(), options_.seed);
    if (!prepared.is_ok()) {
        settle(done, prepared.status());
        return true;
    }
    Pending p{std::move(prepared).value(), std::move(done)};
    const bool queued = timeout ? queue_.try_push(p, *timeout) : queue_.push(p);
    if (queued) return true;
    if (stopping_) {
        settle(p.done, cancelled("the batch engine is shut down: submit to a new one"));
        return true;
    }
    std::lock_guard lock(stats_mu_);
    --stats_.submitted;  // not taken: the caller still owns the request
    return false;
}

void LlamaBatchEngine::settle(const Completion& done, Result<Generation> result) {
    {
        std::lock_guard lock(stats_mu_);
        if (result.is_ok()) {
            ++stats_.completed;
        } else {
            ++stats_.failed;
            const StatusCode code = result.status().code();
            if (code == StatusCode::kCancelled && !stopping_) ++stats_.cancelled;
            if (code == StatusCode::kDeadlineExceeded) ++stats_.expired;
        }
    }
    done(std::move(result));
}

void LlamaBatchEngine::drop_interrupted() {
    for (Slot& slot : slots_) {
        if (!slot.seq) continue;
        if (Status st = slot.seq->interrupted(); !st.is_ok()) finish(slot, st);
    }
    if (held_) {
        if (Status st = held_->request.interrupt.check(); !st.is_ok()) {
            settle(held_->done, st);
            held_.reset();
        }
    }
    auto dropped =
        queue_.remove_if([](const Pending& p) { return !p.request.interrupt.check().is_ok(); });
    for (Pending& p : dropped) settle(p.done, p.request.interrupt.check());
}

BatchEngineStats LlamaBatchEngine::stats() const {
    std::lock_guard lock(stats_mu_);
    return stats_;
}

// Fills free slots from the queue, in order. A request that needs more KV
// cells than a sequence holds waits (held_) until the sequences in flight
// finish; then the context grows for it. With `wait`, blocks until one request
// arrives (or the queue closes). Returns whether any slot is active.
bool LlamaBatchEngine::admit(bool wait) {
    const int32_t limit = options_.row_tokens();
    if (held_) wait = false;
    bool any_active = false;
    bool blocked = false;
    for (Slot& slot : slots_) {
        if (!slot.seq && !blocked) {
            while (!held_) {
                held_ = wait ? queue_.pop() : queue_.try_pop();
                wait = false;
                if (!held_) break;
                // Cancelled or expired while queued: it never takes a slot.
                if (Status st = held_->request.interrupt.check(); !st.is_ok()) {
                    settle(held_->done, st);
                    held_.reset();
                }
            }
            if (held_ && held_->request.kv_need(limit) <= ctx_.cells) {
                place(slot, std::move(*held_));
                held_.reset();
            } else if (held_) {
                blocked = true;
            }
        }
        any_active = any_active || slot.seq != nullptr;
    }
    if (held_ && !any_active) {
        const Status grown = grow(held_->request.kv_need(limit));
        if (!grown.is_ok()) {
            settle(held_->done, grown);
            held_.reset();
            return false;
        }
        place(slots_.front(), std::move(*held_));
        held_.reset();
        any_active = true;
    }
    return any_active;
}

void LlamaBatchEngine::place(Slot& slot, Pending pending) {
    slot.seq =
        std::make_unique<Sequence>(*model_, std::move(pending.request), options_.row_tokens());
    slot.seq->start_clock();
    slot.done = std::move(pending.done);
    slot.prompt_done = 0;
    slot.output = -1;
    if (options_.prefix_reuse) {
        reuse_prefix(slot);
    } else {
        llama_memory_seq_rm(llama_get_memory(ctx_.ctx.get()), slot.id, -1, -1);
        slot.kept.clear();
    }
}

void LlamaBatchEngine::reuse_prefix(Slot& slot) {
    llama_memory_t mem = llama_get_memory(ctx_.ctx.get());
    const std::vector<llama_token>& prompt = slot.seq->prompt();
    // The last prompt token is always decoded: its logits give the first token.
    const int32_t most = slot.seq->n_prompt() - 1;
    // Invariant mode reuses whole prompt chunks only, so that the rest is
    // decoded in the very chunks a lone predictor decodes: the same text, bit
    // for bit.
    const int32_t unit =
        options_.determinism == Determinism::kInvariant ? solo_batch_.capacity() : 1;
    // Another stream's cells come by copying the whole stream: worth it for a
    // long prefix only. The slot's own cells cost nothing.
    const int32_t min_copy = std::max(32, ctx_.cells / 16);
    const Slot* best = nullptr;
    int32_t best_len = 0;
    for (const Slot& other : slots_) {
        if (other.copy_pending) continue;
        int32_t len =
            other.seq && &other != &slot
                ? common_prefix(other.seq->prompt().data(), other.prompt_done, prompt, most)
                : common_prefix(other.kept.data(), other.kept.size(), prompt, most);
        len -= len % unit;
        if (&other != &slot && len < min_copy) continue;
        if (len > best_len || (len == best_len && len > 0 && &other == &slot)) {
            best = &other;
            best_len = len;
        }
    }
    slot.kept.clear();
    if (best == nullptr) {
        llama_memory_seq_rm(mem, slot.id, -1, -1);
        return;
    }
    if (best != &slot) {
        llama_memory_seq_cp(mem, best->id, slot.id, -1, -1);
        slot.copy_pending = true;
    }
    llama_memory_seq_rm(mem, slot.id, best_len, -1);
    slot.prompt_done = best_len;
    std::lock_guard lock(stats_mu_);
    stats_.reused_tokens += best_len;
}

void LlamaBatchEngine::forget_kept() {
    for (Slot& slot : slots_) slot.kept.clear();
}

Status LlamaBatchEngine::grow(int32_t need) {
    const int32_t cells = LlamaModel::cells_for(options_, need);
    forget_kept();
    ctx_ = {};  // its memory goes back to the budget before the new one is reserved
    auto grown = model_->new_context(options_, options_.parallel, cells);
    if (!grown.is_ok()) {
        // Back to the smallest context, so that shorter rows still run.
        auto small =
            model_->new_context(options_, options_.parallel, LlamaModel::cells_for(options_, 1));
        if (small.is_ok()) ctx_ = std::move(small).value();
        std::lock_guard lock(stats_mu_);
        stats_.kv_cells = ctx_.cells;
        return grown.status();
    }
    ctx_ = std::move(grown).value();
    logger().debug("batch engine: KV cache grown to {} x {} cells for a row of {} tokens",
                   options_.parallel, cells, need);
    std::lock_guard lock(stats_mu_);
    stats_.kv_cells = ctx_.cells;
    ++stats_.kv_growths;
    return Status::ok();
}

void LlamaBatchEngine::run() {
    while (!stopping_) {
        try {
            const bool idle = std::none_of(slots_.begin(), slots_.end(),
                                           [](const Slot& s) { return s.seq != nullptr; });
            drop_interrupted();
            if (!admit(idle)) continue;  // woken by close(), or a spurious wake
            if (options_.determinism == Determinism::kInvariant) {
                step_invariant();
            } else {
                step_batched();
            }
        } catch (const std::exception& e) {
            fail_active(internal_error(fmt::format("batch engine step failed: {}", e.what())));
        } catch (...) {
            fail_active(internal_error("batch engine step failed with an unknown exception"));
        }
    }
    fail_active(cancelled("the batch engine shut down while this request ran"));
    if (held_) {
        settle(held_->done, cancelled("the batch engine shut down before this request ran"));
        held_.reset();
    }
}

void LlamaBatchEngine::step_batched() {
    batch_.clear();
    int32_t in_flight = 0;
    // Sequences past their prompt contribute one token each...
    for (Slot& slot : slots_) {
        slot.output = -1;
        if (!slot.seq || slot.prompt_done < slot.seq->n_prompt()) continue;
        slot.output = batch_.add(slot.seq->last_token(), slot.seq->next_pos(), slot.id, true);
        ++in_flight;
    }
    // ...and prompts fill the rest of the batch, in chunks when long.
    int32_t prompt_tokens = 0;
    for (Slot& slot : slots_) {
        if (!slot.seq || slot.prompt_done >= slot.seq->n_prompt()) continue;
        const int32_t room = batch_.capacity() - batch_.size();
        if (room <= 0) break;
        const auto& prompt = slot.seq->prompt();
        const int32_t take = std::min(room, slot.seq->n_prompt() - slot.prompt_done);
        for (int32_t k = 0; k < take; ++k) {
            const int32_t pos = slot.prompt_done + k;
            const bool last = pos == slot.seq->n_prompt() - 1;
            const int32_t row = batch_.add(prompt[pos], pos, slot.id, last);
            if (last) slot.output = row;
        }
        slot.prompt_done += take;
        prompt_tokens += take;
        ++in_flight;
    }
    const Status st = decode_status(llama_decode(ctx_.ctx.get(), batch_.get()), batch_.size());
    for (Slot& slot : slots_) slot.copy_pending = false;  // applied by that decode
    {
        std::lock_guard lock(stats_mu_);
        ++stats_.decode_calls;
        stats_.prompt_tokens += prompt_tokens;
        stats_.max_in_flight = std::max(stats_.max_in_flight, in_flight);
    }
    if (!st.is_ok()) {
        fail_active(st);
        return;
    }
    sample_outputs();
}

void LlamaBatchEngine::step_invariant() {
    // A new prompt is decoded alone, in the chunks a lone predictor uses: a
    // prompt split among other rows' tokens would go through other kernel
    // shapes. Its first token is sampled at once (the next decode overwrites
    // its logits).
    for (Slot& slot : slots_) {
        slot.output = -1;
        if (!slot.seq || slot.prompt_done >= slot.seq->n_prompt()) continue;
        auto out = decode_prompt(ctx_.ctx.get(), solo_batch_, slot.seq->prompt(), slot.prompt_done,
                                 slot.id);
        for (Slot& s : slots_) s.copy_pending = false;  // applied by that decode
        {
            std::lock_guard lock(stats_mu_);
            stats_.prompt_tokens += slot.seq->n_prompt() - slot.prompt_done;
            ++stats_.decode_calls;
        }
        slot.prompt_done = slot.seq->n_prompt();
        if (!out.is_ok()) {
            finish(slot, out.status());
            continue;
        }
        if (slot.seq->sample(ctx_.ctx.get(), *out)) finish(slot, slot.seq->take_result());
        std::lock_guard lock(stats_mu_);
        ++stats_.generated_tokens;
    }
    // Then every sequence, now past its prompt, decodes its last token, all
    // in one call: one row each, whose sums do not depend on the others.
    if (std::any_of(slots_.begin(), slots_.end(), [](const Slot& s) { return s.seq != nullptr; })) {
        step_batched();
    }
}

void LlamaBatchEngine::sample_outputs() {
    int64_t generated = 0;
    for (Slot& slot : slots_) {
        if (!slot.seq || slot.output < 0) continue;
        ++generated;
        if (slot.seq->sample(ctx_.ctx.get(), slot.output)) finish(slot, slot.seq->take_result());
    }
    std::lock_guard lock(stats_mu_);
    stats_.generated_tokens += generated;
}

void LlamaBatchEngine::finish(Slot& slot, Result<Generation> result) {
    // Keep the prompt's cells for a later prompt with the same prefix; the
    // generated ones go.
    llama_memory_t mem = llama_get_memory(ctx_.ctx.get());
    if (options_.prefix_reuse && result.is_ok()) {
        slot.kept.assign(slot.seq->prompt().begin(), slot.seq->prompt().begin() + slot.prompt_done);
        llama_memory_seq_rm(mem, slot.id, slot.prompt_done, -1);
    } else {
        slot.kept.clear();
        llama_memory_seq_rm(mem, slot.id, -1, -1);
    }
    Completion done = std::move(slot.done);
    slot.seq.reset();
    slot.prompt_done = 0;
    slot.output = -1;
    settle(done, std::move(result));
}

void LlamaBatchEngine::fail_active(const Status& status) {
    for (Slot& slot : slots_) {
        if (slot.seq) finish(slot, status);
    }
}

}  // namespace resident::internal::llama
