/*
 * ocrcloud.hpp: a header-only C++17 interface to ocrcloud.h, the client of the Aspose OCR Cloud
 * v5.0 task API. Link with -locrcloud as for C.
 *
 * - Every object owns its native handle (std::unique_ptr with the matching _free) and is
 *   move-only; a moved-from object holds nothing, and every method on it (and passing it to
 *   another object's method) throws Error(OCR_ERR_INVALID_ARGUMENT), never crashes. Only
 *   native() answers, nullptr; a Result also holds nothing when it is a failed PollOutcome's.
 * - Failures throw ocrcloud::Error with the library's code and message.
 * - Nullable string arguments are `const char *`: nullptr means what NULL means in C (no token,
 *   the default base URL, the operation RecognizePdf, the default settings).
 * - Threads: as in C. A Client may be shared by any number of threads (except for its setters,
 *   which are non-const here), CancelToken::cancel works from any thread, a Result may be read
 *   by many threads, and progress callbacks run on the thread that called the poll.
 *   set_log_handler may be called from any thread at any time.
 */
#ifndef OCRCLOUD_HPP
#define OCRCLOUD_HPP

#include "ocrcloud.h"

#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <new>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ocrcloud {

/// A failure reported by the library. what() is "<code name>: <the library's sentence>".
class Error : public std::runtime_error {
public:
    Error(ocr_code code, const std::string &message)
        : std::runtime_error(std::string(ocr_code_name(code)) + ": " + message), code_(code) {}

    /// The OCR_ERR_* code.
    ocr_code code() const noexcept { return code_; }
    /// The code's name, e.g. "OCR_ERR_TASK_FAILED".
    const char *code_name() const noexcept { return ocr_code_name(code_); }

private:
    ocr_code code_;
};

/// The version of the loaded library, e.g. "0.1.0".
inline std::string_view version() noexcept { return ocr_version(); }

namespace detail {

/// Throws the Error of a failed call; must run right after it, on the same thread.
inline void check(ocr_code code) {
    if (code != OCR_OK) throw Error(code, ocr_last_error_message());
}

/// `handle`, or Error(OCR_ERR_INVALID_ARGUMENT) when the object of class `owner` holds none.
template <typename Handle>
Handle *held(Handle *handle, const char *owner) {
    if (!handle) {
        throw Error(OCR_ERR_INVALID_ARGUMENT,
                    std::string("this ocrcloud::") + owner + " holds nothing (it was moved from)");
    }
    return handle;
}

inline std::string_view view(const char *text) noexcept {
    return text ? std::string_view(text) : std::string_view();
}

struct ClientFree {
    void operator()(ocr_client *client) const noexcept { ocr_client_free(client); }
};
struct ResultFree {
    void operator()(ocr_result *result) const noexcept { ocr_result_free(result); }
};
struct OptionsFree {
    void operator()(ocr_poll_options *options) const noexcept { ocr_poll_options_free(options); }
};
struct CallOptionsFree {
    void operator()(ocr_call_options *options) const noexcept { ocr_call_options_free(options); }
};
struct CancelFree {
    void operator()(ocr_cancel *cancel) const noexcept { ocr_cancel_free(cancel); }
};
struct StringFree {
    void operator()(char *text) const noexcept { ocr_string_free(text); }
};
struct BatchFree {
    void operator()(ocr_batch *batch) const noexcept { ocr_batch_free(batch); }
};

/// Copies a string the library gave to the caller, and frees it.
inline std::string take(char *text) {
    std::unique_ptr<char, StringFree> owned(text);
    return std::string(owned.get());
}

/// The exception a progress callback threw during the poll running on this thread. Exceptions
/// must not cross the C callback, so the trampoline keeps it here and the poll rethrows it once
/// the C call returns. Progress runs on the polling thread, so a per-thread slot keeps apart the
/// polls of several threads that share one PollOptions.
inline std::exception_ptr &progress_exception() noexcept {
    static thread_local std::exception_ptr pending;
    return pending;
}

inline void rethrow_progress_exception() {
    if (std::exception_ptr pending = std::exchange(progress_exception(), nullptr)) {
        std::rethrow_exception(pending);
    }
}

using LogHandler = std::function<void(int, std::string_view)>;

/// The handler that set_log_handler installed (the callback's user data), and the lock that
/// keeps setters in turn. Never destroyed: library threads may log until the process ends.
struct LogSlot {
    std::mutex lock;
    std::unique_ptr<LogHandler> installed;
};

inline LogSlot &log_slot() {
    static LogSlot *slot = new LogSlot;
    return *slot;
}

inline void log_trampoline(void *user_data, int32_t level, const char *message) noexcept {
    try {
        (*static_cast<const LogHandler *>(user_data))(level, message);
    } catch (...) {
        // A log line is not worth unwinding through the library: it is dropped.
    }
}

}  // namespace detail

