#define FUSE_USE_VERSION 29
#include "fuse_glue.h"

#include <fuse.h>
#include <poll.h>
#include <sys/stat.h>
#include <signal.h>
#include <unistd.h>

#include <time.h>

#include <cerrno>
#include <cstring>
#include <thread>

namespace ivfs {

// One hook call: counted in flight for close(), refused once closed.
class GlueCall {
 public:
  explicit GlueCall(void *ctx) : glue_(static_cast<FuseGlue *>(ctx)) {
    glue_->inflight_.fetch_add(1);  // seq_cst, pairs with close(): see fuse_glue.h
    open_ = !glue_->closed_.load();
  }
  ~GlueCall() { glue_->inflight_.fetch_sub(1); }
  bool open() const { return open_; }
  FuseGlue &glue() { return *glue_; }
  FifoEngine &engine() { return *glue_->engine_; }

 private:
  FuseGlue *glue_;
  bool open_;
};

FuseGlue *FuseGlue::create(std::shared_ptr<FifoEngine> engine, std::shared_ptr<ChannelTable> table) {
  FuseGlue *g = new FuseGlue();  // never freed: see fuse_glue.h
  g->engine_ = std::move(engine);
  g->table_ = std::move(table);
  g->hooks_.version = FUSE_NATIVE_HOOKS_VERSION;
  g->hooks_.size = sizeof(struct fuse_native_hooks);
  g->hooks_.ctx = g;
  g->hooks_.open = &FuseGlue::open;
  g->hooks_.release = &FuseGlue::release;
  g->hooks_.read = &FuseGlue::read;
  g->hooks_.write = &FuseGlue::write;
  g->hooks_.poll = &FuseGlue::poll;
  g->hooks_.getattr = &FuseGlue::getattr;
  g->hooks_.utimens = &FuseGlue::utimens;
  g->hooks_.flush = &FuseGlue::flush;
  g->hooks_.loop_ended = [](void *ctx) { static_cast<FuseGlue *>(ctx)->loop_ended_.store(true); };
  return g;
}

int FuseGlue::close(int wait_ms) {
  if (closed_.exchange(true)) return 0;
  engine_->stop();
  int waited = 0;
  while (inflight_.load() > 0 && waited < wait_ms) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    waited++;
  }
  int left = inflight_.load();
  notify_pollers();  // pollers see the end (POLLERR|POLLHUP) and give their handles back
  // A call still inside after the wait (a hook stuck in the kernel) keeps
  // the engine: leaking it is better than unmapping under it.
  if (left == 0) {
    engine_.reset();
    table_.reset();
  }
  return left;
}

Request FuseGlue::request(struct fuse_file_info *fi) const {
  Request req;
  // An interrupt ends the request (EINTR); so does the end of the session
  // (an aborted connection sends no interrupt, and nobody awaits the reply).
  auto interrupted = hooks_.interrupted;
  auto exited = hooks_.exited;
  if (interrupted) req.interrupted = [interrupted, exited] { return interrupted() != 0 || (exited && exited() != 0); };
  req.flags = fi ? fi->flags : -1;
  return req;
}

void FuseGlue::answer_next_getattr_as_fifo(const std::string &name) {
  std::lock_guard<std::mutex> lk(fifo_once_mu_);
  fifo_once_.insert(name);
}

int FuseGlue::getattr(void *ctx, const char *path, struct stat *st) {
  GlueCall call(ctx);
  if (!call.open()) return -EIO;
  if (path[0] != '/' || path[1] == '\0') return FUSE_NATIVE_NOT_MINE;  // the root: JavaScript's
  if (std::strchr(path + 1, '/')) return -ENOENT;
  std::optional<ChannelInfo> c = call.engine().lookup(path + 1);
  if (!c) return -ENOENT;
  FuseGlue &g = call.glue();
  bool fifo = false;
  {
    std::lock_guard<std::mutex> lk(g.fifo_once_mu_);
    fifo = g.fifo_once_.erase(c->name) > 0;
  }
  std::memset(st, 0, sizeof(*st));
  // A regular file, not S_IFIFO: the kernel would serve a FIFO inode with its
  // own pipe code and never ask us (decision 0002).
  st->st_mode = (fifo ? S_IFIFO : S_IFREG) | (c->mode & 07777);
  st->st_nlink = 1;
  st->st_uid = c->uid;
  st->st_gid = c->gid;
  st->st_blksize = 4096;
  auto at = [](struct timespec &ts, uint64_t ms) {
    ts.tv_sec = time_t(ms / 1000);
    ts.tv_nsec = long(ms % 1000) * 1000000;
  };
  at(st->st_atim, c->atime_ms);
  at(st->st_mtim, c->mtime_ms);
  at(st->st_ctim, c->ctime_ms);
  return 0;
}

// touch and utimensat: the times are recorded in the channel's entry, so
// the other side sees them too. Served here because fuse-native's own
// utimens hands JavaScript the access time twice and no modification time.
int FuseGlue::utimens(void *ctx, const char *path, const struct timespec tv[2]) {
  GlueCall call(ctx);
  if (!call.open()) return -EIO;
  if (path[0] != '/' || path[1] == '\0') return 0;  // the root's times follow the table
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  auto ms = [](const struct timespec &ts) { return uint64_t(ts.tv_sec) * 1000 + uint64_t(ts.tv_nsec) / 1000000; };
  AttributeChange change;
  for (int i = 0; i < 2; i++) {
    if (tv[i].tv_nsec == UTIME_OMIT) continue;
    uint64_t v = tv[i].tv_nsec == UTIME_NOW ? ms(now) : (tv[i].tv_sec < 0 ? 0 : ms(tv[i]));
    (i == 0 ? change.atime_ms : change.mtime_ms) = v;
  }
  return call.glue().table_->set_attributes(path + 1, change, ms(now)).err;
}

