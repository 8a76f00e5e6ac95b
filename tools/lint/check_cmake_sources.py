"""tools/gpu_check/CMakeLists.txt builds the same sources as the Bazel targets it names: each
'# bazel: //pkg:name' comment is followed by an add_library/add_executable whose .cc/.cu sources
must equal that Bazel target's srcs (read from pkg/BUILD), and every .cc/.cu file of
attention/cuda must be built by some CMake target. Prints each difference and exits 1.

    python3 tools/lint/check_cmake_sources.py [REPO_ROOT]     # tools/test.sh runs it
"""
import os
import re
import sys


def bazel_srcs(root, label):
    pkg, name = label[2:].split(":")
    text = open(os.path.join(root, pkg, "BUILD")).read()
    m = re.search(r'\n\s*name = "%s",' % re.escape(name), text)
    if m is None:  # a list comprehension: name = "prefix" + isa
        for pm in re.finditer(r'\n\s*name = "([^"]+)" \+ \w+,', text):
            if name.startswith(pm.group(1)):
                m = pm
                break
    if m is None:
        return None
    block = text[m.start():]
    end = re.search(r"\n\)", block)
    block = block[:end.start()] if end else block
    srcs = re.search(r"srcs = \[(.*?)\]", block, re.S)
    files = re.findall(r'"([^"]+)"', srcs.group(1)) if srcs else []
    return sorted(os.path.join(pkg, f) for f in files if f.endswith((".cc", ".cu")))


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.getcwd()
    cmake = open(os.path.join(root, "tools/gpu_check/CMakeLists.txt")).read()
    failures, checked, built = [], 0, set()
    for m in re.finditer(r"# bazel: (//[\w/]+:\w+)\n\s*add_(?:library|executable)\(([^)]*)\)",
                         cmake):
        label, body = m.group(1), m.group(2)
        mine = sorted(re.findall(r"\$\{ROOT\}/([\w/.]+\.(?:cc|cu))", body))
        built.update(mine)
        theirs = bazel_srcs(root, label)
        checked += 1
        if theirs is None:
            failures.append("%s: no such Bazel target" % label)
        elif mine != theirs:
            failures.append("%s: CMake builds %s, Bazel %s" % (label, mine, theirs))
    cuda_dir = os.path.join(root, "attention/cuda")
    for f in sorted(os.listdir(cuda_dir)):
        if f.endswith((".cu", ".cc")) and "attention/cuda/" + f not in built:
            failures.append("attention/cuda/%s: built by no CMake target" % f)
    if checked < 10:
        failures.append("only %d '# bazel:' targets found in CMakeLists.txt" % checked)
    for f in failures:
        print("check_cmake_sources: " + f)
    if failures:
        return 1
    print("check_cmake_sources: %d CMake targets build the sources of their Bazel targets" %
          checked)
    return 0


if __name__ == "__main__":
    sys.exit(main())
