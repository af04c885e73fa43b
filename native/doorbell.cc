#include "doorbell.h"

#include <fcntl.h>
#include <linux/pci_regs.h>
#include <linux/vfio.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "memsection_set.h"

namespace ivfs {
namespace {

// BAR 0 register indices (32-bit words), from QEMU's ivshmem specification.
constexpr int kIVPosition = 2, kDoorbell = 3;
constexpr size_t kBar0Map = 4096;  // sysfs maps whole pages; the BAR is 256 bytes

[[noreturn]] void fail(const std::string &what) { throw SetError("DOORBELL", what + ": " + std::strerror(errno)); }

}  // namespace

Doorbell *Doorbell::ring_only(const std::string &bar0_path) {
  int fd = ::open(bar0_path.c_str(), O_RDWR | O_SYNC | O_CLOEXEC);
  if (fd < 0) fail("cannot open the doorbell registers " + bar0_path);
  void *p = mmap(nullptr, kBar0Map, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  ::close(fd);
  if (p == MAP_FAILED) fail("cannot map the doorbell registers " + bar0_path);
  Doorbell *d = new Doorbell();
  d->regs_ = static_cast<volatile uint32_t *>(p);
  return d;
}

// The steps of the VFIO API (Documentation/driver-api/vfio.rst): a
// container with the type-1 IOMMU, our device's group in it, the device,
// then MSI-X vector 0 wired to an eventfd. We never map DMA: the device
// does none for us (its shared memory is a BAR, not guest RAM).
Doorbell *Doorbell::vfio(const std::string &group_path, const std::string &bdf) {
  std::unique_ptr<Doorbell> d(new Doorbell());
  d->container_fd_ = ::open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
  if (d->container_fd_ < 0) fail("cannot open /dev/vfio/vfio (is the vfio module loaded?)");
  if (ioctl(d->container_fd_, VFIO_GET_API_VERSION) != VFIO_API_VERSION) fail("unknown VFIO API version");
  if (!ioctl(d->container_fd_, VFIO_CHECK_EXTENSION, VFIO_TYPE1_IOMMU)) fail("VFIO has no type-1 IOMMU (load vfio_iommu_type1)");
  d->group_fd_ = ::open(group_path.c_str(), O_RDWR | O_CLOEXEC);
  if (d->group_fd_ < 0 && errno == EBUSY)
    fail("cannot open the VFIO group " + group_path + " (another process holds it: one mount per ivshmem device can wait for its interrupts, "
         "such as another area's mount with --notify doorbell; mount this one with --notify poll, which still rings doorbell peers)");
  if (d->group_fd_ < 0) fail("cannot open the VFIO group " + group_path);
  struct vfio_group_status status = {};
  status.argsz = sizeof status;
  if (ioctl(d->group_fd_, VFIO_GROUP_GET_STATUS, &status) != 0) fail("cannot query the VFIO group " + group_path);
  if (!(status.flags & VFIO_GROUP_FLAGS_VIABLE)) {
    errno = EBUSY;
    fail("VFIO group " + group_path + " is not viable (another device of the group is bound to a host driver)");
  }
  if (ioctl(d->group_fd_, VFIO_GROUP_SET_CONTAINER, &d->container_fd_) != 0) fail("cannot add the VFIO group to a container");
  if (ioctl(d->container_fd_, VFIO_SET_IOMMU, VFIO_TYPE1_IOMMU) != 0)
    fail("cannot set the VFIO IOMMU (without interrupt remapping, vfio_iommu_type1 needs allow_unsafe_interrupts=1)");
  d->device_fd_ = ioctl(d->group_fd_, VFIO_GROUP_GET_DEVICE_FD, bdf.c_str());
  if (d->device_fd_ < 0) fail("cannot get VFIO device " + bdf);
  struct vfio_region_info bar0 = {};
  bar0.argsz = sizeof bar0;
  bar0.index = VFIO_PCI_BAR0_REGION_INDEX;
  if (ioctl(d->device_fd_, VFIO_DEVICE_GET_REGION_INFO, &bar0) != 0 || bar0.size < 16) fail("cannot find BAR 0 of " + bdf);
  d->bar0_offset_ = bar0.offset;
  // MSI-X messages are writes by the device: it must be a bus master.
  struct vfio_region_info cfg = {};
  cfg.argsz = sizeof cfg;
  cfg.index = VFIO_PCI_CONFIG_REGION_INDEX;
  uint16_t command = 0;
  if (ioctl(d->device_fd_, VFIO_DEVICE_GET_REGION_INFO, &cfg) != 0 ||
      pread(d->device_fd_, &command, sizeof command, off_t(cfg.offset + PCI_COMMAND)) != sizeof command)
    fail("cannot read the PCI command register of " + bdf);
  command |= PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
  if (pwrite(d->device_fd_, &command, sizeof command, off_t(cfg.offset + PCI_COMMAND)) != sizeof command) fail("cannot enable bus mastering of " + bdf);
  d->irq_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  d->stop_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (d->irq_fd_ < 0 || d->stop_fd_ < 0) fail("eventfd");
  alignas(struct vfio_irq_set) char buf[sizeof(struct vfio_irq_set) + sizeof(int32_t)] = {};
  auto *set = reinterpret_cast<struct vfio_irq_set *>(buf);
  set->argsz = sizeof buf;
  set->flags = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER;
  set->index = VFIO_PCI_MSIX_IRQ_INDEX;
  set->start = 0;
  set->count = 1;
  int32_t efd = d->irq_fd_;
  std::memcpy(set->data, &efd, sizeof efd);
  if (ioctl(d->device_fd_, VFIO_DEVICE_SET_IRQS, set) != 0)
    fail("cannot route MSI-X vector 0 of " + bdf + " to an eventfd; a device without MSI-X is not an ivshmem-doorbell (ivshmem-plain has no interrupts: use --notify poll there)");
  return d.release();
}

Doorbell::~Doorbell() {
  if (regs_) munmap(const_cast<uint32_t *>(regs_), kBar0Map);
  for (int fd : {irq_fd_, stop_fd_, device_fd_, group_fd_, container_fd_})
    if (fd >= 0) ::close(fd);
}

uint32_t Doorbell::read_reg(int index) const {
  if (regs_) return regs_[index];
  uint32_t v = 0;
  if (pread(device_fd_, &v, sizeof v, off_t(bar0_offset_ + 4 * index)) != sizeof v) return 0;
  return v;
}

void Doorbell::write_reg(int index, uint32_t value) {
  if (regs_) {
    regs_[index] = value;
    return;
  }
  // A failed write loses one ring; the sleeper's tick still finds the bell.
  (void)pwrite(device_fd_, &value, sizeof value, off_t(bar0_offset_ + 4 * index));
}

uint32_t Doorbell::own_id() const { return read_reg(kIVPosition) & 0xffffu; }

void Doorbell::ring(uint32_t peer_id) { write_reg(kDoorbell, (peer_id & 0xffffu) << 16); }

bool Doorbell::wait(int timeout_ms) {
  struct pollfd fds[2] = {{irq_fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
  if (::poll(fds, 2, timeout_ms) <= 0) return false;
  uint64_t count = 0;
  if (fds[1].revents & POLLIN) (void)::read(stop_fd_, &count, sizeof count);
  // MSI-X is edge-like: the eventfd counts interrupts until read, so one
  // that fired while we were not waiting is still seen here.
  return (fds[0].revents & POLLIN) && ::read(irq_fd_, &count, sizeof count) == sizeof count;
}

void Doorbell::interrupt_wait() {
  if (stop_fd_ < 0) return;
  uint64_t one = 1;
  (void)::write(stop_fd_, &one, sizeof one);
}

}  // namespace ivfs