/// Chooses the library's log lines, process-wide: OCR_LOG_OFF, OCR_LOG_WARN, OCR_LOG_INFO or
/// OCR_LOG_DEBUG (overrides $OCRCLOUD_LOG).
inline void set_log_level(int level) { detail::check(ocr_set_log_level(level)); }

/// Sends the library's log lines (request lines, retries, waits, token refreshes; never a
/// secret) to `handler(level, message)` instead of stderr; an empty handler restores stderr.
/// The handler may run on any thread, also on several at once; exceptions it throws are
/// dropped. Safe from any thread, also while lines are logged: the previous handler is
/// destroyed only once the library has stopped calling it. Do not call set_log_handler from
/// inside the handler.
inline void set_log_handler(std::function<void(int, std::string_view)> handler) {
    std::unique_ptr<detail::LogHandler> next;
    if (handler) next = std::make_unique<detail::LogHandler>(std::move(handler));
    detail::LogSlot &slot = detail::log_slot();
    std::lock_guard<std::mutex> guard(slot.lock);
    ocr_set_log_callback(next ? detail::log_trampoline : nullptr, next.get());
    // ocr_set_log_callback has returned, so the previous handler is no longer running.
    slot.installed = std::move(next);
}

/// A switch that ends the polls and calls whose options (PollOptions, CallOptions) use it with
/// OCR_ERR_CANCELLED within milliseconds. cancel() is safe from any thread; once triggered it
/// stays triggered. Options keep their own reference, so the token may be destroyed before them.
class CancelToken {
public:
    CancelToken() : cancel_(ocr_cancel_new()) {
        if (!cancel_) throw std::bad_alloc();
    }

    /// Triggers the token.
    void cancel() const { ocr_cancel_trigger(detail::held(cancel_.get(), "CancelToken")); }

    const ocr_cancel *native() const noexcept { return cancel_.get(); }

private:
    std::unique_ptr<ocr_cancel, detail::CancelFree> cancel_;
};

/// How to poll, built with chained setters. Defaults: first wait 3000 ms, backoff 1.5 up to
/// 5000 ms, no attempt limit, a deadline of 600000 ms, no cancel token, no progress.
/// Setters must not run while a poll uses the options; many polls may use them at once.
class PollOptions {
public:
    /// Called once per answer, on the thread that called the poll. If it throws, it is not
    /// called again during that poll, the poll goes on to its end, and then the exception is
    /// rethrown instead of the poll's outcome.
    using Progress = std::function<void(std::string_view task_id, ocr_task_status status,
                                        std::uint32_t attempt)>;

    PollOptions() : options_(ocr_poll_options_new()) {
        if (!options_) throw std::bad_alloc();
    }

    /// The first wait, in milliseconds.
    PollOptions &interval_ms(std::uint32_t first_interval_ms) {
        detail::check(ocr_poll_options_set_interval_ms(handle(), first_interval_ms));
        return *this;
    }
    /// The n-th wait is min(first * factor^(n-1), max_interval_ms); factor >= 1.
    PollOptions &backoff(double factor, std::uint32_t max_interval_ms) {
        detail::check(ocr_poll_options_set_backoff(handle(), factor, max_interval_ms));
        return *this;
    }
    /// Learn the schedule from the client's earlier tasks (the default), or keep the fixed one.
    /// interval_ms() and backoff() turn learning off; call this after them to learn anyway.
    PollOptions &learning(bool on) {
        detail::check(ocr_poll_options_set_learning(handle(), on ? 1 : 0));
        return *this;
    }
    /// What one request costs, in seconds of waiting, for the learned schedule (0.5); >= 0.
    PollOptions &request_cost(double seconds) {
        detail::check(ocr_poll_options_set_request_cost(handle(), seconds));
        return *this;
    }
    /// At most this many requests (then OCR_ERR_NOT_READY); 0: no limit.
    PollOptions &max_attempts(std::uint32_t attempts) {
        detail::check(ocr_poll_options_set_max_attempts(handle(), attempts));
        return *this;
    }
    /// The deadline of the whole poll (then OCR_ERR_TIMEOUT); 0: none.
    PollOptions &timeout_ms(std::uint32_t timeout_ms) {
        detail::check(ocr_poll_options_set_timeout_ms(handle(), timeout_ms));
        return *this;
    }
    /// The token that cancels polls using these options.
    PollOptions &cancel(const CancelToken &token) {
        detail::check(ocr_poll_options_set_cancel(
            handle(), detail::held(token.native(), "CancelToken")));
        cancel_ = token.native();
        return *this;
    }
    /// The progress callback; an empty function removes it.
    PollOptions &progress(Progress callback) {
        std::unique_ptr<Progress> next;
        if (callback) next = std::make_unique<Progress>(std::move(callback));
        detail::check(
            ocr_poll_options_set_progress(handle(), next ? &trampoline : nullptr, next.get()));
        progress_ = std::move(next);
        return *this;
    }

