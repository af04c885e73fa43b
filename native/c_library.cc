// intervmfs.h: the C library. A Side attached as a mount attaches it (the
// claim checked against a live holder first, the notifier thread), a keeper
// thread for what the daemon's timers do (our heartbeat, the watch on the
// peer's), and each read and write a blocking request of the FIFO engine on
// the caller's thread. No Node, no libfuse.
#include "intervmfs.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "side.h"
#include "timing.h"

namespace ivfs {
namespace {

// The daemon's intervals (timing.h), so a C program and a mount judge each
// other alike.
constexpr auto kHeartbeat = std::chrono::milliseconds(kHeartbeatMs);
constexpr auto kLivenessWatch = std::chrono::milliseconds(kLivenessWatchMs);

const char *const kPciDevices = "/sys/bus/pci/devices";

struct Failure {
  int err;
  std::string message;
};

std::string read_trimmed(const std::string &file) {
  std::ifstream in(file);
  std::string s;
  std::getline(in, s);
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

bool is_ivshmem(const std::string &bdf) {
  std::string dir = std::string(kPciDevices) + "/" + bdf;
  return read_trimmed(dir + "/vendor") == "0x1af4" && read_trimmed(dir + "/device") == "0x1110";
}

// "ivshmem" or "ivshmem:<bdf>" -> the device's sysfs folder (as locate.ts).
std::string ivshmem_device(const std::string &given) {
  std::string wanted = given.size() > 8 ? given.substr(8) : "";
  std::vector<std::string> found;
  if (DIR *d = opendir(kPciDevices)) {
    while (struct dirent *e = readdir(d))
      if (e->d_name[0] != '.' && is_ivshmem(e->d_name)) found.push_back(e->d_name);
    closedir(d);
  }
  if (!wanted.empty()) {
    for (const std::string &bdf : found)
      if (bdf == wanted || bdf == "0000:" + wanted) return std::string(kPciDevices) + "/" + bdf;
    throw Failure{ENOENT, "ivshmem device " + wanted + " not found"};
  }
  if (found.empty()) throw Failure{ENOENT, "no ivshmem PCI device (1af4:1110) found under " + std::string(kPciDevices)};
  if (found.size() > 1) throw Failure{EINVAL, "several ivshmem devices found; name one as ivshmem:<bdf>"};
  return std::string(kPciDevices) + "/" + found[0];
}

struct Located {
  std::vector<std::string> paths;
  std::string device;  // the PCI device's sysfs folder, when the set is its BAR
};

Located locate(const std::string &given) {
  if (given == "ivshmem" || given.rfind("ivshmem:", 0) == 0) {
    std::string dev = ivshmem_device(given);
    return {{dev + "/resource2"}, dev};
  }
  struct stat st;
  if (stat(given.c_str(), &st) != 0) throw Failure{ENOENT, "memsection set " + given + " does not exist"};
  if (!S_ISDIR(st.st_mode)) {
    char real[PATH_MAX];
    std::string r = realpath(given.c_str(), real) ? real : given;
    bool pci = (r.rfind("/sys/bus/pci/devices/", 0) == 0 || r.rfind("/sys/devices/pci", 0) == 0) && r.size() > 10 &&
               r.compare(r.size() - 10, 10, "/resource2") == 0;
    return {{given}, pci ? r.substr(0, r.size() - 10) : ""};
  }
  return {{given + "/control", given + "/data0", given + "/data1"}, ""};
}

NotifyMode choose_notify(ivfs_notify asked, bool pci) {
  if (asked == IVFS_NOTIFY_FUTEX && pci) throw Failure{EINVAL, "futex cannot wake a peer in another guest; use IVFS_NOTIFY_POLL on an ivshmem device"};
  if (asked == IVFS_NOTIFY_POLL) return kNotifyPoll;
  if (asked == IVFS_NOTIFY_FUTEX) return kNotifyFutex;
  if (asked != IVFS_NOTIFY_DEFAULT) throw Failure{EINVAL, "unknown notifier " + std::to_string(int(asked))};
  return pci ? kNotifyPoll : kNotifyFutex;
}

// A peer attached whose heartbeat stands still for kPeerDeadMs died without
// detaching (src/daemon/peer-watch.ts).
class PeerWatch {
 public:
  bool dead(const SideSnapshot &peer, uint64_t now_ms) {
    if (!peer.attached) return false;
    if (peer.heartbeat != beat_ || peer.epoch != epoch_) {
      beat_ = peer.heartbeat;
      epoch_ = peer.epoch;
      moved_at_ = now_ms;
    }
    return now_ms - moved_at_ > uint64_t(kPeerDeadMs);
  }

 private:
  uint64_t beat_ = UINT64_MAX, moved_at_ = 0;
  uint32_t epoch_ = UINT32_MAX;
};

}  // namespace
}  // namespace ivfs

using namespace ivfs;

struct ivfs_side {
  std::unique_ptr<Side> side;
  uint32_t index = 0;
  std::mutex mu;  // the keeper's stop
  std::condition_variable cv;
  bool stopping = false;
  std::thread keeper;

  std::shared_ptr<FifoEngine> engine() { return side->engine(); }

