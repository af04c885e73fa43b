// What a port transport talks through (docs/design/port-transport.md 5.1):
// a byte stream to the far side, opened anew for every session.
//   unix:PATH         connects to a listening Unix socket, again every
//                     250 ms until it answers (the far side may come later)
//   unix-listen:PATH  listens there and takes one connection at a time
//   fd:N              an inherited connected descriptor: one session only
//   /dev/...          a character device, such as a virtio-serial port
//                     (/dev/vport0p1), kept open across sessions
// Errors a user can act on (a missing device, a socket path in use) are
// thrown as SetError when the link is made, so a mount refuses at once.
#pragma once

#include <memory>
#include <string>

namespace ivfs {
namespace port {

class Link {
 public:
  virtual ~Link() = default;
  // The descriptor of the next session, or -1 once `stop_fd` is readable
  // or the link can give no more (fd:N after its one session). May wait.
  virtual int next_session(int stop_fd) = 0;
  // The session on `fd` is over: close it, or keep it for the next one.
  virtual void end_session(int fd) = 0;
  // As the user wrote it, for messages.
  virtual const std::string &name() const = 0;
};

// Parses and opens a link; throws SetError("port-link", why) naming it.
std::unique_ptr<Link> open_link(const std::string &spec);

}  // namespace port
}  // namespace ivfs
