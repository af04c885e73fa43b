// The engine's open descriptors by handle, looked up on every read and write.
//
// One mutex for the whole table was a lock every request of every channel
// took: with 16 channels streaming on 2 CPUs its cache line moved between
// them on each request, and contended lockers slept on it (a private futex
// each way). Here handles spread over stripes, each with its own lock and
// map on its own cache line, so requests of different descriptors never
// touch the same lock. Handles are handed out in order, so descriptors
// opened one after another land in different stripes.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>

namespace ivfs {

template <class T>
class DescriptorTable {
 public:
  // A new handle (> 0) for `value`.
  uint64_t add(std::shared_ptr<T> value) {
    uint64_t h = next_.fetch_add(1, std::memory_order_relaxed);
    Stripe &s = stripe(h);
    std::lock_guard<std::mutex> g(s.mu);
    s.map.emplace(h, std::move(value));
    return h;
  }
  // The descriptor of `h`, or null.
  std::shared_ptr<T> find(uint64_t h) {
    Stripe &s = stripe(h);
    std::lock_guard<std::mutex> g(s.mu);
    auto it = s.map.find(h);
    return it == s.map.end() ? nullptr : it->second;
  }
  // Removes `h` and returns its descriptor, or null when there was none.
  std::shared_ptr<T> take(uint64_t h) {
    Stripe &s = stripe(h);
    std::lock_guard<std::mutex> g(s.mu);
    auto it = s.map.find(h);
    if (it == s.map.end()) return nullptr;
    std::shared_ptr<T> v = std::move(it->second);
    s.map.erase(it);
    return v;
  }
  // How many are open (each stripe read under its lock; not one instant).
  size_t size() {
    size_t n = 0;
    for (Stripe &s : stripes_) {
      std::lock_guard<std::mutex> g(s.mu);
      n += s.map.size();
    }
    return n;
  }

 private:
  static constexpr size_t kStripes = 64;
  struct alignas(64) Stripe {
    std::mutex mu;
    std::unordered_map<uint64_t, std::shared_ptr<T>> map;
  };
  Stripe &stripe(uint64_t h) { return stripes_[h % kStripes]; }

  std::array<Stripe, kStripes> stripes_;
  std::atomic<uint64_t> next_{1};
};

}  // namespace ivfs
