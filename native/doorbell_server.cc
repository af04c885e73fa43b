#include "doorbell_server.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "memsection_set.h"

namespace ivfs {
namespace {

constexpr int64_t kProtocolVersion = 0;
constexpr int64_t kMaxPeerId = 65535;  // the Doorbell register has 16 bits for it
constexpr size_t kMaxPeers = 64;

std::string os_error(const std::string &what) { return what + ": " + std::strerror(errno); }

// One protocol message: `value` little-endian (x86-64 and arm64 hosts are),
// with `fd` attached when it is not -1. False when the peer is gone.
bool send_message(int sock, int64_t value, int fd) {
  struct iovec iov = {&value, sizeof value};
  struct msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  if (fd >= 0) {
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(c), &fd, sizeof(int));
  }
  ssize_t n;
  do n = sendmsg(sock, &msg, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  return n == ssize_t(sizeof value);
}

}  // namespace

DoorbellServer::DoorbellServer(const std::string &socket_path, const std::string &shm_path, uint32_t vectors, Event on_event)
    : vectors_(vectors), on_event_(std::move(on_event)) {
  if (vectors_ < 1 || vectors_ > 64) throw SetError("DOORBELL_SERVER", "vectors must be 1 to 64");
  shm_fd_ = ::open(shm_path.c_str(), O_RDWR | O_CLOEXEC);
  if (shm_fd_ < 0) throw SetError("DOORBELL_SERVER", os_error("cannot open the shared memory " + shm_path));
  struct stat st;
  if (fstat(shm_fd_, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size <= 0 || (st.st_size & (st.st_size - 1)) != 0) {
    ::close(shm_fd_);
    throw SetError("DOORBELL_SERVER", "the shared memory " + shm_path + " must be a file whose size is a power of two (QEMU maps it as a PCI BAR); it is " +
                                          std::to_string(uint64_t(st.st_size)) + " bytes");
  }
  shm_size_ = uint64_t(st.st_size);
  struct sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof addr.sun_path) {
    ::close(shm_fd_);
    throw SetError("DOORBELL_SERVER", "socket path " + socket_path + " is longer than " + std::to_string(sizeof addr.sun_path - 1) + " bytes");
  }
  std::memcpy(addr.sun_path, socket_path.c_str(), socket_path.size());
  listen_fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0 || bind(listen_fd_, reinterpret_cast<struct sockaddr *>(&addr), sizeof addr) != 0 || listen(listen_fd_, 8) != 0) {
    std::string msg = os_error("cannot listen on " + socket_path);
    if (listen_fd_ >= 0) ::close(listen_fd_);
    ::close(shm_fd_);
    throw SetError("DOORBELL_SERVER", msg);
  }
  stop_fd_ = eventfd(0, EFD_CLOEXEC);
  thread_ = std::thread([this] { run(); });
}

DoorbellServer::~DoorbellServer() { stop(); }

void DoorbellServer::stop() {
  if (stopped_) return;
  stopped_ = true;
  uint64_t one = 1;
  (void)::write(stop_fd_, &one, sizeof one);
  if (thread_.joinable()) thread_.join();
  for (Peer &p : peers_) {
    ::close(p.sock);
    for (int fd : p.eventfds) ::close(fd);
  }
  peers_.clear();
  ::close(listen_fd_);
  ::close(shm_fd_);
  ::close(stop_fd_);
}

void DoorbellServer::run() {
  for (;;) {
    std::vector<struct pollfd> fds = {{stop_fd_, POLLIN, 0}, {listen_fd_, POLLIN, 0}};
    for (const Peer &p : peers_) fds.push_back({p.sock, POLLIN, 0});
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      on_event_("error", -1, os_error("poll"));
      return;
    }
    if (fds[0].revents) return;
    // Peers first, from the back, so that indices stay valid while dropping.
    for (size_t i = fds.size(); i-- > 2;) {
      if (!fds[i].revents) continue;
      char junk[64];
      ssize_t n = recv(fds[i].fd, junk, sizeof junk, MSG_DONTWAIT);
      // Clients never send; data is ignored, end of stream or an error is a
      // disconnect.
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) drop_peer(i - 2);
    }
    if (fds[1].revents & POLLIN) accept_peer();
  }
}

void DoorbellServer::accept_peer() {
  int sock = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
  if (sock < 0) return;
  if (peers_.size() >= kMaxPeers || next_id_ > kMaxPeerId) {
    on_event_("refused", -1, "no peer id left (" + std::to_string(peers_.size()) + " connected, next id " + std::to_string(next_id_) + ")");
    ::close(sock);
    return;
  }
  Peer peer{next_id_++, sock, {}};
  for (uint32_t v = 0; v < vectors_; v++) {
    int fd = eventfd(0, EFD_CLOEXEC);
    if (fd < 0) {
      on_event_("error", peer.id, os_error("eventfd"));
      for (int e : peer.eventfds) ::close(e);
      ::close(sock);
      return;
    }
    peer.eventfds.push_back(fd);
  }
  bool ok = send_message(sock, kProtocolVersion, -1) && send_message(sock, peer.id, -1) && send_message(sock, -1, shm_fd_);
  for (const Peer &other : peers_)
    for (int fd : other.eventfds) ok = ok && send_message(sock, other.id, fd);
  for (const Peer &other : peers_)
    for (int fd : peer.eventfds) send_message(other.sock, peer.id, fd);  // a gone peer is dropped by run()
  for (int fd : peer.eventfds) ok = ok && send_message(sock, peer.id, fd);
  peers_.push_back(std::move(peer));
  on_event_("connected", peers_.back().id, "");
  if (!ok) drop_peer(peers_.size() - 1);
}

void DoorbellServer::drop_peer(size_t index) {
  Peer gone = std::move(peers_[index]);
  peers_.erase(peers_.begin() + long(index));
  ::close(gone.sock);
  for (int fd : gone.eventfds) ::close(fd);
  for (const Peer &p : peers_) send_message(p.sock, gone.id, -1);
  on_event_("disconnected", gone.id, "");
}

}  // namespace ivfs
