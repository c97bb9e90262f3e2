#!/usr/bin/env bash
# (Re)create the npm parts of book/vendor/ (requirejs/, jupyter-widgets/, mathjax/, VERSIONS): the
# browser scripts the HTML book needs to render widgets and maths with no network. Downloads three
# npm tarballs with `npm pack` into a temporary folder and
# copies only the files the pages load. Run it only to change versions; the result is committed.
#
#   scripts/vendor_widgets.sh            # uses the versions below
#   REQUIREJS_VERSION=2.3.8 scripts/vendor_widgets.sh
set -euo pipefail

REQUIREJS_VERSION="${REQUIREJS_VERSION:-2.3.8}"
# html-manager 1.0.x embeds ipywidgets 8 state (@jupyter-widgets/controls 2.0.0 models), and is
# the version myst-nb itself points at; keep the two in step.
HTML_MANAGER_VERSION="${HTML_MANAGER_VERSION:-1.0.6}"
MATHJAX_VERSION="${MATHJAX_VERSION:-3.2.2}"

root="$(cd "$(dirname "$0")/.." && pwd)"
dest="$root/book/vendor"
command -v npm >/dev/null || { echo "vendor_widgets: npm is needed (Debian: apt-get install npm)" >&2; exit 1; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

unpack() {  # unpack SPEC NAME: npm pack SPEC, extract into $work/NAME
  local spec="$1" name="$2" tarball
  tarball="$(cd "$work" && npm pack --silent "$spec" 2>/dev/null | tail -n 1)"
  mkdir -p "$work/$name"
  tar -xzf "$work/$tarball" -C "$work/$name" --strip-components=1
}

unpack "requirejs@$REQUIREJS_VERSION" requirejs
unpack "@jupyter-widgets/html-manager@$HTML_MANAGER_VERSION" html-manager
unpack "mathjax@$MATHJAX_VERSION" mathjax

rm -rf "$dest/requirejs" "$dest/jupyter-widgets" "$dest/mathjax"
mkdir -p "$dest/requirejs" "$dest/jupyter-widgets/html-manager" "$dest/mathjax"

# RequireJS: the AMD loader that embed-amd.js registers its modules with.
cp "$work/requirejs/require.js" "$dest/requirejs/"
echo "MIT, see https://github.com/requirejs/requirejs/blob/master/LICENSE" > "$dest/requirejs/LICENSE"

# html-manager: the AMD bundle plus the Font Awesome fonts its CSS refers to (woff2/woff only:
# every browser that runs the bundle picks one of those before eot/ttf/svg).
hm="$work/html-manager"
cp "$hm/dist/embed-amd.js" "$hm/LICENSE" "$dest/jupyter-widgets/html-manager/"
cp "$hm/dist/embed.js.LICENSE.txt" "$dest/jupyter-widgets/html-manager/THIRD-PARTY-LICENSES.txt"
cp "$hm"/dist/*.woff2 "$hm"/dist/*.woff "$dest/jupyter-widgets/html-manager/"

# MathJax 3: the TeX-to-CommonHTML component, its fonts, the TeX extensions it loads on demand,
# and the accessibility and menu components its context menu may request.
mj="$work/mathjax/es5"
cp "$mj/tex-chtml.js" "$work/mathjax/LICENSE" "$dest/mathjax/"
mkdir -p "$dest/mathjax/output/chtml/fonts" "$dest/mathjax/input/tex"
cp -r "$mj/output/chtml/fonts/woff-v2" "$dest/mathjax/output/chtml/fonts/"
cp -r "$mj/input/tex/extensions" "$dest/mathjax/input/tex/"
cp -r "$mj/a11y" "$mj/ui" "$dest/mathjax/"

cat > "$dest/VERSIONS" <<EOF
requirejs $REQUIREJS_VERSION MIT
@jupyter-widgets/html-manager $HTML_MANAGER_VERSION BSD-3-Clause
mathjax $MATHJAX_VERSION Apache-2.0
EOF
echo "vendor_widgets: wrote $(du -sh "$dest" | cut -f1) into ${dest#"$root"/}:"
cat "$dest/VERSIONS"
