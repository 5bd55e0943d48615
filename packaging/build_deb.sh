#!/usr/bin/env bash
# Builds dist/ziggy-desktop_<version>_<arch>.deb and a .tar.gz from the one-folder bundle in dist/.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
BUNDLE=${BUNDLE:-dist/ziggy-desktop}
VERSION=$("$PYTHON" -c 'import tomllib; print(tomllib.load(open("pyproject.toml", "rb"))["project"]["version"])')
ARCH=$(dpkg --print-architecture)
[ -x "$BUNDLE/ziggy-desktop" ] || { echo "no bundle at $BUNDLE: run 'make bundle' first" >&2; exit 2; }

OUT=${OUT:-dist}
STAGE=${WORK:-build}/deb/ziggy-desktop_${VERSION}_${ARCH}
rm -rf "$STAGE"
mkdir -p "$STAGE/DEBIAN" "$STAGE/opt" "$STAGE/usr/bin" "$STAGE/usr/share/applications" \
         "$STAGE/usr/share/icons/hicolor/scalable/apps"
cp -a "$BUNDLE" "$STAGE/opt/ziggy-desktop"
cat > "$STAGE/usr/bin/ziggy-desktop" <<'LAUNCHER'
#!/bin/sh
# Ziggy Desktop launcher: the bundle lives in /opt/ziggy-desktop.
HERE=$(dirname "$(readlink -f "$0")")
exec "$HERE/../../opt/ziggy-desktop/ziggy-desktop" "$@"
LAUNCHER
chmod 0755 "$STAGE/usr/bin/ziggy-desktop"
cp resources/icons/ziggy.svg "$STAGE/usr/share/icons/hicolor/scalable/apps/ziggy-desktop.svg"
cat > "$STAGE/usr/share/applications/ziggy-desktop.desktop" <<DESKTOP
[Desktop Entry]
Type=Application
Name=Ziggy Desktop
GenericName=Data flow runner
Comment=Build data flows, launch them by click or HTTP call, follow every run
Exec=/usr/bin/ziggy-desktop
Icon=ziggy-desktop
Terminal=false
Categories=Development;Network;
StartupWMClass=ziggy-desktop
DESKTOP
SIZE_KB=$(du -sk "$STAGE" | cut -f1)
cat > "$STAGE/DEBIAN/control" <<CONTROL
Package: ziggy-desktop
Version: ${VERSION}
Architecture: ${ARCH}
Maintainer: Ziggy Desktop maintainers <maintainers@ziggy.invalid>
Installed-Size: ${SIZE_KB}
Depends: libc6, libfontconfig1, libdbus-1-3
Recommends: libpq5, libxcb-cursor0, libxcb-icccm4, libxcb-keysyms1, libxcb-shape0, libxkbcommon-x11-0, libegl1
Section: devel
Priority: optional
Homepage: https://ziggy.invalid/desktop
Description: Build data flows, launch them by click or HTTP call, follow every run
 Ziggy Desktop runs data flows (migrations and integrations, typically into
 HubSpot) from a desktop window or a local API on localhost:3000, and keeps an
 execution history of every run. 'ziggy-desktop serve' runs it headless.
CONTROL
mkdir -p "$OUT"
dpkg-deb --root-owner-group --build "$STAGE" "$OUT/ziggy-desktop_${VERSION}_${ARCH}.deb" >/dev/null
tar -C "$(dirname "$BUNDLE")" -czf "$OUT/ziggy-desktop-${VERSION}-linux-${ARCH}.tar.gz" "$(basename "$BUNDLE")"
ls -l "$OUT"/*.deb "$OUT"/*.tar.gz
