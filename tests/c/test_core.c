/*
 * The C contract seen from C: run as `test_core BASE_URL SAMPLE_PDF SCRATCH_DIR` against an
 * emulator started with its default credentials. Prints one line per check and ends with
 * "N passed, M failed"; exits non-zero on any failure. With OCR_TEST_CA_FILE set (an HTTPS
 * emulator's CA), every client trusts that CA through ocr_client_set_ca_file. Portable C: it
 * also runs on Windows (built with MinGW, run under Wine by scripts/test-windows.sh).
 */
#define _GNU_SOURCE
#include "ocrcloud.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#ifdef _WIN32
#include <dirent.h>
#include <windows.h>
#endif

#include "check.h"

static unsigned char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *data = malloc(size > 0 ? (size_t)size : 1);
    *len = fread(data, 1, (size_t)size, f);
    fclose(f);
    return data;
}

struct progress_log {
    unsigned calls;
    uint32_t last_attempt;
    ocr_task_status last_status;
    int ids_match;
    const char *expected_id;
};

static void on_progress(void *user_data, const char *task_id, ocr_task_status status,
                        uint32_t attempt) {
    struct progress_log *log = user_data;
    log->calls++;
    log->ids_match &= strcmp(task_id, log->expected_id) == 0 && attempt == log->calls;
    log->last_attempt = attempt;
    log->last_status = status;
}

/* Whether `needle` occurs in the `len` bytes at `data` (memmem is not in every C library). */
static int contains(const uint8_t *data, size_t len, const char *needle) {
    size_t n = strlen(needle);
    for (size_t i = 0; i + n <= len; i++) {
        if (memcmp(data + i, needle, n) == 0) return 1;
    }
    return 0;
}

