/*
 * intervmfs-cref: the "C reference" row of `intervmfs bench`. A minimal FUSE
 * filesystem in plain C on the same libfuse 2.9.9 and mount options as
 * intervmfs, serving byte rings in a shared file, so every bench run shows
 * what FUSE itself costs next to intervmfs and a kernel FIFO. It is a
 * measuring stick, not a product: no FIFO semantics (no EOF, no EPIPE, no
 * atomic writes, one reader and one writer per channel end), no table, no
 * liveness. Nothing in intervmfs uses it.
 *
 *   intervmfs-cref MOUNTPOINT --shm DIR --side a|b [--channels N] [--ring-size BYTES] [-d]
 *
 * Two instances, side a and side b, map DIR/cref-rings (create DIR in
 * /dev/shm); each serves chan0 .. chan<N-1> at its root. Channel i has two
 * rings: a -> b and b -> a. A write on side a's chan<i> copies into the a -> b
 * ring, sleeping while it is full; a read on side b's chan<i> copies out of
 * it, sleeping while it is empty; and the other way round. It runs in the
 * foreground, multithreaded, until SIGTERM, SIGINT or an unmount.
 */
#define FUSE_USE_VERSION 26
#define _FILE_OFFSET_BITS 64
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* The mount options of intervmfs (src/daemon/serve.ts, FUSE_OPTIONS). */
#define OPTIONS                                                                                                           \
  "fsname=intervmfs-cref,subtype=intervmfs-cref,direct_io,intr,intr_signal=12,big_writes,max_write=131072,max_read=131072," \
  "entry_timeout=0,attr_timeout=0,negative_timeout=0,default_permissions,allow_other"

#define MAGIC 0x3146455243534656ull /* "VFSCREF1" read as bytes */
#define WAIT_NS 200000000L          /* every sleep ends after 200 ms to look at the stop flag */

/* One direction of one channel. head and tail are free-running byte counters:
   head - tail is the fill, never more than the ring size. Each cache line is
   written by one side only. */
struct ring_state {
  /* written by the producer */
  _Alignas(64) uint64_t head;  /* bytes ever produced (release after the copy in) */
  uint32_t data_bell;          /* bumped to wake the consumer: its futex word */
  uint32_t producer_waiting;   /* 1 while a writer sleeps on space_bell */
  /* written by the consumer */
  _Alignas(64) uint64_t tail;  /* bytes ever consumed (release after the copy out) */
  uint32_t space_bell;         /* bumped to wake the producer: its futex word */
  uint32_t consumer_waiting;   /* 1 while a reader sleeps on data_bell */
};
_Static_assert(sizeof(struct ring_state) == 128, "ring_state layout");

/* The shared file: this header, then channels * 2 ring states, then the ring
   bytes, channel i's a -> b ring before its b -> a ring. */
struct header {
  uint64_t magic, ring_size, channels;
};
#define STATES_OFFSET 4096

/* One end of a ring as this side sees it. busy enforces one request at a time. */
struct end {
  struct ring_state *s;
  uint8_t *bytes;
  int busy;
};
struct chan {
  struct end out, in; /* out: we produce; in: we consume */
};

static struct chan *chans;
static uint64_t ring_size, nchans;

#define load_acq(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define store_rel(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
/* Between "publish an index, then look at the waiting flag" and "set the flag,
   then look at the index": at least one side sees the other, so no wake-up is lost. */
#define full_fence() __atomic_thread_fence(__ATOMIC_SEQ_CST)

static void bell_wait(uint32_t *bell, uint32_t seen) {
  struct timespec t = {0, WAIT_NS};
  /* Shared (not PRIVATE) futex: the word is in a MAP_SHARED file. EINTR is the
     libfuse interrupt signal (no SA_RESTART), seen by fuse_interrupted(). */
  syscall(SYS_futex, bell, FUTEX_WAIT, seen, &t, NULL, 0);
}

