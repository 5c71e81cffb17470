/*
 * The quick-start demo: submit a PDF, poll with a progress line per attempt, save every result,
 * print the text result.
 *
 *   demo BASE_URL PDF OUTPUT_DIR [CA_FILE]
 *
 * The results are saved into OUTPUT_DIR (made if missing); without arguments it prints its usage.
 * Credentials come from OCR_CLIENT_ID / OCR_CLIENT_SECRET (the emulator's defaults are
 * demo / demo-secret). CA_FILE (or, without it, the environment variable OCR_CA_FILE) is a PEM
 * file of CA certificates to trust besides the system's, as a private gateway or a
 * TLS-inspecting proxy needs; `make demo` passes the CA of the emulator it starts with
 * --tls-self-signed. Build: cc demo.c -Iinclude -Ltarget/release -locrcloud
 * -Wl,-rpath,$PWD/target/release
 */
#include "ocrcloud.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void on_progress(void *user_data, const char *task_id, ocr_task_status status,
                        uint32_t attempt) {
    (void)user_data;
    printf("  poll %2u: task %s is %s\n", attempt, task_id, ocr_task_status_name(status));
    fflush(stdout);
}

static const char *extension(const char *type) {
    if (strcmp(type, "Text") == 0) return "txt";
    if (strcmp(type, "Pdf") == 0) return "pdf";
    if (strcmp(type, "Hocr") == 0) return "html";
    if (strcmp(type, "Json") == 0 || strcmp(type, "JSON") == 0) return "json";
    return "bin";
}

static int fail(const char *what, ocr_code code) {
    fprintf(stderr, "%s failed: %s: %s\n", what, ocr_code_name(code), ocr_last_error_message());
    return 1;
}

int main(int argc, char **argv) {
    if (argc < 4 || argc > 5) {
        fprintf(stderr,
                "usage: %s BASE_URL PDF OUTPUT_DIR [CA_FILE]\n"
                "  the results of PDF are saved into OUTPUT_DIR (made if missing)\n"
                "  CA_FILE (default: $OCR_CA_FILE): PEM CA certificates to trust besides the "
                "system's\n"
                "  credentials: $OCR_CLIENT_ID and $OCR_CLIENT_SECRET (default demo / "
                "demo-secret)\n",
                argv[0]);
        return 2;
    }
    const char *id = getenv("OCR_CLIENT_ID") ? getenv("OCR_CLIENT_ID") : "demo";
    const char *secret = getenv("OCR_CLIENT_SECRET") ? getenv("OCR_CLIENT_SECRET") : "demo-secret";
    const char *pdf = argv[2];
    const char *output_dir = argv[3];
    const char *ca_file = argc > 4 ? argv[4] : getenv("OCR_CA_FILE");
    mkdir(output_dir, 0777); /* a failure shows when the results are saved */

    ocr_client *client = NULL;
    ocr_code code = ocr_client_new_with_credentials(argv[1], id, secret, &client);
    if (code != OCR_OK) return fail("ocr_client_new_with_credentials", code);
    if (ca_file && *ca_file) {
        code = ocr_client_set_ca_file(client, ca_file);
        if (code != OCR_OK) {
            ocr_client_free(client);
            return fail("ocr_client_set_ca_file", code);
        }
    }

    char *task_id = NULL;
    code = ocr_submit_file(client, "RecognizePdf", pdf,
                           "{\"language\":\"English\",\"resultType\":\"TextAndPdf\"}", &task_id);
    if (code != OCR_OK) {
        ocr_client_free(client);
        return fail("ocr_submit_file", code);
    }
    printf("submitted %s as task %s\n", pdf, task_id);

    ocr_poll_options *options = ocr_poll_options_new();
    ocr_poll_options_set_interval_ms(options, 250);
    ocr_poll_options_set_backoff(options, 1.5, 2000);
    ocr_poll_options_set_timeout_ms(options, 60000);
    ocr_poll_options_set_progress(options, on_progress, NULL);

    ocr_result *result = NULL;
    code = ocr_poll_until_done(client, task_id, options, &result);
    int status = 0;
    if (code != OCR_OK) {
        status = fail("ocr_poll_until_done", code);
    } else {
        for (size_t i = 0; i < ocr_result_count(result); i++) {
            const char *type = ocr_result_type(result, i);
            char path[4096];
            snprintf(path, sizeof path, "%s/%s.%s", output_dir, task_id, extension(type));
            code = ocr_result_save(result, i, path);
            if (code != OCR_OK) {
                status = fail("ocr_result_save", code);
                continue;
            }
            size_t size = 0;
            const uint8_t *data = ocr_result_data(result, i, &size);
            printf("saved %s result (%zu bytes) to %s\n", type, size, path);
            if (strcmp(type, "Text") == 0) {
                printf("---- recognized text ----\n%.*s-------------------------\n", (int)size,
                       (const char *)data);
            }
        }
        ocr_result_free(result);
    }
    ocr_poll_options_free(options);
    ocr_string_free(task_id);
    ocr_client_free(client);
    return status;
}
