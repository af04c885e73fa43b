#define FUSE_USE_VERSION 29
#include "area_router.h"

#include <fuse.h>
#include <poll.h>

#include <cerrno>
#include <cstring>

namespace ivfs {

AreaRouter *AreaRouter::create() {
  AreaRouter *r = new AreaRouter();  // never freed: see area_router.h
  r->hooks_.version = FUSE_NATIVE_HOOKS_VERSION;
  r->hooks_.size = sizeof(struct fuse_native_hooks);
  r->hooks_.ctx = r;
  r->hooks_.open = &AreaRouter::open;
  r->hooks_.release = &AreaRouter::release;
  r->hooks_.read = &AreaRouter::read;
  r->hooks_.write = &AreaRouter::write;
  r->hooks_.poll = &AreaRouter::poll;
  r->hooks_.getattr = &AreaRouter::getattr;
  r->hooks_.utimens = &AreaRouter::utimens;
  r->hooks_.flush = &AreaRouter::flush;
  r->hooks_.loop_ended = [](void *ctx) { static_cast<AreaRouter *>(ctx)->loop_ended_.store(true); };
  return r;
}

namespace {
// libfuse's services, which fuse-native fills into the table it was given
// (ours), are what each pair's glue calls: copy them over.
void copy_services(const struct fuse_native_hooks &from, struct fuse_native_hooks *to) {
  to->interrupted = from.interrupted;
  to->exited = from.exited;
  to->context = from.context;
  to->notify_poll = from.notify_poll;
  to->pollhandle_destroy = from.pollhandle_destroy;
}
}  // namespace

bool AreaRouter::add(const std::string &peer, struct fuse_native_hooks *sub) {
  std::lock_guard<std::mutex> lk(mu_);
  size_t n = count_.load();
  if (n >= kMaxRoutes || peer.empty() || peer.size() > kPeerNameMax) return false;
  for (size_t i = 0; i < n; i++)
    if (peer == routes_[i].name) return false;
  std::memset(routes_[n].name, 0, sizeof(routes_[n].name));
  std::memcpy(routes_[n].name, peer.data(), peer.size());
  routes_[n].hooks = sub;
  if (services_shared_.load()) copy_services(hooks_, sub);
  count_.store(n + 1, std::memory_order_release);  // the route is complete before it is seen
  return true;
}

void AreaRouter::share_services() {
  if (services_shared_.load(std::memory_order_acquire)) return;
  std::lock_guard<std::mutex> lk(mu_);
  if (services_shared_.load()) return;
  for (size_t i = 0; i < count_.load(); i++) copy_services(hooks_, routes_[i].hooks);
  services_shared_.store(true, std::memory_order_release);
}

// "/peer/rest" -> peer's table, with *rest = "/rest". nullptr for the root,
// a peer folder itself ("/peer") and unknown peers.
struct fuse_native_hooks *AreaRouter::route_of_path(const char *path, const char **rest) {
  share_services();
  if (path[0] != '/') return nullptr;
  const char *slash = std::strchr(path + 1, '/');
  if (!slash || slash[1] == '\0') return nullptr;
  size_t len = size_t(slash - (path + 1));
  size_t n = count_.load(std::memory_order_acquire);
  for (size_t i = 0; i < n; i++) {
    if (std::strlen(routes_[i].name) == len && std::memcmp(routes_[i].name, path + 1, len) == 0) {
      *rest = slash;
      return routes_[i].hooks;
    }
  }
  return nullptr;
}

struct fuse_native_hooks *AreaRouter::route_of_handle(uint64_t fh) {
  share_services();
  uint64_t route = fh >> kRouteShift;
  size_t n = count_.load(std::memory_order_acquire);
  if (route == 0 || route > n) return nullptr;
  return routes_[route - 1].hooks;
}

namespace {
constexpr uint64_t kHandleMask = (uint64_t(1) << AreaRouter::kRouteShift) - 1;

// Runs `call` with the descriptor's own engine handle in fi->fh, then puts
// the routed handle back (libfuse keeps fi for the reply).
template <typename F>
int with_engine_handle(struct fuse_file_info *fi, F call) {
  uint64_t routed = fi->fh;
  fi->fh = routed & kHandleMask;
  int r = call();
  fi->fh = routed;
  return r;
}
}  // namespace

int AreaRouter::getattr(void *ctx, const char *path, struct stat *st) {
  AreaRouter *r = static_cast<AreaRouter *>(ctx);
  const char *rest;
  if (auto *sub = r->route_of_path(path, &rest)) return sub->getattr(sub->ctx, rest, st);
  // The root and the peer folders are JavaScript's (it knows who is present).
  return FUSE_NATIVE_NOT_MINE;
}

int AreaRouter::utimens(void *ctx, const char *path, const struct timespec tv[2]) {
  AreaRouter *r = static_cast<AreaRouter *>(ctx);
  const char *rest;
  if (auto *sub = r->route_of_path(path, &rest)) return sub->utimens(sub->ctx, rest, tv);
  return 0;  // a folder's times follow its table
}

int AreaRouter::open(void *ctx, const char *path, struct fuse_file_info *fi) {
  AreaRouter *r = static_cast<AreaRouter *>(ctx);
  const char *rest;
  auto *sub = r->route_of_path(path, &rest);
  if (!sub) return FUSE_NATIVE_NOT_MINE;
  int res = sub->open(sub->ctx, rest, fi);
  if (res != 0) return res;
  size_t route = 0;
  size_t n = r->count_.load(std::memory_order_acquire);
  for (size_t i = 0; i < n; i++)
    if (r->routes_[i].hooks == sub) route = i + 1;
  if ((fi->fh & ~kHandleMask) != 0) {  // an engine that ran out of handles: cannot route it
    sub->release(sub->ctx, rest, fi);
    return -EMFILE;
  }
  fi->fh |= uint64_t(route) << kRouteShift;
  return 0;
}

int AreaRouter::release(void *ctx, const char *path, struct fuse_file_info *fi) {
  auto *sub = static_cast<AreaRouter *>(ctx)->route_of_handle(fi->fh);
  if (!sub) return 0;
  return with_engine_handle(fi, [&] { return sub->release(sub->ctx, path, fi); });
}

int AreaRouter::flush(void *ctx, const char *path, struct fuse_file_info *fi) {
  auto *sub = static_cast<AreaRouter *>(ctx)->route_of_handle(fi->fh);
  if (!sub) return 0;
  return with_engine_handle(fi, [&] { return sub->flush(sub->ctx, path, fi); });
}

int AreaRouter::read(void *ctx, const char *path, char *buf, size_t len, off_t off, struct fuse_file_info *fi) {
  auto *sub = static_cast<AreaRouter *>(ctx)->route_of_handle(fi->fh);
  if (!sub) return -EBADF;
  return with_engine_handle(fi, [&] { return sub->read(sub->ctx, path, buf, len, off, fi); });
}

int AreaRouter::write(void *ctx, const char *path, const char *buf, size_t len, off_t off, struct fuse_file_info *fi) {
  auto *sub = static_cast<AreaRouter *>(ctx)->route_of_handle(fi->fh);
  if (!sub) return -EBADF;
  return with_engine_handle(fi, [&] { return sub->write(sub->ctx, path, buf, len, off, fi); });
}

int AreaRouter::poll(void *ctx, const char *path, struct fuse_file_info *fi, struct fuse_pollhandle *ph, unsigned *reventsp) {
  AreaRouter *r = static_cast<AreaRouter *>(ctx);
  auto *sub = r->route_of_handle(fi->fh);
  if (!sub) {
    if (ph && r->hooks_.pollhandle_destroy) r->hooks_.pollhandle_destroy(ph);
    *reventsp = POLLERR | POLLHUP;
    return 0;
  }
  return with_engine_handle(fi, [&] { return sub->poll(sub->ctx, path, fi, ph, reventsp); });
}

}  // namespace ivfs
