/*
 * The C side of benches/bench.py. Each mode does one measured job through the C API and prints
 * one line of figures; bench.py times the process and reads its peak RSS.
 *
 *   bench_client memory  BASE_URL TOKEN TASK_ID            fetch + decode into memory (and
 *                                                          the time of the fetch call alone)
 *   bench_client dir     BASE_URL TOKEN TASK_ID DIR        fetch + decode straight to files
 *   bench_client polls   BASE_URL TOKEN TASK_ID COUNT      keep-alive polls vs a raw socket loop
 *                                                          (wall and this thread's CPU time)
 *   bench_client many    BASE_URL TOKEN IDS_FILE INTERVAL  ocr_poll_many on the ids in IDS_FILE
 *   bench_client submit  BASE_URL TOKEN FILE               ocr_submit_file of FILE (RecognizePdf)
 *
 * BASE_URL may be https://: the environment variable OCR_CA_FILE then names the PEM file of the
 * CA to trust (ocr_client_set_ca_file), and `polls` compares against a raw TLS loop: OpenSSL's
 * libssl (loaded with dlopen, so no OpenSSL headers are needed to build this) on one connection,
 * verifying the chain against the same CA, sending the same GET as the plain raw loop.
 */
#define _GNU_SOURCE
#include "ocrcloud.h"

#include <arpa/inet.h>
#include <dlfcn.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* CPU time of the calling thread (user and system): what a loop costs this process, whatever
 * else the machine runs. */
static double cpu_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what, ocr_code code) {
    fprintf(stderr, "%s: %s: %s\n", what, ocr_code_name(code), ocr_last_error_message());
    exit(1);
}

static size_t total_bytes(const ocr_result *result) {
    size_t total = 0;
    for (size_t i = 0; i < ocr_result_count(result); i++) {
        size_t len = 0;
        ocr_result_data(result, i, &len);
        total += len;
    }
    return total;
}

static int fetch_memory(const ocr_client *client, const char *task_id) {
    ocr_result *result = NULL;
    double start = now_s();
    ocr_code code = ocr_fetch_result(client, task_id, &result);
    double fetch_s = now_s() - start;
    if (code != OCR_OK) die("ocr_fetch_result", code);
    printf("decoded_bytes=%zu fetch_s=%.6f\n", total_bytes(result), fetch_s);
    ocr_result_free(result);
    return 0;
}

static int fetch_dir(const ocr_client *client, const char *task_id, const char *dir) {
    ocr_result *result = NULL;
    ocr_code code = ocr_fetch_result_to_dir(client, NULL, task_id, dir, &result);
    if (code != OCR_OK) die("ocr_fetch_result_to_dir", code);
    printf("files=%zu first=%s\n", ocr_result_count(result), ocr_result_path(result, 0));
    ocr_result_free(result);
    return 0;
}

/* The few libssl functions the raw TLS loop needs, looked up at run time. */
static struct {
    const void *(*client_method)(void);
    void *(*ctx_new)(const void *method);
    int (*load_verify_locations)(void *ctx, const char *file, const char *dir);
    void (*set_verify)(void *ctx, int mode, void *callback);
    void *(*ssl_new)(void *ctx);
    int (*set_fd)(void *ssl, int fd);
    int (*connect)(void *ssl);
    int (*write)(void *ssl, const void *buf, int len);
    int (*read)(void *ssl, void *buf, int len);
    void (*ssl_free)(void *ssl);
    void (*ctx_free)(void *ctx);
} libssl;

static int load_libssl(void) {
    const char *names[] = {"libssl.so.3", "libssl.so.1.1", "libssl.so"};
    void *handle = NULL;
    for (size_t i = 0; i < sizeof names / sizeof *names && !handle; i++)
        handle = dlopen(names[i], RTLD_NOW);
    if (!handle) {
        fprintf(stderr, "cannot load libssl: %s\n", dlerror());
        return -1;
    }
    struct {
        void **slot;
        const char *name;
    } symbols[] = {
        {(void **)&libssl.client_method, "TLS_client_method"},
        {(void **)&libssl.ctx_new, "SSL_CTX_new"},
        {(void **)&libssl.load_verify_locations, "SSL_CTX_load_verify_locations"},
        {(void **)&libssl.set_verify, "SSL_CTX_set_verify"},
        {(void **)&libssl.ssl_new, "SSL_new"},
        {(void **)&libssl.set_fd, "SSL_set_fd"},
        {(void **)&libssl.connect, "SSL_connect"},
        {(void **)&libssl.write, "SSL_write"},
        {(void **)&libssl.read, "SSL_read"},
        {(void **)&libssl.ssl_free, "SSL_free"},
        {(void **)&libssl.ctx_free, "SSL_CTX_free"},
    };
    for (size_t i = 0; i < sizeof symbols / sizeof *symbols; i++) {
        *symbols[i].slot = dlsym(handle, symbols[i].name);
        if (!*symbols[i].slot) {
            fprintf(stderr, "libssl has no %s\n", symbols[i].name);
            return -1;
        }
    }
    return 0;
}