    const ocr_poll_options *native() const noexcept { return options_.get(); }

private:
    friend class Client;
    friend class Batch;

    ocr_poll_options *handle() const { return detail::held(options_.get(), "PollOptions"); }

    static void trampoline(void *user_data, const char *task_id, ocr_task_status status,
                           std::uint32_t attempt) noexcept {
        std::exception_ptr &pending = detail::progress_exception();
        if (pending) return;
        try {
            (*static_cast<const Progress *>(user_data))(task_id, status, attempt);
        } catch (...) {
            pending = std::current_exception();
        }
    }

    std::unique_ptr<ocr_poll_options, detail::OptionsFree> options_;
    std::unique_ptr<Progress> progress_;  // user_data: stays put when the options move
    // The token of cancel(), which the native options keep alive: Batch::run triggers it.
    const ocr_cancel *cancel_ = nullptr;
};

/// The limits of one call of submit, submit_file, fetch, fetch_to_dir, task_status and
/// cancel_task, built with chained setters: a deadline (then OCR_ERR_TIMEOUT) and a cancel token
/// (then OCR_ERR_CANCELLED, within 50 ms of the trigger, whatever the call is waiting for).
/// Defaults: no deadline beyond the client's timeouts, no token. Setters must not run while a
/// call uses the options; many calls may use them at once.
class CallOptions {
public:
    CallOptions() : options_(ocr_call_options_new()) {
        if (!options_) throw std::bad_alloc();
    }

    /// The deadline of each call, counted from its start, in milliseconds; 0: none.
    CallOptions &timeout_ms(std::uint32_t timeout_ms) {
        detail::check(ocr_call_options_set_timeout_ms(handle(), timeout_ms));
        return *this;
    }
    /// The token that cancels calls using these options.
    CallOptions &cancel(const CancelToken &token) {
        detail::check(
            ocr_call_options_set_cancel(handle(), detail::held(token.native(), "CancelToken")));
        return *this;
    }

    const ocr_call_options *native() const noexcept { return options_.get(); }

private:
    friend class Client;

    // Moved-from options are refused, not taken for NULL (no limits).
    ocr_call_options *handle() const { return detail::held(options_.get(), "CallOptions"); }

    std::unique_ptr<ocr_call_options, detail::CallOptionsFree> options_;
};

/// One answer of the service for a task. Move-only; the views it answers stay valid as long as
/// the native result lives (until the Result, or the one it was moved to, is destroyed).
class Result {
public:
    /// Takes ownership of a result from the C API (nullptr: an empty Result).
    explicit Result(ocr_result *result) noexcept : result_(result) {}

    /// Whether this holds an answer (not moved from, not a failed PollOutcome's).
    explicit operator bool() const noexcept { return result_ != nullptr; }

    ocr_task_status status() const { return ocr_result_task_status(handle()); }
    /// The status exactly as the server sent it, e.g. "Completed".
    std::string_view status_text() const {
        return detail::view(ocr_result_task_status_text(handle()));
    }
    std::string_view id() const { return detail::view(ocr_result_id(handle())); }
    /// The raw responseStatusCode, e.g. "Ok".
    std::string_view response_status() const {
        return detail::view(ocr_result_response_status(handle()));
    }
    /// How many result files there are (0 until the task is Completed).
    std::size_t count() const { return ocr_result_count(handle()); }

    /// The type of file `index` ("Text", "Pdf", ...); std::out_of_range past count().
    std::string_view type(std::size_t index) const {
        const char *type = ocr_result_type(handle(), index);
        if (!type) throw std::out_of_range("ocrcloud::Result::type: no such result file");
        return type;
    }
    /// The decoded bytes of file `index` (binary; not NUL-terminated). std::out_of_range past
    /// count(), and for files that a _to_dir call wrote (see path()).
    std::string_view data(std::size_t index) const {
        std::size_t len = 0;
        const std::uint8_t *data = ocr_result_data(handle(), index, &len);
        if (!data) throw std::out_of_range("ocrcloud::Result::data: no such file in memory");
        return std::string_view(reinterpret_cast<const char *>(data), len);
    }
    /// The number of bytes of file `index`, in memory or in its file; 0 past count().
    std::uint64_t size(std::size_t index) const {
        return ocr_result_size(handle(), index);
    }
    /// Where a _to_dir call wrote file `index`; empty for files in memory and past count().
    std::string_view path(std::size_t index) const {
        return detail::view(ocr_result_path(handle(), index));
    }

