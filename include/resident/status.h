// Errors as values. A Status carries a code that tells the caller whether a
// retry can help (Spark retries a task on some codes and fails the job on
// others) and a message for a person: what went wrong, which input, what to do.
//
// Abseil's Status would do, but Debian's prebuilt Abseil is not built with
// TSan, and its Mutex would then hide our synchronisation from the race
// detector; this small type keeps the core free of that dependency.
#pragma once

#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace resident {

enum class StatusCode {
    kOk = 0,
    kInvalidArgument,     // the input is wrong; retrying the same input fails again
    kNotFound,            // a file or catalog entry does not exist
    kFailedPrecondition,  // the system is not in a state to do this (e.g. model in use)
    kResourceExhausted,   // not enough memory, queue full; may pass later or elsewhere
    kUnavailable,         // transient: a download or a busy resource; retry may pass
    kCancelled,           // the caller or a shutdown stopped the work
    kDeadlineExceeded,    // a wait timed out
    kDataLoss,            // a file is corrupt or truncated
    kInternal,            // a bug or an engine failure
};

// Stable lower-case name of a code, e.g. "invalid_argument".
std::string_view status_code_name(StatusCode code);

class [[nodiscard]] Status {
   public:
    Status() = default;
    Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

    static Status ok() { return {}; }

    bool is_ok() const { return code_ == StatusCode::kOk; }
    StatusCode code() const { return code_; }
    const std::string& message() const { return message_; }
    // "<code>: <message>", or "ok".
    std::string to_string() const;
    // Whether running the same work again may succeed.
    bool is_retryable() const;

    // Returns a copy whose message starts with `context: `.
    Status with_context(std::string_view context) const;

   private:
    StatusCode code_ = StatusCode::kOk;
    std::string message_;
};

Status invalid_argument(std::string message);
Status not_found(std::string message);
Status failed_precondition(std::string message);
Status resource_exhausted(std::string message);
Status unavailable(std::string message);
Status cancelled(std::string message);
Status deadline_exceeded(std::string message);
Status data_loss(std::string message);
Status internal_error(std::string message);

// A value or the Status that explains why there is none.
template <typename T>
class [[nodiscard]] Result {
   public:
    Result(T value) : v_(std::move(value)) {}        // NOLINT: implicit by design
    Result(Status status) : v_(std::move(status)) {  // NOLINT: implicit by design
        if (std::get<Status>(v_).is_ok()) {
            v_ = Status(StatusCode::kInternal, "Result built from an ok Status without a value");
        }
    }

    bool is_ok() const { return std::holds_alternative<T>(v_); }
    explicit operator bool() const { return is_ok(); }

    // The error; an ok Status when there is a value.
    Status status() const { return is_ok() ? Status::ok() : std::get<Status>(v_); }

    // Accessing the value of an error is a broken invariant: it aborts.
    T& value() & { return checked(); }
    const T& value() const& { return const_cast<Result*>(this)->checked(); }
    T&& value() && { return std::move(checked()); }
    T* operator->() { return &checked(); }
    const T* operator->() const { return &const_cast<Result*>(this)->checked(); }
    T& operator*() & { return checked(); }
    const T& operator*() const& { return const_cast<Result*>(this)->checked(); }

   private:
    T& checked();
    std::variant<T, Status> v_;
};

[[noreturn]] void die_on_bad_result_access(const Status& status);

template <typename T>
T& Result<T>::checked() {
    if (!is_ok()) die_on_bad_result_access(std::get<Status>(v_));
    return std::get<T>(v_);
}

}  // namespace resident

// Returns early with the Status of `expr` when it is not ok.
#define RESIDENT_RETURN_IF_ERROR(expr)                          \
    do {                                                        \
        ::resident::Status resident_status_ = (expr);           \
        if (!resident_status_.is_ok()) return resident_status_; \
    } while (0)

#define RESIDENT_CONCAT_INNER_(a, b) a##b
#define RESIDENT_CONCAT_(a, b) RESIDENT_CONCAT_INNER_(a, b)
#define RESIDENT_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
    auto tmp = (expr);                                  \
    if (!tmp.is_ok()) return tmp.status();              \
    lhs = std::move(tmp).value()
// `RESIDENT_ASSIGN_OR_RETURN(auto x, f());` declares x from f()'s value or
// returns f()'s error.
#define RESIDENT_ASSIGN_OR_RETURN(lhs, expr) \
    RESIDENT_ASSIGN_OR_RETURN_IMPL_(RESIDENT_CONCAT_(resident_result_, __LINE__), lhs, expr)

// Aborts loudly, in every build, when an invariant is broken.
#define RESIDENT_CHECK(cond, msg)                                                        \
    do {                                                                                 \
        if (!(cond)) ::resident::internal::check_failed(__FILE__, __LINE__, #cond, msg); \
    } while (0)

namespace resident::internal {
[[noreturn]] void check_failed(const char* file, int line, const char* cond, std::string_view msg);
}  // namespace resident::internal
