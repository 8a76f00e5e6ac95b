#!/usr/bin/env bash
# Copies the two third-party sources tools/gpu_check.sh needs and a bare GPU machine may lack
# (GoogleTest's source tree, nlohmann/json's header) from this machine's Debian packages into
# .gpu_check/ (ignored by git), where gpu_check.sh looks for them. For GPU machines that cannot
# install packages: copy or carry .gpu_check/ along with the checkout.
#
#   tools/gpu_check/bundle_third_party.sh && rsync -a . gpu-host:sbmt/ && ssh gpu-host sbmt/tools/gpu_check.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
for need in /usr/src/googletest/CMakeLists.txt /usr/include/nlohmann/json.hpp; do
  [[ -f $need ]] || { echo "bundle_third_party: $need missing (apt-get install googletest nlohmann-json3-dev)" >&2; exit 1; }
done
rm -rf .gpu_check
mkdir -p .gpu_check/include
cp -r /usr/src/googletest .gpu_check/googletest
cp -r /usr/include/nlohmann .gpu_check/include/nlohmann
du -sh .gpu_check