  // Our heartbeat up, the peer's watched, until detach.
  void keep() {
    PeerWatch watch;
    bool was_dead = false;
    std::unique_lock<std::mutex> lk(mu);
    while (!cv.wait_for(lk, kHeartbeat, [this] { return stopping; })) {
      side->heartbeat();
      bool dead = watch.dead(side->sides()[1 - index], monotonic_ms());
      if (dead != was_dead) side->set_peer_dead(dead);
      was_dead = dead;
    }
  }
};

namespace {

void report(char *error, size_t size, const std::string &message) {
  if (error && size) std::snprintf(error, size, "%s", message.c_str());
}

// A result of the engine (a count or -errno) as the system calls give it.
template <typename T>
T posix(int64_t r) {
  if (r >= 0) return T(r);
  errno = int(-r);
  return T(-1);
}

// The side's engine, taken once per call (a reference the call keeps even if
// the side detaches meanwhile), or nullptr with EBADF.
std::shared_ptr<FifoEngine> engine_of(ivfs_side *s) {
  std::shared_ptr<FifoEngine> e = s ? s->engine() : nullptr;
  if (!e) errno = EBADF;
  return e;
}

std::unique_ptr<ivfs_side> attach(const char *memsections, char side_name, const ivfs_options &options) {
  if (!memsections) throw Failure{EINVAL, "no memsection set named"};
  if (side_name != 'a' && side_name != 'b') throw Failure{EINVAL, "side must be 'a' or 'b'"};
  Located where = locate(memsections);
  NotifyMode notify = choose_notify(options.notify, !where.device.empty());
  auto s = std::make_unique<ivfs_side>();
  s->index = side_name == 'a' ? 0 : 1;
  try {
    s->side = std::make_unique<Side>(std::make_shared<MemsectionSet>(where.paths));
  } catch (const SetError &e) {
    throw Failure{e.code == "missing" ? ENOENT : EINVAL, e.what()};
  }
  // A holder recorded as attached is alive if its heartbeat moves.
  SideSnapshot before = s->side->sides()[s->index];
  if (before.attached) {
    std::this_thread::sleep_for(kLivenessWatch);
    SideSnapshot after = s->side->sides()[s->index];
    if (after.heartbeat != before.heartbeat || after.epoch != before.epoch) {
      throw Failure{EBUSY, std::string("side ") + side_name + " of " + memsections + " is already served by pid " + std::to_string(after.pid) + " on " +
                               (after.host.empty() ? "an unknown host" : after.host)};
    }
  }
  // On an ivshmem device, its registers: a peer waiting on doorbell
  // interrupts hears our rings (without them it still sees them on its tick).
  if (!where.device.empty()) {
    try {
      s->side->open_doorbell(where.device + "/resource0");
    } catch (const std::exception &) {
    }
  }
  SideClaim claim;
  claim.side = s->index;
  claim.notify = notify;
  claim.engine.spin_us = options.spin_us;
  claim.pid = uint32_t(getpid());
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  claim.host = host;
  claim.mounted_at_ms = wall_ms();
  s->side->attach(std::move(claim));
  s->side->start_notifier(nullptr);
  s->side->heartbeat();
  ivfs_side *raw = s.get();
  s->keeper = std::thread([raw] { raw->keep(); });
  return s;
}

}  // namespace

extern "C" {

ivfs_side *ivfs_attach(const char *memsections, char side, const ivfs_options *options, char *error, size_t error_size) {
  try {
    return attach(memsections, side, options ? *options : ivfs_options{}).release();
  } catch (const Failure &f) {
    report(error, error_size, f.message);
    errno = f.err;
  } catch (const std::exception &e) {
    report(error, error_size, e.what());
    errno = EINVAL;
  }
  return nullptr;
}

int ivfs_mknod(ivfs_side *s, const char *name, unsigned mode) {
  if (!engine_of(s)) return -1;
  if (!name) return posix<int>(-EINVAL);
  TableResult r = s->side->table_hold().table->create(name, mode & 07777, uint32_t(getuid()), uint32_t(getgid()), wall_ms());
  return posix<int>(r.err);
}

int ivfs_unlink(ivfs_side *s, const char *name) {
  if (!engine_of(s)) return -1;
  if (!name) return posix<int>(-EINVAL);
  return posix<int>(s->side->table_hold().table->unlink(name, wall_ms()).err);
}

int64_t ivfs_open(ivfs_side *s, const char *name, int flags) {
  std::shared_ptr<FifoEngine> e = engine_of(s);
  if (!e) return -1;
  if (!name) return posix<int64_t>(-EINVAL);
  return posix<int64_t>(e->open_name(name, flags));
}

ssize_t ivfs_read(ivfs_side *s, int64_t channel, void *buf, size_t len) {
  std::shared_ptr<FifoEngine> e = engine_of(s);
  if (!e) return -1;
  if (channel <= 0) return posix<ssize_t>(-EBADF);
  return posix<ssize_t>(e->read(uint64_t(channel), static_cast<uint8_t *>(buf), len, Request{}));
}

ssize_t ivfs_write(ivfs_side *s, int64_t channel, const void *buf, size_t len) {
  std::shared_ptr<FifoEngine> e = engine_of(s);
  if (!e) return -1;
  if (channel <= 0) return posix<ssize_t>(-EBADF);
  return posix<ssize_t>(e->write(uint64_t(channel), static_cast<const uint8_t *>(buf), len, Request{}));
}

int ivfs_close(ivfs_side *s, int64_t channel) {
  std::shared_ptr<FifoEngine> e = engine_of(s);
  if (!e) return -1;
  if (channel <= 0) return posix<int>(-EBADF);
  // close(2) on a mount is a flush, then a release: the peer's EOF and EPIPE
  // come from the flush's closing mark, the release takes the counts down.
  int r = e->flush(uint64_t(channel));
  if (r == 0) r = e->release(uint64_t(channel));
  return posix<int>(r);
}

void ivfs_detach(ivfs_side *s) {
  if (!s) return;
  {
    std::lock_guard<std::mutex> g(s->mu);
    s->stopping = true;
  }
  s->cv.notify_all();
  if (s->keeper.joinable()) s->keeper.join();
  s->side->stop_engine();
  s->side->detach();  // our open counts go: the peer's readers see EOF, its writers EPIPE
  s->side->close();
  delete s;
}

}  // extern "C"
