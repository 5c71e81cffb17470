// The C++ interface (include/ocrcloud.hpp) against two emulators started with their default
// credentials and --pending-ms 100 --processing-ms 100 (1000 and 1000 under valgrind), the
// second over HTTPS with --tls-self-signed CA_FILE:
//
//   test BASE_URL SAMPLE_PDF SCRATCH_DIR TLS_URL CA_FILE
//
// Fixtures are made by submitting documents: a PDF completes, anything else ends in Error, an
// unknown id is NotExist. OCR_TEST_UNDER_VALGRIND=1 widens the time bounds and shortens the
// create/free cycles (valgrind checks for leaks instead of the RSS). Prints one line per failed
// check and ends with "N passed, M failed"; exits non-zero on any failure.
#include "ocrcloud.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <functional>
#include <iterator>
#include <limits>
#include <sstream>
#include <atomic>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>
#include <type_traits>
#include <utility>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

using ocrcloud::Batch;
using ocrcloud::CallOptions;
using ocrcloud::Client;
using ocrcloud::Error;
using ocrcloud::PollOptions;
using ocrcloud::Result;
using Clock = std::chrono::steady_clock;

static int passed, failed;

#define CHECK(cond, detail)                                                                 \
    do {                                                                                    \
        if (cond) {                                                                         \
            passed++;                                                                       \
        } else {                                                                            \
            failed++;                                                                       \
            std::cerr << "FAIL " << __FILE__ << ":" << __LINE__ << ": " << #cond << ": "    \
                      << detail << "\n";                                                    \
        }                                                                                   \
    } while (0)

// Runs `body`, which must throw ocrcloud::Error with `code`; answers its what().
template <typename Body>
static std::string expect_error(ocr_code code, Body body, int line) {
    try {
        body();
        failed++;
        std::cerr << "FAIL line " << line << ": no exception, expected " << ocr_code_name(code)
                  << "\n";
    } catch (const Error &error) {
        if (error.code() == code) {
            passed++;
        } else {
            failed++;
            std::cerr << "FAIL line " << line << ": " << error.what() << ", expected "
                      << ocr_code_name(code) << "\n";
        }
        return error.what();
    }
    return "";
}
#define EXPECT_ERROR(code, ...) expect_error(code, [&] { __VA_ARGS__; }, __LINE__)

static bool contains(std::string_view text, std::string_view part) {
    return text.find(part) != std::string_view::npos;
}

