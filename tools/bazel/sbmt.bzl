"""Wrapper macros for sbmt's C++ targets: the shared compiler flags live here, once.

BUILD files list only srcs, hdrs and deps:

    load("//tools/bazel:sbmt.bzl", "sbmt_cc_library", "sbmt_cc_test")

    sbmt_cc_library(name = "sampler", srcs = ["sampler.cc"], hdrs = ["sampler.h"])
    sbmt_cc_test(name = "sampler_test", srcs = ["sampler_test.cc"], deps = [":sampler"])
"""

# Warnings are errors in our own code; -c opt builds must stay warning-clean.
SBMT_COPTS = [
    "-Wall",
    "-Wextra",
    "-Wno-unused-parameter",
    "-Werror",
]

def _copts(copts):
    return SBMT_COPTS + (copts or [])

def sbmt_cc_library(name, copts = None, **kwargs):
    native.cc_library(name = name, copts = _copts(copts), **kwargs)

def sbmt_cc_binary(name, copts = None, **kwargs):
    native.cc_binary(name = name, copts = _copts(copts), **kwargs)

def sbmt_cc_test(name, copts = None, deps = None, main = True, size = "small", **kwargs):
    """A GoogleTest test. main = False when the test brings its own main().

    Tests are small (60 s timeout) unless they say otherwise.
    """
    test_deps = ["@system//:gtest_main" if main else "@system//:gtest"]
    native.cc_test(
        name = name,
        copts = _copts(copts),
        deps = (deps or []) + test_deps,
        size = size,
        **kwargs
    )