int FuseGlue::open(void *ctx, const char *path, struct fuse_file_info *fi) {
  GlueCall call(ctx);
  if (!call.open()) return -EIO;
  if (path[0] != '/' || path[1] == '\0') return FUSE_NATIVE_NOT_MINE;  // the root: JavaScript's
  int64_t h = call.engine().open_name(path + 1, fi->flags);
  if (h < 0) return int(h);
  fi->fh = uint64_t(h);
  // A channel is a stream: no page cache, and lseek/pread/pwrite give ESPIPE
  // as on a FIFO (bash's `read` relies on that to not lose lines).
  fi->direct_io = 1;
  fi->nonseekable = 1;
  return 0;
}

int FuseGlue::release(void *ctx, const char *path, struct fuse_file_info *fi) {
  GlueCall call(ctx);
  if (!call.open()) return 0;
  call.glue().forget_poller(fi->fh);
  call.engine().release(fi->fh);
  return 0;
}

int FuseGlue::flush(void *ctx, const char *path, struct fuse_file_info *fi) {
  GlueCall call(ctx);
  if (!call.open()) return 0;
  // FUSE sends a flush at every close(2), also of a duplicate (bash's
  // `exec 5<>chan` opens, dup2s and closes the original): the engine counts
  // the descriptor as closing until its release or its next read or write,
  // and the peer's writers wait for that at most a grace period. (Asking
  // /proc whether the process holds the file elsewhere deadlocks against an
  // exec that closes its close-on-exec descriptors under the exec lock.)
  call.engine().flush(fi->fh);
  return 0;
}

int FuseGlue::read(void *ctx, const char *path, char *buf, size_t len, off_t off, struct fuse_file_info *fi) {
  GlueCall call(ctx);
  if (!call.open()) return -EIO;
  return int(call.engine().read(fi->fh, reinterpret_cast<uint8_t *>(buf), len, call.glue().request(fi)));
}

int FuseGlue::write(void *ctx, const char *path, const char *buf, size_t len, off_t off, struct fuse_file_info *fi) {
  GlueCall call(ctx);
  if (!call.open()) return -EIO;
  int64_t n = call.engine().write(fi->fh, reinterpret_cast<const uint8_t *>(buf), len, call.glue().request(fi));
  if (n == -EPIPE && call.glue().hooks_.context) {
    // A FUSE filesystem can only answer EPIPE; a pipe also raises SIGPIPE in
    // the writer. Sent before the answer, so the writer sees the signal
    // first, as with a pipe (decision 0006). pid 0: another pid namespace.
    struct fuse_context *c = call.glue().hooks_.context();
    if (c && c->pid > 0) kill(c->pid, SIGPIPE);
  }
  return int(n);
}

int FuseGlue::poll(void *ctx, const char *path, struct fuse_file_info *fi, struct fuse_pollhandle *ph, unsigned *reventsp) {
  GlueCall call(ctx);
  FuseGlue &g = call.glue();
  if (!call.open()) {
    if (ph && g.hooks_.pollhandle_destroy) g.hooks_.pollhandle_destroy(ph);
    *reventsp = POLLERR | POLLHUP;
    return 0;
  }
  if (ph) {
    // Keep the handle until readiness may have changed (libfuse's
    // example/poll.c): one per descriptor, the newest wins.
    std::lock_guard<std::mutex> lk(g.polls_mu_);
    auto [it, fresh] = g.polls_.emplace(fi->fh, ph);
    if (!fresh) {
      if (g.hooks_.pollhandle_destroy) g.hooks_.pollhandle_destroy(it->second);
      it->second = ph;
    } else {
      g.poll_count_.fetch_add(1);
    }
  }
  // Armed: the peer rings us on its next progress, which notifies the handle.
  *reventsp = call.engine().poll(fi->fh, ph != nullptr);
  return 0;
}

void FuseGlue::forget_poller(uint64_t handle) {
  std::lock_guard<std::mutex> lk(polls_mu_);
  auto it = polls_.find(handle);
  if (it == polls_.end()) return;
  if (hooks_.pollhandle_destroy) hooks_.pollhandle_destroy(it->second);
  polls_.erase(it);
  poll_count_.fetch_sub(1);
}

void FuseGlue::notify_pollers() {
  if (poll_count_.load() == 0) return;  // the common case: nobody polls
  std::unordered_map<uint64_t, struct fuse_pollhandle *> due;
  {
    std::lock_guard<std::mutex> lk(polls_mu_);
    due.swap(polls_);
    poll_count_.store(0);
  }
  for (auto &[handle, ph] : due) {
    if (engine_) engine_->disarm(handle);
    if (hooks_.notify_poll) hooks_.notify_poll(ph);  // the kernel polls again and re-arms
    if (hooks_.pollhandle_destroy) hooks_.pollhandle_destroy(ph);
  }
}

}  // namespace ivfs