    /// error.messages: why the task failed.
    std::vector<std::string> messages() const {
        std::vector<std::string> list;
        for (std::size_t i = 0; i < ocr_result_message_count(handle()); i++) {
            list.emplace_back(ocr_result_message(handle(), i));
        }
        return list;
    }
    /// error.warnings.
    std::vector<std::string> warnings() const {
        std::vector<std::string> list;
        for (std::size_t i = 0; i < ocr_result_warning_count(handle()); i++) {
            list.emplace_back(ocr_result_warning(handle(), i));
        }
        return list;
    }

    /// Writes file `index` to `path` atomically (a failure leaves no partial file).
    void save(std::size_t index, const std::string &path) const {
        detail::check(ocr_result_save(handle(), index, path.c_str()));
    }

    const ocr_result *native() const noexcept { return result_.get(); }

private:
    ocr_result *handle() const { return detail::held(result_.get(), "Result"); }

    std::unique_ptr<ocr_result, detail::ResultFree> result_;
};

/// One task's outcome in Client::poll_many: `code` is what poll would have thrown (OCR_OK:
/// `result` holds the Completed answer; otherwise `result` is empty) and `message` the sentence
/// it would have carried ("" for OCR_OK). error() is that Error.
struct PollOutcome {
    ocr_code code;
    Result result;
    std::string message;

    Error error() const { return Error(code, message); }
};

/// The request budget of a Client (Client::stats): counts since the client was created and its
/// state now (the OCR_STAT_* figures of ocr_client_stats).
struct ClientStats {
    /// Requests sent (every attempt, token requests included).
    std::uint64_t requests = 0;
    /// Retries of failed requests (not the polls of a poll).
    std::uint64_t retries = 0;
    /// Answers 429 or 503.
    std::uint64_t throttled = 0;
    /// Token requests.
    std::uint64_t token_fetches = 0;
    /// The requests per second allowed now; 0: unlimited.
    double rate = 0;
    /// Whether the circuit breaker is open (requests fail at once, without being sent).
    bool breaker_open = false;
    /// The retry quota left: 500 at most; a retry costs 5 (10 after a timeout), a success 1 back.
    std::uint32_t retry_quota = 0;
};

/// A connection to the service: base URL, credentials, settings and a connection pool.
/// `operation` arguments name the API operation (nullptr: "RecognizePdf"). Thread-safe except
/// for the setters; Settings apply to calls that start after the change.
class Client {
public:
    /// A client that sends a fixed token (nullptr: none, enough for the trial operations).
    /// base_url nullptr means https://api.aspose.cloud; plain http:// only for loopback hosts
    /// unless set_allow_insecure_http(true).
    static Client with_token(const char *base_url, const char *token = nullptr) {
        ocr_client *client = nullptr;
        detail::check(ocr_client_new(base_url, token, &client));
        return Client(client);
    }
    /// A client that obtains and refreshes tokens from {base_url}/connect/token itself.
    static Client with_credentials(const char *base_url, const std::string &client_id,
                                   const std::string &client_secret) {
        ocr_client *client = nullptr;
        detail::check(ocr_client_new_with_credentials(base_url, client_id.c_str(),
                                                      client_secret.c_str(), &client));
        return Client(client);
    }