/* One raw connection: a plain socket, or a socket with a libssl session over it. */
struct raw {
    int fd;
    void *ctx, *ssl;
};

/* Connects to an http:// or https://HOST:PORT base URL (loopback IPv4 only: a benchmark tool);
 * for https://, does the TLS handshake trusting only the PEM file `ca_file`. */
static int connect_raw(const char *base_url, const char *ca_file, struct raw *raw) {
    char scheme[8] = {0}, host[64] = {0};
    int port = 0;
    memset(raw, 0, sizeof *raw);
    raw->fd = -1;
    if (sscanf(base_url, "%7[a-z]://%63[^:]:%d", scheme, host, &port) != 3) return -1;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, host, &addr.sin_addr);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) return -1;
    raw->fd = fd;
    if (strcmp(scheme, "https") != 0) return 0;
    if (!ca_file || load_libssl() != 0) return -1;
    raw->ctx = libssl.ctx_new(libssl.client_method());
    if (!raw->ctx || libssl.load_verify_locations(raw->ctx, ca_file, NULL) != 1) return -1;
    libssl.set_verify(raw->ctx, 1 /* SSL_VERIFY_PEER */, NULL);
    raw->ssl = libssl.ssl_new(raw->ctx);
    if (!raw->ssl || libssl.set_fd(raw->ssl, fd) != 1 || libssl.connect(raw->ssl) != 1) {
        fprintf(stderr, "TLS handshake with %s failed\n", base_url);
        return -1;
    }
    return 0;
}

static void close_raw(struct raw *raw) {
    if (raw->ssl) libssl.ssl_free(raw->ssl);
    if (raw->ctx) libssl.ctx_free(raw->ctx);
    if (raw->fd >= 0) close(raw->fd);
}

static ssize_t raw_write(const struct raw *raw, const void *buf, size_t len) {
    if (!raw->ssl) return write(raw->fd, buf, len);
    return libssl.write(raw->ssl, buf, (int)len);
}

static ssize_t raw_read(const struct raw *raw, void *buf, size_t len) {
    if (!raw->ssl) return read(raw->fd, buf, len);
    return libssl.read(raw->ssl, buf, (int)len);
}

/* Sends `request` and reads one answer with a Content-Length body; returns 0 on success. */
static int raw_exchange(const struct raw *raw, const char *request, size_t request_len) {
    static char buf[65536];
    if (raw_write(raw, request, request_len) != (ssize_t)request_len) return -1;
    size_t have = 0;
    for (;;) {
        ssize_t n = raw_read(raw, buf + have, sizeof buf - 1 - have);
        if (n <= 0) return -1;
        have += (size_t)n;
        buf[have] = 0;
        char *end = strstr(buf, "\r\n\r\n");
        if (!end) continue;
        char *length = strcasestr(buf, "content-length:");
        if (!length) return -1;
        size_t body = strtoul(length + 15, NULL, 10);
        size_t head = (size_t)(end + 4 - buf);
        while (have < head + body) {
            n = raw_read(raw, buf + have, sizeof buf - 1 - have);
            if (n <= 0) return -1;
            have += (size_t)n;
        }
        return 0;
    }
}

/* One block of each loop, never inlined: `valgrind --tool=callgrind
 * --toggle-collect=raw_block` (or `ours_block`) counts the instructions of one loop alone; the
 * measured requests are COUNT rounded up to whole blocks of COUNT / 10. */
__attribute__((noinline)) static int raw_block(const struct raw *conn, const char *request,
                                               size_t request_len, int n) {
    for (int i = 0; i < n; i++) {
        if (raw_exchange(conn, request, request_len) != 0) return 1;
    }
    return 0;
}

__attribute__((noinline)) static void ours_block(const ocr_client *client, const char *task_id,
                                                 int n) {
    for (int i = 0; i < n; i++) {
        ocr_result *result = NULL;
        ocr_code code = ocr_fetch_result(client, task_id, &result);
        if (code != OCR_OK) die("ocr_fetch_result", code);
        ocr_result_free(result);
    }
}

