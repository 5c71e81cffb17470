/*
 * Runs hostile cases through the C API, for valgrind to watch: tests/hostile.rs starts one
 * hostile server per case and calls
 *
 *   hostile_driver TOKEN CALL URL CODE [CALL URL CODE]...
 *
 * where CALL is fetch, poll or submit, URL the case's server and CODE the expected ocr_code.
 * Every case prints one line: its call, the code's name, and the message or what the result
 * holds (every accessor is read, so that valgrind sees every byte). The exit status is the
 * number of cases whose code was not the expected one.
 */

#include "ocrcloud.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Reads everything a result holds, every data byte included, so that valgrind checks it all;
 * answers a checksum of it to print. */
static unsigned long checksum(const ocr_result *result) {
    unsigned long sum = strlen(ocr_result_task_status_text(result)) +
                        strlen(ocr_result_id(result)) +
                        strlen(ocr_result_response_status(result));
    size_t i;
    for (i = 0; i < ocr_result_count(result); i++) {
        size_t len = 0;
        const uint8_t *data = ocr_result_data(result, i, &len);
        size_t j;
        sum += strlen(ocr_result_type(result, i));
        for (j = 0; j < len; j++) {
            sum += data[j];
        }
    }
    for (i = 0; i < ocr_result_message_count(result); i++) {
        sum += strlen(ocr_result_message(result, i));
    }
    for (i = 0; i < ocr_result_warning_count(result); i++) {
        sum += strlen(ocr_result_warning(result, i));
    }
    return sum;
}

/* Runs one case; answers its code and prints its line. */
static ocr_code run_case(const char *token, const char *call, const char *url) {
    ocr_client *client = NULL;
    ocr_result *result = NULL;
    char *task_id = NULL;
    ocr_code code = ocr_client_new(url, token, &client);
    if (code == OCR_OK) {
        ocr_client_set_read_timeout_ms(client, 1000);
        ocr_client_set_request_timeout_ms(client, 3000);
        ocr_client_set_connect_timeout_ms(client, 1000);
        if (strcmp(call, "fetch") == 0) {
            code = ocr_fetch_result(client, "t", &result);
        } else if (strcmp(call, "poll") == 0) {
            ocr_poll_options *options = ocr_poll_options_new();
            ocr_poll_options_set_interval_ms(options, 20);
            ocr_poll_options_set_backoff(options, 1.0, 20);
            ocr_poll_options_set_timeout_ms(options, 5000);
            code = ocr_poll_until_done(client, "t", options, &result);
            ocr_poll_options_free(options);
        } else {
            static const uint8_t pdf[] = "%PDF-1.4 hostile";
            code = ocr_submit(client, NULL, pdf, sizeof pdf - 1, NULL, &task_id);
        }
    }
    if (code != OCR_OK) {
        printf("%s %s: %s\n", call, ocr_code_name(code), ocr_last_error_message());
    } else if (result != NULL) {
        printf("%s OCR_OK: status %d, %zu files, checksum %lu\n", call,
               (int)ocr_result_task_status(result), ocr_result_count(result), checksum(result));
    } else {
        printf("%s OCR_OK: task id %s\n", call, task_id);
    }
    ocr_string_free(task_id);
    ocr_result_free(result);
    ocr_client_free(client);
    return code;
}

int main(int argc, char **argv) {
    int wrong = 0;
    int i;
    if (argc < 2 || (argc - 2) % 3 != 0) {
        fprintf(stderr, "usage: %s TOKEN [CALL URL CODE]...\n", argv[0]);
        return 100;
    }
    for (i = 2; i + 2 < argc; i += 3) {
        ocr_code expected = (ocr_code)atoi(argv[i + 2]);
        ocr_code code = run_case(argv[1], argv[i], argv[i + 1]);
        if (code != expected) {
            printf("  expected %s\n", ocr_code_name(expected));
            wrong++;
        }
    }
    fflush(stdout);
    return wrong;
}