static void bell_ring_if(uint32_t *waiting, uint32_t *bell) {
  full_fence(); /* our index store before the load of the peer's flag */
  if (__atomic_load_n(waiting, __ATOMIC_RELAXED)) {
    __atomic_add_fetch(bell, 1, __ATOMIC_RELEASE);
    syscall(SYS_futex, bell, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
  }
}

/* Stop when libfuse is exiting (SIGTERM, SIGINT, unmount): a worker in a wait
   would otherwise hold up fuse_loop_mt's join forever. */
static int stopping(void) { return fuse_exited(fuse_get_context()->fuse); }

/* Reads each index once; a fill beyond the ring size (a broken peer) gives -EIO. */
static int64_t consume(struct end *e, char *dst, uint64_t len) {
  uint64_t head = load_acq(&e->s->head); /* pairs with the producer's release */
  uint64_t tail = e->s->tail;
  uint64_t fill = head - tail;
  if (fill > ring_size) return -EIO;
  uint64_t n = fill < len ? fill : len, off = tail % ring_size;
  uint64_t first = ring_size - off < n ? ring_size - off : n;
  memcpy(dst, e->bytes + off, first);
  memcpy(dst + first, e->bytes, n - first);
  store_rel(&e->s->tail, tail + n); /* the copies are done before the space is reused */
  return (int64_t)n;
}

static int64_t produce(struct end *e, const char *src, uint64_t len) {
  uint64_t tail = load_acq(&e->s->tail); /* the consumer's copies out are done */
  uint64_t head = e->s->head;
  uint64_t fill = head - tail;
  if (fill > ring_size) return -EIO;
  uint64_t space = ring_size - fill;
  uint64_t n = space < len ? space : len, off = head % ring_size;
  uint64_t first = ring_size - off < n ? ring_size - off : n;
  memcpy(e->bytes + off, src, first);
  memcpy(e->bytes, src + first, n - first);
  store_rel(&e->s->head, head + n); /* the bytes are visible before the new head */
  return (int64_t)n;
}

/* Copies out up to size bytes, sleeping while the ring is empty. */
static int cref_read(const char *path, char *buf, size_t size, off_t off, struct fuse_file_info *fi) {
  struct end *e = &chans[fi->fh].in;
  if (size == 0) return 0;
  if (__atomic_exchange_n(&e->busy, 1, __ATOMIC_ACQUIRE)) return -EBUSY;
  int64_t n;
  while ((n = consume(e, buf, size)) == 0) {
    uint32_t seen = load_acq(&e->s->data_bell);
    __atomic_store_n(&e->s->consumer_waiting, 1, __ATOMIC_RELAXED);
    full_fence(); /* the flag store before the re-check of head */
    if (load_acq(&e->s->head) == e->s->tail) bell_wait(&e->s->data_bell, seen);
    __atomic_store_n(&e->s->consumer_waiting, 0, __ATOMIC_RELAXED);
    if (stopping()) n = -EIO;
    else if (fuse_interrupted()) n = -EINTR;
    if (n) break;
  }
  if (n > 0) bell_ring_if(&e->s->producer_waiting, &e->s->space_bell);
  __atomic_store_n(&e->busy, 0, __ATOMIC_RELEASE);
  return (int)n;
}

/* Copies in all size bytes (at most max_write), sleeping while the ring is full. */
static int cref_write(const char *path, const char *buf, size_t size, off_t off, struct fuse_file_info *fi) {
  struct end *e = &chans[fi->fh].out;
  if (__atomic_exchange_n(&e->busy, 1, __ATOMIC_ACQUIRE)) return -EBUSY;
  int64_t done = 0, n = 0;
  while (done < (int64_t)size) {
    if ((n = produce(e, buf + done, size - done)) < 0) break;
    if (n > 0) {
      done += n;
      bell_ring_if(&e->s->consumer_waiting, &e->s->data_bell);
      continue;
    }
    uint32_t seen = load_acq(&e->s->space_bell);
    __atomic_store_n(&e->s->producer_waiting, 1, __ATOMIC_RELAXED);
    full_fence(); /* the flag store before the re-check of tail */
    if (e->s->head - load_acq(&e->s->tail) >= ring_size) bell_wait(&e->s->space_bell, seen);
    __atomic_store_n(&e->s->producer_waiting, 0, __ATOMIC_RELAXED);
    if (stopping()) n = -EIO;
    else if (fuse_interrupted()) n = -EINTR;
    if (n) break;
  }
  __atomic_store_n(&e->busy, 0, __ATOMIC_RELEASE);
  return done > 0 ? (int)done : (int)n;
}

/* "/chan<i>" -> i, or -1. */
static int chan_index(const char *path) {
  char *end;
  if (strncmp(path, "/chan", 5) != 0 || path[5] < '0' || path[5] > '9') return -1;
  unsigned long i = strtoul(path + 5, &end, 10);
  return *end == '\0' && i < nchans ? (int)i : -1;
}

static int cref_getattr(const char *path, struct stat *st) {
  memset(st, 0, sizeof *st);
  st->st_uid = getuid();
  st->st_gid = getgid();
  if (strcmp(path, "/") == 0) {
    st->st_mode = S_IFDIR | 0755;
    st->st_nlink = 2;
  } else if (chan_index(path) >= 0) {
    st->st_mode = S_IFREG | 0666; /* as intervmfs channels: FUSE cannot serve S_IFIFO */
    st->st_nlink = 1;
  } else {
    return -ENOENT;
  }
  return 0;
}

/* Only the root is a directory. path is NULL here (flag_nopath below). */
static int cref_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t off, struct fuse_file_info *fi) {
  fill(buf, ".", NULL, 0);
  fill(buf, "..", NULL, 0);
  for (uint64_t i = 0; i < nchans; i++) {
    char name[32];
    snprintf(name, sizeof name, "chan%llu", (unsigned long long)i);
    fill(buf, name, NULL, 0);
  }
  return 0;
}

