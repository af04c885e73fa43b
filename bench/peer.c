/*
 * The one program every benchmark channel is measured with: it only opens,
 * reads and writes, so a kernel FIFO, a Unix socket, TCP and an intervmfs
 * channel are all driven the same way.
 *
 *   peer send  DATA ACK SIZE CHUNK [verify]   write SIZE bytes in CHUNK writes,
 *                                             then wait for a 1-byte ack
 *   peer recv  DATA ACK SIZE CHUNK [verify]   read SIZE bytes, send the ack (and with
 *                                             INTERVMFS_PEER_LINGER=1 wait for the
 *                                             sender's close)
 *   peer ping  DATA ACK COUNT MSG             COUNT round trips of MSG bytes
 *   peer pong  DATA ACK COUNT MSG             echo COUNT messages back (linger: as recv)
 *
 * DATA and ACK are paths (FIFOs, channel files), or unix:PATH or
 * tcp:HOST:PORT, where the receiving side (recv, pong) listens and the other
 * connects; a socket carries both directions, so ACK is then ignored. Or
 * clib:SIDE:SET:NAME: channel NAME of side SIDE (a or b) of the memsection
 * set SET (as --memsections names it), read and written in-process through
 * the C library (native/intervmfs.h), made if it does not exist; DATA and
 * ACK share the one attach of their side, which spins INTERVMFS_PEER_SPIN_US
 * microseconds (default 0) before it sleeps. (lib:SIDE:SET:NAME is the same
 * through the Node library: src/bench/lib-peer.ts runs those.)
 * With INTERVMFS_PEER_START_NS (a CLOCK_MONOTONIC time in nanoseconds), send
 * opens its channel, then writes nothing before that time (the bench starts
 * the pairs of a many-channel run together) and counts its time from it.
 * Prints one JSON line: send and ping report their timing in nanoseconds,
 * from the first write to the receipt of the last reply, and send the CPUs
 * it was allowed to run on (the bench pins each pair, src/bench/cpus.ts);
 * with "verify" both sides print an FNV-1a digest of the bytes.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "intervmfs.h"

static void die(const char *what) {
  fprintf(stderr, "peer: %s: %s\n", what, strerror(errno));
  exit(1);
}

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* A socket endpoint: the listening side accepts one connection. */
static int open_socket(const char *spec, int listening) {
  int fd;
  if (strncmp(spec, "unix:", 5) == 0) {
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof a.sun_path, "%s", spec + 5);
    fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0) die("socket");
    if (listening) {
      unlink(a.sun_path);
      if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(fd, 1) < 0) die(spec);
      int c = accept(fd, NULL, NULL);
      if (c < 0) die("accept");
      close(fd);
      unlink(a.sun_path);
      return c;
    }
    for (int i = 0; connect(fd, (struct sockaddr *)&a, sizeof a) < 0; i++) {
      if (i > 500) die(spec);
      usleep(10000);
    }
    return fd;
  }
  /* tcp:HOST:PORT */
  char host[64];
  int port;
  if (sscanf(spec, "tcp:%63[^:]:%d", host, &port) != 2) {
    fprintf(stderr, "peer: bad endpoint %s\n", spec);
    exit(2);
  }
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  inet_pton(AF_INET, host, &a.sin_addr);
  int one = 1;
  if (listening) {
    int l = socket(AF_INET, SOCK_STREAM, 0);
    setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(l, (struct sockaddr *)&a, sizeof a) < 0 || listen(l, 1) < 0) die(spec);
    fd = accept(l, NULL, NULL);
    if (fd < 0) die("accept");
    close(l);
  } else {
    for (int i = 0;; i++) {
      fd = socket(AF_INET, SOCK_STREAM, 0);
      if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0) break;
      close(fd);
      if (i > 500) die(spec);
      usleep(10000);
    }
  }
  /* Small messages go out at once, as with the other channels. */
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

/* A descriptor, or a channel of the C library's side (clib: endpoints). */
struct end {
  int fd;
  ivfs_side *side;
  int64_t channel;
};

static ssize_t end_read(struct end *e, char *p, size_t n) {
  return e->side ? ivfs_read(e->side, e->channel, p, n) : read(e->fd, p, n);
}

static ssize_t end_write(struct end *e, const char *p, size_t n) {
  return e->side ? ivfs_write(e->side, e->channel, p, n) : write(e->fd, p, n);
}

/* clib:SIDE:SET:NAME (NAME after the last ':'), opened with `flags`; one
   attach per process. */