/* A client of `url`, trusting the CA in OCR_TEST_CA_FILE when that is set. */
static ocr_code new_client(const char *url, const char *secret, ocr_client **client) {
    ocr_code code = ocr_client_new_with_credentials(url, "demo", secret, client);
    const char *ca = getenv("OCR_TEST_CA_FILE");
    if (code == OCR_OK && ca && *ca) {
        code = ocr_client_set_ca_file(*client, ca);
    }
    return code;
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

struct canceller {
    const ocr_cancel *cancel;
    double triggered_at;
};

static void *cancel_later(void *arg) {
    struct canceller *c = arg;
    usleep(200 * 1000);
    c->triggered_at = now_ms();
    ocr_cancel_trigger(c->cancel);
    return NULL;
}

static void test_constants(void) {
    CHECK(strcmp(ocr_version(), OCR_VERSION_STRING) == 0, "version %s", ocr_version());
    CHECK(strcmp(ocr_code_name(OCR_ERR_TIMEOUT), "OCR_ERR_TIMEOUT") == 0, "name");
    CHECK(strcmp(ocr_code_name(12345), "OCR_ERR_UNKNOWN") == 0, "unknown name");
    CHECK(OCR_OK == 0 && OCR_ERR_INTERNAL == 14 && OCR_TASK_NOT_EXIST == 5, "values");
}

static void test_submit_poll_save(const ocr_client *client, const char *pdf_path,
                                  const char *scratch) {
    size_t pdf_len = 0;
    unsigned char *pdf = read_file(pdf_path, &pdf_len);
    CHECK(pdf != NULL, "cannot read %s", pdf_path);
    if (!pdf) return;

    char *task_id = NULL;
    CHECK_CODE(ocr_submit(client, "RecognizePdf", pdf, pdf_len,
                          "{\"language\":\"English\",\"resultType\":\"TextAndPdf\"}", &task_id),
               OCR_OK);
    if (!task_id) {
        free(pdf);
        return;
    }

    ocr_poll_options *options = ocr_poll_options_new();
    struct progress_log log = {0, 0, OCR_TASK_UNKNOWN, 1, task_id};
    CHECK_CODE(ocr_poll_options_set_interval_ms(options, 50), OCR_OK);
    CHECK_CODE(ocr_poll_options_set_backoff(options, 1.5, 200), OCR_OK);
    CHECK_CODE(ocr_poll_options_set_timeout_ms(options, 20000), OCR_OK);
    CHECK_CODE(ocr_poll_options_set_progress(options, on_progress, &log), OCR_OK);

    ocr_result *result = NULL;
    CHECK_CODE(ocr_poll_until_done(client, task_id, options, &result), OCR_OK);
    CHECK(log.calls >= 2 && log.ids_match, "progress calls %u", log.calls);
    CHECK(log.last_status == OCR_TASK_COMPLETED, "last progress status %d", log.last_status);
    if (result) {
        CHECK(ocr_result_task_status(result) == OCR_TASK_COMPLETED, "status");
        CHECK(strcmp(ocr_result_id(result), task_id) == 0, "id %s", ocr_result_id(result));
        CHECK(strcmp(ocr_result_response_status(result), "Ok") == 0, "response status");
        CHECK(ocr_result_count(result) == 2, "count %zu", ocr_result_count(result));
        CHECK(strcmp(ocr_result_type(result, 0), "Text") == 0, "type 0");
        CHECK(strcmp(ocr_result_type(result, 1), "Pdf") == 0, "type 1");
        CHECK(ocr_result_type(result, 2) == NULL, "type out of range");
        size_t len = 0;
        const uint8_t *text = ocr_result_data(result, 0, &len);
        CHECK(text && len > 0 && contains(text, len, "Hello from ocrcloud!"),
              "text result");
        const uint8_t *data = ocr_result_data(result, 1, &len);
        CHECK(data && len == pdf_len && memcmp(data, pdf, len) == 0, "pdf round trip");
        CHECK(ocr_result_data(result, 5, &len) == NULL && len == 0, "data out of range");
        CHECK(ocr_result_message_count(result) == 0, "no messages");

        char path[4096];
        snprintf(path, sizeof path, "%s/result.pdf", scratch);
        CHECK_CODE(ocr_result_save(result, 1, path), OCR_OK);
        size_t saved_len = 0;
        unsigned char *saved = read_file(path, &saved_len);
        CHECK(saved && saved_len == pdf_len && memcmp(saved, pdf, pdf_len) == 0, "saved file");
        free(saved);
        snprintf(path, sizeof path, "%s/no/such/folder/result.pdf", scratch);
        CHECK_CODE(ocr_result_save(result, 1, path), OCR_ERR_IO);
        /* The system's own reason: Linux's, Windows' or Wine's wording. */
        CHECK(strstr(ocr_last_error_message(), "No such file") != NULL ||
                  strstr(ocr_last_error_message(), "cannot find the path") != NULL ||
                  strstr(ocr_last_error_message(), "Path not found") != NULL,
              "IO reason");
        ocr_result_free(result);
    }

    /* Fetching again gives the same Completed answer. */
    result = NULL;
    CHECK_CODE(ocr_fetch_result(client, task_id, &result), OCR_OK);
    CHECK(result && ocr_result_task_status(result) == OCR_TASK_COMPLETED, "fetch again");
    ocr_result_free(result);

    ocr_string_free(task_id);
    ocr_poll_options_free(options);
    free(pdf);
}

/* Polls task `id` to the end and answers its result (NULL on failure). */
static ocr_result *wait_for(const ocr_client *client, const char *id) {
    ocr_poll_options *options = ocr_poll_options_new();
    ocr_poll_options_set_interval_ms(options, 50);
    ocr_poll_options_set_timeout_ms(options, 20000);
    ocr_result *result = NULL;
    CHECK_CODE(ocr_poll_until_done(client, id, options, &result), OCR_OK);
    ocr_poll_options_free(options);
    return result;
}

/* Paths are UTF-8 (on Windows they become wide paths): a document saved as, then read from, a
 * Japanese and an accented name comes back whole; a path that is not UTF-8 is refused. The
 * names on disk are checked by the script that runs this program. */
static void test_paths(const ocr_client *client, const char *pdf_path, const char *scratch) {
    size_t pdf_len = 0;
    unsigned char *pdf = read_file(pdf_path, &pdf_len);
    if (!pdf) return;
    const char *names[] = {"\xe3\x83\x9e\xe3\x83\x8b\xe3\x83\xa5\xe3\x82\xa2\xe3\x83\xab.pdf",
                           "na\xc3\xafve r\xc3\xa9sum\xc3\xa9.pdf", "\xf0\x9f\x93\x84 memo.pdf"};
    char *id = NULL;
    CHECK_CODE(ocr_submit(client, "RecognizePdf", pdf, pdf_len, "{\"resultType\":\"Pdf\"}", &id),
               OCR_OK);
    ocr_result *result = id ? wait_for(client, id) : NULL;
    ocr_string_free(id);
    for (size_t n = 0; result && n < 3; n++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", scratch, names[n]);
        CHECK_CODE(ocr_result_save(result, 0, path), OCR_OK);
        /* Saved under that name, the file is read back by the library from the same name. */
        id = NULL;
        CHECK_CODE(ocr_submit_file(client, "RecognizePdf", path, "{\"resultType\":\"Pdf\"}", &id),
                   OCR_OK);
        ocr_result *back = id ? wait_for(client, id) : NULL;
        size_t len = 0;
        const uint8_t *data = back ? ocr_result_data(back, 0, &len) : NULL;
        CHECK(data && len == pdf_len && memcmp(data, pdf, len) == 0, "round trip of %s", path);
        ocr_result_free(back);
        ocr_string_free(id);
    }
    if (result) {
        char path[4096];
        snprintf(path, sizeof path, "%s/bad-\xff\xfe.pdf", scratch);
        CHECK_CODE(ocr_result_save(result, 0, path), OCR_ERR_INVALID_ARGUMENT);
        CHECK(strstr(ocr_last_error_message(), "UTF-8") != NULL, "says why: %s",
              ocr_last_error_message());
        id = NULL;
        CHECK_CODE(ocr_submit_file(client, "RecognizePdf", path, NULL, &id),
                   OCR_ERR_INVALID_ARGUMENT);
        CHECK(id == NULL, "no id on failure");
    }
    ocr_result_free(result);
    free(pdf);
}

#ifdef _WIN32
/* The ".ocrcloud-" temporary files in `dir`. */
static int temporary_files(const char *dir) {
    int count = 0;
    DIR *listing = opendir(dir);
    for (struct dirent *entry; listing && (entry = readdir(listing)) != NULL;)
        count += strncmp(entry->d_name, ".ocrcloud-", 10) == 0;
    if (listing) closedir(listing);
    return count;
}

/* Whether the file at `path` holds exactly `text`. */
static int holds(const char *path, const char *text) {
    size_t len = 0;
    unsigned char *data = read_file(path, &len);
    int same = data && len == strlen(text) && memcmp(data, text, len) == 0;
    free(data);
    return same;
}

static void write_text(const char *path, const char *text) {
    FILE *file = fopen(path, "wb");
    if (file) {
        fputs(text, file);
        fclose(file);
    }
}

/* Saving on Windows onto what cannot simply be replaced (docs/windows.md): a read-only file, a
 * file another handle holds open without FILE_SHARE_DELETE, a folder, device names. Each is
 * refused with OCR_ERR_IO (or, for a read-only file, replaced whole), the old file stays as it
 * was, and no temporary file is left in the folder. */
static void test_save_refused_windows(const ocr_client *client, const char *pdf_path,
                                      const char *scratch) {
    size_t pdf_len = 0;
    unsigned char *pdf = read_file(pdf_path, &pdf_len);
    char *id = NULL;
    CHECK_CODE(ocr_submit(client, "RecognizePdf", pdf, pdf_len, "{\"resultType\":\"Pdf\"}", &id),
               OCR_OK);
    ocr_result *result = id ? wait_for(client, id) : NULL;
    ocr_string_free(id);
    char dir[4096], path[4096];
    snprintf(dir, sizeof dir, "%s/refused", scratch);
    CreateDirectoryA(dir, NULL);

    /* A read-only file: either replaced whole or refused with the old file kept. */
    snprintf(path, sizeof path, "%s/read-only.pdf", dir);
    write_text(path, "old");
    SetFileAttributesA(path, FILE_ATTRIBUTE_READONLY);
    ocr_code code = ocr_result_save(result, 0, path);
    CHECK(code == OCR_ERR_IO ? holds(path, "old") : code == OCR_OK, "read-only target: %s",
          ocr_code_name(code));
    CHECK(temporary_files(dir) == 0, "no temporary file after saving onto a read-only file");
    SetFileAttributesA(path, FILE_ATTRIBUTE_NORMAL);

    /* A file held open without FILE_SHARE_DELETE. */
    snprintf(path, sizeof path, "%s/held-open.pdf", dir);
    write_text(path, "old");
    HANDLE held = CreateFileA(path, GENERIC_READ, FILE_SHARE_READ, NULL, OPEN_EXISTING,
                              FILE_ATTRIBUTE_NORMAL, NULL);
    CHECK(held != INVALID_HANDLE_VALUE, "open %s", path);
    CHECK_CODE(ocr_result_save(result, 0, path), OCR_ERR_IO);
    CloseHandle(held);
    CHECK(holds(path, "old"), "a file held open stays as it was");
    CHECK(temporary_files(dir) == 0, "no temporary file after saving onto a file held open");

    /* A folder where a file is expected. */
    snprintf(path, sizeof path, "%s/folder.pdf", dir);
    CreateDirectoryA(path, NULL);
    CHECK_CODE(ocr_result_save(result, 0, path), OCR_ERR_IO);
    CHECK(temporary_files(dir) == 0, "no temporary file after saving onto a folder");

    /* Device names: whatever the answer, no hang and nothing left behind. */
    const char *devices[] = {"NUL", "CON", "aux.txt", "COM1"};
    for (size_t n = 0; n < 4; n++) {
        snprintf(path, sizeof path, "%s/%s", dir, devices[n]);
        code = ocr_result_save(result, 0, path);
        CHECK(code == OCR_OK || code == OCR_ERR_IO, "saving onto %s: %s", devices[n],
              ocr_code_name(code));
        CHECK(temporary_files(dir) == 0, "no temporary file after saving onto %s", devices[n]);
    }

    /* A path longer than 260 characters, with mixed slashes. */
    char name[251];
    memset(name, 'x', sizeof name - 5);
    strcpy(name + sizeof name - 5, ".pdf");
    snprintf(path, sizeof path, "%s\\refused/%s", scratch, name);
    CHECK(strlen(path) > 260, "a long path");
    CHECK_CODE(ocr_result_save(result, 0, path), OCR_OK);
    id = NULL;
    CHECK_CODE(ocr_submit_file(client, "RecognizePdf", path, "{\"resultType\":\"Pdf\"}", &id),
               OCR_OK);
    ocr_result *back = id ? wait_for(client, id) : NULL;
    ocr_string_free(id);
    size_t len = 0;
    const uint8_t *saved = back ? ocr_result_data(back, 0, &len) : NULL;
    CHECK(saved && len == pdf_len && memcmp(saved, pdf, len) == 0, "a long path holds the result");
    ocr_result_free(back);
    CHECK(temporary_files(dir) == 0, "no temporary file after saving to a long path");
    ocr_result_free(result);
    free(pdf);
}
#endif

static void test_failures(const ocr_client *client) {
    ocr_result *result = NULL;
    ocr_poll_options *options = ocr_poll_options_new();
    CHECK_CODE(ocr_poll_options_set_interval_ms(options, 30), OCR_OK);

    CHECK_CODE(ocr_fetch_result(client, "no-such-task", &result), OCR_OK);
    CHECK(result && ocr_result_task_status(result) == OCR_TASK_NOT_EXIST, "NotExist is data");
    ocr_result_free(result);
    result = NULL;

    CHECK_CODE(ocr_poll_until_done(client, "no-such-task", options, &result), OCR_ERR_TASK_NOT_FOUND);
    CHECK(result == NULL, "no result on failure");

    char *task_id = NULL;
    const char not_a_pdf[] = "GIF89a";
    CHECK_CODE(ocr_submit(client, NULL, (const uint8_t *)not_a_pdf, sizeof not_a_pdf - 1, NULL,
                          &task_id),
               OCR_OK);
    CHECK_CODE(ocr_poll_until_done(client, task_id, options, &result), OCR_ERR_TASK_FAILED);
    CHECK(strstr(ocr_last_error_message(), task_id) != NULL, "message names the task");
    ocr_string_free(task_id);

    CHECK_CODE(ocr_submit(client, "NoSuchOperation", NULL, 0, NULL, &task_id), OCR_ERR_INVALID_ARGUMENT);
    CHECK_CODE(ocr_submit(client, NULL, NULL, 0, "[1,2]", &task_id), OCR_ERR_INVALID_ARGUMENT);
    CHECK_CODE(ocr_fetch_result(client, "bad\r\nid", &result), OCR_ERR_INVALID_ARGUMENT);
    ocr_poll_options_free(options);
}

static void test_cancel(const ocr_client *client, const char *pdf_path) {
    size_t pdf_len = 0;
    unsigned char *pdf = read_file(pdf_path, &pdf_len);
    char *task_id = NULL;
    CHECK_CODE(ocr_submit(client, NULL, pdf, pdf_len, NULL, &task_id), OCR_OK);
    free(pdf);
    if (!task_id) return;

    ocr_poll_options *options = ocr_poll_options_new();
    ocr_cancel *cancel = ocr_cancel_new();
    CHECK_CODE(ocr_poll_options_set_interval_ms(options, 60000), OCR_OK);
    CHECK_CODE(ocr_poll_options_set_cancel(options, cancel), OCR_OK);
    struct canceller canceller = {cancel, 0};
    pthread_t thread;
    pthread_create(&thread, NULL, cancel_later, &canceller);
    ocr_result *result = NULL;
    CHECK_CODE(ocr_poll_until_done(client, task_id, options, &result), OCR_ERR_CANCELLED);
    double returned_at = now_ms();
    pthread_join(thread, NULL);
    /* Valgrind slows everything down; it sets a wider bound through OCR_TEST_CANCEL_MS. */
    double bound = getenv("OCR_TEST_CANCEL_MS") ? atof(getenv("OCR_TEST_CANCEL_MS")) : 50.0;
    CHECK(returned_at - canceller.triggered_at < bound, "cancelled after %.1f ms",
          returned_at - canceller.triggered_at);
    ocr_cancel_free(cancel);
    ocr_poll_options_free(options);
    ocr_string_free(task_id);
}

static void test_lifecycle(const ocr_client *client, const char *pdf_path) {
    enum { TASKS = 6 };
    char *ids[TASKS] = {0};
    for (int i = 0; i < TASKS - 1; i++) {
        CHECK_CODE(ocr_submit_file(client, NULL, pdf_path, "{\"resultType\":\"Pdf\"}", &ids[i]),
                   OCR_OK);
    }
    ids[TASKS - 1] = NULL;
    ocr_task_status status = OCR_TASK_UNKNOWN;
    CHECK_CODE(ocr_get_task_status(client, NULL, ids[0], &status), OCR_OK);
    CHECK(status == OCR_TASK_PENDING || status == OCR_TASK_PROCESSING, "status %d", status);
    CHECK_CODE(ocr_cancel_task(client, NULL, ids[0]), OCR_OK);
    CHECK_CODE(ocr_get_task_status(client, NULL, ids[0], &status), OCR_OK);
    CHECK(status == OCR_TASK_NOT_EXIST, "cancelled task status %d", status);
    CHECK_CODE(ocr_submit_file(client, NULL, "/no/such/file.pdf", NULL, &ids[TASKS - 1]), OCR_ERR_IO);

    const char *task_ids[TASKS - 1];
    for (int i = 0; i < TASKS - 1; i++) task_ids[i] = ids[i];
    ocr_result *results[TASKS - 1];
    ocr_code codes[TASKS - 1];
    ocr_poll_options *options = ocr_poll_options_new();
    CHECK_CODE(ocr_poll_options_set_interval_ms(options, 40), OCR_OK);
    CHECK_CODE(ocr_poll_many(client, NULL, task_ids, TASKS - 1, options, results, codes),
               OCR_ERR_TASK_NOT_FOUND);
    CHECK(codes[0] == OCR_ERR_TASK_NOT_FOUND && results[0] == NULL, "cancelled task in poll_many");
    for (int i = 1; i < TASKS - 1; i++) {
        size_t len = 0;
        CHECK(codes[i] == OCR_OK && results[i] != NULL, "task %d: %s", i, ocr_code_name(codes[i]));
        CHECK(results[i] && ocr_result_data(results[i], 0, &len) != NULL && len > 0, "data %d", i);
        ocr_result_free(results[i]);
    }
    for (int i = 0; i < TASKS - 1; i++) ocr_string_free(ids[i]);
    ocr_poll_options_free(options);
}

static void test_credentials_and_nulls(const char *url) {
    ocr_client *client = NULL;
    ocr_result *result = NULL;
    CHECK_CODE(new_client(url, "wrong-secret", &client), OCR_OK);
    CHECK_CODE(ocr_fetch_result(client, "x", &result), OCR_ERR_UNAUTHORIZED);
    CHECK(strstr(ocr_last_error_message(), "wrong-secret") == NULL, "no secret in message");
    ocr_client_free(client);

    client = NULL;
    CHECK_CODE(ocr_client_new(NULL, NULL, NULL), OCR_ERR_INVALID_ARGUMENT);
    CHECK_CODE(ocr_client_new("ftp://nope", NULL, &client), OCR_ERR_INVALID_ARGUMENT);
    CHECK(client == NULL, "no client on failure");
    CHECK_CODE(ocr_fetch_result(NULL, "x", &result), OCR_ERR_INVALID_ARGUMENT);
    CHECK_CODE(ocr_poll_options_set_timeout_ms(NULL, 5), OCR_ERR_INVALID_ARGUMENT);
    CHECK(ocr_result_count(NULL) == 0 && ocr_result_id(NULL) == NULL, "NULL accessors");
    ocr_client_free(NULL);
    ocr_result_free(NULL);
    ocr_poll_options_free(NULL);
    ocr_cancel_free(NULL);
    ocr_string_free(NULL);
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s BASE_URL SAMPLE_PDF SCRATCH_DIR\n", argv[0]);
        return 2;
    }
    const char *url = argv[1];
    ocr_client *client = NULL;
    CHECK_CODE(new_client(url, "demo-secret", &client), OCR_OK);
    if (!client) return 1;

    test_constants();
    test_submit_poll_save(client, argv[2], argv[3]);
    test_paths(client, argv[2], argv[3]);
#ifdef _WIN32
    test_save_refused_windows(client, argv[2], argv[3]);
#endif
    test_failures(client);
    test_cancel(client, argv[2]);
    test_lifecycle(client, argv[2]);
    test_credentials_and_nulls(url);
    ocr_client_free(client);

    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
