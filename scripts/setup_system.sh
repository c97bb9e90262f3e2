#!/usr/bin/env bash
# System packages the course uses beyond pip: real Fashion-MNIST, a browser for the browser tests
# (Playwright drives Debian's Chromium: its own browser download is not available), npm for
# axe-core (the accessibility check), PostgreSQL for the large-class gradebook, libseccomp for the
# grading sandbox's syscall filter (pyseccomp loads it; the grader refuses to grade without it). Installed only
# where we are root and apt-get exists; elsewhere it says what is missing and how the course copes.
set -uo pipefail

packages=(dataset-fashion-mnist chromium postgresql libseccomp2)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
# Any npm will do (Node.js may come from elsewhere than Debian).
command -v npm >/dev/null 2>&1 || missing+=(npm)
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "setup: installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1 || {
    apt-get update -qq >/dev/null 2>&1
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || {
      echo "setup: apt-get could not install ${missing[*]}; see the README's data section" >&2
      exit 0
    }
  }
else
  cat <<MSG
setup: not root (or no apt-get), so these system packages are not installed: ${missing[*]}
  - Fashion-MNIST: course_lib downloads it with torchvision when online, or reads it from
    \$COURSE_DATA/FashionMNIST/raw (see README, "Where the data comes from").
  - chromium: the browser tests (built book, JupyterLab, formgrader) are skipped without it.
  - npm: axe-core is not installed, so the accessibility test of the book is skipped.
  - postgresql: the PostgreSQL gradebook tests are skipped without it; SQLite is the default.
  - libseccomp2: the class grader refuses to grade without its syscall filter (or --unsafe says so).
MSG
fi
exit 0