static struct end open_lib(const char *spec, int flags) {
  enum { SET_MAX = 4096 };
  static ivfs_side *side;
  static char attached[SET_MAX + 2]; /* "SIDE SET" of the one attach */
  char set[SET_MAX];
  const char *name = strrchr(spec, ':');
  size_t set_len = name ? (size_t)(name - (spec + 7)) : 0;
  if (strlen(spec) < 9 || (spec[5] != 'a' && spec[5] != 'b') || spec[6] != ':' || name <= spec + 7 || set_len >= sizeof set || !name[1]) {
    fprintf(stderr, "peer: bad endpoint %s (clib:SIDE:SET:NAME)\n", spec);
    exit(2);
  }
  memcpy(set, spec + 7, set_len);
  set[set_len] = 0;
  name++;
  char key[sizeof attached];
  snprintf(key, sizeof key, "%c %s", spec[5], set);
  if (!side) {
    char err[512] = "";
    const char *spin = getenv("INTERVMFS_PEER_SPIN_US");
    struct ivfs_options o = {IVFS_NOTIFY_DEFAULT, spin ? (unsigned)strtoul(spin, NULL, 10) : 0};
    side = ivfs_attach(set, spec[5], &o, err, sizeof err);
    if (!side) {
      fprintf(stderr, "peer: %s\n", err);
      exit(1);
    }
    snprintf(attached, sizeof attached, "%s", key);
  } else if (strcmp(attached, key) != 0) {
    fprintf(stderr, "peer: DATA and ACK must be channels of one side of one set\n");
    exit(2);
  }
  if (ivfs_mknod(side, name, 0600) < 0 && errno != EEXIST) die(spec);
  struct end e = {-1, side, ivfs_open(side, name, flags)};
  if (e.channel < 0) die(spec);
  return e;
}

static struct end open_end(const char *spec, int flags) {
  if (strncmp(spec, "clib:", 5) == 0) return open_lib(spec, flags);
  struct end e = {open(spec, flags), NULL, 0};
  if (e.fd < 0) die(spec);
  return e;
}

/* Opens the data and ack ends; `receiving` is the recv/pong side. */
static void open_pair(const char *data, const char *ack, int receiving, struct end *d, struct end *a) {
  if (strncmp(data, "unix:", 5) == 0 || strncmp(data, "tcp:", 4) == 0) {
    d->side = a->side = NULL;
    d->fd = a->fd = open_socket(data, receiving);
    return;
  }
  /* Same order on both sides, so kernel FIFOs (whose open waits for the
     other end) cannot deadlock. */
  *d = open_end(data, receiving ? O_RDONLY : O_WRONLY);
  *a = open_end(ack, receiving ? O_WRONLY : O_RDONLY);
}

/* The library's side is given up cleanly: the peer sees end of file at once,
   and the side can be attached again without a liveness watch. */
static void close_pair(struct end *d, struct end *a) {
  if (!d->side) return;
  ivfs_close(d->side, d->channel);
  ivfs_close(a->side, a->channel);
  ivfs_detach(d->side);
}

static void write_all(struct end *fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t k = end_write(fd, p, n);
    if (k < 0) {
      if (errno == EINTR) continue;
      die("write");
    }
    p += k;
    n -= (size_t)k;
  }
}

static void read_all(struct end *fd, char *p, size_t n) {
  while (n > 0) {
    ssize_t k = end_read(fd, p, n);
    if (k < 0) {
      if (errno == EINTR) continue;
      die("read");
    }
    if (k == 0) {
      fprintf(stderr, "peer: unexpected end of data\n");
      exit(1);
    }
    p += k;
    n -= (size_t)k;
  }
}

/* With INTERVMFS_PEER_LINGER=1 the receiving end stays until the sending
   end has closed (end of file on DATA): so when it exits, the next run's
   receiver cannot open DATA while this run's sender still holds it, and
   then read that sender's close as its own end of file (a FIFO's rule).
   For callers that start the next run as soon as the receiver is done (the
   guest bench); not for a channel without end of file (bench/cref.c). */
static void wait_for_close(struct end *fd) {
  char extra;
  const char *linger = getenv("INTERVMFS_PEER_LINGER");
  if (!linger || strcmp(linger, "1") != 0) return;
  for (;;) {
    ssize_t k = end_read(fd, &extra, 1);
    if (k < 0 && errno == EINTR) continue;
    if (k < 0) die("read");
    if (k == 0) return;
    fprintf(stderr, "peer: more data after the last expected byte\n");
    exit(1);
  }
}

