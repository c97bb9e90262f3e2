#!/usr/bin/env bash
# Install the pinned stack (requirements.txt) and the course itself into a virtual environment.
#
#   scripts/install_python.sh VENV_PYTHON
#
# With uv (pinned below, installed into the venv by pip) the ~6 GB stack, most of it torch's CUDA libraries,
# installs in well under a minute instead of the three that pip takes (bench/README.md, "Setting up .venv"):
# uv unpacks and byte-compiles in parallel. uv reads no pip configuration, so the indexes, local wheel
# folders and certificate that pip is configured with here (pip.conf, PIP_* variables) are handed to it.
# If uv cannot be installed or fails, pip installs the same pins, and says so. COURSE_INSTALLER=pip skips uv.
set -euo pipefail

python=${1:?usage: scripts/install_python.sh VENV_PYTHON}
UV_VERSION=0.13.10
quiet() { grep -v "is ignored: it is neither" || true; }  # pip's note about local index folders it lacks

pip_config() {  # the value pip would use for one option: PIP_ variable first, then pip.conf (may be empty)
  local variable=$1 key=$2 value
  value=${!variable:-}
  if [ -z "$value" ]; then value=$("$python" -m pip config get "global.$key" 2>/dev/null || true); fi
  echo "$value"
}

install_with_uv() {
  "$python" -m pip install -q "uv==$UV_VERSION" 2>&1 | quiet
  local uv options=() url cert
  uv="$(dirname "$python")/uv"
  [ -x "$uv" ] || return 1
  url=$(pip_config PIP_INDEX_URL index-url); [ -n "$url" ] && options+=(--index-url "$url")
  for url in $(pip_config PIP_EXTRA_INDEX_URL extra-index-url); do options+=(--extra-index-url "$url"); done
  for url in $(pip_config PIP_FIND_LINKS find-links); do options+=(--find-links "$url"); done
  cert=$(pip_config PIP_CERT cert)
  # The pins decide the versions; several indexes may hold a package (a local copy and PyPI), so uv may take
  # it from any of them (its default takes the first index that has the name, whatever versions it lacks).
  SSL_CERT_FILE=${cert:-${SSL_CERT_FILE:-}} "$uv" pip install -q --python "$python" --compile-bytecode \
    --index-strategy unsafe-best-match "${options[@]}" -r requirements.txt
}

started=$(date +%s)
installer=pip
if [ "${COURSE_INSTALLER:-uv}" != pip ] && install_with_uv; then
  installer=uv
else
  [ "${COURSE_INSTALLER:-uv}" = pip ] || echo "setup: uv could not install the stack; pip installs it instead (slower)"
  "$python" -m pip install -q -r requirements.txt 2>&1 | quiet
fi
"$python" -m pip install -q --no-deps --no-build-isolation -e . 2>&1 | quiet
"$python" -m pip check
echo "setup: Python stack installed with $installer in $(( $(date +%s) - started )) s"
