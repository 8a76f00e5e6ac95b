"""libtorch_repository: the LibTorch that `--config=cuda` builds train with.

With SBMT_LIBTORCH set to a LibTorch directory (the official archive's layout, include/ and
lib/, which a pip torch package directory such as .../site-packages/torch also has), @libtorch
wraps it: headers, libraries (rpath to its lib/), and, when it holds libtorch_cuda.so, the
define SBMT_TORCH_CUDA that turns on the attention binding's CUDA path. Without SBMT_LIBTORCH,
@libtorch is empty and every build uses Debian's CPU LibTorch (@system//:torch).
//tools/bazel:torch picks between them (BUILD there).

    SBMT_LIBTORCH=$(python3 -c 'import torch, os; print(os.path.dirname(torch.__file__))') \\
        bazel build -c opt --config=cuda //trainer/train:sbmt_worker

LibTorch must use the C++11 ABI (the "cxx11 ABI" archives; pip wheels from torch 2.7 on), as
the Debian libraries it is linked with do.
"""

def _libtorch_impl(ctx):
    path = ctx.os.environ.get("SBMT_LIBTORCH", "")
    if not path:
        ctx.file("BUILD", "# SBMT_LIBTORCH is not set: builds use Debian's LibTorch.\n")
        ctx.file("defs.bzl", "LIBTORCH = False\nLIBTORCH_CUDA = False\n")
        return
    # (Bazel 4's path.get_child takes one component, hence the joined strings.)
    for sub in ["include/torch/csrc/api/include", "lib/libtorch.so", "lib/libc10.so"]:
        if not ctx.path(path + "/" + sub).exists:
            fail("SBMT_LIBTORCH=%s: expected LibTorch's layout, but %s is missing" % (path, sub))
    ctx.symlink(ctx.path(path + "/include"), "include")
    ctx.symlink(ctx.path(path + "/lib"), "lib")
    cuda = ctx.path(path + "/lib/libtorch_cuda.so").exists
    libs = ["-ltorch", "-ltorch_cpu", "-lc10"]
    if cuda:
        libs += ["-ltorch_cuda", "-lc10_cuda"]
    lib = str(ctx.path(path + "/lib"))
    ctx.file("BUILD", """# LibTorch from SBMT_LIBTORCH={path} (tools/bazel/libtorch.bzl).
cc_library(
    name = "torch",
    hdrs = glob(["include/**/*.h", "include/**/*.cuh", "include/**/*.hpp"]),
    includes = ["include", "include/torch/csrc/api/include"],
    defines = {defines},
    linkopts = ["-L{lib}", "-Wl,-rpath,{lib}", "-Wl,--no-as-needed"] + {libs} + ["-Wl,--as-needed"],
    visibility = ["//visibility:public"],
)
""".format(path = path, lib = lib, libs = libs, defines = ["SBMT_TORCH_CUDA=1"] if cuda else []))
    ctx.file("defs.bzl", "LIBTORCH = True\nLIBTORCH_CUDA = %s\n" % cuda)

libtorch_repository = repository_rule(
    implementation = _libtorch_impl,
    environ = ["SBMT_LIBTORCH"],
    local = True,
)
