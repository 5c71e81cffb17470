/*
 * A client used before fork(2) and then in several child processes at once: each child must
 * get the answers for its own requests. Run as `fork BASE_URL` against an emulator with its
 * default credentials and tasks t-0 ... t-199 whose Text result is their own id (the Rust test
 * makes them). Prints "N passed, M failed".
 */
#define _GNU_SOURCE
#include "ocrcloud.h"

#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHILDREN 4
#define FETCHES 50

static int child(ocr_client *client, int which) {
    int wrong = 0;
    for (int i = 0; i < FETCHES; i++) {
        char id[32];
        snprintf(id, sizeof id, "t-%d", which * FETCHES + i);
        ocr_result *result = NULL;
        ocr_code code = ocr_fetch_result(client, id, &result);
        size_t len = 0;
        const uint8_t *data = code == OCR_OK ? ocr_result_data(result, 0, &len) : NULL;
        if (code != OCR_OK || !data || len != strlen(id) || memcmp(data, id, len) != 0) {
            fprintf(stderr, "child %d asked %s: %s %s\n", which, id, ocr_code_name(code),
                    code == OCR_OK ? "(wrong data)" : ocr_last_error_message());
            wrong++;
        }
        ocr_result_free(result);
    }
    return wrong == 0 ? 0 : 1;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s BASE_URL\n", argv[0]);
        return 2;
    }
    ocr_client *client = NULL;
    if (ocr_client_new_with_credentials(argv[1], "demo", "demo-secret", &client) != OCR_OK) {
        fprintf(stderr, "no client: %s\n", ocr_last_error_message());
        return 1;
    }
    ocr_result *warm = NULL;
    if (ocr_fetch_result(client, "t-0", &warm) != OCR_OK) {
        fprintf(stderr, "warm-up fetch: %s\n", ocr_last_error_message());
        return 1;
    }
    ocr_result_free(warm);
    pid_t pids[CHILDREN];
    for (int c = 0; c < CHILDREN; c++) {
        pids[c] = fork();
        if (pids[c] == 0) _exit(child(client, c));
    }
    int passed = 0, failed = 0;
    for (int c = 0; c < CHILDREN; c++) {
        int status = 0;
        waitpid(pids[c], &status, 0);
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
            passed++;
        } else {
            failed++;
        }
    }
    failed += child(client, 0) != 0;
    passed += 1;
    ocr_client_free(client);
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
