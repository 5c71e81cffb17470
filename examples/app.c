/* app BASE_URL PDF OUTPUT_DIR: submits PDF, waits until the service has recognized it, saves the
 * searchable PDF as OUTPUT_DIR/<task id>.pdf. Credentials: OCR_CLIENT_ID and OCR_CLIENT_SECRET. */
#include "ocrcloud.h"
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s BASE_URL PDF OUTPUT_DIR\n", argv[0]);
        return 2;
    }
    ocr_client *client = NULL;
    char *task_id = NULL;
    ocr_result *result = NULL;
    char path[4096];
    ocr_code code = ocr_client_new_with_credentials(argv[1], getenv("OCR_CLIENT_ID"),
                                                    getenv("OCR_CLIENT_SECRET"), &client);
    if (code == OCR_OK)
        code = ocr_submit_file(client, "RecognizePdf", argv[2], NULL, &task_id);
    /* NULL options: the first GET at once, then every 3 s growing to 5 s (or a schedule learned
     * from this client's earlier tasks), for up to 10 minutes */
    if (code == OCR_OK)
        code = ocr_poll_until_done_for(client, "RecognizePdf", task_id, NULL, &result);
    if (code == OCR_OK) {
        mkdir(argv[3], 0777); /* a failure shows when the result is saved */
        snprintf(path, sizeof path, "%s/%s.pdf", argv[3], task_id);
        code = ocr_result_save(result, 0, path);
    }
    if (code == OCR_OK)
        printf("saved %s\n", path);
    else
        fprintf(stderr, "failed: %s: %s\n", ocr_code_name(code), ocr_last_error_message());
    ocr_result_free(result);
    ocr_string_free(task_id);
    ocr_client_free(client);
    return code == OCR_OK ? 0 : 1;
}
