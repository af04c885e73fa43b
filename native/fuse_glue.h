// The FUSE side of the native data path: the hook table fuse-native calls on
// libfuse's worker threads (fuse_hooks.h), answering open, read, write,
// release and poll from the FIFO engine with no JavaScript in between.
//
// Lifetime: fuse-native's unmount does not join libfuse's threads, so a
// worker may still call a hook after the mount is gone. A FuseGlue is
// therefore never freed (it is a few hundred bytes per mount); what it
// points to is: close() refuses new calls, stops the engine (which answers
// every sleeping request), waits until no call is inside, and only then lets
// the engine and its mapping go. Later calls get EIO (release: 0).
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "engine/fifo_engine.h"
#include "fuse_hooks.h"

namespace ivfs {

class FuseGlue {
 public:
  // `table`: for the attribute changes served here (utimens).
  static FuseGlue *create(std::shared_ptr<FifoEngine> engine, std::shared_ptr<ChannelTable> table);
  struct fuse_native_hooks *hooks() { return &hooks_; }
  // Waits at most `wait_ms` for calls in flight; returns how many remained.
  int close(int wait_ms);
  // Whether libfuse's loop has returned: the kernel connection ended.
  bool loop_ended() const { return loop_ended_.load(); }
  // Poll handles waiting for a readiness change are notified (any thread).
  void notify_pollers();
  // The kernel fails a mknod unless the getattr that follows it shows the
  // type asked for (a FIFO); every later getattr shows a regular file
  // (decision 0002). Called by the mknod handler before it answers.
  void answer_next_getattr_as_fifo(const std::string &name);

 private:
  FuseGlue() = default;
  static int open(void *ctx, const char *path, struct fuse_file_info *fi);
  static int release(void *ctx, const char *path, struct fuse_file_info *fi);
  static int flush(void *ctx, const char *path, struct fuse_file_info *fi);
  static int read(void *ctx, const char *path, char *buf, size_t len, off_t off, struct fuse_file_info *fi);
  static int write(void *ctx, const char *path, const char *buf, size_t len, off_t off, struct fuse_file_info *fi);
  static int getattr(void *ctx, const char *path, struct stat *st);
  static int utimens(void *ctx, const char *path, const struct timespec tv[2]);
  static int poll(void *ctx, const char *path, struct fuse_file_info *fi, struct fuse_pollhandle *ph, unsigned *reventsp);
  Request request(struct fuse_file_info *fi) const;
  void forget_poller(uint64_t handle);

  friend class GlueCall;
  struct fuse_native_hooks hooks_ = {};
  std::atomic<int> inflight_{0};
  std::atomic<bool> closed_{false};
  std::atomic<bool> loop_ended_{false};
  std::shared_ptr<FifoEngine> engine_;
  std::shared_ptr<ChannelTable> table_;

  std::mutex polls_mu_;
  std::unordered_map<uint64_t, struct fuse_pollhandle *> polls_;  // handle -> kernel's poll handle
  std::atomic<uint32_t> poll_count_{0};

  std::mutex fifo_once_mu_;
  std::unordered_set<std::string> fifo_once_;
};

}  // namespace ivfs
