/*
 * The flow-control rows of benches/bench.py: one client shared by THREADS threads that fetch a
 * completed task over and over, while the main thread runs one ocr_poll_many over the tasks in
 * IDS_FILE. bench.py runs the emulator with --rate-limit and reads its statistics.
 *
 *   bench_flow rate   BASE_URL TOKEN IDS_FILE FETCH_ID THREADS FETCHES INTERVAL_MS
 *       each thread makes FETCHES successful fetches; the program ends when they and the
 *       poll_many are done (every task must complete)
 *   bench_flow outage BASE_URL TOKEN IDS_FILE FETCH_ID THREADS DURATION_MS INTERVAL_MS
 *       the threads fetch, and the poll_many polls, until DURATION_MS have passed (the poll_many
 *       is then cancelled); bench.py makes the emulator answer 503 for a while in between
 *
 * A failed call is what an application would see: the thread waits 100 ms and tries the same
 * fetch again. Both modes print a first line `t0=SECONDS` (CLOCK_MONOTONIC, the clock of
 * Python's time.monotonic(), flushed when the load starts), then one line of figures, then
 * `ok_buckets=N0,N1,...`: how many successful answers (fetches and poll answers) came in each
 * 10 ms after t0.
 *
 * With OCR_MAX_RATE=N in the environment the client is told the limit first
 * (ocr_client_set_max_rate(client, N)).
 *
 * The same source is built against two libraries: today's and the one before flow control
 * (bench.py builds both). The flow-control calls (ocr_client_stats, ...) are looked up with
 * dlsym, so the program also runs on a library without them; it prints `lib_requests=-1` then.
 */
#define _GNU_SOURCE
#include "ocrcloud.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BUCKET_MS 10
#define BUCKETS 60000 /* 600 s */
#define STAT_REQUESTS 1
#define STAT_THROTTLED 3

static atomic_uint ok_buckets[BUCKETS];
static double t0;
static atomic_int stop_load;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void count_ok(void) {
    long bucket = (long)((now_s() - t0) * 1000 / BUCKET_MS);
    if (bucket >= 0 && bucket < BUCKETS) atomic_fetch_add(&ok_buckets[bucket], 1);
}

static void die(const char *what, ocr_code code) {
    fprintf(stderr, "%s: %s: %s\n", what, ocr_code_name(code), ocr_last_error_message());
    exit(1);
}

struct worker {
    const ocr_client *client;
    const char *task_id;
    int fetches; /* successes to make; 0: until stop_load */
    unsigned ok, failed;
    pthread_t thread;
};

static void *fetch_loop(void *arg) {
    struct worker *w = arg;
    while (w->fetches ? (int)w->ok < w->fetches : !atomic_load(&stop_load)) {
        ocr_result *result = NULL;
        ocr_code code = ocr_fetch_result(w->client, w->task_id, &result);
        if (code == OCR_OK) {
            count_ok();
            ocr_result_free(result);
            w->ok++;
        } else {
            w->failed++;
            usleep(100 * 1000);
        }
    }
    return NULL;
}

static void poll_answered(void *user_data, const char *task_id, ocr_task_status status,
                          uint32_t attempt) {
    (void)task_id;
    (void)status;
    (void)attempt;
    (*(unsigned *)user_data)++;
    count_ok();
}

struct timer {
    const ocr_cancel *cancel;
    double seconds;
};

static void *cancel_after(void *arg) {
    struct timer *t = arg;
    while (now_s() - t0 < t->seconds) usleep(5 * 1000);
    atomic_store(&stop_load, 1);
    ocr_cancel_trigger(t->cancel);
    return NULL;
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
        if (!*line) continue;
        if (*count == capacity) ids = realloc(ids, (capacity *= 2) * sizeof *ids);
        ids[(*count)++] = strdup(line);
    }
    fclose(f);
    return ids;
}

