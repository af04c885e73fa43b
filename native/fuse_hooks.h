/* The contract between our addon and the patched fuse-native: a versioned
 * table of C function pointers that fuse-native calls on libfuse's worker
 * thread before it hands a request to JavaScript.
 *
 * The same struct is declared in patches/fuse-native+2.2.6.patch (fuse-native
 * cannot include our headers); `version` and `size` are checked there, so a
 * mismatch refuses the mount instead of calling through a wrong layout.
 * Change both together and bump FUSE_NATIVE_HOOKS_VERSION.
 *
 * Every hook returns a FUSE result (>= 0, or a negative errno), or
 * FUSE_NATIVE_NOT_MINE to let JavaScript answer. A hook that is NULL is not
 * installed. fuse-native fills in the libfuse services (`interrupted` ...)
 * when it accepts the table, before the first request. */
#ifndef INTERVMFS_FUSE_HOOKS_H
#define INTERVMFS_FUSE_HOOKS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define FUSE_NATIVE_HOOKS_VERSION 2
#define FUSE_NATIVE_NOT_MINE (-0x7ffe)

struct fuse_file_info;
struct fuse_pollhandle;
struct fuse_context;
struct stat;
struct timespec;

struct fuse_native_hooks {
  uint32_t version; /* FUSE_NATIVE_HOOKS_VERSION */
  uint32_t size;    /* sizeof(struct fuse_native_hooks) */
  void *ctx;        /* first argument of every hook */
  /* set by the addon */
  int (*open)(void *ctx, const char *path, struct fuse_file_info *fi);
  int (*release)(void *ctx, const char *path, struct fuse_file_info *fi);
  int (*read)(void *ctx, const char *path, char *buf, size_t len, off_t off, struct fuse_file_info *fi);
  int (*write)(void *ctx, const char *path, const char *buf, size_t len, off_t off, struct fuse_file_info *fi);
  int (*poll)(void *ctx, const char *path, struct fuse_file_info *fi, struct fuse_pollhandle *ph, unsigned *reventsp);
  int (*getattr)(void *ctx, const char *path, struct stat *st);
  int (*utimens)(void *ctx, const char *path, const struct timespec tv[2]);
  int (*flush)(void *ctx, const char *path, struct fuse_file_info *fi);
  /* called on libfuse's loop thread when the loop returns: the kernel
     connection has ended (unmounted from outside, or aborted) */
  void (*loop_ended)(void *ctx);
  /* set by fuse-native: libfuse's own functions, which the addon does not link */
  int (*interrupted)(void);
  int (*exited)(void); /* the session has ended: a waiting request gives up */
  struct fuse_context *(*context)(void);
  int (*notify_poll)(struct fuse_pollhandle *ph);
  void (*pollhandle_destroy)(struct fuse_pollhandle *ph);
};

#endif