static std::string read_file(const std::string &path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

static long rss_bytes() {
    std::ifstream statm("/proc/self/statm");
    long size = 0, resident = 0;
    statm >> size >> resident;
    return resident * sysconf(_SC_PAGESIZE);
}

static const bool under_valgrind = std::getenv("OCR_TEST_UNDER_VALGRIND") != nullptr;
static std::string url, sample_path, scratch, sample, tls_url, ca_file;

static PollOptions fast() {
    PollOptions options;
    options.interval_ms(20).backoff(1.0, 20).timeout_ms(30000);
    return options;
}

static Client demo_client() { return Client::with_credentials(url.c_str(), "demo", "demo-secret"); }

static void test_constants() {
    CHECK(ocrcloud::version() == OCR_VERSION_STRING, ocrcloud::version());
    Error error(OCR_ERR_TIMEOUT, "slow");
    CHECK(error.code() == OCR_ERR_TIMEOUT && std::strcmp(error.code_name(), "OCR_ERR_TIMEOUT") == 0,
          error.code_name());
    CHECK(std::string(error.what()) == "OCR_ERR_TIMEOUT: slow", error.what());
    static_assert(!std::is_copy_constructible_v<Client> && std::is_move_constructible_v<Client>);
    static_assert(!std::is_copy_constructible_v<Result> && std::is_move_assignable_v<Result>);
    static_assert(!std::is_copy_assignable_v<PollOptions>);
    static_assert(!std::is_copy_constructible_v<ocrcloud::CancelToken>);
}

struct Report {
    std::string task_id;
    ocr_task_status status;
    std::uint32_t attempt;
};

static void test_round_trip_with_progress(const Client &client) {
    std::string task_id = client.submit(sample, "RecognizePdf",
                                        R"({"language":"English","resultType":"TextAndPdf"})");
    std::vector<Report> reports;
    PollOptions options;
    options.interval_ms(30).backoff(1.5, 200).timeout_ms(30000).progress(
        [&](std::string_view task, ocr_task_status status, std::uint32_t attempt) {
            reports.push_back(Report{std::string(task), status, attempt});
        });
    Result result = client.poll(task_id, options);
    CHECK(result.status() == OCR_TASK_COMPLETED, result.status());
    CHECK(result.status_text() == "Completed", result.status_text());
    CHECK(result.id() == task_id, result.id());
    CHECK(result.response_status() == "Ok", result.response_status());
    CHECK(result.count() == 2, result.count());
    CHECK(result.type(0) == "Text" && result.type(1) == "Pdf", result.type(0));
    CHECK(contains(result.data(0), "Hello from ocrcloud!"), result.data(0));
    CHECK(result.data(1) == sample, "the Pdf result is the document, byte for byte");
    CHECK(result.messages().empty() && result.warnings().empty(), "no messages");
    bool out_of_range = false;
    try {
        (void)result.data(2);
    } catch (const std::out_of_range &) {
        out_of_range = true;
    }
    CHECK(out_of_range, "data(2) throws std::out_of_range");

    CHECK(reports.size() >= 2, reports.size());
    bool in_order = true;
    for (std::size_t i = 0; i < reports.size(); i++) {
        in_order &= reports[i].attempt == i + 1 && reports[i].task_id == task_id;
    }
    CHECK(in_order, "attempts count from 1, each with the task id");
    CHECK(!reports.empty() && (reports.front().status == OCR_TASK_PENDING ||
                               reports.front().status == OCR_TASK_PROCESSING),
          "first not finished");
    CHECK(!reports.empty() && reports.back().status == OCR_TASK_COMPLETED, "last Completed");

    std::string path = scratch + "/result.pdf";
    result.save(1, path);
    CHECK(read_file(path) == sample, "saved file");
    std::string message =
        EXPECT_ERROR(OCR_ERR_IO, result.save(1, scratch + "/no/such/folder/result.pdf"));
    CHECK(contains(message, "No such file"), message);
    EXPECT_ERROR(OCR_ERR_INVALID_ARGUMENT, result.save(7, path));

    Result again = client.fetch(task_id);
    CHECK(again.status() == OCR_TASK_COMPLETED && again.data(1) == sample, "fetch again");
}

static void test_submit_file_status_and_cancel(const Client &client) {
    std::string task_id = client.submit_file(sample_path, nullptr, R"({"resultType":"Pdf"})");
    ocr_task_status status = client.task_status(task_id);
    CHECK(status == OCR_TASK_PENDING || status == OCR_TASK_PROCESSING, status);
    Result result = client.poll(task_id, fast());
    CHECK(result.count() == 1 && result.data(0) == sample, "submit_file round trip");
    CHECK(client.task_status(task_id) == OCR_TASK_COMPLETED, "status Completed");
    client.cancel_task(task_id);
    CHECK(client.task_status(task_id) == OCR_TASK_NOT_EXIST, "cancelled task is gone");
    std::string message = EXPECT_ERROR(OCR_ERR_IO, client.submit_file("/no/such/file.pdf"));
    CHECK(contains(message, "/no/such/file.pdf"), message);
}

static void test_results_in_files(const Client &client) {
    std::string task_id = client.submit(sample, nullptr, R"({"resultType":"TextAndPdf"})");
    Result result = client.poll_to_dir(task_id, fast(), scratch);
    CHECK(result.count() == 2 && result.path(1) == scratch + "/" + task_id + ".pdf",
          result.path(1));
    CHECK(result.size(1) == sample.size(), result.size(1));
    CHECK(read_file(std::string(result.path(1))) == sample, "the file holds the Pdf result");
    bool in_file = false;
    try {
        (void)result.data(1);
    } catch (const std::out_of_range &) {
        in_file = true;
    }
    CHECK(in_file, "data() of a file result throws");
    Result fetched = client.fetch_to_dir(task_id, scratch);
    CHECK(fetched.path(0) == scratch + "/" + task_id + ".txt", fetched.path(0));
    EXPECT_ERROR(OCR_ERR_IO, client.fetch_to_dir(task_id, scratch + "/missing"));
    Result in_memory = client.fetch(task_id);
    CHECK(in_memory.path(1).empty() && in_memory.size(1) == in_memory.data(1).size(), "memory");
}

static void test_final_statuses(const Client &client) {
    std::string not_a_pdf = client.submit("GIF89a not a pdf");
    std::string message = EXPECT_ERROR(OCR_ERR_TASK_FAILED, client.poll(not_a_pdf, fast()));
    CHECK(contains(message, "The document is not a PDF file."), message);
    CHECK(contains(message, not_a_pdf), message);
    Result failed_result = client.fetch(not_a_pdf);
    CHECK(failed_result.status() == OCR_TASK_ERROR, failed_result.status());
    CHECK(failed_result.messages() == std::vector<std::string>{"The document is not a PDF file."},
          failed_result.messages().size());

    message = EXPECT_ERROR(OCR_ERR_TASK_NOT_FOUND, client.poll("never-existed", fast()));
    CHECK(contains(message, "never-existed"), message);
    Result missing = client.fetch("never-existed");
    CHECK(missing.status() == OCR_TASK_NOT_EXIST && missing.id() == "never-existed", "NotExist");

    EXPECT_ERROR(OCR_ERR_INVALID_ARGUMENT, client.submit("x", "RecognizeEverything"));
    EXPECT_ERROR(OCR_ERR_INVALID_ARGUMENT, client.submit("x", nullptr, "[1]"));
    EXPECT_ERROR(OCR_ERR_INVALID_ARGUMENT, client.fetch(""));
    EXPECT_ERROR(OCR_ERR_INVALID_ARGUMENT, client.fetch("bad\r\nid"));
    EXPECT_ERROR(OCR_ERR_INVALID_ARGUMENT, PollOptions().backoff(0.5, 10));
    EXPECT_ERROR(OCR_ERR_INVALID_ARGUMENT, PollOptions().request_cost(-1.0));
    {
        PollOptions learned;
        learned.learning(false).request_cost(2.0).learning(true).timeout_ms(30000);
        Result done = client.poll(client.submit(sample), learned);
        CHECK(done.status() == OCR_TASK_COMPLETED, done.status());
    }
}

static void test_poll_many(Client &client) {
    std::vector<std::string> ids = {client.submit(sample), client.submit("GIF89a"),
                                    "never-existed", client.submit(sample)};
    client.set_max_connections(2);
    std::vector<std::string> seen;
    PollOptions options = fast();
    options.progress([&](std::string_view task, ocr_task_status, std::uint32_t) {
        seen.emplace_back(task);
    });
    std::vector<ocrcloud::PollOutcome> outcomes = client.poll_many(ids, options);
    CHECK(outcomes.size() == 4, outcomes.size());
    if (outcomes.size() == 4) {
        CHECK(outcomes[0].code == OCR_OK && outcomes[0].result.data(0) == sample, "task 0");
        CHECK(outcomes[1].code == OCR_ERR_TASK_FAILED && !outcomes[1].result,
              ocr_code_name(outcomes[1].code));
        CHECK(outcomes[2].code == OCR_ERR_TASK_NOT_FOUND, ocr_code_name(outcomes[2].code));
        CHECK(outcomes[3].code == OCR_OK && outcomes[3].result.data(0) == sample, "task 3");
    }
    CHECK(seen.size() >= 4, seen.size());
    CHECK(client.poll_many({}, options).empty(), "no tasks");
    std::string empty_id =
        EXPECT_ERROR(OCR_ERR_INVALID_ARGUMENT, client.poll_many({ids[0], ""}, options));
    CHECK(contains(empty_id, "task_ids[1]"), empty_id);
    std::string message =
        EXPECT_ERROR(OCR_ERR_INVALID_ARGUMENT, client.poll_many(ids, options, "Nope"));
    CHECK(contains(message, "Nope"), message);
}

static void test_poll_many_gives_each_task_its_own_message(const Client &client) {
    std::vector<std::string> ids = {client.submit("GIF89a one"), client.submit(sample),
                                    client.submit("GIF89a two"), "never-existed"};
    std::vector<ocrcloud::PollOutcome> outcomes = client.poll_many(ids, fast());
    CHECK(outcomes.size() == 4, outcomes.size());
    if (outcomes.size() != 4) return;
    for (std::size_t i : {0, 2}) {
        const std::string &message = outcomes[i].message;
        CHECK(outcomes[i].code == OCR_ERR_TASK_FAILED, ocr_code_name(outcomes[i].code));
        CHECK(contains(message, "The document is not a PDF file.") && contains(message, ids[i]),
              message);
        CHECK(!contains(message, ids[2 - i]), "task " << i << " has only its own: " << message);
        CHECK(outcomes[i].error().code() == OCR_ERR_TASK_FAILED &&
                  contains(outcomes[i].error().what(), message),
              outcomes[i].error().what());
    }
    CHECK(outcomes[1].code == OCR_OK && outcomes[1].message.empty(), outcomes[1].message);
    CHECK(outcomes[3].code == OCR_ERR_TASK_NOT_FOUND && contains(outcomes[3].message, ids[3]),
          outcomes[3].message);
}

// A loopback listener that accepts connections and never answers: a request to it waits until
// the client gives up.
class SilentServer {
public:
    SilentServer() : listener_(socket(AF_INET, SOCK_STREAM, 0)) {
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t length = sizeof address;
        if (listener_ < 0 || bind(listener_, reinterpret_cast<sockaddr *>(&address), length) != 0 ||
            listen(listener_, 16) != 0 ||
            getsockname(listener_, reinterpret_cast<sockaddr *>(&address), &length) != 0) {
            throw std::runtime_error("the silent server could not listen");
        }
        url_ = "http://127.0.0.1:" + std::to_string(ntohs(address.sin_port));
        acceptor_ = std::thread([this] {
            for (int connection; (connection = accept(listener_, nullptr, nullptr)) >= 0;) {
                std::lock_guard<std::mutex> guard(lock_);
                held_.push_back(connection);
            }
        });
    }
    SilentServer(const SilentServer &) = delete;
    SilentServer &operator=(const SilentServer &) = delete;
    ~SilentServer() {
        shutdown(listener_, SHUT_RDWR);  // ends the accept
        acceptor_.join();
        close(listener_);
        for (int connection : held_) close(connection);
    }

    const std::string &url() const { return url_; }

private:
    int listener_;
    std::string url_;
    std::thread acceptor_;
    std::mutex lock_;
    std::vector<int> held_;
};

// The base URL of a loopback port that nothing listens on: connections are refused.
static std::string dead_url() {
    int probe = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (probe < 0 || bind(probe, reinterpret_cast<sockaddr *>(&address), length) != 0 ||
        getsockname(probe, reinterpret_cast<sockaddr *>(&address), &length) != 0) {
        throw std::runtime_error("no free loopback port");
    }
    close(probe);
    return "http://127.0.0.1:" + std::to_string(ntohs(address.sin_port));
}

static bool operator==(const ocrcloud::ClientStats &a, const ocrcloud::ClientStats &b) {
    return a.requests == b.requests && a.retries == b.retries && a.throttled == b.throttled &&
           a.token_fetches == b.token_fetches && a.rate == b.rate &&
           a.breaker_open == b.breaker_open && a.retry_quota == b.retry_quota;
}

static std::ostream &operator<<(std::ostream &out, const ocrcloud::ClientStats &s) {
    return out << "{requests " << s.requests << ", retries " << s.retries << ", throttled "
               << s.throttled << ", token_fetches " << s.token_fetches << ", rate " << s.rate
               << ", breaker_open " << s.breaker_open << ", retry_quota " << s.retry_quota << "}";
}

static void test_stats_count_the_requests_and_the_token_fetches() {
    std::string task_id = demo_client().submit(sample);
    Client client = demo_client();
    ocrcloud::ClientStats fresh;
    fresh.retry_quota = 500;
    CHECK(client.stats() == fresh, client.stats());
    client.poll(task_id, fast());  // Completed: from here on one request per fetch
    ocrcloud::ClientStats before = client.stats();
    CHECK(before.token_fetches == 1, before);
    for (int i = 0; i < 3; i++) client.fetch(task_id);
    ocrcloud::ClientStats after = client.stats();
    CHECK(after.requests == before.requests + 3, before << " then " << after);
    CHECK(after.token_fetches == 1 && after.retries == 0 && after.throttled == 0 &&
              after.rate == 0 && !after.breaker_open && after.retry_quota == 500,
          after);
    Client fetches_only = demo_client();
    for (int i = 0; i < 3; i++) fetches_only.fetch(task_id);
    ocrcloud::ClientStats three = fetches_only.stats();
    CHECK(three.requests == 4 && three.token_fetches == 1, three);  // and the token request
}

static void test_max_rate_is_validated_and_shown_in_the_stats() {
    Client client = demo_client();
    for (double bad : {-1.0, -0.5, std::numeric_limits<double>::quiet_NaN(),
                       std::numeric_limits<double>::infinity(),
                       -std::numeric_limits<double>::infinity()}) {
        std::string message = EXPECT_ERROR(OCR_ERR_INVALID_ARGUMENT, client.set_max_rate(bad));
        CHECK(contains(message, "per_second"), message);
    }
    CHECK(client.stats().rate == 0, client.stats());  // the refusals changed nothing
    CHECK(client.set_max_rate(20).stats().rate == 20, client.stats());
    CHECK(client.set_max_rate(2.5).stats().rate == 2.5, client.stats());
    CHECK(client.set_max_rate(0).stats().rate == 0, client.stats());
    CHECK(client.stats().requests == 0, client.stats());
}

static void test_the_circuit_breaker_opens_on_a_dead_port_unless_turned_off() {
    std::string dead = dead_url();
    Client off = Client::with_token(dead.c_str(), "token");
    off.set_max_attempts(1).set_circuit_breaker(false);
    for (int i = 0; i < 6; i++) {
        std::string message = EXPECT_ERROR(OCR_ERR_NETWORK, off.fetch("x"));
        CHECK(!contains(message, "looks down"), i << ": " << message);
    }
    CHECK(!off.stats().breaker_open && off.stats().requests == 6, off.stats());

    Client on = Client::with_token(dead.c_str(), "token");
    on.set_max_attempts(1);  // the breaker is on by default
    for (int i = 0; i < 5; i++) {
        std::string message = EXPECT_ERROR(OCR_ERR_NETWORK, on.fetch("x"));
        CHECK(!contains(message, "looks down"), i << ": " << message);
    }
    Clock::time_point started = Clock::now();
    std::string message = EXPECT_ERROR(OCR_ERR_NETWORK, on.fetch("x"));
    long ms = static_cast<long>(
        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count());
    CHECK(contains(message, "looks down"), message);
    CHECK(ms < (under_valgrind ? 2000 : 500), "the sixth failed at once, not after " << ms << " ms");
    CHECK(on.stats().breaker_open && on.stats().requests == 5, on.stats());  // the sixth unsent
    on.set_circuit_breaker(false);  // turning it off closes it
    CHECK(!on.stats().breaker_open, on.stats());
    message = EXPECT_ERROR(OCR_ERR_NETWORK, on.fetch("x"));
    CHECK(!contains(message, "looks down"), message);
}

// The calls that take CallOptions, by name.
static std::vector<std::pair<std::string, std::function<void(const CallOptions &)>>> each_call(
    const Client &client) {
    return {
        {"submit", [&](const CallOptions &call) { client.submit("%PDF-1.4", call); }},
        {"submit_file", [&](const CallOptions &call) { client.submit_file(sample_path, call); }},
        {"fetch", [&](const CallOptions &call) { client.fetch("task", call); }},
        {"fetch_to_dir", [&](const CallOptions &call) { client.fetch_to_dir("task", call, scratch); }},
        {"task_status", [&](const CallOptions &call) { client.task_status("task", call); }},
        {"cancel_task", [&](const CallOptions &call) { client.cancel_task("task", call); }},
    };
}

static long millis(Clock::duration duration) {
    return static_cast<long>(std::chrono::duration_cast<std::chrono::milliseconds>(duration).count());
}

static void test_a_call_cancelled_from_another_thread_ends_promptly() {
    SilentServer server;
    Client client = Client::with_token(server.url().c_str(), "token");
    long worst = 0;
    std::string report;
    for (const auto &entry : each_call(client)) {
        ocrcloud::CancelToken token;
        CallOptions call;
        call.cancel(token);
        Clock::time_point started = Clock::now(), triggered_at;
        std::thread canceller([&] {
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
            triggered_at = Clock::now();
            token.cancel();
        });
        std::string message = EXPECT_ERROR(OCR_ERR_CANCELLED, entry.second(call));
        Clock::time_point returned_at = Clock::now();
        canceller.join();
        CHECK(returned_at - started >= std::chrono::milliseconds(100), entry.first);
        long ms = millis(returned_at - triggered_at);
        worst = std::max(worst, ms);
        report += " " + entry.first + " " + std::to_string(ms) + " ms";
    }
    CHECK(worst < (under_valgrind ? 3000 : 500), worst << " ms");
    std::cout << "cancel: returned" << report << " after the trigger\n";
}

static void test_timeout_ms_ends_a_call_with_timeout() {
    SilentServer server;
    Client client = Client::with_token(server.url().c_str(), "token");
    CallOptions call;
    call.timeout_ms(200);
    for (const auto &entry : each_call(client)) {
        Clock::time_point started = Clock::now();
        EXPECT_ERROR(OCR_ERR_TIMEOUT, entry.second(call));
        long ms = millis(Clock::now() - started);
        CHECK(ms >= 190 && ms < (under_valgrind ? 5000 : 2000), entry.first << ": " << ms << " ms");
    }
}

static void test_call_options_within_their_limits(const Client &client) {
    static_assert(!std::is_copy_constructible_v<CallOptions> &&
                  std::is_nothrow_move_constructible_v<CallOptions> &&
                  std::is_move_assignable_v<CallOptions>);
    std::string task_id = client.submit(sample, CallOptions().timeout_ms(10000));
    ocrcloud::CancelToken token;
    CallOptions call;
    call.timeout_ms(10000).cancel(token);
    CHECK(client.poll(task_id, fast()).data(0) == sample, "submitted within the limits");
    CHECK(client.fetch(task_id, call).data(0) == sample, "fetched within the limits");
    CHECK(client.task_status(task_id, call) == OCR_TASK_COMPLETED, "status within the limits");
    CHECK(client.fetch_to_dir(task_id, call, scratch).size(0) == sample.size(), "to a folder");
    CallOptions moved = std::move(call);
    token.cancel();  // triggered before the call: it ends at once
    EXPECT_ERROR(OCR_ERR_CANCELLED, client.cancel_task(task_id, moved));
    CHECK(client.task_status(task_id) == OCR_TASK_COMPLETED, "the cancelled call sent nothing");
    EXPECT_ERROR(OCR_ERR_INVALID_ARGUMENT, call.timeout_ms(5));  // moved from
    client.cancel_task(task_id, CallOptions());
    CHECK(client.task_status(task_id, CallOptions()) == OCR_TASK_NOT_EXIST, "removed");
}

static void test_unauthorized() {
    Client wrong = Client::with_credentials(url.c_str(), "demo", "not-the-secret");
    std::string message = EXPECT_ERROR(OCR_ERR_UNAUTHORIZED, wrong.fetch("x"));
    CHECK(!contains(message, "not-the-secret"), message);
    Client bad_token = Client::with_token(url.c_str(), "made-up-token-123");
    message = EXPECT_ERROR(OCR_ERR_UNAUTHORIZED, bad_token.fetch("x"));
    CHECK(contains(message, "401"), message);
    Client no_token = Client::with_token(url.c_str());
    EXPECT_ERROR(OCR_ERR_UNAUTHORIZED, no_token.fetch("x"));
    EXPECT_ERROR(OCR_ERR_INVALID_ARGUMENT, Client::with_token("ftp://nope"));
    EXPECT_ERROR(OCR_ERR_INVALID_ARGUMENT, Client::with_credentials(url.c_str(), "", "secret"));
}

static void test_settings() {
    Client client = demo_client();
    client.set_connect_timeout_ms(5000)
        .set_read_timeout_ms(5000)
        .set_request_timeout_ms(5000)
        .set_user_agent("tests/1.0")
        .set_max_attempts(2)
        .set_max_response_bytes(10);
    std::string task_id = client.submit(sample);
    std::string message = EXPECT_ERROR(OCR_ERR_TOO_LARGE, client.poll(task_id, fast()));
    client.set_max_response_bytes(1 << 20);
    CHECK(client.poll(task_id, fast()).data(0) == sample, "after raising the limit");
    EXPECT_ERROR(OCR_ERR_INVALID_ARGUMENT, client.set_request_timeout_ms(0));

    // A host that is not loopback (`.invalid` never resolves); nothing is sent to it.
    Client far = Client::with_token("http://ocr.invalid:9", "token");
    message = EXPECT_ERROR(OCR_ERR_INVALID_ARGUMENT, far.fetch("x"));
    CHECK(contains(message, "plain http"), message);
    // Allowed, the request is sent: through a proxy on a loopback port that nothing listens on,
    // so that nothing leaves the machine.
    far.set_allow_insecure_http(true).set_proxy(dead_url().c_str()).set_max_attempts(1);
    message = EXPECT_ERROR(OCR_ERR_NETWORK, far.fetch("x"));
    CHECK(!contains(message, "plain http"), message);
}

static void test_cancel_from_another_thread(const Client &client) {
    std::string task_id = client.submit(sample);
    ocrcloud::CancelToken token;
    PollOptions options;
    options.interval_ms(60000).cancel(token);
    Clock::time_point triggered_at;
    std::thread canceller([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        triggered_at = Clock::now();
        token.cancel();
    });
    EXPECT_ERROR(OCR_ERR_CANCELLED, client.poll(task_id, options));
    Clock::time_point returned_at = Clock::now();
    canceller.join();
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(returned_at - triggered_at);
    CHECK(ms.count() < (under_valgrind ? 3000 : 1000), ms.count() << " ms");
    std::cout << "cancel: the poll returned " << ms.count() << " ms after the trigger\n";
    // A triggered token stays triggered, also through a moved PollOptions.
    PollOptions moved = std::move(options);
    EXPECT_ERROR(OCR_ERR_CANCELLED, client.poll(task_id, moved));
}

static void test_progress_exception_is_rethrown_after_the_poll(const Client &client) {
    std::string task_id = client.submit(sample);
    int calls = 0;
    PollOptions options = fast();
    options.progress([&](std::string_view, ocr_task_status, std::uint32_t) {
        calls++;
        throw std::runtime_error("stop from progress");
    });
    std::string what;
    try {
        client.poll(task_id, options);
    } catch (const Error &error) {
        what = std::string("ocrcloud::Error ") + error.what();
    } catch (const std::runtime_error &error) {
        what = error.what();
    }
    CHECK(what == "stop from progress", what);
    CHECK(calls == 1, calls);
    // The next poll with the same options starts afresh.
    calls = 0;
    what.clear();
    try {
        client.poll(task_id, options);
    } catch (const std::runtime_error &error) {
        what = error.what();
    }
    CHECK(what == "stop from progress" && calls == 1, what);
    CHECK(client.poll(task_id, fast()).status() == OCR_TASK_COMPLETED, "the task completed");
    try {
        client.poll_many({task_id}, options);
    } catch (const std::runtime_error &error) {
        what = error.what();
    }
    CHECK(what == "stop from progress", "poll_many rethrows too");
}

static void write_file(const std::string &path, const std::string &text) {
    std::filesystem::create_directories(std::filesystem::path(path).parent_path());
    std::ofstream(path, std::ios::binary) << text;
}

// A folder of three small PDFs run to the end; a second batch on the same folder skips them all
// and sends nothing; a second batch on an open journal is refused.
static void test_batch_runs_a_folder_then_skips_it(const Client &client) {
    std::string in = scratch + "/batch-in", out = scratch + "/batch-out";
    std::vector<std::string> names = {"a", "b", "sub/c"};
    for (const std::string &name : names) write_file(in + "/" + name + ".pdf", "%PDF-1.4\n% " + name + "\n");
    const char *text = R"({"resultType":"Text"})";
    std::vector<std::pair<std::size_t, ocr_batch_state>> seen;
    {
        Batch batch = Batch::open(client, nullptr, out);
        CHECK(batch.add_folder(in, nullptr, text) == 3, batch.size());
        std::string message = EXPECT_ERROR(OCR_ERR_IO, Batch::open(client, nullptr, out));
        CHECK(contains(message, "in use"), message);
        batch.run(4, fast(), [&](std::size_t index, ocr_batch_state state) {
            seen.emplace_back(index, state);
        });
        CHECK(batch.size() == 3 && batch.count(OCR_BATCH_COMPLETED) == 3 &&
                  batch.count(OCR_BATCH_FAILED) == 0,
              batch.count(OCR_BATCH_COMPLETED));
        for (std::size_t i = 0; i < batch.size() && i < names.size(); i++) {
            std::string output = out + "/" + names[i] + ".txt";
            CHECK(batch.state(i) == OCR_BATCH_COMPLETED && batch.code(i) == OCR_OK &&
                      batch.message(i).empty(),
                  i << ": " << batch.state(i) << " " << batch.message(i));
            CHECK(batch.path(i) == in + "/" + names[i] + ".pdf", batch.path(i));
            CHECK(batch.outputs(i) == std::vector<std::string>{output}, batch.outputs(i).size());
            CHECK(std::filesystem::is_regular_file(output), output);
            CHECK(!batch.task_id(i).empty() && !batch.skipped(i) && batch.seconds(i) >= 0 &&
                      batch.possible_duplicates(i) == 0,
                  i << ": " << batch.task_id(i) << " " << batch.seconds(i));
            CHECK(std::count(seen.begin(), seen.end(), std::make_pair(i, OCR_BATCH_COMPLETED)) == 1,
                  "progress saw input " << i << " completed");
        }
        bool out_of_range = false;
        try {
            (void)batch.state(3);
        } catch (const std::out_of_range &) {
            out_of_range = true;
        }
        CHECK(out_of_range, "state(3) throws std::out_of_range");
    }
    Client fresh = demo_client();
    Batch again = Batch::open(fresh, nullptr, out);
    CHECK(again.add_folder(in, nullptr, text) == 3, again.size());
    again.run();
    bool skipped = again.count(OCR_BATCH_COMPLETED) == 3;
    for (std::size_t i = 0; i < again.size(); i++) skipped &= again.skipped(i);
    CHECK(skipped, "every input skipped");
    CHECK(fresh.stats().requests == 0, fresh.stats());
}

// A shared batch on the PostgreSQL whose URL test.sh gives in OCR_TEST_PG_URL (not under
// valgrind): it runs to the end, a second worker finds nothing left, and neither a bad URL's
// message nor a wrong password's shows the password.
static void test_shared_batch(const Client &client) {
    const char *pg_url = std::getenv("OCR_TEST_PG_URL");
    if (pg_url == nullptr) return;
    std::string url = pg_url, in = scratch + "/shared-in", out = scratch + "/shared-out";
    std::string password = url.substr(url.find(':', 13) + 1);
    password = password.substr(0, password.find('@'));
    for (const char *name : {"a", "sub/b"})
        write_file(in + "/" + name + ".pdf", std::string("%PDF-1.4\n% shared ") + name + "\n");
    const char *text = R"({"resultType":"Text"})";
    {
        Batch batch = Batch::open_shared(client, url, "cpp", out);
        CHECK(batch.add_folder(in, nullptr, text) == 2, batch.size());
        batch.run(2, fast());
        CHECK(batch.count(OCR_BATCH_COMPLETED) == 2, batch.count(OCR_BATCH_COMPLETED));
        CHECK(batch.outputs(1) == std::vector<std::string>{out + "/sub/b.txt"}, batch.outputs(1).size());
    }
    Batch again = Batch::open_shared(client, url, "cpp", out);
    again.add_folder(in, nullptr, text);
    again.run();
    CHECK(again.skipped(0) && again.skipped(1), "a second worker finds nothing left");
    std::string message = EXPECT_ERROR(OCR_ERR_INVALID_ARGUMENT,
                                       Batch::open_shared(client, "mysql://u@h/d", "cpp", out));
    CHECK(contains(message, "postgresql://"), message);
    std::string wrong = url;
    wrong.replace(wrong.find(password), password.size(), "Cpp-Wrong-Password-31");
    message = EXPECT_ERROR(OCR_ERR_IO, Batch::open_shared(client, wrong, "cpp", out));
    CHECK(!contains(message, "Cpp-Wrong-Password-31") && !contains(message, password), message);
}

static void test_batch_failures_and_bad_arguments(const Client &client) {
    std::string in = scratch + "/batch-bad", out = scratch + "/batch-bad-out";
    write_file(in + "/empty.pdf", "");
    write_file(in + "/one.pdf", "%PDF-1.4\n% one\n");
    write_file(in + "/two.pdf", "%PDF-1.4\n% two\n");
    write_file(in + "/notes.txt", "not a document");
    std::filesystem::create_directories(in + "/nothing");
    Batch batch = Batch::open(client, (scratch + "/bad-journal.sqlite").c_str(), out);
    batch.add_file(in + "/empty.pdf");
    batch.add_file(in + "/one.pdf", in.c_str());
    EXPECT_ERROR(OCR_ERR_INVALID_ARGUMENT, batch.add_file(in + "/one.pdf", nullptr, "Nope"));
    EXPECT_ERROR(OCR_ERR_INVALID_ARGUMENT, batch.add_file(in + "/one.pdf", nullptr, nullptr, "[1]"));
    EXPECT_ERROR(OCR_ERR_INVALID_ARGUMENT, batch.add_file(in + "/two.pdf", (in + "/nothing").c_str()));
    EXPECT_ERROR(OCR_ERR_INVALID_ARGUMENT, batch.add_file(in + "/notes.txt"));
    EXPECT_ERROR(OCR_ERR_INVALID_ARGUMENT, batch.add_folder(in + "/nothing"));
    CHECK(batch.size() == 2 && batch.state(0) == OCR_BATCH_FAILED, batch.size());
    batch.run(2, fast());
    CHECK(batch.count(OCR_BATCH_FAILED) == 1 && batch.count(OCR_BATCH_COMPLETED) == 1,
          batch.count(OCR_BATCH_FAILED));
    CHECK(batch.state(0) == OCR_BATCH_FAILED && batch.code(0) == OCR_ERR_INVALID_ARGUMENT &&
              contains(batch.message(0), "empty") && batch.outputs(0).empty() &&
              batch.task_id(0).empty(),
          batch.message(0));
    CHECK(batch.outputs(1) == std::vector<std::string>{out + "/one.pdf"}, batch.outputs(1).size());
    CHECK(read_file(out + "/one.pdf") == "%PDF-1.4\n% one\n", "the Pdf result is the document");

    Batch moved = std::move(batch);
    CHECK(batch.native() == nullptr && moved.size() == 2, "moved-from batch holds nothing");
    std::string message = EXPECT_ERROR(OCR_ERR_INVALID_ARGUMENT, batch.size());
    CHECK(contains(message, "ocrcloud::Batch holds nothing"), message);
    EXPECT_ERROR(OCR_ERR_INVALID_ARGUMENT, batch.add_file(in + "/one.pdf"));
    EXPECT_ERROR(OCR_ERR_INVALID_ARGUMENT, batch.add_folder(in));
    EXPECT_ERROR(OCR_ERR_INVALID_ARGUMENT, batch.run());
    EXPECT_ERROR(OCR_ERR_INVALID_ARGUMENT, batch.count(OCR_BATCH_FAILED));
    EXPECT_ERROR(OCR_ERR_INVALID_ARGUMENT, batch.state(0));
    EXPECT_ERROR(OCR_ERR_INVALID_ARGUMENT, batch.outputs(0));
    Client gone = demo_client();
    Client taken = std::move(gone);
    message = EXPECT_ERROR(OCR_ERR_INVALID_ARGUMENT, Batch::open(gone, nullptr, out + "-2"));
    CHECK(contains(message, "ocrcloud::Client holds nothing"), message);
    PollOptions moved_options = fast();
    PollOptions options = std::move(moved_options);
    EXPECT_ERROR(OCR_ERR_INVALID_ARGUMENT, moved.run(1, moved_options));
}

// An exception of the progress callback stops the run through a cancel token and is rethrown;
// the batch runs to its end the next time.
static void test_batch_progress_exception_stops_the_run(const Client &client) {
    std::string in = scratch + "/batch-throw", out = scratch + "/batch-throw-out";
    for (const char *name : {"a", "b", "c", "d"}) {
        write_file(in + "/" + name + ".pdf", std::string("%PDF-1.4\n% ") + name + "\n");
    }
    auto stop = [](std::size_t, ocr_batch_state) { throw std::runtime_error("stop the batch"); };
    ocrcloud::CancelToken token;
    PollOptions options = fast();
    options.cancel(token);
    for (int own_token = 0; own_token < 2; own_token++) {
        Batch batch = Batch::open(client, nullptr, out);
        batch.add_folder(in);
        std::string what;
        try {
            if (own_token) {
                batch.run(1, stop);
            } else {
                batch.run(1, options, stop);
            }
        } catch (const std::runtime_error &error) {
            what = error.what();
        }
        CHECK(what == "stop the batch", own_token << ": " << what);
        CHECK(batch.count(OCR_BATCH_COMPLETED) < 4, batch.count(OCR_BATCH_COMPLETED));
    }
    EXPECT_ERROR(OCR_ERR_CANCELLED, client.poll("any", options));  // the options' token stopped it
    Batch batch = Batch::open(client, nullptr, out);
    batch.add_folder(in);
    batch.run(2, fast());
    CHECK(batch.count(OCR_BATCH_COMPLETED) == 4, batch.count(OCR_BATCH_COMPLETED));
}

// Every method of a moved-from object, and passing one to another object's method, throws
// Error(OCR_ERR_INVALID_ARGUMENT); the moved-to object works.
static void test_moves(const Client &client) {
    std::string task_id = client.submit(sample);
    Result first = client.poll(task_id, fast());
    Result second = std::move(first);
    CHECK(second.count() == 1 && second.data(0) == sample && second, "moved-to result");
    CHECK(!first && first.native() == nullptr, "moved-from result holds nothing");
    std::string message = EXPECT_ERROR(OCR_ERR_INVALID_ARGUMENT, first.count());
    CHECK(contains(message, "ocrcloud::Result holds nothing"), message);
    EXPECT_ERROR(OCR_ERR_INVALID_ARGUMENT, first.status());
    EXPECT_ERROR(OCR_ERR_INVALID_ARGUMENT, first.status_text());
    EXPECT_ERROR(OCR_ERR_INVALID_ARGUMENT, first.id());
    EXPECT_ERROR(OCR_ERR_INVALID_ARGUMENT, first.response_status());
    EXPECT_ERROR(OCR_ERR_INVALID_ARGUMENT, first.type(0));
    EXPECT_ERROR(OCR_ERR_INVALID_ARGUMENT, first.data(0));
    EXPECT_ERROR(OCR_ERR_INVALID_ARGUMENT, first.size(0));
    EXPECT_ERROR(OCR_ERR_INVALID_ARGUMENT, first.path(0));
    EXPECT_ERROR(OCR_ERR_INVALID_ARGUMENT, first.messages());
    EXPECT_ERROR(OCR_ERR_INVALID_ARGUMENT, first.warnings());
    EXPECT_ERROR(OCR_ERR_INVALID_ARGUMENT, first.save(0, scratch + "/x"));
    first = std::move(second);
    CHECK(first.data(0) == sample && !second, "move assignment");
    first = client.fetch(task_id);  // the old result is freed
    CHECK(first.id() == task_id, first.id());

    Client a = demo_client();
    Client b = std::move(a);
    CHECK(b.fetch(task_id).status() == OCR_TASK_COMPLETED, "moved-to client");
    CHECK(a.native() == nullptr, "moved-from client holds nothing");
    message = EXPECT_ERROR(OCR_ERR_INVALID_ARGUMENT, a.fetch(task_id));
    CHECK(contains(message, "ocrcloud::Client holds nothing"), message);
    EXPECT_ERROR(OCR_ERR_INVALID_ARGUMENT, a.set_connect_timeout_ms(1000));
    EXPECT_ERROR(OCR_ERR_INVALID_ARGUMENT, a.set_read_timeout_ms(1000));
    EXPECT_ERROR(OCR_ERR_INVALID_ARGUMENT, a.set_request_timeout_ms(1000));
    EXPECT_ERROR(OCR_ERR_INVALID_ARGUMENT, a.set_user_agent("x"));
    EXPECT_ERROR(OCR_ERR_INVALID_ARGUMENT, a.set_max_response_bytes(10));
    EXPECT_ERROR(OCR_ERR_INVALID_ARGUMENT, a.set_allow_insecure_http(true));
    EXPECT_ERROR(OCR_ERR_INVALID_ARGUMENT, a.set_max_attempts(1));
    EXPECT_ERROR(OCR_ERR_INVALID_ARGUMENT, a.set_max_connections(1));
    EXPECT_ERROR(OCR_ERR_INVALID_ARGUMENT, a.submit(sample));
    EXPECT_ERROR(OCR_ERR_INVALID_ARGUMENT, a.submit_file(sample_path));
    EXPECT_ERROR(OCR_ERR_INVALID_ARGUMENT, a.poll(task_id));
    EXPECT_ERROR(OCR_ERR_INVALID_ARGUMENT, a.poll(task_id, fast()));
    EXPECT_ERROR(OCR_ERR_INVALID_ARGUMENT, a.fetch_to_dir(task_id, scratch));
    EXPECT_ERROR(OCR_ERR_INVALID_ARGUMENT, a.poll_to_dir(task_id, fast(), scratch));
    EXPECT_ERROR(OCR_ERR_INVALID_ARGUMENT, a.poll_many({task_id}, fast()));
    EXPECT_ERROR(OCR_ERR_INVALID_ARGUMENT, a.task_status(task_id));
    EXPECT_ERROR(OCR_ERR_INVALID_ARGUMENT, a.cancel_task(task_id));
    EXPECT_ERROR(OCR_ERR_INVALID_ARGUMENT, a.set_ca_file(ca_file.c_str()));
    EXPECT_ERROR(OCR_ERR_INVALID_ARGUMENT, a.set_ca_pem("x"));
    EXPECT_ERROR(OCR_ERR_INVALID_ARGUMENT, a.set_ca_pem(nullptr));
    EXPECT_ERROR(OCR_ERR_INVALID_ARGUMENT, a.set_proxy(""));
    EXPECT_ERROR(OCR_ERR_INVALID_ARGUMENT, a.set_max_rate(1));
    EXPECT_ERROR(OCR_ERR_INVALID_ARGUMENT, a.set_circuit_breaker(false));
    message = EXPECT_ERROR(OCR_ERR_INVALID_ARGUMENT, a.stats());
    CHECK(contains(message, "ocrcloud::Client holds nothing"), message);
    {
        CallOptions call;
        message = EXPECT_ERROR(OCR_ERR_INVALID_ARGUMENT, a.fetch(task_id, call));
        CHECK(contains(message, "ocrcloud::Client holds nothing"), message);
        EXPECT_ERROR(OCR_ERR_INVALID_ARGUMENT, a.submit(sample, call));
        EXPECT_ERROR(OCR_ERR_INVALID_ARGUMENT, a.submit_file(sample_path, call));
        EXPECT_ERROR(OCR_ERR_INVALID_ARGUMENT, a.fetch_to_dir(task_id, call, scratch));
        EXPECT_ERROR(OCR_ERR_INVALID_ARGUMENT, a.task_status(task_id, call));
        EXPECT_ERROR(OCR_ERR_INVALID_ARGUMENT, a.cancel_task(task_id, call));
    }
    a = std::move(b);
    CHECK(a.fetch(task_id).status() == OCR_TASK_COMPLETED, "move-assigned client");

    int calls = 0;
    PollOptions options = fast();
    options.progress([&](std::string_view, ocr_task_status, std::uint32_t) { calls++; });
    PollOptions moved_options = std::move(options);
    a.poll(task_id, moved_options);
    CHECK(calls == 1, "progress survives a move of its options: " << calls);
    CHECK(options.native() == nullptr, "moved-from options hold nothing");
    // Not the library's defaults (1 s, 10 minutes): the moved-from options are refused.
    message = EXPECT_ERROR(OCR_ERR_INVALID_ARGUMENT, a.poll(task_id, options));
    CHECK(contains(message, "ocrcloud::PollOptions holds nothing"), message);
    EXPECT_ERROR(OCR_ERR_INVALID_ARGUMENT, a.poll_to_dir(task_id, options, scratch));
    EXPECT_ERROR(OCR_ERR_INVALID_ARGUMENT, a.poll_many({task_id}, options));
    EXPECT_ERROR(OCR_ERR_INVALID_ARGUMENT, options.interval_ms(5));
    EXPECT_ERROR(OCR_ERR_INVALID_ARGUMENT, options.backoff(1.0, 5));
    EXPECT_ERROR(OCR_ERR_INVALID_ARGUMENT, options.max_attempts(5));
    EXPECT_ERROR(OCR_ERR_INVALID_ARGUMENT, options.timeout_ms(5));
    EXPECT_ERROR(OCR_ERR_INVALID_ARGUMENT, options.progress(nullptr));
    ocrcloud::CancelToken live;
    EXPECT_ERROR(OCR_ERR_INVALID_ARGUMENT, options.cancel(live));
    moved_options.progress(nullptr);
    a.poll(task_id, moved_options);
    CHECK(calls == 1, "progress removed");

    ocrcloud::CancelToken token;
    moved_options.cancel(token);
    ocrcloud::CancelToken moved_token = std::move(token);
    CHECK(token.native() == nullptr, "moved-from token holds nothing");
    message = EXPECT_ERROR(OCR_ERR_INVALID_ARGUMENT, token.cancel());
    CHECK(contains(message, "ocrcloud::CancelToken holds nothing"), message);
    // Not a silent removal of the options' cancel token: refused, and the token stays.
    EXPECT_ERROR(OCR_ERR_INVALID_ARGUMENT, moved_options.cancel(token));
    moved_token.cancel();
    EXPECT_ERROR(OCR_ERR_CANCELLED, a.poll(task_id, moved_options));

    // Moved-from call options are refused, not taken for NULL (a call without limits), and a
    // moved-from token does not silently remove the options' token.
    ocrcloud::CancelToken call_token;
    CallOptions call;
    call.cancel(call_token);
    CallOptions moved_call = std::move(call);
    CHECK(call.native() == nullptr, "moved-from call options hold nothing");
    message = EXPECT_ERROR(OCR_ERR_INVALID_ARGUMENT, a.fetch(task_id, call));
    CHECK(contains(message, "ocrcloud::CallOptions holds nothing"), message);
    EXPECT_ERROR(OCR_ERR_INVALID_ARGUMENT, a.submit(sample, call));
    EXPECT_ERROR(OCR_ERR_INVALID_ARGUMENT, a.submit_file(sample_path, call));
    EXPECT_ERROR(OCR_ERR_INVALID_ARGUMENT, a.fetch_to_dir(task_id, call, scratch));
    EXPECT_ERROR(OCR_ERR_INVALID_ARGUMENT, a.task_status(task_id, call));
    EXPECT_ERROR(OCR_ERR_INVALID_ARGUMENT, a.cancel_task(task_id, call));
    EXPECT_ERROR(OCR_ERR_INVALID_ARGUMENT, call.cancel(call_token));
    CHECK(a.task_status(task_id) == OCR_TASK_COMPLETED, "the refused calls sent nothing");
    ocrcloud::CancelToken moved_call_token = std::move(call_token);
    message = EXPECT_ERROR(OCR_ERR_INVALID_ARGUMENT, moved_call.cancel(call_token));
    CHECK(contains(message, "ocrcloud::CancelToken holds nothing"), message);
    moved_call_token.cancel();
    EXPECT_ERROR(OCR_ERR_CANCELLED, a.fetch(task_id, moved_call));
}

static void test_cycles(const Client &client) {
    std::string task_id = client.submit("%PDF-1.4 tiny");
    client.poll(task_id, fast());
    int cycles = under_valgrind ? 100 : 10000;
    auto measure = [&](const char *what, auto cycle) {
        for (int i = 0; i < cycles / 10; i++) cycle();  // warm up
        long before = rss_bytes();
        for (int i = 0; i < cycles; i++) cycle();
        long after = rss_bytes();
        std::cout << what << ": RSS " << before / 1024 << " KiB before, " << after / 1024
                  << " KiB after " << cycles << " cycles (" << (after - before) / 1024
                  << " KiB)\n";
        if (!under_valgrind) CHECK(after - before < 2 * 1024 * 1024, what);
    };
    measure("clients", [&] {
        Client::with_token(url.c_str(), "token");
        Client::with_credentials(url.c_str(), "demo", "demo-secret").set_max_attempts(2);
    });
    bool all_ok = true;
    measure("results", [&] { all_ok &= client.fetch(task_id).data(0) == "%PDF-1.4 tiny"; });
    CHECK(all_ok, "every fetch answered the document");
    measure("poll options and cancel tokens", [&] {
        ocrcloud::CancelToken token;
        PollOptions options;
        options.cancel(token).progress([](std::string_view, ocr_task_status, std::uint32_t) {});
    });
}

static void test_log_handler() {
    std::mutex lock;
    std::vector<std::pair<int, std::string>> lines;
    ocrcloud::set_log_handler([&](int level, std::string_view message) {
        std::lock_guard<std::mutex> guard(lock);
        lines.emplace_back(level, std::string(message));
    });
    ocrcloud::set_log_level(OCR_LOG_DEBUG);
    demo_client().fetch("no-such-task");
    ocrcloud::set_log_level(OCR_LOG_OFF);
    ocrcloud::set_log_handler(nullptr);
    bool token = false, request = false, secret = false;
    for (const auto &[level, text] : lines) {
        token |= level == OCR_LOG_INFO && contains(text, "obtained a token");
        request |= level == OCR_LOG_DEBUG && contains(text, "-> HTTP 200");
        secret |= contains(text, "demo-secret");
    }
    CHECK(token && request, lines.size());
    CHECK(!secret, "no secret in log lines");
    EXPECT_ERROR(OCR_ERR_INVALID_ARGUMENT, ocrcloud::set_log_level(9));
}

// Submit, poll and fetch over HTTPS.
static void https_round_trip(const Client &client, const char *what) {
    std::string task_id = client.submit(sample, nullptr, R"({"resultType":"TextAndPdf"})");
    Result result = client.poll(task_id, fast());
    CHECK(result.status() == OCR_TASK_COMPLETED && result.count() == 2, what);
    CHECK(result.count() == 2 && contains(result.data(0), "Hello from ocrcloud!"), what);
    Result fetched = client.fetch(task_id);
    CHECK(fetched.count() == 2 && fetched.data(1) == sample, what);
}

static void test_https() {
    CHECK(tls_url.rfind("https://", 0) == 0, tls_url);
    Client untrusted = Client::with_credentials(tls_url.c_str(), "demo", "demo-secret");
    Clock::time_point started = Clock::now();
    std::string message = EXPECT_ERROR(OCR_ERR_TLS, untrusted.fetch("x"));
    CHECK(contains(message, "OCR_ERR_TLS: ") && contains(message, "not trusted"), message);
    CHECK(millis(Clock::now() - started) < (under_valgrind ? 10000 : 2000), "not retried");
    // The plain emulator's port does not speak TLS.
    Client plain = Client::with_token(("https://" + url.substr(url.find("://") + 3)).c_str(), "t");
    plain.set_max_attempts(1);
    EXPECT_ERROR(OCR_ERR_TLS, plain.fetch("x"));

    Client client = Client::with_credentials(tls_url.c_str(), "demo", "demo-secret");
    client.set_ca_file(ca_file.c_str());
    https_round_trip(client, "set_ca_file");
    client.set_ca_file(nullptr);  // back to the default: untrusted again
    EXPECT_ERROR(OCR_ERR_TLS, client.fetch("x"));

    std::string pem = read_file(ca_file);
    client.set_ca_pem(pem);
    https_round_trip(client, "set_ca_pem");
    client.set_ca_pem(nullptr);
    EXPECT_ERROR(OCR_ERR_TLS, client.fetch("x"));
    client.set_ca_pem(pem);

    // A bad CA is an invalid argument and leaves the client as it was.
    std::string empty = scratch + "/empty.pem";
    std::ofstream(empty) << "no certificate here\n";
    for (const std::string &bad : {scratch + "/missing.pem", empty, sample_path}) {
        message = EXPECT_ERROR(OCR_ERR_INVALID_ARGUMENT, client.set_ca_file(bad.c_str()));
        CHECK(contains(message, bad), message);
    }
    EXPECT_ERROR(OCR_ERR_INVALID_ARGUMENT, client.set_ca_pem(""));
    EXPECT_ERROR(OCR_ERR_INVALID_ARGUMENT, client.set_ca_pem(std::string_view()));
    EXPECT_ERROR(OCR_ERR_INVALID_ARGUMENT, client.set_ca_pem("-----BEGIN NOTHING-----\n"));
    CHECK(client.fetch("x").status() == OCR_TASK_NOT_EXIST, "the CA given first still works");

    for (const char *bad : {"socks5://x:1", "socks4://x:1", "ftp://x:1", "x:1"}) {
        message = EXPECT_ERROR(OCR_ERR_INVALID_ARGUMENT, client.set_proxy(bad));
        CHECK(contains(message, bad), message);
    }
    // A loopback base URL never goes through a proxy, even one that does not exist.
    client.set_proxy("http://127.0.0.1:9");
    CHECK(client.fetch("x").status() == OCR_TASK_NOT_EXIST, "loopback bypasses the proxy");
    client.set_proxy("").set_proxy(nullptr);
    CHECK(client.fetch("x").status() == OCR_TASK_NOT_EXIST, "no proxy, then the environment's");
}

// Handlers replaced by two threads in a loop while four threads log request lines: no handler
// runs after it was replaced and destroyed, and no line falls through to stderr meanwhile.
static void test_log_handler_swapped_while_threads_log(const Client &client) {
    std::string task_id = client.submit(sample);
    client.poll(task_id, fast());
    int stderr_copy = dup(2);
    std::string captured = scratch + "/stderr.txt";
    std::FILE *capture = std::fopen(captured.c_str(), "w");
    dup2(fileno(capture), 2);
    std::atomic<long> lines{0};
    auto counting = [&lines](int, std::string_view) { lines++; };
    ocrcloud::set_log_handler(counting);
    ocrcloud::set_log_level(OCR_LOG_DEBUG);
    // At least 1.5 s (3 s under valgrind) and 40 fetches, at most 60 s: under valgrind on a busy
    // machine a fetch takes a good part of a second, and a fixed time saw a handful of them.
    Clock::time_point started = Clock::now();
    auto stop = started + std::chrono::milliseconds(under_valgrind ? 3000 : 1500);
    auto give_up = started + std::chrono::seconds(60);
    std::atomic<long> swaps{0}, fetches{0};
    std::atomic<int> fetching{4};
    std::vector<std::thread> threads;
    for (int i = 0; i < 4; i++) {
        threads.emplace_back([&] {
            while ((Clock::now() < stop || fetches < 40) && Clock::now() < give_up) {
                client.fetch(task_id);
                fetches++;
            }
            fetching--;
        });
    }
    for (int i = 0; i < 2; i++) {
        threads.emplace_back([&] {
            while (fetching > 0) {
                // A handler that owns memory: using it after its destruction is visible.
                auto owned = std::make_shared<std::atomic<long>>(0);
                ocrcloud::set_log_handler([owned, &lines](int, std::string_view) {
                    (*owned)++;
                    lines++;
                });
                swaps++;
                // Valgrind runs one thread at a time: a swapper that never yields starves the
                // fetches (and their log lines) of both the CPU and the library's log lock.
                if (under_valgrind) std::this_thread::yield();
            }
        });
    }
    for (std::thread &thread : threads) thread.join();
    ocrcloud::set_log_level(OCR_LOG_OFF);
    ocrcloud::set_log_handler(nullptr);
    std::fflush(stderr);
    dup2(stderr_copy, 2);
    close(stderr_copy);
    std::fclose(capture);
    std::string leaked = read_file(captured);
    std::cout << "log handlers: " << swaps << " swaps during " << fetches << " fetches, "
              << lines << " lines\n";
    CHECK(leaked.empty(), leaked.substr(0, 300));
    CHECK(swaps > 10 && lines > 10, swaps << " swaps, " << lines << " lines");
}

int main(int argc, char **argv) {
    if (argc != 6) {
        std::cerr << "usage: " << argv[0] << " BASE_URL SAMPLE_PDF SCRATCH_DIR TLS_URL CA_FILE\n";
        return 2;
    }
    url = argv[1];
    sample_path = argv[2];
    scratch = argv[3];
    tls_url = argv[4];
    ca_file = argv[5];
    sample = read_file(sample_path);
    try {
        Client client = demo_client();
        if (under_valgrind) {
            // Valgrind translates code when it first runs: the first submit and poll would take
            // longer than the emulator's 200 ms to Completed, and the round trip would see no
            // Pending or Processing answer.
            client.submit("GIF89a warm-up");
            EXPECT_ERROR(OCR_ERR_TASK_NOT_FOUND, client.poll("warm-up", fast()));
        }
        test_constants();
        test_round_trip_with_progress(client);
        test_submit_file_status_and_cancel(client);
        test_results_in_files(client);
        test_final_statuses(client);
        test_poll_many(client);
        test_poll_many_gives_each_task_its_own_message(client);
        test_a_call_cancelled_from_another_thread_ends_promptly();
        test_timeout_ms_ends_a_call_with_timeout();
        test_call_options_within_their_limits(client);
        test_unauthorized();
        test_settings();
        test_cancel_from_another_thread(client);
        test_progress_exception_is_rethrown_after_the_poll(client);
        test_moves(client);
        test_batch_runs_a_folder_then_skips_it(client);
        test_batch_failures_and_bad_arguments(client);
        test_batch_progress_exception_stops_the_run(client);
        test_shared_batch(client);
        test_stats_count_the_requests_and_the_token_fetches();
        test_max_rate_is_validated_and_shown_in_the_stats();
        test_the_circuit_breaker_opens_on_a_dead_port_unless_turned_off();
        test_cycles(client);
        test_log_handler();
        test_https();
        test_log_handler_swapped_while_threads_log(client);
    } catch (const std::exception &error) {
        failed++;
        std::cerr << "FAIL: uncaught exception: " << error.what() << "\n";
    }
    std::cout << passed << " passed, " << failed << " failed" << std::endl;
    return failed == 0 ? 0 : 1;
}
