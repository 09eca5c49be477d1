#include "resident/status.h"

#include <gtest/gtest.h>

namespace resident {
namespace {

Result<int> half(int x) {
    if (x % 2 != 0) return invalid_argument("odd");
    return x / 2;
}

Result<int> quarter(int x) {
    RESIDENT_ASSIGN_OR_RETURN(int h, half(x));
    return half(h);
}

TEST(Status, OkAndErrorsCarryCodeAndMessage) {
    EXPECT_TRUE(Status::ok().is_ok());
    const Status s = not_found("no such model");
    EXPECT_FALSE(s.is_ok());
    EXPECT_EQ(s.code(), StatusCode::kNotFound);
    EXPECT_EQ(s.to_string(), "not_found: no such model");
    EXPECT_EQ(s.with_context("loading x").message(), "loading x: no such model");
}

TEST(Status, RetryableCodesAreTheTransientOnes) {
    EXPECT_TRUE(resource_exhausted("m").is_retryable());
    EXPECT_TRUE(unavailable("m").is_retryable());
    // An engine failure may be this process's state: another attempt (another executor) may pass.
    EXPECT_TRUE(internal_error("m").is_retryable());
    EXPECT_FALSE(cancelled("m").is_retryable());
    EXPECT_FALSE(invalid_argument("m").is_retryable());
    EXPECT_FALSE(data_loss("m").is_retryable());
    EXPECT_FALSE(not_found("m").is_retryable());
}

TEST(Result, PropagatesErrorsThroughAssignOrReturn) {
    EXPECT_EQ(*quarter(8), 2);
    EXPECT_EQ(quarter(6).status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(quarter(3).status().message(), "odd");
}

TEST(Result, OkStatusWithoutValueBecomesInternalError) {
    Result<int> r{Status::ok()};
    EXPECT_FALSE(r.is_ok());
    EXPECT_EQ(r.status().code(), StatusCode::kInternal);
}

TEST(ResultDeathTest, ValueOfErrorAbortsLoudly) {
    Result<int> r = invalid_argument("bad");
    EXPECT_DEATH((void)r.value(), "value\\(\\) of an error Result");
}

}  // namespace
}  // namespace resident