static int polls(const ocr_client *client, const char *base_url, const char *token,
                 const char *task_id, int count) {
    char host[128];
    sscanf(base_url, "%*[a-z]://%127[^/]", host);
    char request[1024];
    int request_len = snprintf(request, sizeof request,
                               "GET /v5.0/ocr/RecognizePdf?id=%s HTTP/1.1\r\nHost: %s\r\n"
                               "User-Agent: ocrcloud/%s\r\nAccept: application/json\r\n"
                               "Authorization: Bearer %s\r\n\r\n",
                               task_id, host, ocr_version(), token);
    struct raw conn;
    if (connect_raw(base_url, getenv("OCR_CA_FILE"), &conn) != 0) {
        fprintf(stderr, "cannot connect to %s\n", base_url);
        return 1;
    }
    /* Warm both paths (outside the block functions, so that callgrind counts neither the
     * handshake nor first-use costs), then interleave blocks so both see the same machine. */
    for (int i = 0; i < 50; i++) {
        if (raw_exchange(&conn, request, (size_t)request_len) != 0) return 1;
        ocr_result *result = NULL;
        ocr_code code = ocr_fetch_result(client, task_id, &result);
        if (code != OCR_OK) die("ocr_fetch_result", code);
        ocr_result_free(result);
    }
    double raw = 0, ours = 0, raw_cpu = 0, ours_cpu = 0;
    int block = count / 10 > 0 ? count / 10 : 1;
    for (int done = 0; done < count; done += block) {
        double start = now_s(), start_cpu = cpu_s();
        if (raw_block(&conn, request, (size_t)request_len, block) != 0) return 1;
        raw += now_s() - start;
        raw_cpu += cpu_s() - start_cpu;
        start = now_s();
        start_cpu = cpu_s();
        ours_block(client, task_id, block);
        ours += now_s() - start;
        ours_cpu += cpu_s() - start_cpu;
    }
    close_raw(&conn);
    int total = ((count + block - 1) / block) * block;
    printf("raw_us=%.2f ocrcloud_us=%.2f ratio=%.3f raw_cpu_us=%.2f ocrcloud_cpu_us=%.2f "
           "cpu_ratio=%.3f\n",
           raw / total * 1e6, ours / total * 1e6, ours / raw, raw_cpu / total * 1e6,
           ours_cpu / total * 1e6, ours_cpu / raw_cpu);
    return 0;
}

struct tally {
    unsigned answers;
};

static void count_answer(void *user_data, const char *task_id, ocr_task_status status,
                         uint32_t attempt) {
    (void)task_id;
    (void)status;
    (void)attempt;
    ((struct tally *)user_data)->answers++;
}

static int many(const ocr_client *client, const char *ids_file, unsigned interval_ms) {
    FILE *f = fopen(ids_file, "r");
    if (!f) return 1;
    size_t capacity = 1024, count = 0;
    char **ids = malloc(capacity * sizeof *ids);
    char line[256];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        if (count == capacity) ids = realloc(ids, (capacity *= 2) * sizeof *ids);
        ids[count++] = strdup(line);
    }
    fclose(f);
    ocr_result **results = calloc(count, sizeof *results);
    ocr_code *codes = calloc(count, sizeof *codes);
    struct tally tally = {0};
    ocr_poll_options *options = ocr_poll_options_new();
    ocr_poll_options_set_interval_ms(options, interval_ms);
    ocr_poll_options_set_backoff(options, 1.0, interval_ms);
    ocr_poll_options_set_progress(options, count_answer, &tally);
    double start = now_s();
    ocr_code code = ocr_poll_many(client, NULL, (const char *const *)ids, count, options, results,
                                  codes);
    double elapsed = now_s() - start;
    if (code != OCR_OK) die("ocr_poll_many", code);
    for (size_t i = 0; i < count; i++) {
        ocr_result_free(results[i]);
        free(ids[i]);
    }
    printf("tasks=%zu seconds=%.3f requests=%u\n", count, elapsed, tally.answers);
    ocr_poll_options_free(options);
    free(results);
    free(codes);
    free(ids);
    return 0;
}

static int submit_file(const ocr_client *client, const char *path) {
    char *task_id = NULL;
    ocr_code code = ocr_submit_file(client, "RecognizePdf", path, NULL, &task_id);
    if (code != OCR_OK) die("ocr_submit_file", code);
    printf("task=%s\n", task_id);
    ocr_string_free(task_id);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 5) {
        fprintf(stderr, "usage: see the comment at the top of bench_client.c\n");
        return 2;
    }
    const char *mode = argv[1], *url = argv[2], *token = argv[3];
    ocr_client *client = NULL;
    ocr_code code = ocr_client_new(url, token, &client);
    if (code != OCR_OK) die("ocr_client_new", code);
    const char *ca_file = getenv("OCR_CA_FILE");
    if (ca_file && *ca_file) {
        code = ocr_client_set_ca_file(client, ca_file);
        if (code != OCR_OK) die("ocr_client_set_ca_file", code);
    }
    ocr_client_set_max_response_bytes(client, (uint64_t)4 << 30);
    int status = 2;
    if (strcmp(mode, "memory") == 0) status = fetch_memory(client, argv[4]);
    if (strcmp(mode, "dir") == 0 && argc == 6) status = fetch_dir(client, argv[4], argv[5]);
    if (strcmp(mode, "polls") == 0 && argc == 6)
        status = polls(client, url, token, argv[4], atoi(argv[5]));
    if (strcmp(mode, "many") == 0 && argc == 6)
        status = many(client, argv[4], (unsigned)atoi(argv[5]));
    if (strcmp(mode, "submit") == 0) status = submit_file(client, argv[4]);
    ocr_client_free(client);
    return status;
}
