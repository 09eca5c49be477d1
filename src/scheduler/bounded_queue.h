// A bounded multi-producer queue with blocking, timed and non-blocking ends.
// The batch engine's backpressure: producers wait while it is full.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <optional>
#include <vector>

namespace resident::internal {

// Thread-safe.
template <typename T>
class BoundedQueue {
   public:
    explicit BoundedQueue(size_t capacity) : capacity_(capacity) {}

    // Waits while full. Returns false, leaving `item` untouched, once closed.
    bool push(T& item) { return push_until(item, std::nullopt); }
    // As push(), giving up after `timeout`.
    bool try_push(T& item, std::chrono::milliseconds timeout) {
        return push_until(item, std::chrono::steady_clock::now() + timeout);
    }

    // The next item without waiting, or nullopt.
    std::optional<T> try_pop() {
        std::lock_guard lock(mu_);
        return pop_locked();
    }
    // Waits for an item; nullopt once closed and empty.
    std::optional<T> pop() {
        std::unique_lock lock(mu_);
        not_empty_.wait(lock, [&] { return !items_.empty() || closed_; });
        return pop_locked();
    }

    // Wakes every waiter; later pushes fail. Returns what was still queued.
    std::vector<T> close() {
        std::lock_guard lock(mu_);
        closed_ = true;
        std::vector<T> rest;
        for (auto& item : items_) rest.push_back(std::move(item));
        items_.clear();
        not_full_.notify_all();
        not_empty_.notify_all();
        return rest;
    }

    // Takes out every queued item that `pred` matches, in order, and wakes
    // producers waiting for room.
    template <typename Pred>
    std::vector<T> remove_if(Pred pred) {
        std::lock_guard lock(mu_);
        std::vector<T> out;
        for (auto it = items_.begin(); it != items_.end();) {
            if (pred(*it)) {
                out.push_back(std::move(*it));
                it = items_.erase(it);
            } else {
                ++it;
            }
        }
        if (!out.empty()) not_full_.notify_all();
        return out;
    }

    size_t size() const {
        std::lock_guard lock(mu_);
        return items_.size();
    }

   private:
    bool push_until(T& item, std::optional<std::chrono::steady_clock::time_point> deadline) {
        std::unique_lock lock(mu_);
        auto ready = [&] { return items_.size() < capacity_ || closed_; };
        if (deadline) {
            if (!not_full_.wait_until(lock, *deadline, ready)) return false;
        } else {
            not_full_.wait(lock, ready);
        }
        if (closed_) return false;
        items_.push_back(std::move(item));
        not_empty_.notify_one();
        return true;
    }

    std::optional<T> pop_locked() {
        if (items_.empty()) return std::nullopt;
        T item = std::move(items_.front());
        items_.pop_front();
        not_full_.notify_one();
        return item;
    }

    const size_t capacity_;
    mutable std::mutex mu_;
    std::condition_variable not_full_;
    std::condition_variable not_empty_;
    std::deque<T> items_;  // guarded by mu_
    bool closed_ = false;  // guarded by mu_
};

}  // namespace resident::internal
