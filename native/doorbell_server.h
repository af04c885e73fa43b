// The host side of ivshmem-doorbell: a server speaking QEMU's ivshmem
// client-server protocol (docs/specs/ivshmem-spec.rst in QEMU), which Debian
// does not package. Each QEMU that connects gets a peer id, the descriptor of
// the shared memory, and eventfds: one per vector to be interrupted through,
// for itself and for every other peer. The server only hands out
// descriptors; interrupts then travel from QEMU to QEMU without it.
//
// Protocol, server to client only, each message an 8-byte little-endian
// signed number with at most one descriptor (SCM_RIGHTS):
//   0 (version) | own id | -1 + shared memory fd |
//   for every other peer, its id once per vector + that vector's eventfd |
//   own id once per vector + own eventfd;
//   later: a new peer's id + eventfd per vector (connect), or a peer id
//   alone (disconnect).
//
// Threading: one thread of its own runs poll() over the listening socket,
// the clients and a stop eventfd; `on_event` is called on that thread.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <thread>
#include <vector>

namespace ivfs {

class DoorbellServer {
 public:
  // kind: "connected" or "disconnected" (id set), "refused" or "error"
  // (detail says why).
  using Event = std::function<void(const std::string &kind, int64_t id, const std::string &detail)>;

  // Opens `shm_path` (its size must be a power of two: it becomes a PCI
  // BAR) and listens on `socket_path`, which must not exist. Throws
  // SetError. Serving starts at once on the server's thread.
  DoorbellServer(const std::string &socket_path, const std::string &shm_path, uint32_t vectors, Event on_event);
  ~DoorbellServer();
  DoorbellServer(const DoorbellServer &) = delete;
  DoorbellServer &operator=(const DoorbellServer &) = delete;

  // Disconnects every client and closes the socket (the caller unlinks it).
  void stop();
  uint64_t shm_size() const { return shm_size_; }

 private:
  struct Peer {
    int64_t id;
    int sock;
    std::vector<int> eventfds;  // one per vector: ring this peer through them
  };
  void run();
  void accept_peer();
  void drop_peer(size_t index);

  int listen_fd_ = -1;
  int shm_fd_ = -1;
  int stop_fd_ = -1;
  uint64_t shm_size_ = 0;
  uint32_t vectors_;
  int64_t next_id_ = 0;
  std::vector<Peer> peers_;
  Event on_event_;
  std::thread thread_;
  bool stopped_ = false;
};

}  // namespace ivfs
