#!/bin/sh
# Install the Debian packages a make target needs.
#   scripts/deps.sh build|test|demo|bench|fuzz
# As root, missing packages are installed with apt-get; otherwise the exact
# apt-get command is printed and the script fails, so nothing is half-done.
set -eu

profile=${1:-build}
build="gcc make meson ninja-build pkg-config libc6-dev libseccomp-dev libyaml-dev libssl-dev nettle-dev libpsl-dev libidn2-dev libjansson-dev libvectorscan-dev"
case "$profile" in
build) pkgs="$build" ;;
demo)  pkgs="$build python3 curl" ;;
test)       pkgs="$build python3 iproute2 passwd util-linux procps openssl curl git nodejs npm ca-certificates" ;;
bench)      pkgs="$build bubblewrap hyperfine time socat ripgrep nodejs npm tinyproxy-bin openssl" ;;
fuzz)       pkgs="$build clang libclang-rt-14-dev" ;;
*) echo "usage: $0 build|test|demo|bench|fuzz" >&2; exit 2 ;;
esac

missing=""
for p in $pkgs; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		# A command already on PATH (e.g. a newer node outside dpkg) counts as present.
		case "$p" in
		nodejs) command -v node >/dev/null 2>&1 && continue ;;
		npm) command -v npm >/dev/null 2>&1 && continue ;;
		esac
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "warden: missing Debian packages:$missing" >&2
	echo "warden: install them with:  sudo apt-get install -y$missing" >&2
	exit 1
fi
echo "warden: installing Debian packages:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
