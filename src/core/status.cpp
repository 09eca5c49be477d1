#include "resident/status.h"

#include <cstdio>

namespace resident {

std::string_view status_code_name(StatusCode code) {
    switch (code) {
        case StatusCode::kOk:
            return "ok";
        case StatusCode::kInvalidArgument:
            return "invalid_argument";
        case StatusCode::kNotFound:
            return "not_found";
        case StatusCode::kFailedPrecondition:
            return "failed_precondition";
        case StatusCode::kResourceExhausted:
            return "resource_exhausted";
        case StatusCode::kUnavailable:
            return "unavailable";
        case StatusCode::kCancelled:
            return "cancelled";
        case StatusCode::kDeadlineExceeded:
            return "deadline_exceeded";
        case StatusCode::kDataLoss:
            return "data_loss";
        case StatusCode::kInternal:
            return "internal";
    }
    return "unknown";
}

std::string Status::to_string() const {
    if (is_ok()) return "ok";
    std::string out(status_code_name(code_));
    out += ": ";
    out += message_;
    return out;
}

bool Status::is_retryable() const {
    switch (code_) {
        case StatusCode::kResourceExhausted:
        case StatusCode::kUnavailable:
        case StatusCode::kDeadlineExceeded:
        case StatusCode::kInternal:
            return true;
        default:
            return false;
    }
}

Status Status::with_context(std::string_view context) const {
    if (is_ok()) return *this;
    std::string m(context);
    m += ": ";
    m += message_;
    return {code_, std::move(m)};
}

Status invalid_argument(std::string m) { return {StatusCode::kInvalidArgument, std::move(m)}; }
Status not_found(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
Status failed_precondition(std::string m) {
    return {StatusCode::kFailedPrecondition, std::move(m)};
}
Status resource_exhausted(std::string m) { return {StatusCode::kResourceExhausted, std::move(m)}; }
Status unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
Status cancelled(std::string m) { return {StatusCode::kCancelled, std::move(m)}; }
Status deadline_exceeded(std::string m) { return {StatusCode::kDeadlineExceeded, std::move(m)}; }
Status data_loss(std::string m) { return {StatusCode::kDataLoss, std::move(m)}; }
Status internal_error(std::string m) { return {StatusCode::kInternal, std::move(m)}; }

void die_on_bad_result_access(const Status& status) {
    internal::check_failed(__FILE__, __LINE__, "result.is_ok()",
                           "value() of an error Result: " + status.to_string());
}

namespace internal {
void check_failed(const char* file, int line, const char* cond, std::string_view msg) {
    std::fprintf(stderr, "resident: invariant broken at %s:%d: %s: %.*s\n", file, line, cond,
                 static_cast<int>(msg.size()), msg.data());
    std::fflush(stderr);
    std::abort();
}
}  // namespace internal

}  // namespace resident
