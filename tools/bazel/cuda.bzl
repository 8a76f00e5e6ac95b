"""cuda_library: CUDA kernels compiled by nvcc from /usr/local/cuda, only under --config=cuda.

    cuda_library(
        name = "saxpy",
        srcs = ["saxpy.cu"],
        hdrs = ["saxpy.h"],   # plain C++ declarations: callers need no CUDA headers
    )

Without --config=cuda the target (and anything that depends on it) is incompatible, so
`bazel build //...` and `bazel test //...` skip it and need no CUDA toolkit. With it, each .cu
file becomes an object for sm_80 and sm_90 (plus sm_90 PTX, so newer GPUs can JIT), linked with
cudart. A .cu file may include the headers listed in hdrs/textual_hdrs, headers of the workspace
passed in `cuda_hdrs`, and the CUDA toolkit's headers.
"""

NVCC = "/usr/local/cuda/bin/nvcc"

CUDA_ARCH_FLAGS = [
    "-gencode=arch=compute_80,code=sm_80",
    "-gencode=arch=compute_90,code=sm_90",
    "-gencode=arch=compute_90,code=compute_90",
]

NVCC_FLAGS = [
    "-std=c++17",
    "-O3",
    "-Xcompiler=-fPIC",
    "-Xcompiler=-Wall",
    "--expt-relaxed-constexpr",
    "-Werror=all-warnings",
]

# Apply to any target that must only build when CUDA is enabled.
CUDA_ONLY = select({
    "//tools/bazel:cuda_enabled": [],
    "//conditions:default": ["//tools/bazel:incompatible"],
})

def cuda_library(name, srcs, hdrs = None, textual_hdrs = None, cuda_hdrs = None, deps = None,
                 visibility = None, nvcc_flags = None):
    hdrs = hdrs or []
    textual_hdrs = textual_hdrs or []
    objs = ["_cuda_objs/%s/%s.o" % (name, src[:-len(".cu")]) for src in srcs]

    commands = []
    for src, obj in zip(srcs, objs):
        commands.append(
            "%s %s -I. -I$(GENDIR) -c $(location %s) -o $(location %s)" % (
                NVCC,
                " ".join(NVCC_FLAGS + CUDA_ARCH_FLAGS + (nvcc_flags or [])),
                src,
                obj,
            ),
        )

    native.genrule(
        name = name + "_nvcc",
        srcs = srcs + hdrs + textual_hdrs + (cuda_hdrs or []),
        outs = objs,
        cmd = " && ".join(commands),
        message = "nvcc " + " ".join(srcs),
        target_compatible_with = CUDA_ONLY,
    )

    native.cc_library(
        name = name,
        srcs = objs,
        hdrs = hdrs,
        textual_hdrs = textual_hdrs,
        deps = (deps or []) + ["@cuda//:cudart"],
        alwayslink = True,
        target_compatible_with = CUDA_ONLY,
        visibility = visibility,
    )
