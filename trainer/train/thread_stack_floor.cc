// A floor under the stack size libraries ask for their threads, linked into sbmt_worker.
//
// Debian's CivetWeb (the HTTP server inside prometheus-cpp's Exposer) starts its threads with a
// small stack size fixed at compile time. glibc places a process's static TLS block on every
// thread's stack, and a process that links LibTorch loads some 290 shared libraries whose TLS
// together no longer fits: pthread_create refuses the threads, and the exposer fails with "null
// context when constructing CivetServer" ("Cannot create first worker thread" from mg_start2).
// This definition of pthread_attr_setstacksize, found before libc's by the dynamic linker,
// raises any request below glibc's default (8 MiB) to it; larger requests pass through.
#include <dlfcn.h>
#include <pthread.h>

#include <cstddef>

extern "C" int pthread_attr_setstacksize(pthread_attr_t* attr, size_t size) {
  using Setter = int (*)(pthread_attr_t*, size_t);
  static const Setter real =
      reinterpret_cast<Setter>(dlsym(RTLD_NEXT, "pthread_attr_setstacksize"));
  constexpr size_t kFloor = size_t{8} << 20;
  return real(attr, size < kFloor ? kFloor : size);
}
