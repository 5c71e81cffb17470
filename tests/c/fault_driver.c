/*
 * Every public call against every kind of fault the emulator can inject, from C, so that a run
 * under valgrind checks memory on each failure path: run as
 * `fault_driver BASE_URL SAMPLE_PDF SCRATCH_DIR` against an emulator with its default
 * credentials. For each (call, fault) point it resets the emulator, creates the task the call
 * needs, queues the fault and makes the call, then checks that the code is a documented one,
 * that out-parameters are written only on OCR_OK, and that no temporary file is left in the
 * scratch folder. Prints "N passed, M failed" at the end.
 */
#define _GNU_SOURCE
#include "ocrcloud.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"

static int port;

/* POSTs `body` to the emulator's control path `path`; answers 0 on a 2xx answer. */
static int control(const char *path, const char *body) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        if (fd >= 0) close(fd);
        return -1;
    }
    char request[4096];
    int n = snprintf(request, sizeof request,
                     "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                     path, strlen(body), body);
    if (write(fd, request, (size_t)n) != n) {
        close(fd);
        return -1;
    }
    char answer[512] = {0};
    ssize_t got = read(fd, answer, sizeof answer - 1);
    close(fd);
    return got > 12 && answer[9] == '2' ? 0 : -1;
}

static int leftovers(const char *dir) {
    int count = 0;
    DIR *d = opendir(dir);
    if (!d) return 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (strncmp(e->d_name, ".ocrcloud-", 10) == 0) count++;
    }
    closedir(d);
    return count;
}

static void empty(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    char path[4096];
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (e->d_name[0] == '.' && (e->d_name[1] == 0 || strcmp(e->d_name, "..") == 0)) continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        unlink(path);
    }
    closedir(d);
}

enum call { SUBMIT, SUBMIT_FILE, FETCH, FETCH_TO_DIR, POLL, POLL_TO_DIR, POLL_MANY, STATUS, CANCEL, CALLS };
static const char *call_names[CALLS] = {"submit", "submit_file", "fetch", "fetch_to_dir", "poll",
                                        "poll_to_dir", "poll_many", "status", "cancel_task"};

static const char *faults[] = {
    "{\"path\":\"%s\",\"kind\":\"drop\"}",
    "{\"path\":\"%s\",\"kind\":\"truncate\",\"bytes\":0}",
    "{\"path\":\"%s\",\"kind\":\"truncate\",\"bytes\":1}",
    "{\"path\":\"%s\",\"kind\":\"truncate\",\"bytes\":20}",
    "{\"path\":\"%s\",\"kind\":\"truncate\"}",
    "{\"path\":\"%s\",\"kind\":\"malformed\"}",
    "{\"path\":\"%s\",\"kind\":\"delay\",\"ms\":600}",
    "{\"path\":\"%s\",\"kind\":\"status\",\"status\":503,\"retryAfter\":\"0\",\"count\":5}",
    "{\"path\":\"%s\",\"kind\":\"status\",\"status\":502}",
    "{\"path\":\"%s\",\"kind\":\"status\",\"status\":500}",
    "{\"path\":\"%s\",\"kind\":\"status\",\"status\":401,\"count\":3}",
    "{\"path\":\"%s\",\"kind\":\"status\",\"status\":200,\"contentType\":\"application/json\","
    "\"body\":\"{\\\"id\\\":\\\"other\\\",\\\"taskStatus\\\":\\\"Completed\\\"}\"}",
    "{\"path\":\"/connect/token\",\"kind\":\"truncate\",\"bytes\":10}",
};
#define FAULTS (sizeof faults / sizeof faults[0])