static int cref_open(const char *path, struct fuse_file_info *fi) {
  int i = chan_index(path);
  if (i < 0) return -ENOENT;
  fi->fh = (uint64_t)i;
  fi->direct_io = 1;
  fi->nonseekable = 1;
  return 0;
}

/* `>` in a shell truncates; there is nothing to truncate. */
static int cref_truncate(const char *path, off_t size) { return chan_index(path) >= 0 ? 0 : -ENOENT; }

static const struct fuse_operations ops = {
    .getattr = cref_getattr,
    .readdir = cref_readdir,
    .open = cref_open,
    .truncate = cref_truncate,
    .read = cref_read,
    .write = cref_write,
    /* no flush or release: a close then costs no request to us */
    .flag_nopath = 1, /* read and write use fi->fh, so libfuse need not build paths */
};

/* Sets a header word that is still 0, or checks that the other side set the same value. */
static int claim(uint64_t *word, uint64_t want) {
  uint64_t expected = 0;
  return __atomic_compare_exchange_n(word, &expected, want, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST) || expected == want;
}

static void usage(void) {
  fprintf(stderr, "usage: intervmfs-cref MOUNTPOINT --shm DIR --side a|b [--channels N] [--ring-size BYTES] [-d]\n");
  exit(2);
}

int main(int argc, char **argv) {
  const char *mountpoint = NULL, *shm = NULL, *side = NULL;
  int debug = 0;
  ring_size = 1 << 20;
  nchans = 1;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--shm") == 0 && i + 1 < argc) shm = argv[++i];
    else if (strcmp(argv[i], "--side") == 0 && i + 1 < argc) side = argv[++i];
    else if (strcmp(argv[i], "--channels") == 0 && i + 1 < argc) nchans = strtoull(argv[++i], NULL, 10);
    else if (strcmp(argv[i], "--ring-size") == 0 && i + 1 < argc) ring_size = strtoull(argv[++i], NULL, 10);
    else if (strcmp(argv[i], "-d") == 0) debug = 1;
    else if (argv[i][0] != '-' && !mountpoint) mountpoint = argv[i];
    else usage();
  }
  if (!mountpoint || !shm || !side || (strcmp(side, "a") && strcmp(side, "b")) || nchans < 1 || nchans > 4096 ||
      ring_size < 4096 || ring_size > (1ull << 32))
    usage();

  /* Map the shared file; whichever side comes first sizes it (zeroes are empty rings). */
  char file[PATH_MAX];
  snprintf(file, sizeof file, "%s/cref-rings", shm);
  uint64_t total = STATES_OFFSET + nchans * 2 * (sizeof(struct ring_state) + ring_size);
  int fd = open(file, O_RDWR | O_CREAT, 0600);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) < 0 || ((uint64_t)st.st_size < total && ftruncate(fd, (off_t)total) < 0)) {
    fprintf(stderr, "intervmfs-cref: %s: %s\n", file, strerror(errno));
    return 1;
  }
  uint8_t *base = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (base == MAP_FAILED) {
    fprintf(stderr, "intervmfs-cref: mmap %s: %s\n", file, strerror(errno));
    return 1;
  }
  struct header *h = (struct header *)base;
  if (!claim(&h->magic, MAGIC) || !claim(&h->ring_size, ring_size) || !claim(&h->channels, nchans)) {
    fprintf(stderr, "intervmfs-cref: %s holds another geometry; give both sides the same --channels and --ring-size\n", file);
    return 1;
  }
  /* Never unmapped: libfuse's workers may still run until the process ends. */
  chans = calloc(nchans, sizeof *chans);
  struct ring_state *states = (struct ring_state *)(base + STATES_OFFSET);
  uint8_t *bytes = base + STATES_OFFSET + nchans * 2 * sizeof(struct ring_state);
  int mine = side[0] == 'a' ? 0 : 1; /* ring 2i is a -> b, ring 2i+1 is b -> a */
  for (uint64_t i = 0; i < nchans; i++) {
    uint64_t out = 2 * i + mine, in = 2 * i + 1 - mine;
    chans[i].out = (struct end){&states[out], bytes + out * ring_size, 0};
    chans[i].in = (struct end){&states[in], bytes + in * ring_size, 0};
  }

  /* fuse_main mounts, handles SIGTERM/SIGINT/SIGHUP by leaving its loop, and unmounts. */
  char *fargv[] = {argv[0], (char *)mountpoint, "-f", "-o", OPTIONS, debug ? "-d" : NULL, NULL};
  return fuse_main(debug ? 6 : 5, fargv, &ops, NULL);
}
