// The fan-out subscriber load generator, in C. At 10k subscribers a Node reader spends about
// as much CPU per delivery as the server it measures, so on one core it throttled the server
// (which then batched more messages per write than it would against fast readers). This one
// holds the subscribers of one load-generator process over one epoll loop and only reads:
// minimal frame parsing (header + length), a message counts when its payload carries the "~"
// timestamp marker (as bench/lib/frames.ts readStamp), its latency is now - that stamp.
//
// usage: subscriber HOST PORT PATH SRC[,SRC...] [S:text | E:prefix]...
//   S:text    send a masked text frame once the steps before it are done
//   E:prefix  wait for a server message starting with prefix (e.g. an app's welcome push)
// stdin, one command per line, one JSON line on stdout for each that answers:
//   "connect N"  open N more connections (upgrade + steps, CONNECT_PARALLEL at a time); answers
//                {"connected":<open now>,"failures":<count>,"failure":"<first reason>"} when all N settled
//   "mark"       zero the counters
//   "report"     {"count","errors","cpuMicros" since mark,"hist":[index,count,...]}
//   "stop" or EOF (the driving Node process went away): exit, which closes every socket.
// Answers engine.io pings ("2" -> "3") and WebSocket pings. A connection the server closes
// counts as an error. Exits after 10 minutes whatever happens, and when its parent dies.
#include "loadgen.h"
#include <signal.h>
#include <sys/prctl.h>

#define MAX_CONNS 65536
#define CONNECT_PARALLEL 64
#define READ_BUF (256 * 1024)
#define MAX_FRAME (1 << 20)           // a bigger server frame is an error (none is near this)
#define HANDSHAKE_US 10000000LL       // upgrade + steps must be done within 10 s
#define STAMP_SCAN 96                 // the "~" marker is looked for in a payload's first bytes
#define STAMP_LEN 16                  // "~" + 15 digits

enum state { CONNECTING, HEAD, STEPS, OPEN, DEAD };

struct conn {
  int fd;
  enum state state;
  int step, sent_up_to;
  int64_t t0;
  unsigned char *tail; // bytes of an incomplete frame (or head) from the last read
  size_t tail_len, tail_cap;
};

static struct conn *conns;
static int nconns;                 // slots used
static int open_now;               // connections in OPEN
static int pending_target;         // connections of the current "connect N" still to start
static int in_flight;              // started, not yet OPEN or DEAD
static long long connect_failures;
static char first_failure[128];
static unsigned char pong_eio[8], *pong_frame;
static size_t pong_eio_len;
static unsigned char rbuf[READ_BUF + MAX_FRAME + 16];

static void fail_connect(const char *why) {
  connect_failures++;
  if (!first_failure[0]) snprintf(first_failure, sizeof first_failure, "%s", why);
}

static void kill_conn(struct conn *c, const char *why) {
  if (c->state == DEAD) return;
  if (c->state == OPEN) { open_now--; errors++; }
  else { in_flight--; fail_connect(why); }
  epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  c->fd = -1;
  c->state = DEAD;
  free(c->tail);
  c->tail = NULL;
  c->tail_len = c->tail_cap = 0;
}

static int send_all(struct conn *c, const void *data, size_t len) {
  return write(c->fd, data, len) == (ssize_t)len; // tiny writes to a socket with room
}

static void start_one(void) {
  if (nconns >= MAX_CONNS) { fail_connect("too many connections"); return; }
  struct conn *c = &conns[nconns];
  memset(c, 0, sizeof *c);
  c->state = DEAD;
  c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (c->fd < 0) { fail_connect("socket() failed"); return; }
  int one = 1;
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (nsrc > 0) {
    setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    struct sockaddr_in *src = &srcs[nconns % nsrc];
    if (bind(c->fd, (struct sockaddr *)src, sizeof *src) != 0) { close(c->fd); fail_connect("bind() failed"); return; }
  }
  nconns++;
  in_flight++;
  c->t0 = now_us();
  c->sent_up_to = -1;
  c->state = CONNECTING;
  struct epoll_event ev = {.events = EPOLLOUT | EPOLLIN, .data.ptr = c};
  epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev);
  if (connect(c->fd, (struct sockaddr *)&server, sizeof server) != 0 && errno != EINPROGRESS) kill_conn(c, "connect() failed");
}