    Client &set_connect_timeout_ms(std::uint32_t ms) {
        detail::check(ocr_client_set_connect_timeout_ms(handle(), ms));
        return *this;
    }
    Client &set_read_timeout_ms(std::uint32_t ms) {
        detail::check(ocr_client_set_read_timeout_ms(handle(), ms));
        return *this;
    }
    Client &set_request_timeout_ms(std::uint32_t ms) {
        detail::check(ocr_client_set_request_timeout_ms(handle(), ms));
        return *this;
    }
    Client &set_user_agent(const std::string &user_agent) {
        detail::check(ocr_client_set_user_agent(handle(), user_agent.c_str()));
        return *this;
    }
    Client &set_max_response_bytes(std::uint64_t max_bytes) {
        detail::check(ocr_client_set_max_response_bytes(handle(), max_bytes));
        return *this;
    }
    Client &set_allow_insecure_http(bool allow) {
        detail::check(ocr_client_set_allow_insecure_http(handle(), allow ? 1 : 0));
        return *this;
    }
    /// How many requests one call sends at most when failures are transient (default 3).
    Client &set_max_attempts(std::uint32_t attempts) {
        detail::check(ocr_client_set_max_attempts(handle(), attempts));
        return *this;
    }
    /// How many requests poll_many has in flight at most (default 4).
    Client &set_max_connections(std::uint32_t connections) {
        detail::check(ocr_client_set_max_connections(handle(), connections));
        return *this;
    }
    /// Also trusts the CA certificates in the PEM file at `pem_path` (nullptr: back to the
    /// default, the system's store). A missing or certificate-less file is
    /// OCR_ERR_INVALID_ARGUMENT and leaves the client as it was. An untrusted certificate is
    /// OCR_ERR_TLS.
    Client &set_ca_file(const char *pem_path) {
        detail::check(ocr_client_set_ca_file(handle(), pem_path));
        return *this;
    }
    /// Like set_ca_file, with the PEM text in memory (copied); text without a certificate,
    /// also an empty view, is OCR_ERR_INVALID_ARGUMENT.
    Client &set_ca_pem(std::string_view pem) {
        const char *data = pem.data() ? pem.data() : "";
        detail::check(ocr_client_set_ca_pem(
            handle(), reinterpret_cast<const std::uint8_t *>(data), pem.size()));
        return *this;
    }
    /// set_ca_pem(nullptr): back to the default, as set_ca_file(nullptr).
    Client &set_ca_pem(std::nullptr_t) {
        detail::check(ocr_client_set_ca_pem(handle(), nullptr, 0));
        return *this;
    }
    /// The proxy for a base URL that is not loopback: "http://[user:password@]host:port" or
    /// "https://..." (CONNECT); "": none; nullptr: the environment's (HTTPS_PROXY, ...), the
    /// default. SOCKS and other schemes are OCR_ERR_INVALID_ARGUMENT.
    Client &set_proxy(const char *proxy_url) {
        detail::check(ocr_client_set_proxy(handle(), proxy_url));
        return *this;
    }

    /// The most requests per second the client sends, all threads and poll_many together; 0 (the
    /// default): unlimited. Either way a 429 or 503 slows the client down, and it speeds up
    /// again by one request per second each second without throttling. A negative, infinite or
    /// NaN rate is OCR_ERR_INVALID_ARGUMENT.
    Client &set_max_rate(double per_second) {
        detail::check(ocr_client_set_max_rate(handle(), per_second));
        return *this;
    }
    /// The circuit breaker, on by default: after 5 failures in a row (a 5xx other than 503, or
    /// no connection) within 10 s, requests fail at once, without being sent, with
    /// OCR_ERR_NETWORK and a message saying the service looks down, until a probe (one every
    /// 5 s) succeeds. false turns it off (and closes it).
    Client &set_circuit_breaker(bool enabled) {
        detail::check(ocr_client_set_circuit_breaker(handle(), enabled ? 1 : 0));
        return *this;
    }
    /// The request budget now (see ClientStats). The figures are read one after the other, not
    /// as one snapshot.
    ClientStats stats() const {
        auto figure = [this](int what) {
            double value = 0;
            detail::check(ocr_client_stats(handle(), what, &value));
            return value;
        };
        ClientStats stats;
        stats.requests = static_cast<std::uint64_t>(figure(OCR_STAT_REQUESTS));
        stats.retries = static_cast<std::uint64_t>(figure(OCR_STAT_RETRIES));
        stats.throttled = static_cast<std::uint64_t>(figure(OCR_STAT_THROTTLED));
        stats.token_fetches = static_cast<std::uint64_t>(figure(OCR_STAT_TOKEN_FETCHES));
        stats.rate = figure(OCR_STAT_RATE);
        stats.breaker_open = figure(OCR_STAT_BREAKER_OPEN) != 0;
        stats.retry_quota = static_cast<std::uint32_t>(figure(OCR_STAT_RETRY_QUOTA));
        return stats;
    }

    /// Submits a document (binary bytes in a string_view) and answers the new task's id.
    /// settings_json: a JSON object, or nullptr for the operation's defaults.
    std::string submit(std::string_view document, const char *operation = nullptr,
                       const char *settings_json = nullptr) const {
        char *task_id = nullptr;
        detail::check(ocr_submit(handle(), operation,
                                 reinterpret_cast<const std::uint8_t *>(document.data()),
                                 document.size(), settings_json, &task_id));
        return detail::take(task_id);
    }
    /// submit within the limits of `call`.
    std::string submit(std::string_view document, const CallOptions &call,
                       const char *operation = nullptr,
                       const char *settings_json = nullptr) const {
        char *task_id = nullptr;
        detail::check(ocr_submit_ex(handle(), operation,
                                    reinterpret_cast<const std::uint8_t *>(document.data()),
                                    document.size(), settings_json, call.handle(), &task_id));
        return detail::take(task_id);
    }
    /// Submits the file at `path` (read while it is encoded); an unreadable file is OCR_ERR_IO.
    std::string submit_file(const std::string &path, const char *operation = nullptr,
                            const char *settings_json = nullptr) const {
        char *task_id = nullptr;
        detail::check(
            ocr_submit_file(handle(), operation, path.c_str(), settings_json, &task_id));
        return detail::take(task_id);
    }
    /// submit_file within the limits of `call`.
    std::string submit_file(const std::string &path, const CallOptions &call,
                            const char *operation = nullptr,
                            const char *settings_json = nullptr) const {
        char *task_id = nullptr;
        detail::check(ocr_submit_file_ex(handle(), operation, path.c_str(), settings_json,
                                         call.handle(), &task_id));
        return detail::take(task_id);
    }

