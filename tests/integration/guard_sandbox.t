#!/usr/bin/env bash
#
# Classifier sidecars run in a sandbox of their own: a classifier reads
# every prompt, so it must not be able to send one anywhere, write
# anything, read what it was not given, or touch the supervisor.  A probe
# classifier (tests/guard/probe_classifier.py) tries each of these when
# warden starts it, reports the errno of each refusal, and then serves the
# guard protocol; a request through the router then shows it works
# confined.

# shellcheck source=SCRIPTDIR/../lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

SRC=${WARDEN_SRC:-}
if [[ -z $SRC ]]; then
	for d in "$T_ROOT" "$(dirname "$WARDEN")/.."; do
		if [[ -f $d/tests/guard/probe_classifier.py && -f $d/examples/classifier.py ]]; then
			SRC=$(cd "$d" && pwd)
			break
		fi
	done
fi
if [[ -z $SRC || ! -f $SRC/tests/guard/probe_classifier.py ]]; then
	echo "Bail out! the source tree is needed (tests/guard, examples): set WARDEN_SRC"
	exit 1
fi
if [[ ! -x $(dirname "$WARDEN")/warden-guard ]]; then
	echo "Bail out! warden-guard is not next to $WARDEN"
	exit 1
fi

WORKDIR=$(mk_workdir wd)
SYS_RO=$(system_ro)
start_tcp_listener || { echo "Bail out! no loopback listener"; exit 1; }

# What the classifier may read: a copy of its code and rules in one directory.
GUARD=$(mktmp guard)
cp "$SRC/tests/guard/probe_classifier.py" "$SRC/examples/classifier.py" "$GUARD/"
printf 'confidential\tproject nightingale\n' >"$GUARD/rules.txt"
chmod -R a+rX "$GUARD"
# What it was not given: a world-readable file in a world-writable directory.
OUT=$(mktmp outside)
chmod 1777 "$OUT"
echo "not for classifiers" >"$OUT/secret.txt"
chmod 644 "$OUT/secret.txt"

start_mockllm prov "$(mktmp mock)/log" || { echo "Bail out! mock provider did not start"; exit 1; }
POLICY=$(mktmp pol)/policy.yaml
write_policy "$POLICY" <<YAML
version: 1
filesystem_policy:
  include_workdir: true
  read_only: [$SYS_RO]
inference:
  providers:
    prov: {format: anthropic, base_url: "http://127.0.0.1:$MOCK_PORT", max_tier: restricted}
  routes:
    - {models: ["*"], providers: [prov]}
classifiers:
  - name: probe
    command: [/usr/bin/python3, $GUARD/probe_classifier.py, "$LISTEN_PORT", $OUT/secret.txt, $GUARD/rules.txt, $GUARD/classifier.py]
    read_only: [$GUARD]
YAML

BODY='{"model":"claude-x","max_tokens":8,"messages":[{"role":"user","content":"about project nightingale"}]}'
out=$(cd "$WORKDIR" && "$WARDEN" run --policy "$POLICY" -- sh -c \
	"sleep 1; curl -sS -o /dev/null -D - -H 'content-type: application/json' --data-binary '$BODY' http://inference.local/v1/messages" 2>&1)
line=$(grep -o 'guard-probe: .*' <<<"$out" | head -n1)
diag "$line"

like "$line" 'connect=(ENETUNREACH|EACCES|ECONNREFUSED)' "the classifier cannot connect to a listener on the host's loopback"
is "$(wc -l <"$LISTEN_LOG")" 0 "... and the listener saw no connection"
like "$line" 'write=(EACCES|EPERM|EROFS)' "it cannot create a file, even in a world-writable directory"
check "... and nothing was written" test ! -e "$OUT/written-by-classifier"
like "$line" 'read_outside=(EACCES|EPERM)' "it cannot read a world-readable file it was not given"
like "$line" 'read_rules=ok' "it can read its rules (read_only)"
if (($(landlock_abi) >= 6)); then
	like "$line" 'signal=(EPERM|ESRCH)' "it cannot signal the supervisor (Landlock signal scoping)"
else
	skip "signal scoping" "Landlock ABI 6 is not available"
fi
if is_root; then
	uid=$(grep -o 'uid=[0-9]*' <<<"$line")
	check "run by root, warden does not run classifiers as root ($uid)" test -n "$uid" -a "$uid" != uid=0
else
	skip "classifiers run as root" "only meaningful when warden runs as root"
fi
like "$out" 'x-warden-tier: confidential' "the confined classifier still classifies (its term made the request confidential)"

done_testing