/** Runs the send steps until one waits for the server; when all are done the connection is open. */
static void advance(struct conn *c) {
  while (c->step < nsteps) {
    struct step *s = &steps[c->step];
    if (!s->is_send) return; // an expect step: on_frame moves on when the message arrives
    if (c->sent_up_to < c->step) {
      if (!send_all(c, s->frame, s->frame_len)) { kill_conn(c, "step write failed"); return; }
      c->sent_up_to = c->step;
    }
    c->step++;
  }
  c->state = OPEN;
  in_flight--;
  open_now++;
}

/** One whole server frame. */
static void on_frame(struct conn *c, int opcode, const unsigned char *p, size_t len) {
  if (opcode == 9) { // ping -> pong with the same payload
    size_t fl;
    unsigned char *f = masked(10, p, len < 125 ? len : 125, &fl);
    send_all(c, f, fl);
    free(f);
    return;
  }
  if (opcode == 8) { kill_conn(c, "closed by the server"); return; }
  if (opcode != 1 && opcode != 2) return;
  if (opcode == 1 && len == 1 && p[0] == '2') { send_all(c, pong_eio, pong_eio_len); return; } // engine.io ping
  if (c->state == STEPS) {
    struct step *s = &steps[c->step];
    if (len >= s->text_len && memcmp(p, s->text, s->text_len) == 0) { c->step++; advance(c); }
    return;
  }
  // Counted: a payload with "~" + 15 digits in its first STAMP_SCAN bytes.
  size_t lim = len < STAMP_SCAN ? len : STAMP_SCAN;
  const unsigned char *m = memchr(p, '~', lim);
  if (!m || (size_t)(m - p) + STAMP_LEN > len) return;
  int64_t v = 0;
  for (int j = 1; j < STAMP_LEN; j++) {
    int d = m[j] - '0';
    if (d < 0 || d > 9) return;
    v = v * 10 + d;
  }
  count++;
  record(now_us() - v);
}

/** Parses whole frames in buf[0..n); returns how many bytes were consumed (the rest is a tail). */
static size_t parse(struct conn *c, unsigned char *buf, size_t n) {
  size_t off = 0;
  while (n - off >= 2 && c->state != DEAD) {
    unsigned char *b = buf + off;
    uint64_t plen = b[1] & 0x7f;
    size_t hdr = 2;
    if (plen == 126) { if (n - off < 4) break; plen = ((size_t)b[2] << 8) | b[3]; hdr = 4; }
    else if (plen == 127) {
      if (n - off < 10) break;
      plen = 0;
      for (int i = 2; i < 10; i++) plen = (plen << 8) | b[i];
      hdr = 10;
    }
    if (plen > MAX_FRAME) { kill_conn(c, "frame too big"); return n; }
    if (n - off < hdr + plen) break;
    on_frame(c, b[0] & 0x0f, b + hdr, plen);
    off += hdr + plen;
  }
  return off;
}

static void keep_tail(struct conn *c, const unsigned char *p, size_t len) {
  if (len > c->tail_cap) {
    c->tail = realloc(c->tail, len);
    c->tail_cap = len;
  }
  memmove(c->tail, p, len);
  c->tail_len = len;
}

