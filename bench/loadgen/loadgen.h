// What the C load generators (handshaker.c, subscriber.c) share: the clock, the latency
// histogram (as bench/lib/hist.ts), masked client frames, the arguments (server, source
// addresses, post-open steps), the hand-written upgrade request, and the stdin commands
// "mark" / "report" / "stop". Header-only: each program is one file built by bench/lib/native.ts.
#ifndef SWITCHBOARD_LOADGEN_H
#define SWITCHBOARD_LOADGEN_H
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_STEPS 8
#define HARD_DEADLINE_US 600000000LL  // 10 minutes: every load loop is bounded
// Latency histogram, as bench/lib/hist.ts: exact µs below 1 ms, 1 % log buckets above.
#define LINEAR 1000
#define HIST_SIZE (LINEAR + 1400)

struct step { int is_send; unsigned char *frame; size_t frame_len; const char *text; size_t text_len; };

static struct step steps[MAX_STEPS];
static int nsteps, nsrc, epfd;
static struct sockaddr_in server, srcs[32];
static char request[1024];
static size_t request_len;
static double hist[HIST_SIZE];
static long long count, errors;
static struct rusage mark_usage;

static int64_t now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void record(int64_t us) {
  double v = us < 0 ? 0 : (double)us;
  int b = v < LINEAR ? (int)v : LINEAR + (int)floor(log(v / LINEAR) / log(1.01));
  if (b >= HIST_SIZE) b = HIST_SIZE - 1;
  hist[b] += 1;
}

/** A masked client frame (fixed key: any key is valid; the bytes are built once). */
static unsigned char *masked(int opcode, const unsigned char *payload, size_t len, size_t *out_len) {
  static const unsigned char key[4] = {0x12, 0x34, 0x56, 0x78};
  size_t hdr = len < 126 ? 2 : 4;
  unsigned char *f = malloc(hdr + 4 + len);
  f[0] = 0x80 | opcode;
  if (len < 126) f[1] = 0x80 | len;
  else { f[1] = 0x80 | 126; f[2] = len >> 8; f[3] = len & 0xff; }
  memcpy(f + hdr, key, 4);
  for (size_t i = 0; i < len; i++) f[hdr + 4 + i] = payload[i] ^ key[i & 3];
  *out_len = hdr + 4 + len;
  return f;
}

/**
 * HOST PORT PATH from argv[1..3], source addresses (comma-separated) from argv[src_arg], the
 * steps (S:text, E:prefix) from argv[src_arg + 1] on; builds the upgrade request. 0 when a
 * value is bad (said on stderr).
 */
static int read_arguments(int argc, char **argv, int src_arg) {
  memset(&server, 0, sizeof server);
  server.sin_family = AF_INET;
  server.sin_port = htons(atoi(argv[2]));
  if (inet_pton(AF_INET, argv[1], &server.sin_addr) != 1) { fprintf(stderr, "bad host %s\n", argv[1]); return 0; }
  for (char *tok = strtok(argv[src_arg], ","); tok && nsrc < 32; tok = strtok(NULL, ",")) {
    srcs[nsrc].sin_family = AF_INET;
    if (inet_pton(AF_INET, tok, &srcs[nsrc].sin_addr) == 1) nsrc++;
  }
  for (int i = src_arg + 1; i < argc && nsteps < MAX_STEPS; i++) {
    struct step *s = &steps[nsteps++];
    s->is_send = argv[i][0] == 'S';
    s->text = argv[i] + 2;
    s->text_len = strlen(s->text);
    if (s->is_send) s->frame = masked(1, (const unsigned char *)s->text, s->text_len, &s->frame_len);
  }
  request_len = snprintf(request, sizeof request,
                         "GET %s HTTP/1.1\r\nHost: %s:%s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
                         argv[3], argv[1], argv[2]);
  return 1;
}

/** One JSON line: count, errors, CPU µs since mark, the sparse histogram (index, count, ...). */
static void report(void) {
  struct rusage u;
  getrusage(RUSAGE_SELF, &u);
  long long cpu = (u.ru_utime.tv_sec - mark_usage.ru_utime.tv_sec) * 1000000LL + (u.ru_utime.tv_usec - mark_usage.ru_utime.tv_usec) +
                  (u.ru_stime.tv_sec - mark_usage.ru_stime.tv_sec) * 1000000LL + (u.ru_stime.tv_usec - mark_usage.ru_stime.tv_usec);
  printf("{\"count\":%lld,\"errors\":%lld,\"cpuMicros\":%lld,\"hist\":[", count, errors, cpu);
  int first = 1;
  for (int i = 0; i < HIST_SIZE; i++) {
    if (hist[i] > 0) { printf("%s%d,%.0f", first ? "" : ",", i, hist[i]); first = 0; }
  }
  printf("]}\n");
  fflush(stdout);
}

static void mark(void) {
  count = errors = 0;
  memset(hist, 0, sizeof hist);
  getrusage(RUSAGE_SELF, &mark_usage);
}

/**
 * Reads commands from stdin: "mark", "report", "stop"; any other line goes to `other` (may be
 * NULL). Returns 0 when told to stop (or stdin closed).
 */
static int read_commands(void (*other)(const char *line)) {
  static char line[256];
  static size_t len;
  ssize_t n = read(0, line + len, sizeof line - 1 - len);
  if (n <= 0) return 0;
  len += n;
  char *nl;
  while ((nl = memchr(line, '\n', len))) {
    *nl = 0;
    if (strcmp(line, "mark") == 0) mark();
    else if (strcmp(line, "report") == 0) report();
    else if (strcmp(line, "stop") == 0) return 0;
    else if (other != NULL) other(line);
    size_t used = nl + 1 - line;
    memmove(line, nl + 1, len - used);
    len -= used;
  }
  if (len == sizeof line - 1) len = 0; // a line too long: dropped
  return 1;
}
#endif
