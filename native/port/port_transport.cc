#include "port_transport.h"

#include <fcntl.h>
#include <linux/futex.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>

#include "../notifier.h"
#include "../ring.h"
#include "../timing.h"

namespace ivfs {
namespace port {
namespace {

// Bytes of DATA one scan sends before the next wake: large enough for the
// port's throughput, small enough that a SIDE (the heartbeat) is never far
// behind.
constexpr size_t kScanBudget = 1 << 20;
// A forwarded table operation waits this long for side a's answer.
constexpr auto kForwardWait = std::chrono::milliseconds(kLockGiveUpMs);

// Set on the RX thread, which must never wait for what only it can receive.
thread_local bool on_rx_thread = false;

uint64_t random_nonce() {
  uint64_t n = 0;
  while (n == 0) {
    if (getrandom(&n, sizeof(n), 0) != sizeof(n)) n = uint64_t(monotonic_ms()) * 0x9e3779b97f4a7c15ull ^ uint64_t(getpid());
  }
  return n;
}

std::string host_name() {
  char buf[64] = {0};
  gethostname(buf, sizeof(buf) - 1);
  return buf;
}

}  // namespace

PortTransport::PortTransport(std::shared_ptr<MemsectionSet> set, std::unique_ptr<Link> link) : set_(std::move(set)), link_(std::move(link)) {
  stop_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  state_.state = "handshaking";
}

PortTransport::~PortTransport() {
  stop(false);
  if (stop_fd_ >= 0) ::close(stop_fd_);
}

void PortTransport::start(uint32_t side, std::shared_ptr<ChannelTable> table) {
  // A second start would assign over running (or joined) threads.
  if (started_) throw std::logic_error("port transport started twice");
  started_ = true;
  side_ = side;
  table_ = std::move(table);
  mirror_ = std::make_unique<Mirror>(*set_, side_, *table_);
  mirror_->pin();
  // Whatever the file says of the peer is from an earlier session.
  mirror_->disconnect_reset();
  // The table may outlive us (a worker thread's TableHold): the hooks hold
  // the transport weakly.
  std::weak_ptr<PortTransport> me = weak_from_this();
  if (side_ == 1) {
    table_->forward = [me](const TableOp &op) {
      std::shared_ptr<PortTransport> t = me.lock();
      return t ? t->forward(op) : TableResult{-ENOTCONN};
    };
  }
  table_->changed = [me] {
    std::shared_ptr<PortTransport> t = me.lock();
    if (!t) return;
    t->wake_tx();
    // Not on the RX thread (a forwarded operation): the ACK comes through it.
    if (t->side_ == 0 && !on_rx_thread) t->wait_for_ack(load_acquire(&t->set_->header()->table_version));
  };
  rx_ = std::thread([this] { rx_run(); });
  tx_ = std::thread([this] { tx_run(); });
}

void PortTransport::stop(bool flush) {
  if (stopping_.load()) {
    if (rx_.joinable()) rx_.join();
    if (tx_.joinable()) tx_.join();
    return;
  }
  flush_ = flush;
  stopping_ = true;
  // Wakes the RX thread's poll (it cannot fail: an eventfd far from full).
  const uint64_t one = 1;
  (void)!write(stop_fd_, &one, sizeof(one));
  wake_tx();
  // The TX thread sends its last scan and BYE before it leaves; then the
  // RX thread may stop reading.
  if (tx_.joinable()) tx_.join();
  if (rx_.joinable()) rx_.join();
  {
    std::lock_guard<std::mutex> g(mu_);
    state_.state = "closed";
  }
  cv_.notify_all();
}

PortState PortTransport::state() const {
  std::lock_guard<std::mutex> g(mu_);
  return state_;
}

void PortTransport::wake_tx() {
  if (set_) ring_bell(set_->header()->side[1 - side_], nullptr);  // the word the TX thread sleeps on (pinned to futex)
}

bool PortTransport::send_all(const std::vector<uint8_t> &bytes) {
  std::lock_guard<std::mutex> g(write_mu_);
  const int fd = fd_.load();
  if (fd < 0) return false;
  size_t off = 0;
  uint64_t give_up_at = 0;  // once stopping: the last state gets a bounded while to leave
  while (off < bytes.size()) {
    ssize_t n = send(fd, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == ENOTSOCK) n = write(fd, bytes.data() + off, bytes.size() - off);
    if (n > 0) {
      off += size_t(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      // The far side reads slowly, or a virtio port's host end is away:
      // wait for room, but hear a stop (the eventfd stays readable after
      // one, so it is only asked before).
      const bool stopping = stopping_.load();
      if (stopping && give_up_at == 0) give_up_at = monotonic_ms() + kLivenessWatchMs;
      if (stopping && monotonic_ms() > give_up_at) return false;
      pollfd fds[2] = {{fd, POLLOUT, 0}, {stop_fd_, POLLIN, 0}};
      poll(fds, stopping ? 1 : 2, int(kHeartbeatMs));
      continue;
    }
    return false;
  }
  std::lock_guard<std::mutex> s(mu_);
  state_.bytes_out += bytes.size();
  return true;
}

void PortTransport::send_hello(uint64_t echo) {
  std::vector<uint8_t> out;
  encode(out, make_hello(side_, set_->geometry(), my_nonce_, echo, host_name()));
  send_all(out);
}

void PortTransport::end_session(const std::string &error) {
  const bool was = established_.exchange(false);
  if (was) mirror_->disconnect_reset();
  {
    std::lock_guard<std::mutex> g(mu_);
    state_.state = "closed";
    if (!error.empty()) state_.last_error = error;
    for (auto &[id, result] : pending_) {
      if (!result) result = TableResult{-ENOTCONN};
    }
  }
  cv_.notify_all();
}

void PortTransport::rx_run() {
  on_rx_thread = true;
  while (!stopping_) {
    const int fd = link_->next_session(stop_fd_);
    if (fd < 0) break;
    {
      std::lock_guard<std::mutex> g(mu_);
      state_.state = "handshaking";
    }
    // Non-blocking, so that neither thread can be stuck in a call at stop.
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    fd_ = fd;
    // A nonce per session: a peer that stayed on the line (a virtio port)
    // sees that this is a new one and starts over too.
    my_nonce_ = random_nonce();
    {
      std::lock_guard<std::mutex> g(mu_);
      acked_version_ = 0;
    }
    run_session();
    end_session("");
    // A TX thread inside send() is let go before the descriptor is.
    shutdown(fd, SHUT_RDWR);
    {
      std::lock_guard<std::mutex> g(write_mu_);
      fd_ = -1;
    }
    link_->end_session(fd);
    if (!stopping_) {  // not at once: a peer that refuses us would be asked again in a loop
      pollfd p{stop_fd_, POLLIN, 0};
      poll(&p, 1, int(kHeartbeatMs));
    }
  }
  std::lock_guard<std::mutex> g(mu_);
  state_.state = "closed";
}

void PortTransport::run_session() {
  const int fd = fd_.load();
  Decoder decoder(side_, set_->geometry().capacity);
  uint64_t peer_nonce = 0;
  bool sent_echo = false, got_echo = false;
  std::vector<uint8_t> buf(kMaxFrameBytes);
  send_hello(0);
  auto last_hello = std::chrono::steady_clock::now();
  while (!stopping_) {
    pollfd fds[2] = {{fd, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
    int ready = poll(fds, 2, int(kHeartbeatMs));
    if (stopping_) break;
    if (!established_ && std::chrono::steady_clock::now() - last_hello > std::chrono::seconds(1)) {
      send_hello(peer_nonce);  // the peer may have missed ours
      last_hello = std::chrono::steady_clock::now();
    }
    if (ready <= 0 || !(fds[0].revents & (POLLIN | POLLHUP | POLLERR))) continue;
    ssize_t n = read(fd, buf.data(), buf.size());
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) {
      // The far side closed, or went with bytes of ours unread (a reset):
      // a session's end, not an error.
      const bool ended = n == 0 || errno == ECONNRESET || errno == EPIPE;
      end_session(ended ? "" : std::string("port read: ") + strerror(errno));
      return;
    }
    {
      std::lock_guard<std::mutex> g(mu_);
      state_.bytes_in += uint64_t(n);
    }
    size_t off = 0;
    std::string violation;
    while (off < size_t(n) && violation.empty()) {
      off += decoder.feed(buf.data() + off, size_t(n) - off);
      if (const WireError *e = decoder.error()) {
        violation = e->reason;
        break;
      }
      const Frame *f = decoder.frame();
      if (!f) continue;
      {
        std::lock_guard<std::mutex> g(mu_);
        state_.frames_in++;
      }
      if (auto h = f->as<HelloRecord>()) {
        std::string why = check_hello(*h, side_, set_->geometry());
        if (!why.empty()) {  // not a stranger's lie but a peer that cannot join: said as it is
          end_session(why);
          return;
        }
        if (established_ && h->nonce != peer_nonce) return;  // the peer restarted: its HELLO comes again in the next session
        if (h->nonce != peer_nonce) {
          peer_nonce = h->nonce;
          sent_echo = got_echo = false;
        }
        if (!sent_echo) {
          send_hello(peer_nonce);
          sent_echo = true;
        }
        if (h->echo == my_nonce_) got_echo = true;
        if (sent_echo && got_echo && !established_) {
          decoder.establish();
          // Side b's sync dump may offer its channels (ENTRY from b) until its SYNC_END.
          if (side_ == 0) decoder.set_peer_sync_dump(true);
          mirror_->open_session();
          {
            std::lock_guard<std::mutex> g(mu_);
            state_.state = "established";
          }
          session_++;
          established_ = true;
          wake_tx();
        }
      } else if (auto bye = f->as<ByeRecord>()) {
        end_session(bye->reason == kByeError ? "the peer ended the session after an error" : "");
        return;
      } else if (auto r = f->as<TableResultRecord>()) {
        complete(*r);
      } else if (auto ack = f->as<TableAckRecord>()) {
        {
          std::lock_guard<std::mutex> g(mu_);
          if (ack->version > acked_version_) acked_version_ = ack->version;
        }
        cv_.notify_all();
      } else if (established_) {
        violation = mirror_->apply(*f);
        if (f->type == FrameType::kSyncEnd && side_ == 0) decoder.set_peer_sync_dump(false);
      }
    }
    if (!violation.empty()) {
      std::vector<uint8_t> out;
      encode(out, ByeRecord{kByeError, 0});
      send_all(out);
      end_session("protocol error from side " + std::string(side_ == 0 ? "b" : "a") + ": " + violation);
      return;
    }
    wake_tx();  // replies to send (POSITION, TABLE_RESULT)
  }
}

void PortTransport::tx_run() {
  SideState &bell_side = set_->header()->side[1 - side_];
  uint64_t session_seen = 0;
  std::vector<uint8_t> out;
  for (;;) {
    const bool stopping = stopping_.load();
    const uint32_t seen = load_acquire(&bell_side.bell);
    bool more = false;
    if (established_) {
      out.clear();
      const uint64_t session = session_.load();
      if (session != session_seen) {
        session_seen = session;
        mirror_->begin_session();
        mirror_->sync_dump(out);
      }
      {
        std::lock_guard<std::mutex> g(mu_);
        out.insert(out.end(), outbox_.begin(), outbox_.end());
        outbox_.clear();
      }
      more = mirror_->scan(out, kScanBudget);
      if (stopping && flush_) encode(out, ByeRecord{kByeDetach, 0});
      // A write that fails ends the session where sessions end: the RX
      // thread, the only writer of the peer's fields, sees the stream close.
      if (!out.empty() && !send_all(out)) {
        std::lock_guard<std::mutex> g(write_mu_);
        if (fd_.load() >= 0) shutdown(fd_.load(), SHUT_RDWR);
      }
    }
    if (stopping) return;
    if (more) continue;
    // No lost wake-up: the bell was read before the scan, and every change
    // the scan did not see rings it after (release before FUTEX_WAKE).
    timespec ts{0, long(kHeartbeatMs) * 1000000L};
    syscall(SYS_futex, &bell_side.bell, FUTEX_WAIT, seen, &ts, nullptr, 0);
  }
}

TableResult PortTransport::forward(const TableOp &op) {
  std::unique_lock<std::mutex> g(mu_);
  if (!established_ || stopping_) return TableResult{-ENOTCONN};
  const uint32_t id = ++next_request_;
  TableOpRecord r{};
  r.request_id = id;
  r.op = op.kind == TableOp::kCreate ? kOpCreate : op.kind == TableOp::kUnlink ? kOpUnlink : kOpSetAttributes;
  r.mode = op.change.mode.value_or(op.mode) & 07777;
  r.uid = op.change.uid.value_or(op.uid);
  r.gid = op.change.gid.value_or(op.gid);
  r.set_mask = (op.change.mode ? kSetMode : 0) | (op.change.uid ? kSetUid : 0) | (op.change.gid ? kSetGid : 0) | (op.change.atime_ms ? kSetAtime : 0) |
               (op.change.mtime_ms ? kSetMtime : 0);
  r.atime_ms = op.change.atime_ms.value_or(0);
  r.mtime_ms = op.change.mtime_ms.value_or(0);
  r.now_ms = op.now_ms;
  put_string(r.name, op.name);
  encode(outbox_, r);
  pending_[id] = std::nullopt;
  g.unlock();
  wake_tx();
  g.lock();
  cv_.wait_for(g, kForwardWait, [&] { return pending_[id].has_value(); });
  TableResult result = pending_[id].value_or(TableResult{-EBUSY});
  pending_.erase(id);
  return result;
}

void PortTransport::wait_for_ack(uint64_t version) {
  std::unique_lock<std::mutex> g(mu_);
  cv_.wait_for(g, std::chrono::milliseconds(kLivenessWatchMs), [&] { return acked_version_ >= version || !established_ || stopping_; });
}

void PortTransport::complete(const TableResultRecord &r) {
  {
    std::lock_guard<std::mutex> g(mu_);
    auto it = pending_.find(r.request_id);
    if (it == pending_.end() || it->second) return;  // timed out, or not ours: nothing waits
    it->second = TableResult{r.err, r.slot, r.generation};
  }
  cv_.notify_all();
}

}  // namespace port
}  // namespace ivfs
