// The port transport's threads (docs/design/port-transport.md, section 6.2):
// one side's private set kept in step with the far side's over a connected
// byte stream, through the mirror (mirror.h) and the wire format (wire.h).
//
//   RX thread  reads the stream, handshakes (HELLO, section 4.2), applies
//              each frame to our copy, completes side b's forwarded table
//              operations; the only writer of the peer's fields here.
//   TX thread  sleeps on the peer's bell in our copy (our engine rings it
//              after every read and write, through the mirror's pins) or
//              250 ms, then sends what changed; the stream's only writer
//              once a session is established.
//
// Sessions follow one another on the link (link.h): when one ends (the
// stream closed, BYE, a violation), the peer counts as detached in our copy
// (EOF, EPIPE), and the next connection syncs positions again (POSITION).
// A violation is kept in state().last_error and logged by the caller.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "../channel_table.h"
#include "../memsection_set.h"
#include "link.h"
#include "mirror.h"

namespace ivfs {
namespace port {

struct PortState {
  std::string state;  // "handshaking", "established", "closed"
  std::string last_error;
  uint64_t frames_in = 0, frames_out = 0, bytes_in = 0, bytes_out = 0;
};

class PortTransport : public std::enable_shared_from_this<PortTransport> {
 public:
  // Nothing runs before start(). Made by std::make_shared: the table's
  // hooks hold it weakly.
  PortTransport(std::shared_ptr<MemsectionSet> set, std::unique_ptr<Link> link);
  ~PortTransport();
  PortTransport(const PortTransport &) = delete;
  PortTransport &operator=(const PortTransport &) = delete;

  // Pins the peer's words in our copy, marks the peer detached until it
  // speaks, and starts both threads for `side`, whose table is `table`.
  // Side b's table changes are forwarded to side a from then on.
  void start(uint32_t side, std::shared_ptr<ChannelTable> table);
  // Once start() has run, the transport is spent: its threads run once, and
  // after stop() its link is closed. A side attaches again on a new one.
  bool started() const { return started_; }
  // Stops both threads. With `flush`, first sends what changed (our zeroed
  // counts after a detach) and BYE, so the peer sees a clean detach.
  void stop(bool flush);
  PortState state() const;

 private:
  void rx_run();
  // One session on fd_, until it ends or we stop.
  void run_session();
  void tx_run();
  // Whole frames, from either thread (RX only while handshaking).
  bool send_all(const std::vector<uint8_t> &bytes);
  void send_hello(uint64_t echo);
  // The session is over (the stream ended, BYE, a violation): the peer is
  // detached in our copy and waiting table operations end with ENOTCONN.
  void end_session(const std::string &error);
  TableResult forward(const TableOp &op);
  // Side a, after a table change: until side b has applied `version` (its
  // TABLE_ACK), the session ends, or a second passes.
  void wait_for_ack(uint64_t version);
  void complete(const TableResultRecord &r);
  void wake_tx();

  std::shared_ptr<MemsectionSet> set_;
  std::unique_ptr<Link> link_;
  std::atomic<int> fd_{-1};  // the session's descriptor, -1 between sessions
  int stop_fd_ = -1;  // an eventfd: wakes the RX thread's poll at stop
  uint32_t side_ = 0;
  std::shared_ptr<ChannelTable> table_;
  std::unique_ptr<Mirror> mirror_;

  std::mutex write_mu_;
  bool started_ = false;  // set by start(), on the caller's thread only
  std::atomic<bool> stopping_{false}, flush_{false};
  std::atomic<bool> established_{false};
  std::atomic<uint64_t> session_{0};  // +1 at every establishment: the TX thread starts a sync dump
  uint64_t my_nonce_ = 0;

  mutable std::mutex mu_;  // state_ and the forwarded requests
  std::condition_variable cv_;
  PortState state_;
  uint32_t next_request_ = 0;
  uint64_t acked_version_ = 0;  // side a: the table version side b has applied
  std::map<uint32_t, std::optional<TableResult>> pending_;
  std::vector<uint8_t> outbox_;  // TABLE_OPs for the TX thread

  std::thread rx_, tx_;
};

}  // namespace port
}  // namespace ivfs
