// The handshake load generator, in C: a Node client spends as much CPU per handshake as the
// server it measures, so on one core it, not the server, was the limit. This one keeps
// CONCURRENCY connections going through connect -> HTTP upgrade -> post-open steps -> close
// handshake -> new connection, over one epoll loop, and costs a fraction of that.
//
// usage: handshaker HOST PORT PATH CONCURRENCY SRC[,SRC...] [S:text | E:prefix]...
//   S:text    send a masked text frame once the steps before it are done
//   E:prefix  wait for a server message starting with prefix (e.g. socket.io's "40/echo,")
// stdin, one command per line: "mark" (zero the counters), "report" (one JSON line on stdout:
// count, errors, cpuMicros since mark, sparse latency histogram), "stop" or EOF (exit).
// A handshake counts, and its latency (connect -> upgraded and steps done) is recorded, when
// it is usable; the close that follows is part of the loop. Exits after 10 minutes whatever
// happens (every load loop is bounded).
#include "loadgen.h"

#define MAX_CONNS 256
#define BUF_SIZE 8192
#define STUCK_US 5000000LL            // a connection with no progress for 5 s is an error

enum state { IDLE, CONNECTING, HEAD, STEPS, CLOSING };

struct conn {
  int fd;
  enum state state;
  int64_t t0, last;
  int step, sent_up_to;
  size_t len;
  unsigned char buf[BUF_SIZE];
};

static struct conn conns[MAX_CONNS];
static int concurrency, next_src;
static unsigned char close_frame[8];

/** Closes the connection; the main loop starts its successor after this batch of events. */
static void finish(struct conn *c, int failed) {
  if (failed) errors++;
  epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  c->fd = -1;
  c->state = IDLE;
}

static void start(struct conn *c) {
  c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (c->fd < 0) { errors++; c->state = IDLE; return; }
  int one = 1;
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (nsrc > 0) {
    struct sockaddr_in *src = &srcs[next_src++ % nsrc];
    if (bind(c->fd, (struct sockaddr *)src, sizeof *src) != 0) { close(c->fd); errors++; c->state = IDLE; return; }
  }
  c->t0 = c->last = now_us();
  c->len = 0;
  c->step = 0;
  c->sent_up_to = -1;
  c->state = CONNECTING;
  struct epoll_event ev = {.events = EPOLLOUT | EPOLLIN, .data.ptr = c};
  epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev);
  if (connect(c->fd, (struct sockaddr *)&server, sizeof server) != 0 && errno != EINPROGRESS) finish(c, 1);
}

static int send_all(struct conn *c, const void *data, size_t len) {
  return write(c->fd, data, len) == (ssize_t)len; // tiny writes to an empty socket buffer
}

/** Runs the steps until one waits for the server; when all are done: counted, then close. */
static void advance(struct conn *c) {
  while (c->step < nsteps) {
    struct step *s = &steps[c->step];
    if (s->is_send) {
      if (c->sent_up_to < c->step) {
        if (!send_all(c, s->frame, s->frame_len)) { finish(c, 1); return; }
        c->sent_up_to = c->step;
      }
      c->step++;
      continue;
    }
    return; // an expect step: parse_frames moves on when the message arrives
  }
  count++;
  record(now_us() - c->t0);
  if (!send_all(c, close_frame, sizeof close_frame)) { finish(c, 1); return; }
  c->state = CLOSING;
}

/** Consumes whole server frames from the buffer; a message matching the awaited prefix advances. */
static void parse_frames(struct conn *c) {
  size_t off = 0;
  while (c->state == STEPS && c->len - off >= 2) {
    unsigned char *b = c->buf + off;
    size_t plen = b[1] & 0x7f, hdr = 2;
    if (plen == 126) { if (c->len - off < 4) break; plen = (b[2] << 8) | b[3]; hdr = 4; }
    else if (plen == 127) { finish(c, 1); return; } // never this big in a handshake
    if (c->len - off < hdr + plen) break;
    int opcode = b[0] & 0x0f;
    struct step *s = c->step < nsteps ? &steps[c->step] : NULL;
    if ((opcode == 1 || opcode == 2) && s && !s->is_send && plen >= s->text_len && memcmp(b + hdr, s->text, s->text_len) == 0) {
      c->step++;
      off += hdr + plen;
      advance(c);
      if (c->fd < 0) return;
      continue;
    }
    off += hdr + plen;
  }
  memmove(c->buf, c->buf + off, c->len - off);
  c->len -= off;
}

