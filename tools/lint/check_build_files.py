#!/usr/bin/env python3
"""Checks the BUILD files' hygiene rules (docs/ARCHITECTURE.md, "Build"):

1. Targets are private by default: no package makes everything public, except the build
   infrastructure packages listed in INFRASTRUCTURE.
2. Every C++ target goes through the project's macros (tools/bazel/sbmt.bzl), so the shared
   warning flags (-Werror) apply everywhere: no native cc_binary/cc_library/cc_test in BUILD files.
3. Flags one configuration alone understands sit inside a select(): -O3 (optimized builds only)
   and x86 instruction-set flags (-m<isa>, -march), so debug builds stay debuggable and the
   workspace builds on aarch64.

    tools/lint/check_build_files.py [ROOT]     # exits 1 and lists each violation
"""
import os
import re
import sys

INFRASTRUCTURE = {"tools/bazel", "tools/bazel/remote_coverage_tools_stub", "tools/testing",
                  "tests/util"}
NATIVE_CC = re.compile(r"^\s*(cc_binary|cc_library|cc_test)\(", re.M)
GUARDED_FLAG = re.compile(r'"(-O3|-march=[^"]*|-mavx[^"]*|-mfma|-msse[^"]*|-mprefer-vector-width=[^"]*)"')


def select_spans(text):
    """[start, end) of every select(...) call's parentheses."""
    spans = []
    for m in re.finditer(r"\bselect\(", text):
        depth, i = 0, m.end() - 1
        while i < len(text):
            if text[i] == "(":
                depth += 1
            elif text[i] == ")":
                depth -= 1
                if depth == 0:
                    break
            i += 1
        spans.append((m.start(), i + 1))
    return spans


def check(root):
    problems = []
    for dirpath, dirnames, filenames in os.walk(root):
        top = os.path.abspath(dirpath) == root
        dirnames[:] = [d for d in dirnames
                       if not d.startswith((".", "bazel-")) and not (top and d in ("data", "runs"))]
        if "BUILD" not in filenames:
            continue
        path = os.path.join(dirpath, "BUILD")
        package = os.path.relpath(dirpath, root).replace(os.sep, "/")
        text = open(path).read()
        line_of = lambda pos: text.count("\n", 0, pos) + 1
        if package not in INFRASTRUCTURE and re.search(
                r'default_visibility\s*=\s*\["//visibility:public"\]', text):
            problems.append(f"{path}: package is public by default; make it private and give "
                            "shared targets a visibility list")
        for m in NATIVE_CC.finditer(text):
            problems.append(f"{path}:{line_of(m.start())}: native {m.group(1)}; use the "
                            f"sbmt_{m.group(1)} macro from //tools/bazel:sbmt.bzl")
        spans = select_spans(text)
        for m in GUARDED_FLAG.finditer(text):
            if not any(a <= m.start() < b for a, b in spans):
                problems.append(f"{path}:{line_of(m.start())}: {m.group(1)} outside a select(); "
                                "it must apply only where it is understood")
    return problems


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..")
    problems = check(os.path.abspath(root))
    for p in problems:
        print(p)
    if problems:
        print(f"{len(problems)} BUILD hygiene problem(s)")
        return 1
    print("BUILD files: private by default, project macros, guarded flags: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
