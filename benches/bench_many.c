/*
 * The C side of the many-tasks rows of benches/many_tasks.py: one measured job through the C
 * API, then one line of figures about this process alone: the CPU time of all its threads during
 * the job (getrusage), its resident set before the job and its peak (/proc/self/status).
 *
 *   bench_many poll_many  BASE_URL TOKEN IDS_FILE FIRST_MS FACTOR MAX_MS
 *       ocr_poll_many on the ids of IDS_FILE (one a line) with that schedule; every task must
 *       complete. Prints started= (CLOCK_MONOTONIC seconds when the call began) too.
 *   bench_many one_by_one BASE_URL TOKEN IDS_FILE PENDING_ID REQUESTS SECONDS
 *       single ocr_fetch_result calls from one thread: REQUESTS minus the number of ids on
 *       PENDING_ID (a task that never finishes; each result freed at once), then one on each id
 *       of IDS_FILE (all Completed), whose results are kept to the end as poll_many's caller
 *       keeps them. With SECONDS > 0 request k starts SECONDS * k / REQUESTS after the first
 *       (sleeping until then, as a loop of fetch and sleep does); with 0 they go back to back.
 *
 * Output: tasks= cpu_s= peak_rss_kib= rss_before_kib= seconds= (and started= for poll_many).
 */
#define _GNU_SOURCE
#include "ocrcloud.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double cpu_s(void) {
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    return usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6 + usage.ru_stime.tv_sec +
           usage.ru_stime.tv_usec / 1e6;
}

/* A field of /proc/self/status in KiB: VmRSS now, VmHWM the peak. (getrusage's ru_maxrss is
 * no use here: after a vfork and exec it starts at the parent's resident set.) */
static long status_kib(const char *field) {
    char line[256];
    long kib = -1;
    size_t length = strlen(field);
    FILE *f = fopen("/proc/self/status", "r");
    while (f && fgets(line, sizeof line, f)) {
        if (strncmp(line, field, length) == 0 && line[length] == ':') {
            kib = atol(line + length + 1);
            break;
        }
    }
    if (f) fclose(f);
    return kib;
}

static void die(const char *what, ocr_code code) {
    fprintf(stderr, "%s: %s: %s\n", what, ocr_code_name(code), ocr_last_error_message());
    exit(1);
}

static char **read_ids(const char *path, size_t *count) {
    FILE *f = fopen(path, "r");
    if (!f) {
        perror(path);
        exit(1);
    }
    size_t capacity = 1024;
    char **ids = malloc(capacity * sizeof *ids);
    char line[256];
    *count = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        if (*count == capacity) ids = realloc(ids, (capacity *= 2) * sizeof *ids);
        ids[(*count)++] = strdup(line);
    }
    fclose(f);
    return ids;
}

static void report(size_t tasks, double cpu, long rss_before, double seconds) {
    printf("tasks=%zu cpu_s=%.4f peak_rss_kib=%ld rss_before_kib=%ld seconds=%.3f", tasks, cpu,
           status_kib("VmHWM"), rss_before, seconds);
}

static int poll_many(const ocr_client *client, char **ids, size_t count, unsigned first_ms,
                     double factor, unsigned max_ms) {
    ocr_result **results = calloc(count, sizeof *results);
    ocr_code *codes = calloc(count, sizeof *codes);
    ocr_poll_options *options = ocr_poll_options_new();
    if (ocr_poll_options_set_interval_ms(options, first_ms) != OCR_OK ||
        ocr_poll_options_set_backoff(options, factor, max_ms) != OCR_OK)
        die("ocr_poll_options_set_*", OCR_ERR_INVALID_ARGUMENT);
    long rss_before = status_kib("VmRSS");
    double cpu = cpu_s(), started = now_s();
    ocr_code code = ocr_poll_many(client, NULL, (const char *const *)ids, count, options, results,
                                  codes);
    double seconds = now_s() - started;
    cpu = cpu_s() - cpu;
    if (code != OCR_OK) die("ocr_poll_many", code);
    report(count, cpu, rss_before, seconds);
    printf(" started=%.6f\n", started);
    for (size_t i = 0; i < count; i++) ocr_result_free(results[i]);
    ocr_poll_options_free(options);
    free(results);
    free(codes);
    return 0;
}

/* Sleeps until request `k` of `requests` is due, `seconds` spreading them from `started`. */
static void pace(double started, double seconds, long k, long requests) {
    if (seconds <= 0) return;
    double at = started + seconds * (double)k / (double)requests;
    struct timespec ts = {(time_t)at, (long)((at - (double)(time_t)at) * 1e9)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) != 0) {
    }
}

static int one_by_one(const ocr_client *client, char **ids, size_t count, const char *pending_id,
                      long requests, double spread) {
    ocr_result **results = calloc(count, sizeof *results);
    long rss_before = status_kib("VmRSS");
    double cpu = cpu_s(), started = now_s();
    for (long i = 0; i < requests - (long)count; i++) {
        pace(started, spread, i, requests);
        ocr_result *result = NULL;
        ocr_code code = ocr_fetch_result(client, pending_id, &result);
        if (code != OCR_OK) die("ocr_fetch_result", code);
        ocr_result_free(result);
    }
    for (size_t i = 0; i < count; i++) {
        pace(started, spread, requests - (long)count + (long)i, requests);
        ocr_code code = ocr_fetch_result(client, ids[i], &results[i]);
        if (code != OCR_OK) die("ocr_fetch_result", code);
        if (ocr_result_task_status(results[i]) != OCR_TASK_COMPLETED) {
            fprintf(stderr, "task %s is not Completed\n", ids[i]);
            return 1;
        }
    }
    double seconds = now_s() - started;
    cpu = cpu_s() - cpu;
    report(count, cpu, rss_before, seconds);
    printf("\n");
    for (size_t i = 0; i < count; i++) ocr_result_free(results[i]);
    free(results);
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 8) {
        fprintf(stderr, "usage: see the comment at the top of bench_many.c\n");
        return 2;
    }
    const char *mode = argv[1];
    ocr_client *client = NULL;
    ocr_code code = ocr_client_new(argv[2], argv[3], &client);
    if (code != OCR_OK) die("ocr_client_new", code);
    size_t count = 0;
    char **ids = read_ids(argv[4], &count);
    int status = 2;
    if (strcmp(mode, "poll_many") == 0)
        status = poll_many(client, ids, count, (unsigned)atoi(argv[5]), atof(argv[6]),
                           (unsigned)atoi(argv[7]));
    if (strcmp(mode, "one_by_one") == 0)
        status = one_by_one(client, ids, count, argv[5], atol(argv[6]), atof(argv[7]));
    for (size_t i = 0; i < count; i++) free(ids[i]);
    free(ids);
    ocr_client_free(client);
    return status;
}
