#!/usr/bin/env bash
# Regenerate the student release exercises/ from solutions/ with plain nbgrader.
# Runs in a temporary copy of the course so the repository's gradebook is left alone.
# Usage: scripts/generate_release.sh [assignment ...]   (default: every folder in solutions/)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
export PATH="$root/.venv/bin:$PATH"
command -v nbgrader >/dev/null || { echo "nbgrader not found: create .venv first (make install)" >&2; exit 1; }
if [ "$#" -eq 0 ]; then
  set -- $(cd "$root/solutions" && ls -d */ | tr -d /)
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp "$root/nbgrader_config.py" "$work/"
cp -r "$root/solutions" "$work/solutions"
cd "$work"
for assignment in "$@"; do
  nbgrader generate_assignment "$assignment" --force --log-level=WARN
  rm -rf "$root/exercises/$assignment"
  mkdir -p "$root/exercises"
  cp -r "exercises/$assignment" "$root/exercises/$assignment"
  chmod -R u+w "$root/exercises/$assignment"
  echo "exercises/$assignment regenerated"
done