static const char *task = "{\"id\":\"t1\",\"results\":[{\"type\":\"Text\",\"text\":\"one\"},"
                          "{\"type\":\"Pdf\",\"text\":\"%PDF-1.4 two\"}]}";

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s BASE_URL SAMPLE_PDF SCRATCH_DIR\n", argv[0]);
        return 2;
    }
    const char *colon = strrchr(argv[1], ':');
    port = colon ? atoi(colon + 1) : 0;
    const char *dir = argv[3];
    static const unsigned char pdf[] = "%PDF-1.4 fault driver";
    ocr_poll_options *poll = ocr_poll_options_new();
    ocr_poll_options_set_interval_ms(poll, 10);
    ocr_poll_options_set_backoff(poll, 1.0, 10);
    ocr_poll_options_set_max_attempts(poll, 4);
    ocr_poll_options_set_timeout_ms(poll, 3000);
    ocr_call_options *call = ocr_call_options_new();
    ocr_call_options_set_timeout_ms(call, 3000);

    for (int c = 0; c < CALLS; c++) {
        for (size_t f = 0; f < FAULTS; f++) {
            ocr_client *client = NULL;
            if (ocr_client_new_with_credentials(argv[1], "demo", "demo-secret", &client) != OCR_OK) {
                fprintf(stderr, "no client: %s\n", ocr_last_error_message());
                return 1;
            }
            ocr_client_set_read_timeout_ms(client, 300);
            ocr_client_set_max_attempts(client, 2);
            empty(dir);
            char spec[512];
            const char *path = c == STATUS ? "/v5.0/ocr/Utilities/GetTaskStatus" : "/v5.0/ocr/RecognizePdf";
            snprintf(spec, sizeof spec, faults[f], path);
            CHECK(control("/_emulator/reset", "") == 0 && control("/_emulator/tasks", task) == 0 &&
                      control("/_emulator/faults", spec) == 0,
                  "controls for %s", spec);

            ocr_code code = -1;
            char *id = NULL;
            ocr_result *result = NULL;
            ocr_task_status status = -1;
            const char *ids[2] = {"t1", "missing"};
            ocr_result *many[2] = {NULL, NULL};
            ocr_code codes[2] = {-1, -1};
            switch ((enum call)c) {
            case SUBMIT:
                code = ocr_submit_ex(client, NULL, pdf, sizeof pdf - 1, NULL, call, &id);
                break;
            case SUBMIT_FILE:
                code = ocr_submit_file_ex(client, NULL, argv[2], NULL, call, &id);
                break;
            case FETCH:
                code = ocr_fetch_result_ex(client, NULL, "t1", call, &result);
                break;
            case FETCH_TO_DIR:
                code = ocr_fetch_result_to_dir_ex(client, NULL, "t1", dir, call, &result);
                break;
            case POLL:
                code = ocr_poll_until_done(client, "t1", poll, &result);
                break;
            case POLL_TO_DIR:
                code = ocr_poll_until_done_to_dir(client, NULL, "t1", poll, dir, &result);
                break;
            case POLL_MANY:
                code = ocr_poll_many(client, NULL, ids, 2, poll, many, codes);
                CHECK(codes[0] >= 0 && codes[0] <= 14 && codes[1] >= 0 && codes[1] <= 14,
                      "%s: per-task codes %d %d", spec, codes[0], codes[1]);
                CHECK(ocr_poll_many_message(1) != NULL, "%s: a message per task", spec);
                ocr_result_free(many[0]);
                ocr_result_free(many[1]);
                break;
            case STATUS:
                code = ocr_get_task_status_ex(client, NULL, "t1", call, &status);
                break;
            case CANCEL:
                code = ocr_cancel_task_ex(client, NULL, "t1", call);
                break;
            case CALLS:
                break;
            }
            CHECK(code >= 0 && code <= 14, "%s under %s: code %d", call_names[c], spec, code);
            if (code != OCR_OK) {
                CHECK(id == NULL && result == NULL && status == -1,
                      "%s under %s: an out-parameter written on failure", call_names[c], spec);
                CHECK(strlen(ocr_last_error_message()) > 0, "%s: a message", call_names[c]);
            }
            if (result && ocr_result_count(result) > 0 && (c == FETCH || c == POLL)) {
                size_t len = 0;
                const uint8_t *data = ocr_result_data(result, 0, &len);
                CHECK(data && len == 3 && memcmp(data, "one", 3) == 0, "%s: complete data", spec);
            }
            CHECK(leftovers(dir) == 0, "%s under %s: temporary files left", call_names[c], spec);
            ocr_string_free(id);
            ocr_result_free(result);
            ocr_client_free(client);
        }
    }
    ocr_call_options_free(call);
    ocr_poll_options_free(poll);
    empty(dir);
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