    /// One request for the task's current answer; every status is information.
    Result fetch(const std::string &task_id, const char *operation = nullptr) const {
        ocr_result *result = nullptr;
        detail::check(ocr_fetch_result_for(handle(), operation, task_id.c_str(), &result));
        return Result(result);
    }
    /// fetch within the limits of `call`.
    Result fetch(const std::string &task_id, const CallOptions &call,
                 const char *operation = nullptr) const {
        ocr_result *result = nullptr;
        detail::check(ocr_fetch_result_ex(handle(), operation, task_id.c_str(),
                                          call.handle(), &result));
        return Result(result);
    }

    /// Polls with the default options until the task is Completed; throws Error otherwise
    /// (OCR_ERR_TASK_FAILED, OCR_ERR_TASK_NOT_FOUND, OCR_ERR_TIMEOUT, ...).
    Result poll(const std::string &task_id, const char *operation = nullptr) const {
        ocr_result *result = nullptr;
        detail::check(ocr_poll_until_done_for(handle(), operation, task_id.c_str(), nullptr,
                                              &result));
        return Result(result);
    }
    /// Polls as `options` say until the task is Completed; throws Error otherwise, or the
    /// exception of the progress callback.
    Result poll(const std::string &task_id, const PollOptions &options,
                const char *operation = nullptr) const {
        ocr_result *out = nullptr;
        detail::progress_exception() = nullptr;
        ocr_code code = ocr_poll_until_done_for(handle(), operation, task_id.c_str(),
                                                options.handle(), &out);
        Result result(out);
        detail::rethrow_progress_exception();
        detail::check(code);
        return result;
    }

    /// Like fetch, but the result files are written to the existing folder `dir` while the
    /// answer arrives (named <task id>.<ext>; see ocr_fetch_result_to_dir); read them with
    /// Result::path and Result::size. A missing folder is OCR_ERR_IO.
    Result fetch_to_dir(const std::string &task_id, const std::string &dir,
                        const char *operation = nullptr) const {
        ocr_result *result = nullptr;
        detail::check(ocr_fetch_result_to_dir(handle(), operation, task_id.c_str(),
                                              dir.c_str(), &result));
        return Result(result);
    }
    /// fetch_to_dir within the limits of `call` (the options second, as for poll_to_dir).
    Result fetch_to_dir(const std::string &task_id, const CallOptions &call,
                        const std::string &dir, const char *operation = nullptr) const {
        ocr_result *result = nullptr;
        detail::check(ocr_fetch_result_to_dir_ex(handle(), operation, task_id.c_str(),
                                                 dir.c_str(), call.handle(), &result));
        return Result(result);
    }
    /// Like poll, but the final answer's files are written to `dir` as fetch_to_dir says.
    Result poll_to_dir(const std::string &task_id, const PollOptions &options,
                       const std::string &dir, const char *operation = nullptr) const {
        ocr_result *out = nullptr;
        detail::progress_exception() = nullptr;
        ocr_code code = ocr_poll_until_done_to_dir(handle(), operation, task_id.c_str(),
                                                   options.handle(), dir.c_str(), &out);
        Result result(out);
        detail::rethrow_progress_exception();
        detail::check(code);
        return result;
    }

    /// Polls many tasks together from this thread (see ocr_poll_many): one outcome per task, in
    /// order, each with its own message. Throws Error when the call itself fails (nothing
    /// polled), or the exception of the progress callback.
    std::vector<PollOutcome> poll_many(const std::vector<std::string> &task_ids,
                                       const PollOptions &options,
                                       const char *operation = nullptr) const {
        std::vector<const char *> ids;
        for (const std::string &id : task_ids) ids.push_back(id.c_str());
        std::vector<ocr_result *> results(ids.size(), nullptr);
        std::vector<ocr_code> codes(ids.size(), -1);  // -1: not written
        detail::progress_exception() = nullptr;
        ocr_code code = ocr_poll_many(handle(), operation, ids.data(), ids.size(),
                                      options.handle(), results.data(), codes.data());
        std::vector<PollOutcome> outcomes;
        for (std::size_t i = 0; i < ids.size(); i++) {
            // Right after the call, on this thread: task i's own message (NULL if not polled).
            const char *message = codes[i] == -1 ? nullptr : ocr_poll_many_message(i);
            outcomes.push_back(PollOutcome{codes[i], Result(results[i]), message ? message : ""});
        }
        detail::rethrow_progress_exception();
        if (!codes.empty() && codes[0] == -1) detail::check(code);
        return outcomes;
    }

