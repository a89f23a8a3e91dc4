// Error values for everything a user can cause (bad file, unsupported type, out of memory, ...).
// The engine never throws across its API on user input: functions return Result<T> / Status and
// the CLI prints Error::message, the GUI shows it.
#pragma once
#include <string>
#include <utility>
#include <variant>

namespace moe {

struct Error {
    std::string message;  // one line, names the problem (file, tensor, key, value)
};

template <class T>
class [[nodiscard]] Result {
public:
    Result(T value) : v_(std::move(value)) {}
    Result(Error e) : v_(std::move(e)) {}
    bool ok() const { return v_.index() == 0; }
    explicit operator bool() const { return ok(); }
    T& value() & { return std::get<0>(v_); }
    const T& value() const& { return std::get<0>(v_); }
    T&& value() && { return std::get<0>(std::move(v_)); }
    T* operator->() { return &std::get<0>(v_); }
    const T* operator->() const { return &std::get<0>(v_); }
    T& operator*() & { return std::get<0>(v_); }
    const Error& error() const { return std::get<1>(v_); }
    Error takeError() && { return std::get<1>(std::move(v_)); }

private:
    std::variant<T, Error> v_;
};

// Result<void> equivalent.
class [[nodiscard]] Status {
public:
    Status() = default;
    Status(Error e) : err_(std::move(e.message)), failed_(true) {}
    static Status okStatus() { return {}; }
    bool ok() const { return !failed_; }
    explicit operator bool() const { return ok(); }
    Error error() const { return Error{err_}; }
    const std::string& message() const { return err_; }

private:
    std::string err_;
    bool failed_ = false;
};

inline Error makeError(std::string msg) { return Error{std::move(msg)}; }

}  // namespace moe

// Propagate an error from an expression returning Status or Result<T>.
#define MOE_TRY(expr)                                              \
    do {                                                           \
        auto&& moe_try_r_ = (expr);                                \
        if (!moe_try_r_.ok()) return ::moe::Error{moe_try_r_.error().message}; \
    } while (0)

#define MOE_CONCAT_INNER(a, b) a##b
#define MOE_CONCAT(a, b) MOE_CONCAT_INNER(a, b)
// MOE_ASSIGN(auto x, exprReturningResult) ; returns the error on failure.
#define MOE_ASSIGN(decl, expr) MOE_ASSIGN_IMPL(MOE_CONCAT(moe_r_, __LINE__), decl, expr)
#define MOE_ASSIGN_IMPL(tmp, decl, expr)                      \
    auto tmp = (expr);                                        \
    if (!tmp.ok()) return ::moe::Error{tmp.error().message};  \
    decl = std::move(tmp).value()