static void on_event(struct conn *c, uint32_t events) {
  if (c->state == CONNECTING) {
    int err = 0;
    socklen_t l = sizeof err;
    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l);
    if (err != 0 || (events & (EPOLLERR | EPOLLHUP))) { kill_conn(c, "connect failed"); return; }
    if (!(events & EPOLLOUT)) return;
    if (!send_all(c, request, request_len)) { kill_conn(c, "upgrade write failed"); return; }
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
    c->state = HEAD;
    return;
  }
  // Read until the socket is drained (a short read), each read after the tail of the last one.
  for (int reads = 0; reads < 64 && c->state != DEAD; reads++) {
    size_t have = c->tail_len;
    if (have) memcpy(rbuf, c->tail, have);
    ssize_t n = read(c->fd, rbuf + have, READ_BUF);
    if (n < 0) {
      if (errno != EAGAIN) kill_conn(c, "read error");
      return;
    }
    if (n == 0) { kill_conn(c, "closed by the server"); return; }
    size_t total = have + (size_t)n, used = 0;
    if (c->state == HEAD) {
      unsigned char *end = memmem(rbuf, total, "\r\n\r\n", 4);
      if (!end) {
        if (total > 16384) { kill_conn(c, "oversized upgrade answer"); return; }
        keep_tail(c, rbuf, total);
        continue;
      }
      if (total < 12 || memcmp(rbuf, "HTTP/1.1 101", 12) != 0) { kill_conn(c, "upgrade refused"); return; }
      used = end + 4 - rbuf;
      c->state = STEPS;
      advance(c);
      if (c->state == DEAD) return;
    }
    used += parse(c, rbuf + used, total - used);
    if (c->state == DEAD) return;
    keep_tail(c, rbuf + used, total - used);
    if ((size_t)n < READ_BUF) return; // drained
  }
}

static void connect_settled(void) {
  printf("{\"connected\":%d,\"failures\":%lld,\"failure\":\"%s\"}\n", open_now, connect_failures, first_failure);
  fflush(stdout);
  connect_failures = 0;
  first_failure[0] = 0;
}

/** "connect N": open N more connections (the other commands are read_commands'). */
static void on_command(const char *line) {
  if (strncmp(line, "connect ", 8) != 0) return;
  pending_target = atoi(line + 8);
  if (pending_target <= 0) { pending_target = 0; connect_settled(); }
}

int main(int argc, char **argv) {
  if (argc < 5) { fprintf(stderr, "usage: %s HOST PORT PATH SRC[,SRC...] [S:text|E:prefix]...\n", argv[0]); return 2; }
  prctl(PR_SET_PDEATHSIG, SIGTERM); // the Node worker that drives us died: do not linger
  if (getppid() == 1) return 0;
  struct rlimit fds;
  if (getrlimit(RLIMIT_NOFILE, &fds) == 0) { fds.rlim_cur = fds.rlim_max; setrlimit(RLIMIT_NOFILE, &fds); }
  if (!read_arguments(argc, argv, 4)) return 2;
  pong_frame = masked(1, (const unsigned char *)"3", 1, &pong_eio_len);
  memcpy(pong_eio, pong_frame, pong_eio_len);
  conns = calloc(MAX_CONNS, sizeof *conns);

  epfd = epoll_create1(0);
  struct epoll_event in = {.events = EPOLLIN, .data.ptr = NULL};
  epoll_ctl(epfd, EPOLL_CTL_ADD, 0, &in);
  mark();
  int64_t deadline = now_us() + HARD_DEADLINE_US;
  static struct epoll_event events[1024];
  printf("READY\n");
  fflush(stdout);
  int settling = 0;  // a "connect N" is being served
  int scan_from = 0; // the oldest slot that may still be handshaking
  for (;;) {
    int n = epoll_wait(epfd, events, 1024, 100);
    for (int i = 0; i < n; i++) {
      if (events[i].data.ptr == NULL) { if (!read_commands(on_command)) return 0; continue; }
      struct conn *c = events[i].data.ptr;
      if (c->state != DEAD) on_event(c, events[i].events);
    }
    int64_t t = now_us();
    if (t > deadline) return 0;
    if (pending_target > 0) settling = 1;
    while (pending_target > 0 && in_flight < CONNECT_PARALLEL) { pending_target--; start_one(); }
    // Bounded: a handshake that takes too long is a failure. Slots below scan_from are settled.
    while (scan_from < nconns && (conns[scan_from].state == OPEN || conns[scan_from].state == DEAD)) scan_from++;
    for (int i = scan_from; in_flight > 0 && i < nconns; i++) {
      struct conn *c = &conns[i];
      if (c->state != OPEN && c->state != DEAD && t - c->t0 > HANDSHAKE_US) kill_conn(c, "handshake timeout");
    }
    if (settling && pending_target == 0 && in_flight == 0) { settling = 0; connect_settled(); }
  }
}