    /// The task's status from the cheap status call (no result data); OCR_TASK_NOT_EXIST for
    /// an unknown id.
    ocr_task_status task_status(const std::string &task_id,
                                const char *operation = nullptr) const {
        ocr_task_status status = OCR_TASK_UNKNOWN;
        detail::check(ocr_get_task_status(handle(), operation, task_id.c_str(), &status));
        return status;
    }
    /// task_status within the limits of `call`.
    ocr_task_status task_status(const std::string &task_id, const CallOptions &call,
                                const char *operation = nullptr) const {
        ocr_task_status status = OCR_TASK_UNKNOWN;
        detail::check(ocr_get_task_status_ex(handle(), operation, task_id.c_str(),
                                             call.handle(), &status));
        return status;
    }
    /// Removes the task from the service's queue; afterwards it answers NotExist.
    void cancel_task(const std::string &task_id, const char *operation = nullptr) const {
        detail::check(ocr_cancel_task(handle(), operation, task_id.c_str()));
    }
    /// cancel_task within the limits of `call`.
    void cancel_task(const std::string &task_id, const CallOptions &call,
                     const char *operation = nullptr) const {
        detail::check(
            ocr_cancel_task_ex(handle(), operation, task_id.c_str(), call.handle()));
    }

    ocr_client *native() const noexcept { return client_.get(); }

private:
    explicit Client(ocr_client *client) noexcept : client_(client) {}

    ocr_client *handle() const { return detail::held(client_.get(), "Client"); }

    std::unique_ptr<ocr_client, detail::ClientFree> client_;
};

/// A batch (see ocr_batch_open): inputs, an output folder and a journal (an SQLite file) that
/// records what was submitted, so that a batch stopped at any moment goes on where it stopped
/// when it is opened and run again with the same inputs. Move-only; it holds the journal's lock
/// until it is destroyed. It borrows its Client, which must outlive it (and may serve other
/// threads meanwhile). A Batch is used by one thread at a time. The strings it answers are
/// copies.
class Batch {
public:
    /// Called on the thread of run() after each change of input `index`'s state (an
    /// OCR_BATCH_* value), once the change is in the journal. It may read the batch (size,
    /// count and the per-input accessors) but must not change it. If it throws, it is not
    /// called again, the run is stopped through the cancel token of its PollOptions (which stays
    /// triggered; without a token the run goes on to its end), and run() rethrows the exception
    /// once the run has returned.
    using Progress = std::function<void(std::size_t index, ocr_batch_state state)>;

    /// Opens a batch that writes results into `output_dir` (created if missing), with its
    /// journal at `journal_path` (nullptr: <output_dir>/.ocrcloud/journal.sqlite). A journal
    /// that another open batch holds is OCR_ERR_IO ("... is in use by another batch ...").
    static Batch open(const Client &client, const char *journal_path,
                      const std::string &output_dir) {
        ocr_batch *batch = nullptr;
        detail::check(ocr_batch_open(detail::held(client.native(), "Client"), journal_path,
                                     output_dir.c_str(), &batch));
        return Batch(batch);
    }

    /// Opens batch `name` of a journal in PostgreSQL that many processes share (see
    /// ocr_batch_open_shared and docs/shared-batches.md): `url` is
    /// postgresql://USER[:PASSWORD]@HOST[:PORT]/DB; results go to `output_dir`. A newer schema is
    /// OCR_ERR_INVALID_ARGUMENT, an unreachable database OCR_ERR_IO; the password is in no
    /// message. Then add inputs and run() as for open().
    static Batch open_shared(const Client &client, const std::string &url,
                             const std::string &name, const std::string &output_dir) {
        ocr_batch *batch = nullptr;
        detail::check(ocr_batch_open_shared(detail::held(client.native(), "Client"), url.c_str(),
                                            name.c_str(), output_dir.c_str(), &batch));
        return Batch(batch);
    }

    /// Adds one file, its results named after its path relative to `root` (nullptr: its own
    /// folder). `operation` nullptr chooses by extension; `settings_json` nullptr takes the
    /// operation's defaults. A file that cannot be submitted (empty, say) is added as failed.
    void add_file(const std::string &path, const char *root = nullptr,
                  const char *operation = nullptr, const char *settings_json = nullptr) {
        detail::check(ocr_batch_add_file(handle(), path.c_str(), root, operation, settings_json));
    }
    /// Adds every PDF and image under `folder`, recursively (hidden entries skipped), named
    /// after their paths relative to it; answers how many were added.
    std::size_t add_folder(const std::string &folder, const char *operation = nullptr,
                           const char *settings_json = nullptr) {
        std::size_t added = 0;
        detail::check(
            ocr_batch_add_folder(handle(), folder.c_str(), operation, settings_json, &added));
        return added;
    }

