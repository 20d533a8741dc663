#!/usr/bin/env bash
#
# tests/run.sh BUILD_DIR: every test warden has.
#
#   1. meson test -C BUILD_DIR (unit tests, fuzz corpus replay)
#   2. tests/integration/*.t against BUILD_DIR/warden, as the current user,
#      and -- when run as root -- again as the unprivileged user warden-test
#      (created if missing), which exercises the rootless path.
#
# The probe the integration tests run inside sandboxes is built here,
# statically, so it runs under any mount set.  Binaries and test scripts are
# copied to a world-readable temporary directory so warden-test can use them.
#
# Ends with exactly one summary line, "N passed, N failed[, N skipped]", and
# exits non-zero if anything failed.

set -u

usage() {
	echo "usage: tests/run.sh BUILD_DIR" >&2
	exit 2
}
[[ $# -eq 1 ]] || usage
BUILD=$(cd "$1" 2>/dev/null && pwd) || usage
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
[[ -x $BUILD/warden ]] || {
	echo "tests/run.sh: $BUILD/warden does not exist (build first: ninja -C $1)" >&2
	exit 2
}

PASSED=0
FAILED=0
SKIPPED=0
FAILED_WHAT=()

STAGE=$(mktemp -d /tmp/warden-run.XXXXXX)
chmod 755 "$STAGE"
cleanup() {
	# Background work belongs to the .t scripts, which clean up after
	# themselves; a timed-out one is killed (by timeout) with its group.
	rm -rf "$STAGE"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- stage ---------------------------------------------------------------------------

mkdir -p "$STAGE/tests/integration"
cp "$BUILD/warden" "$STAGE/warden"
# The built-in classifier is found next to warden.
if [[ -x $BUILD/warden-guard ]]; then
	cp "$BUILD/warden-guard" "$STAGE/warden-guard"
fi
# So is OpenSSL, which warden loads when something needs it.
if [[ -f $BUILD/warden-openssl.so ]]; then
	cp "$BUILD/warden-openssl.so" "$STAGE/warden-openssl.so"
fi
cp "$ROOT/tests/lib.sh" "$STAGE/tests/lib.sh"
mkdir -p "$STAGE/tests/upstream"
cp "$ROOT"/tests/upstream/* "$STAGE/tests/upstream/"
cp "$ROOT"/tests/integration/*.t "$STAGE/tests/integration/"
mkdir -p "$STAGE/tests/probe"
cp "$ROOT/tests/probe/probe.c" "$STAGE/tests/probe/probe.c"
if ! cc -O2 -static -o "$STAGE/probe" "$ROOT/tests/probe/probe.c"; then
	echo "tests/run.sh: cannot build a static probe (is the static libc installed?)" >&2
	echo "0 passed, 1 failed"
	exit 1
fi
chmod -R a+rX "$STAGE"

PYTHON=/usr/bin/python3
[[ -x $PYTHON ]] || PYTHON=$(command -v python3 || true)
# Tests that need more of the source tree (SDK clients, classifiers,
# examples) get a world-readable copy of those parts: the checkout itself
# may sit where the unprivileged user cannot read.  The SDKs are installed
# once into the build directory and copied here for the rootless run.
mkdir -p "$STAGE/src/tests" "$STAGE/src/scripts"
cp -r "$ROOT/tests/guard" "$STAGE/src/tests/"
mkdir -p "$STAGE/src/tests/sdk"
cp "$ROOT"/tests/sdk/*.json "$ROOT"/tests/sdk/*.mjs "$ROOT"/tests/sdk/*.py "$STAGE/src/tests/sdk/"
cp -r "$ROOT/examples" "$STAGE/src/"
cp "$ROOT/scripts/test-sdk.sh" "$STAGE/src/scripts/"
chmod -R a+rX "$STAGE/src"
export WARDEN=$STAGE/warden PROBE=$STAGE/probe PYTHON WARDEN_SRC=$STAGE/src
export WARDEN_SDK_DIR=${WARDEN_SDK_DIR:-$BUILD/sdk}

# ---- meson test --------------------------------------------------------------------------

echo "# meson test -C $BUILD"
mlog=$STAGE/meson.log
meson test -C "$BUILD" --print-errorlogs 2>&1 | tee "$mlog"
mrc=${PIPESTATUS[0]}
count() { sed -n "s/^$1: *\([0-9][0-9]*\).*/\1/p" "$mlog" | tail -n1; }
m_ok=$(count Ok) m_xfail=$(count 'Expected Fail') m_fail=$(count Fail)
m_xpass=$(count 'Unexpected Pass') m_skip=$(count Skipped) m_to=$(count Timeout)
if [[ -z $m_ok ]]; then
	FAILED=$((FAILED + 1))
	FAILED_WHAT+=("meson test (no summary; exit $mrc)")
else
	PASSED=$((PASSED + m_ok + ${m_xfail:-0}))
	nf=$((${m_fail:-0} + ${m_xpass:-0} + ${m_to:-0}))
	FAILED=$((FAILED + nf))
	SKIPPED=$((SKIPPED + ${m_skip:-0}))
	((nf > 0)) && FAILED_WHAT+=("meson test: $nf failed")
	if ((nf == 0 && mrc != 0)); then
		FAILED=$((FAILED + 1))
		FAILED_WHAT+=("meson test exited $mrc")
	fi
fi

# ---- integration tests ----------------------------------------------------------------------

# tally LABEL LOG RC: count the TAP lines of one .t run.
tally() {
	local label=$1 log=$2 rc=$3 p f s plan n
	p=$(grep -cE '^ok [0-9]+' "$log" | head -n1)
	s=$(grep -cE '^ok [0-9]+ .*# SKIP' "$log" | head -n1)
	f=$(grep -cE '^not ok [0-9]+' "$log" | head -n1)
	p=$((p - s))
	PASSED=$((PASSED + p))
	SKIPPED=$((SKIPPED + s))
	FAILED=$((FAILED + f))
	((f > 0)) && FAILED_WHAT+=("$label: $f failed")
	plan=$(sed -n 's/^1\.\.\([0-9][0-9]*\)$/\1/p' "$log" | tail -n1)
	n=$((p + s + f))
	if [[ -z $plan || $plan -ne $n || ($rc -ne 0 && $f -eq 0) ]]; then
		FAILED=$((FAILED + 1))
		FAILED_WHAT+=("$label: died (exit $rc, plan '${plan:-none}', $n tests seen)")
	fi
}

# run_t LABEL T [RUNNER...]: run one .t (through RUNNER, e.g. setpriv) with a time limit.
run_t() {
	local label=$1 t=$2 log rc
	shift 2
	log=$STAGE/$(basename "$t").$RANDOM.log
	echo "# $label"
	"$@" timeout -k 5 300 bash "$t" 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
	tally "$label" "$log" "$rc"
}

ts=("$STAGE"/tests/integration/*.t)
for t in "${ts[@]}"; do
	run_t "$(basename "$t") as $(id -un)" "$t"
done

if [[ $(id -u) -eq 0 ]]; then
	tu=warden-test
	if ! id -u "$tu" >/dev/null 2>&1; then
		useradd -M -s /usr/sbin/nologin "$tu" 2>/dev/null ||
			useradd -M -s /sbin/nologin "$tu" 2>/dev/null
	fi
	if ! id -u "$tu" >/dev/null 2>&1; then
		echo "# SKIP rootless run: cannot create user $tu"
		SKIPPED=$((SKIPPED + 1))
	else
		# The SDKs the root run installed, where the unprivileged user can read them.
		if [[ -d $WARDEN_SDK_DIR/node_modules ]]; then
			cp -a "$WARDEN_SDK_DIR" "$STAGE/sdk" && chmod -R a+rX "$STAGE/sdk" &&
				WARDEN_SDK_DIR=$STAGE/sdk
		fi
		thome=$STAGE/home-$tu
		mkdir -p "$thome"
		chown "$tu:$(id -g "$tu")" "$thome"
		chmod 700 "$thome"
		cenv=(env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
			HOME="$thome" USER="$tu" LOGNAME="$tu" LANG=C.UTF-8 TMPDIR=/tmp
			WARDEN="$WARDEN" PROBE="$PROBE" PYTHON="$PYTHON" WARDEN_SRC="$WARDEN_SRC"
			WARDEN_SDK_DIR="$WARDEN_SDK_DIR" ${CI:+CI="$CI"})
		if command -v setpriv >/dev/null 2>&1; then
			as_user=(setpriv --reuid="$tu" --regid="$tu" --init-groups "${cenv[@]}")
		else
			as_user=(runuser -u "$tu" -- "${cenv[@]}")
		fi
		cd "$STAGE" || exit 1
		for t in "${ts[@]}"; do
			run_t "$(basename "$t") as $tu (rootless)" "$t" "${as_user[@]}"
		done
	fi
else
	echo "# not root: the rootless run as warden-test is the run above"
fi

# ---- summary ------------------------------------------------------------------------------------

for w in "${FAILED_WHAT[@]}"; do
	[[ -n $w ]] && echo "# FAILED: $w"
done
summary="$PASSED passed, $FAILED failed"
((SKIPPED > 0)) && summary+=", $SKIPPED skipped"
echo "$summary"
[[ $FAILED -eq 0 ]]
