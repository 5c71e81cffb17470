/*
 * The checks of the C test programs: each CHECK counts a pass or prints the failure with the
 * library's last error; the program ends by printing "N passed, M failed".
 */
#ifndef OCRCLOUD_TEST_CHECK_H
#define OCRCLOUD_TEST_CHECK_H

#include <stdio.h>

static int passed, failed;

#define CHECK(cond, ...)                                                           \
    do {                                                                           \
        if (cond) {                                                                \
            passed++;                                                              \
        } else {                                                                   \
            failed++;                                                              \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);        \
            fprintf(stderr, __VA_ARGS__);                                          \
            fprintf(stderr, " (last error: %s)\n", ocr_last_error_message());      \
        }                                                                          \
    } while (0)

#define CHECK_CODE(call, expected)                                                 \
    do {                                                                           \
        ocr_code got_ = (call);                                                    \
        CHECK(got_ == (expected), "%s returned %s, expected %s", #call,            \
              ocr_code_name(got_), ocr_code_name(expected));                       \
    } while (0)

#endif