static void on_event(struct conn *c, uint32_t events) {
  c->last = now_us();
  if (c->state == CONNECTING) {
    int err = 0;
    socklen_t l = sizeof err;
    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l);
    if (err != 0 || (events & (EPOLLERR | EPOLLHUP))) { finish(c, 1); return; }
    if (!(events & EPOLLOUT)) return;
    if (!send_all(c, request, request_len)) { finish(c, 1); return; }
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
    c->state = HEAD;
    return;
  }
  for (;;) {
    if (c->len == BUF_SIZE) { finish(c, 1); return; }
    ssize_t n = read(c->fd, c->buf + c->len, BUF_SIZE - c->len);
    if (n < 0) {
      if (errno == EAGAIN) return;
      finish(c, 1);
      return;
    }
    if (n == 0) { finish(c, c->state != CLOSING); return; } // the server closed: done, unless early
    if (c->state == CLOSING) { c->len = 0; continue; }  // its close frame; the FIN follows
    c->len += n;
    if (c->state == HEAD) {
      unsigned char *end = memmem(c->buf, c->len, "\r\n\r\n", 4);
      if (!end) continue;
      if (c->len < 12 || memcmp(c->buf, "HTTP/1.1 101", 12) != 0) { finish(c, 1); return; }
      size_t used = end + 4 - c->buf;
      memmove(c->buf, c->buf + used, c->len - used);
      c->len -= used;
      c->state = STEPS;
      advance(c);
      if (c->fd < 0) return;
      if (c->state == CLOSING) { c->len = 0; continue; }
    }
    if (c->state == STEPS) { parse_frames(c); if (c->fd < 0) return; }
  }
}

int main(int argc, char **argv) {
  if (argc < 6) { fprintf(stderr, "usage: %s HOST PORT PATH CONCURRENCY SRC[,SRC...] [S:text|E:prefix]...\n", argv[0]); return 2; }
  concurrency = atoi(argv[4]);
  if (concurrency < 1 || concurrency > MAX_CONNS) { fprintf(stderr, "concurrency 1..%d\n", MAX_CONNS); return 2; }
  if (!read_arguments(argc, argv, 5)) return 2;
  size_t cl;
  unsigned char code[2] = {0x03, 0xe8}; // 1000
  unsigned char *cf = masked(8, code, 2, &cl);
  memcpy(close_frame, cf, cl);

  epfd = epoll_create1(0);
  struct epoll_event in = {.events = EPOLLIN, .data.ptr = NULL};
  epoll_ctl(epfd, EPOLL_CTL_ADD, 0, &in);
  mark();
  int64_t deadline = now_us() + HARD_DEADLINE_US;
  for (int i = 0; i < concurrency; i++) { conns[i].fd = -1; start(&conns[i]); }
  struct epoll_event events[MAX_CONNS + 1];
  printf("READY\n");
  fflush(stdout);
  for (;;) {
    int n = epoll_wait(epfd, events, MAX_CONNS + 1, 100);
    for (int i = 0; i < n; i++) {
      if (events[i].data.ptr == NULL) { if (!read_commands(NULL)) return 0; continue; }
      struct conn *c = events[i].data.ptr;
      if (c->fd >= 0) on_event(c, events[i].events);
    }
    int64_t t = now_us();
    if (t > deadline) return 0;
    for (int i = 0; i < concurrency; i++) {
      struct conn *c = &conns[i];
      if (c->state == IDLE) start(c);
      else if (t - c->last > STUCK_US) finish(c, 1);
    }
  }
}
