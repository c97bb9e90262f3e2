#!/usr/bin/env bash
# The set-up step of `make book` / `make test` side by side: the pinned stack installed into two fresh virtual
# environments, once with pip alone and once through uv (scripts/install_python.sh), one after the other.
# Prints wall and CPU seconds of each and the ratio. Run from the repository root on a quiet machine:
#
#   bench/venv_install.sh [PYTHON]        # PYTHON defaults to the one the Makefile uses
#
# Both installers read their packages from their own caches and this machine's local indexes; the first
# uv run on a machine also fills uv's cache (run the script twice to see both).
set -euo pipefail

python=${1:-$(test -x /usr/bin/python3.11 && echo /usr/bin/python3.11 || command -v python3)}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

declare -A wall cpu
for installer in pip uv; do
  "$python" -m venv "$work/$installer"
  /usr/bin/time -f "%e %U %S" -o "$work/$installer.time" env COURSE_INSTALLER=$installer \
    scripts/install_python.sh "$work/$installer/bin/python" > "$work/$installer.log" 2>&1 \
    || { cat "$work/$installer.log"; exit 1; }
  read -r w u s < "$work/$installer.time"
  wall[$installer]=$w
  cpu[$installer]=$(awk -v u="$u" -v s="$s" 'BEGIN { print u + s }')
  echo "$installer: $(tail -1 "$work/$installer.log"); wall ${wall[$installer]} s, CPU ${cpu[$installer]} s"
  rm -rf "${work:?}/$installer"
done
awk -v wp="${wall[pip]}" -v wu="${wall[uv]}" -v cp="${cpu[pip]}" -v cu="${cpu[uv]}" \
  'BEGIN { printf "pip / uv: %.2fx the wall time, %.2fx the CPU time\n", wp / wu, cp / cu }'
