// A cache of freed host blocks, by padded size: training allocates the same
// shapes every step, and fresh pages cost a page fault each (about 25 ms per
// 64 MB here), so a freed block is kept for the next tensor of its size.
// The cache holds at most `limit` bytes; beyond that blocks go back to the
// system.
#pragma once

#include <cstddef>
#include <map>
#include <mutex>
#include <new>
#include <vector>

namespace linea {

class BlockCache {
 public:
  BlockCache(size_t alignment, size_t limit) : alignment_(alignment), limit_(limit) {}
  ~BlockCache() { trim(); }

  // A block of exactly `padded` bytes, or nullptr when the system has none.
  void* take(size_t padded) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = free_.find(padded);
      if (it != free_.end() && !it->second.empty()) {
        void* p = it->second.back();
        it->second.pop_back();
        cached_ -= padded;
        return p;
      }
    }
    void* p = ::operator new(padded, std::align_val_t(alignment_), std::nothrow);
    if (!p) {
      trim();  // give the cache back and try once more
      p = ::operator new(padded, std::align_val_t(alignment_), std::nothrow);
    }
    return p;
  }

  void give(void* p, size_t padded) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (cached_ + padded <= limit_) {
        free_[padded].push_back(p);
        cached_ += padded;
        return;
      }
    }
    ::operator delete(p, std::align_val_t(alignment_));
  }

  void trim() {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& [size, blocks] : free_)
      for (void* p : blocks) ::operator delete(p, std::align_val_t(alignment_));
    free_.clear();
    cached_ = 0;
  }

  size_t cached_bytes() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return cached_;
  }

 private:
  const size_t alignment_;
  const size_t limit_;
  mutable std::mutex mutex_;
  std::map<size_t, std::vector<void*>> free_;
  size_t cached_ = 0;
};

}  // namespace linea
