// The guest side of an ivshmem-doorbell device: ringing a peer guest and
// sleeping until a peer rings us. Interrupts between VMs, the "doorbell"
// notifier.
//
// BAR 0 of the device holds four 32-bit registers (QEMU's ivshmem spec):
//   0 IntrMask  4 IntrStatus  8 IVPosition (our peer id)
//   12 Doorbell (write: peer id << 16 | vector)
// QEMU's ivshmem-doorbell interrupts only through MSI-X (it has no legacy
// INTx path), so waiting needs a driver that enables MSI-X for userspace:
// VFIO. Two ways to open the device:
//   - ring only: BAR 0 mapped through sysfs (resource0); any driver or none.
//     For a side that polls but must still wake a peer that sleeps.
//   - VFIO (the device bound to vfio-pci in an IOMMU group): BAR 0 is
//     reached through the VFIO device, and MSI-X vector 0 signals an eventfd
//     that wait() sleeps on.
//
// Thread use: ring() may run on any thread; wait() on the notifier thread
// only; interrupt_wait() on any thread.
#pragma once

#include <cstdint>
#include <string>

namespace ivfs {

class Doorbell {
 public:
  // Ring only: maps `bar0_path` (sysfs resource0). Throws SetError.
  static Doorbell *ring_only(const std::string &bar0_path);
  // Ring and wait through VFIO: `group_path` is /dev/vfio/<group>, `bdf` the
  // device's PCI address. Throws SetError saying which step failed.
  static Doorbell *vfio(const std::string &group_path, const std::string &bdf);
  ~Doorbell();
  Doorbell(const Doorbell &) = delete;
  Doorbell &operator=(const Doorbell &) = delete;

  // Our own peer id (IVPosition). Zero both for peer 0 and for a device that
  // is not connected to a doorbell server, which the spec cannot tell apart.
  uint32_t own_id() const;
  // Raises vector 0 in peer `peer_id` (masked to the register's 16 bits; a
  // hostile id rings a wrong or absent peer, which QEMU ignores).
  void ring(uint32_t peer_id);
  bool can_wait() const { return irq_fd_ >= 0; }
  // Sleeps until an interrupt, interrupt_wait() or `timeout_ms`. Returns true
  // when an interrupt arrived.
  bool wait(int timeout_ms);
  // Makes a wait() in progress (or the next one) return at once.
  void interrupt_wait();

 private:
  Doorbell() = default;
  uint32_t read_reg(int index) const;
  void write_reg(int index, uint32_t value);

  volatile uint32_t *regs_ = nullptr;  // ring only: mapped BAR 0
  int container_fd_ = -1, group_fd_ = -1, device_fd_ = -1;
  uint64_t bar0_offset_ = 0;  // VFIO: where BAR 0 is in the device fd
  int irq_fd_ = -1;           // VFIO: eventfd signalled by MSI-X vector 0
  int stop_fd_ = -1;          // eventfd that ends a wait early
};

}  // namespace ivfs
