// The hook table of an area mount: a directory per other peer, each served
// by the hook table (FuseGlue) of that pair's memsection set. A path
// "/vm2/chat" goes to vm2's table as "/chat"; a descriptor's handle carries
// the route it was opened through in its top bits, so read, write, flush,
// release and poll reach the same engine with the handle it gave.
//
// Routes are only ever added (a pair a daemon serves stays served until its
// unmount), and a sub-table is never freed (see fuse_glue.h), so a worker
// thread can hold a route's pointer without a lock.
#pragma once

#include <atomic>
#include <mutex>
#include <string>

#include "fuse_hooks.h"
#include "layout.h"

namespace ivfs {

class AreaRouter {
 public:
  static AreaRouter *create();  // never freed, like a FuseGlue
  struct fuse_native_hooks *hooks() { return &hooks_; }
  // Serves "/<peer>/..." from `sub`. Returns false when the peer has a route.
  bool add(const std::string &peer, struct fuse_native_hooks *sub);
  bool loop_ended() const { return loop_ended_.load(); }

  static constexpr int kRouteShift = 48;  // engine handles stay below 2^48
  static constexpr size_t kMaxRoutes = kAreaPeersMax;  // the other peers of one area

 private:
  AreaRouter() = default;
  struct fuse_native_hooks *route_of_path(const char *path, const char **rest);
  struct fuse_native_hooks *route_of_handle(uint64_t fh);
  void share_services();

  static int open(void *ctx, const char *path, struct fuse_file_info *fi);
  static int release(void *ctx, const char *path, struct fuse_file_info *fi);
  static int flush(void *ctx, const char *path, struct fuse_file_info *fi);
  static int read(void *ctx, const char *path, char *buf, size_t len, off_t off, struct fuse_file_info *fi);
  static int write(void *ctx, const char *path, const char *buf, size_t len, off_t off, struct fuse_file_info *fi);
  static int getattr(void *ctx, const char *path, struct stat *st);
  static int utimens(void *ctx, const char *path, const struct timespec tv[2]);
  static int poll(void *ctx, const char *path, struct fuse_file_info *fi, struct fuse_pollhandle *ph, unsigned *reventsp);

  struct fuse_native_hooks hooks_ = {};
  std::atomic<bool> loop_ended_{false};
  std::atomic<bool> services_shared_{false};
  // Fixed capacity, filled in order: a slot below count_ (acquire) is
  // complete and never changes again, so readers need no lock.
  std::mutex mu_;  // writers of the routes, and the sharing of services
  struct Route {
    char name[kPeerNameMax + 1];
    struct fuse_native_hooks *hooks;
  };
  Route routes_[kMaxRoutes] = {};
  std::atomic<size_t> count_{0};
};

}  // namespace ivfs
