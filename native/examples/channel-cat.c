/*
 * intervmfs-cat: cat(1) for one channel of a memsection set, through the C
 * library (native/intervmfs.h), with no mount. The example of the C API,
 * and a tool: a program's end of a channel whose other end a shell uses on
 * a mount of the other side, or another intervmfs-cat.
 *
 *   intervmfs-cat SET SIDE NAME        copy the channel to stdout until end of file
 *   intervmfs-cat -w SET SIDE NAME     copy stdin into the channel, then close it
 *
 * The channel is made if it does not exist. Exits 0 when everything was
 * copied, 1 with a message on an error (EPIPE: every reader closed).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "intervmfs.h"

static int fail(const char *what) {
  fprintf(stderr, "intervmfs-cat: %s: %s\n", what, strerror(errno));
  return 1;
}

int main(int argc, char **argv) {
  int writing = argc > 1 && strcmp(argv[1], "-w") == 0;
  if (argc != 4 + writing || strlen(argv[2 + writing]) != 1) {
    fprintf(stderr, "usage: intervmfs-cat [-w] SET a|b NAME\n");
    return 2;
  }
  const char *set = argv[1 + writing], *name = argv[3 + writing];
  char err[512] = "";
  ivfs_side *side = ivfs_attach(set, argv[2 + writing][0], NULL, err, sizeof err);
  if (!side) {
    fprintf(stderr, "intervmfs-cat: %s\n", err);
    return 1;
  }
  int status = 0;
  if (ivfs_mknod(side, name, 0644) < 0 && errno != EEXIST) status = fail(name);
  int64_t ch = status ? -1 : ivfs_open(side, name, writing ? O_WRONLY : O_RDONLY);
  if (!status && ch < 0) status = fail(name);
  static char buf[65536];
  while (!status) {
    ssize_t n = writing ? read(0, buf, sizeof buf) : ivfs_read(side, ch, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) status = fail(writing ? "stdin" : name);
    if (n <= 0) break;
    for (ssize_t done = 0; !status && done < n;) {
      ssize_t k = writing ? ivfs_write(side, ch, buf + done, (size_t)(n - done)) : write(1, buf + done, (size_t)(n - done));
      if (k < 0 && errno != EINTR) status = fail(writing ? name : "stdout");
      if (k > 0) done += k;
    }
  }
  if (ch > 0) ivfs_close(side, ch);
  ivfs_detach(side);  /* the peer's readers see end of file now */
  return status;
}
