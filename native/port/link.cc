#include "link.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "../memsection_set.h"
#include "../timing.h"

namespace ivfs {
namespace port {
namespace {

[[noreturn]] void refuse(const std::string &what) { throw SetError("port-link", what); }

std::string errno_text() { return strerror(errno); }

// Waits up to `ms` for stop_fd (true: stop) or for `fd` to be readable.
bool stopped_while_waiting(int stop_fd, int fd, int ms) {
  pollfd fds[2] = {{stop_fd, POLLIN, 0}, {fd, POLLIN, 0}};
  poll(fds, fd >= 0 ? 2 : 1, ms);
  return fds[0].revents & POLLIN;
}

sockaddr_un unix_address(const std::string &path, const std::string &spec) {
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(a.sun_path)) refuse("port " + spec + ": a Unix socket path must have 1 to " + std::to_string(sizeof(a.sun_path) - 1) + " bytes");
  std::memcpy(a.sun_path, path.data(), path.size());
  return a;
}

class UnixConnect : public Link {
 public:
  UnixConnect(std::string spec, std::string path) : spec_(std::move(spec)), addr_(unix_address(path, spec_)) {}
  int next_session(int stop_fd) override {
    for (;;) {
      int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
      if (fd >= 0 && connect(fd, reinterpret_cast<const sockaddr *>(&addr_), sizeof(addr_)) == 0) return fd;
      if (fd >= 0) ::close(fd);
      if (stopped_while_waiting(stop_fd, -1, int(kHeartbeatMs))) return -1;
    }
  }
  void end_session(int fd) override { ::close(fd); }
  const std::string &name() const override { return spec_; }

 private:
  std::string spec_;
  sockaddr_un addr_;
};

class UnixListen : public Link {
 public:
  UnixListen(std::string spec, const std::string &path) : spec_(std::move(spec)), path_(path) {
    sockaddr_un a = unix_address(path, spec_);
    listen_fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listen_fd_ < 0) refuse("port " + spec_ + ": socket: " + errno_text());
    // A socket file nobody listens on is an earlier daemon's: take its place.
    // One somebody listens on is refused (two mounts of one side).
    int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (probe >= 0 && connect(probe, reinterpret_cast<const sockaddr *>(&a), sizeof(a)) == 0) {
      ::close(probe);
      ::close(listen_fd_);
      refuse("port " + spec_ + ": another process listens on " + path + " already");
    }
    if (probe >= 0) ::close(probe);
    struct stat st;
    if (lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) unlink(path.c_str());
    if (bind(listen_fd_, reinterpret_cast<const sockaddr *>(&a), sizeof(a)) != 0 || listen(listen_fd_, 1) != 0) {
      std::string why = errno_text();
      ::close(listen_fd_);
      refuse("port " + spec_ + ": cannot listen on " + path + ": " + why);
    }
  }
  ~UnixListen() override {
    ::close(listen_fd_);
    unlink(path_.c_str());
  }
  int next_session(int stop_fd) override {
    for (;;) {
      if (stopped_while_waiting(stop_fd, listen_fd_, -1)) return -1;
      int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd >= 0) return fd;
    }
  }
  void end_session(int fd) override { ::close(fd); }
  const std::string &name() const override { return spec_; }

 private:
  std::string spec_, path_;
  int listen_fd_ = -1;
};

class Inherited : public Link {
 public:
  Inherited(std::string spec, int fd) : spec_(std::move(spec)), fd_(fd) {}
  ~Inherited() override {
    if (fd_ >= 0) ::close(fd_);
  }
  int next_session(int) override {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }
  void end_session(int fd) override { ::close(fd); }
  const std::string &name() const override { return spec_; }

 private:
  std::string spec_;
  int fd_;
};

class Device : public Link {
 public:
  explicit Device(std::string spec) : spec_(std::move(spec)) {
    // Non-blocking: a virtio port's write blocks while its host end is not
    // connected, and the transport must still see a stop.
    fd_ = open(spec_.c_str(), O_RDWR | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd_ < 0 && errno == EBUSY) refuse("port " + spec_ + " is held by another process (a virtio port takes one opener)");
    if (fd_ < 0) refuse("port " + spec_ + ": " + errno_text());
    struct stat st;
    if (fstat(fd_, &st) != 0 || !S_ISCHR(st.st_mode)) {
      ::close(fd_);
      refuse("port " + spec_ + " is not a character device: name a virtio-serial port (/dev/vport0p1), unix:PATH or unix-listen:PATH");
    }
  }
  ~Device() override { ::close(fd_); }
  int next_session(int stop_fd) override {
    // A port whose host end is not connected reports a hang-up at once:
    // look again every heartbeat instead of spinning. Connected, it is
    // quiet until a side speaks: the session starts without waiting.
    for (;;) {
      pollfd fds[2] = {{stop_fd, POLLIN, 0}, {fd_, POLLIN, 0}};
      poll(fds, 2, 0);
      if (fds[0].revents & POLLIN) return -1;
      if (!(fds[1].revents & POLLHUP)) return fd_;
      if (stopped_while_waiting(stop_fd, -1, int(kHeartbeatMs))) return -1;
    }
  }
  void end_session(int) override {}  // kept: the device is the same next time
  const std::string &name() const override { return spec_; }

 private:
  std::string spec_;
  int fd_ = -1;
};

}  // namespace

std::unique_ptr<Link> open_link(const std::string &spec) {
  auto after = [&](const char *prefix) { return spec.substr(std::strlen(prefix)); };
  if (spec.rfind("unix-listen:", 0) == 0) return std::make_unique<UnixListen>(spec, after("unix-listen:"));
  if (spec.rfind("unix:", 0) == 0) return std::make_unique<UnixConnect>(spec, after("unix:"));
  if (spec.rfind("fd:", 0) == 0) {
    const std::string n = after("fd:");
    char *end = nullptr;
    long fd = std::strtol(n.c_str(), &end, 10);
    if (n.empty() || *end != 0 || fd < 0 || fd > 1 << 20 || fcntl(int(fd), F_GETFD) < 0) refuse("port " + spec + ": not an open descriptor");
    return std::make_unique<Inherited>(spec, int(fd));
  }
  if (spec.rfind("/", 0) == 0) return std::make_unique<Device>(spec);
  refuse("port " + spec + ": name unix:PATH, unix-listen:PATH, fd:N or a character device such as /dev/vport0p1");
}

}  // namespace port
}  // namespace ivfs