    /// Runs until every input is completed or failed, with at most `jobs` requests at once
    /// (0: 8). `options` set how each task is polled; their cancel token stops the run
    /// (OCR_ERR_CANCELLED) and their progress callback is not used. Returns normally even if
    /// some inputs failed (see count); throws Error when the whole batch stops, or the exception
    /// of `progress`.
    void run(std::uint32_t jobs, const PollOptions &options, Progress progress = nullptr) {
        RunState state{&progress, options.cancel_, nullptr};
        ocr_code code = ocr_batch_run(handle(), jobs, options.handle(),
                                      progress ? &trampoline : nullptr, &state);
        if (state.failure) std::rethrow_exception(state.failure);
        detail::check(code);
    }
    /// run with the default poll options and a cancel token of its own, which stops the run
    /// when `progress` throws.
    void run(std::uint32_t jobs = 0, Progress progress = nullptr) {
        CancelToken token;
        PollOptions options;
        options.cancel(token);
        run(jobs, options, std::move(progress));
    }

    /// How many inputs were added.
    std::size_t size() const { return ocr_batch_size(handle()); }
    /// How many inputs are in `state` (an OCR_BATCH_* value).
    std::size_t count(ocr_batch_state state) const { return ocr_batch_count(handle(), state); }

    // The accessors of input `index` throw std::out_of_range for an index past size().

    /// The state of input `index` (an OCR_BATCH_* value).
    ocr_batch_state state(std::size_t index) const {
        return ocr_batch_item_state(item(index), index);
    }
    /// Its path as it was added.
    std::string path(std::size_t index) const {
        return ocr_batch_item_path(item(index), index);
    }
    /// Its task id; "" if it has none.
    std::string task_id(std::size_t index) const {
        return std::string(detail::view(ocr_batch_item_task_id(item(index), index)));
    }
    /// The code of its failure; OCR_OK if it did not fail.
    ocr_code code(std::size_t index) const { return ocr_batch_item_code(item(index), index); }
    /// Why it failed; "" if it did not.
    std::string message(std::size_t index) const {
        return ocr_batch_item_message(item(index), index);
    }
    /// The paths of its result files (the output folder joined with their names).
    std::vector<std::string> outputs(std::size_t index) const {
        const ocr_batch *batch = item(index);
        std::vector<std::string> list;
        for (std::size_t i = 0; i < ocr_batch_item_output_count(batch, index); i++) {
            list.emplace_back(detail::view(ocr_batch_item_output(batch, index, i)));
        }
        return list;
    }
    /// How often it was submitted again after a submission that may have reached the service.
    std::uint32_t possible_duplicates(std::size_t index) const {
        return ocr_batch_item_possible_duplicates(item(index), index);
    }
    /// Whether an earlier run completed it (nothing was done for it now).
    bool skipped(std::size_t index) const {
        return ocr_batch_item_skipped(item(index), index) != 0;
    }
    /// Seconds from its first submission to its end; -1 if it has not ended.
    double seconds(std::size_t index) const { return ocr_batch_item_seconds(item(index), index); }

    ocr_batch *native() const noexcept { return batch_.get(); }

private:
    explicit Batch(ocr_batch *batch) noexcept : batch_(batch) {}

    /// The user data of one run: the callback, the token that stops the run, and the exception
    /// the callback threw (exceptions must not cross the C callback).
    struct RunState {
        const Progress *progress;
        const ocr_cancel *cancel;
        std::exception_ptr failure;
    };

    static void trampoline(void *user_data, std::size_t index, ocr_batch_state state) noexcept {
        RunState &run = *static_cast<RunState *>(user_data);
        if (run.failure) return;
        try {
            (*run.progress)(index, state);
        } catch (...) {
            run.failure = std::current_exception();
            ocr_cancel_trigger(run.cancel);
        }
    }

    ocr_batch *handle() const { return detail::held(batch_.get(), "Batch"); }

    const ocr_batch *item(std::size_t index) const {
        const ocr_batch *batch = handle();
        if (index >= ocr_batch_size(batch)) {
            throw std::out_of_range("ocrcloud::Batch: no input " + std::to_string(index));
        }
        return batch;
    }

    std::unique_ptr<ocr_batch, detail::BatchFree> batch_;
};

}  // namespace ocrcloud

#endif  // OCRCLOUD_HPP
