/*
 * intervmfs for C programs: the channels of a memsection set, read and
 * written in-process through the same FIFO engine a mount serves them with
 * (no FUSE, no daemon). A program attaches one side of a set as a mount
 * does (the side is then served by it: a mount of the same side is refused
 * until it detaches), opens channels by name, and reads and writes them
 * with the rules of fifo(7): a reader waits for data and gets 0 (end of
 * file) once every writer closed; a writer waits for space and gets EPIPE
 * once every reader closed; writes up to 4096 bytes are atomic. The other
 * side may be a mount (cat, dd, a shell), the Node library, or another C
 * program. Calls block; O_NONBLOCK gives EAGAIN instead.
 *
 * Errors: -1 with errno set, as the system calls; ivfs_attach also writes
 * a sentence into `error`. One ivfs_side per process and side; its calls
 * may come from any threads (a reader and a writer each on its own).
 *
 * Build: link build/Release/libintervmfs.a with -lstdc++ -lpthread.
 */
#ifndef INTERVMFS_H
#define INTERVMFS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ivfs_side ivfs_side;

enum ivfs_notify {
  IVFS_NOTIFY_DEFAULT = 0, /* futex between processes of one machine, poll on an ivshmem device */
  IVFS_NOTIFY_FUTEX = 1,
  IVFS_NOTIFY_POLL = 2
};

/* How a side waits; a zeroed struct (or NULL) gives the defaults. */
struct ivfs_options {
  enum ivfs_notify notify;
  /* A blocked read or write spins this long on the channel before it
     sleeps (as mount --spin-us): a peer that answers within it costs no
     wake-up, at the price of a busy CPU meanwhile. 0: sleep at once. */
  unsigned spin_us;
};

/*
 * Attaches side 'a' or 'b' of a set, named as --memsections names it: a
 * folder of three files, one file or region, "ivshmem" or "ivshmem:<bdf>"
 * (a guest's ivshmem device). Takes up to a second when the side is
 * recorded as attached: its holder's heartbeat is watched, and a live one
 * refuses the claim (EBUSY). Until ivfs_detach the side beats, and a peer
 * whose heartbeat stops for 3 s counts as dead (its channels end). NULL on
 * error: EBUSY, ENOENT (no such set or device), EINVAL (not a formatted set,
 * a bad side or notifier).
 */
ivfs_side *ivfs_attach(const char *memsections, char side, const struct ivfs_options *options, char *error, size_t error_size);

/* mknod: a new channel (mode: its permission bits). EEXIST if the name is taken. */
int ivfs_mknod(ivfs_side *s, const char *name, unsigned mode);
/* unlink: the name goes now, the channel once nobody on either side has it open. */
int ivfs_unlink(ivfs_side *s, const char *name);

/* Opens a channel by name: O_RDONLY, O_WRONLY or O_RDWR, optionally
   O_NONBLOCK. A handle (> 0), or -1 (ENOENT: no such channel). */
int64_t ivfs_open(ivfs_side *s, const char *name, int flags);
/* A count, 0 at end of file, or -1: EAGAIN (O_NONBLOCK), EPIPE, EBADF, EIO. */
ssize_t ivfs_read(ivfs_side *s, int64_t channel, void *buf, size_t len);
ssize_t ivfs_write(ivfs_side *s, int64_t channel, const void *buf, size_t len);
int ivfs_close(ivfs_side *s, int64_t channel);

/* Gives the side up: open channels close (the peer's readers see end of
   file, its writers EPIPE), blocked calls return EIO, and `s` is freed. */
void ivfs_detach(ivfs_side *s);

#ifdef __cplusplus
}
#endif

#endif
