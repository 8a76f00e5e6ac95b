// std::allocator without value-initialization on resize (see UninitializedAllocator).
#pragma once

#include <memory>
#include <type_traits>
#include <utility>

namespace sbmt::attention {

// An allocator whose resize leaves new elements uninitialized, for large buffers that their
// users fill themselves: zero-filling them first (one thread faulting in every page) cost up to
// a tenth of sampling and of the backward kernels at n = 4096.
template <typename T>
struct UninitializedAllocator : std::allocator<T> {
  template <typename U>
  struct rebind {
    using other = UninitializedAllocator<U>;
  };
  UninitializedAllocator() = default;
  template <typename U>
  UninitializedAllocator(const UninitializedAllocator<U>&) noexcept {}
  template <typename U>
  void construct(U* p) noexcept(std::is_nothrow_default_constructible_v<U>) {
    ::new (static_cast<void*>(p)) U;
  }
  template <typename U, typename... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }
};

}  // namespace sbmt::attention