int main(int argc, char **argv) {
    if (argc != 9 || (strcmp(argv[1], "rate") != 0 && strcmp(argv[1], "outage") != 0)) {
        fprintf(stderr, "usage: see the comment at the top of bench_flow.c\n");
        return 2;
    }
    int outage = strcmp(argv[1], "outage") == 0;
    const char *url = argv[2], *token = argv[3], *fetch_id = argv[5];
    int threads = atoi(argv[6]), amount = atoi(argv[7]);
    unsigned interval_ms = (unsigned)atoi(argv[8]);
    size_t count = 0;
    char **ids = read_ids(argv[4], &count);

    ocr_client *client = NULL;
    ocr_code code = ocr_client_new(url, token, &client);
    if (code != OCR_OK) die("ocr_client_new", code);
    const char *max_rate = getenv("OCR_MAX_RATE");
    if (max_rate && *max_rate) {
        ocr_code (*set_max_rate)(ocr_client *, double) =
            (ocr_code(*)(ocr_client *, double))dlsym(RTLD_DEFAULT, "ocr_client_set_max_rate");
        if (!set_max_rate) {
            fprintf(stderr, "OCR_MAX_RATE: this library has no ocr_client_set_max_rate\n");
            return 2;
        }
        code = set_max_rate(client, atof(max_rate));
        if (code != OCR_OK) die("ocr_client_set_max_rate", code);
    }
    ocr_code (*stats)(const ocr_client *, int32_t, double *) =
        (ocr_code(*)(const ocr_client *, int32_t, double *))dlsym(RTLD_DEFAULT, "ocr_client_stats");

    ocr_result **results = calloc(count, sizeof *results);
    ocr_code *codes = calloc(count, sizeof *codes);
    unsigned answers = 0;
    ocr_poll_options *options = ocr_poll_options_new();
    ocr_poll_options_set_interval_ms(options, interval_ms);
    ocr_poll_options_set_backoff(options, 1.0, interval_ms);
    ocr_poll_options_set_progress(options, poll_answered, &answers);
    ocr_cancel *cancel = ocr_cancel_new();
    ocr_poll_options_set_cancel(options, cancel);

    struct worker *workers = calloc((size_t)threads, sizeof *workers);
    t0 = now_s();
    printf("t0=%.6f\n", t0);
    fflush(stdout);
    struct timer timer = {cancel, amount / 1000.0};
    pthread_t timer_thread;
    if (outage) pthread_create(&timer_thread, NULL, cancel_after, &timer);
    for (int i = 0; i < threads; i++) {
        workers[i] = (struct worker){client, fetch_id, outage ? 0 : amount, 0, 0, 0};
        pthread_create(&workers[i].thread, NULL, fetch_loop, &workers[i]);
    }
    code = ocr_poll_many(client, NULL, (const char *const *)ids, count, options, results, codes);
    if (code != OCR_OK && !outage) die("ocr_poll_many", code);
    unsigned ok = 0, failed = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(workers[i].thread, NULL);
        ok += workers[i].ok;
        failed += workers[i].failed;
    }
    double seconds = now_s() - t0;
    if (outage) pthread_join(timer_thread, NULL);
    size_t completed = 0;
    for (size_t i = 0; i < count; i++) {
        if (codes[i] == OCR_OK) completed++;
        ocr_result_free(results[i]);
        free(ids[i]);
    }
    double requests = -1, throttled = -1;
    if (stats) {
        stats(client, STAT_REQUESTS, &requests);
        stats(client, STAT_THROTTLED, &throttled);
    }
    printf("seconds=%.3f tasks=%zu completed=%zu poll_answers=%u fetches=%u fetch_failures=%u "
           "lib_requests=%.0f lib_throttled=%.0f\n",
           seconds, count, completed, answers, ok, failed, requests, throttled);
    long last = BUCKETS - 1;
    while (last > 0 && atomic_load(&ok_buckets[last]) == 0) last--;
    printf("ok_buckets=");
    for (long i = 0; i <= last; i++) printf(i ? ",%u" : "%u", atomic_load(&ok_buckets[i]));
    printf("\n");
    ocr_poll_options_free(options);
    ocr_cancel_free(cancel);
    ocr_client_free(client);
    free(workers);
    free(results);
    free(codes);
    free(ids);
    return 0;
}