static uint64_t fnv(uint64_t h, const unsigned char *p, size_t n) {
  for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ull;
  return h;
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

/* INTERVMFS_PEER_START_NS (see the top), read before anything is opened:
   0 when unset. */
static uint64_t start_time(void) {
  const char *at = getenv("INTERVMFS_PEER_START_NS");
  if (!at || !*at) return 0;
  char *end;
  errno = 0;
  unsigned long long ns = strtoull(at, &end, 10);
  if (errno || *end || ns == 0) {
    fprintf(stderr, "peer: INTERVMFS_PEER_START_NS=%s is not a time in nanoseconds\n", at);
    exit(2);
  }
  return ns;
}

static void wait_until(uint64_t ns) {
  struct timespec ts = {(time_t)(ns / 1000000000ull), (long)(ns % 1000000000ull)};
  while (ns && clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
  }
}

/* The CPUs this process may run on, as "0,1". */
static void allowed_cpus(char *out, size_t size) {
  cpu_set_t set;
  size_t used = 0;
  out[0] = '\0';
  if (sched_getaffinity(0, sizeof set, &set) != 0) return;
  for (int c = 0; c < CPU_SETSIZE && used + 8 < size; c++)
    if (CPU_ISSET(c, &set)) used += (size_t)snprintf(out + used, size - used, used ? ",%d" : "%d", c);
}

int main(int argc, char **argv) {
  if (argc < 6) {
    fprintf(stderr, "usage: peer send|recv|ping|pong DATA ACK SIZE|COUNT CHUNK|MSG [verify]\n");
    return 2;
  }
  const char *mode = argv[1];
  uint64_t n = strtoull(argv[4], NULL, 10);
  size_t chunk = (size_t)strtoull(argv[5], NULL, 10);
  int verify = argc > 6 && strcmp(argv[6], "verify") == 0;
  int receiving = strcmp(mode, "recv") == 0 || strcmp(mode, "pong") == 0;
  if ((strcmp(mode, "ping") == 0 || strcmp(mode, "pong") == 0) && n == 0) {
    fprintf(stderr, "peer: COUNT must be at least 1\n");
    return 2;
  }
  char *buf = malloc(chunk);
  if (!buf || chunk == 0) die("buffer");
  for (size_t i = 0; i < chunk; i++) buf[i] = (char)(i * 7 + 1);
  uint64_t start_at = start_time();
  struct end d, a, *dfd = &d, *afd = &a;
  open_pair(argv[2], argv[3], receiving, dfd, afd);
  char ack = 'k';
  uint64_t digest = 0xcbf29ce484222325ull;

  if (strcmp(mode, "send") == 0) {
    wait_until(start_at);
    uint64_t t0 = now_ns(), in_write = 0;
    for (uint64_t left = n; left > 0;) {
      size_t k = left < chunk ? (size_t)left : chunk;
      if (verify) digest = fnv(digest, (unsigned char *)buf, k);
      uint64_t w = now_ns();
      write_all(dfd, buf, k);
      in_write += now_ns() - w;
      left -= k;
    }
    read_all(afd, &ack, 1);
    uint64_t t1 = now_ns();
    char cpus[256];
    allowed_cpus(cpus, sizeof cpus);
    /* write_ns: the time spent inside write() (the breakdown's layers) */
    printf("{\"ns\":%llu,\"write_ns\":%llu,\"digest\":\"%016llx\",\"cpus\":\"%s\"}\n", (unsigned long long)(t1 - t0),
           (unsigned long long)in_write, (unsigned long long)digest, cpus);
  } else if (strcmp(mode, "recv") == 0) {
    uint64_t in_read = 0;
    for (uint64_t left = n; left > 0;) {
      uint64_t r = now_ns();
      ssize_t k = end_read(dfd, buf, left < chunk ? (size_t)left : chunk);
      in_read += now_ns() - r;
      if (k < 0 && errno == EINTR) continue;
      if (k <= 0) die("read");
      if (verify) digest = fnv(digest, (unsigned char *)buf, (size_t)k);
      left -= (uint64_t)k;
    }
    write_all(afd, &ack, 1);
    wait_for_close(dfd);
    printf("{\"read_ns\":%llu,\"digest\":\"%016llx\"}\n", (unsigned long long)in_read, (unsigned long long)digest);
  } else if (strcmp(mode, "ping") == 0) {
    uint64_t *rtt = malloc(sizeof(uint64_t) * n);
    if (!rtt) die("buffer");
    uint64_t in_write = 0, sum = 0;
    for (uint64_t i = 0; i < n; i++) {
      uint64_t t = now_ns();
      write_all(dfd, buf, chunk);
      uint64_t w = now_ns();
      read_all(afd, buf, chunk);
      rtt[i] = now_ns() - t;
      in_write += w - t;
      sum += rtt[i];
    }
    qsort(rtt, n, sizeof(uint64_t), cmp_u64);
    /* mean_ns and write_ns (the mean time inside write()): the breakdown's layers */
    printf("{\"p50\":%llu,\"p99\":%llu,\"p999\":%llu,\"mean_ns\":%llu,\"write_ns\":%llu,\"count\":%llu}\n", (unsigned long long)rtt[n / 2],
           (unsigned long long)rtt[(n * 99) / 100], (unsigned long long)rtt[(n * 999) / 1000], (unsigned long long)(sum / n),
           (unsigned long long)(in_write / n), (unsigned long long)n);
  } else if (strcmp(mode, "pong") == 0) {
    uint64_t in_write = 0;
    for (uint64_t i = 0; i < n; i++) {
      read_all(dfd, buf, chunk);
      uint64_t w = now_ns();
      write_all(afd, buf, chunk);
      in_write += now_ns() - w;
    }
    wait_for_close(dfd);
    printf("{\"write_ns\":%llu}\n", (unsigned long long)(in_write / n));
  } else {
    fprintf(stderr, "peer: unknown mode %s\n", mode);
    return 2;
  }
  close_pair(dfd, afd);
  return 0;
}
