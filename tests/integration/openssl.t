#!/usr/bin/env bash
#
# OpenSSL is loaded on first use (src/lib/ossl_lazy.c, ossl_stubs.S): a
# sandbox that needs no TLS starts without it; what needs it (a TLS
# authority, audit verification) loads warden-openssl.so from next to
# warden, refuses a copy that others can write, and without one fails with
# a clear message and exit status 125.

# shellcheck source=SCRIPTDIR/../lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

MODULE=$(dirname "$WARDEN")/warden-openssl.so
if [[ ! -f $MODULE ]]; then
	skip "OpenSSL loaded on first use" "this build links OpenSSL (not x86-64, or a fuzzing build)"
	done_testing
fi
for d in /usr/local/libexec /usr/libexec /usr/lib/warden; do
	if [[ -e $d/warden/warden-openssl.so ]]; then
		skip "OpenSSL loaded on first use" "an installed $d/warden/warden-openssl.so would be found"
		done_testing
	fi
done

BIN=$(mktmp bin)
chmod 755 "$BIN"
cp "$WARDEN" "$BIN/warden"
chmod 755 "$BIN/warden"
W=$BIN/warden
WORKDIR=$(mk_workdir wd)
TRAILS=$(mktmp trails)
chmod 777 "$TRAILS"

# run_w [RUN-OPTIONS...] -- CMD...: warden run of the copy; sets OUT, ERR, RC.
run_w() {
	OUT=$(timeout 60 "$W" run --no-tty --workdir "$WORKDIR" "$@" </dev/null 2>"$TRAILS/err")
	RC=$?
	ERR=$(cat "$TRAILS/err")
}

run_w --audit-log "$TRAILS/plain.jsonl" -- sh -c 'echo fine'
is "$RC:$OUT" "0:fine" "without warden-openssl.so anywhere, a sandbox that needs no TLS runs"
[[ $RC -eq 0 ]] || diag "$ERR"

OUT=$("$W" audit verify "$TRAILS/plain.jsonl" 2>&1)
RC=$?
is "$RC" 125 "audit verify, which needs OpenSSL, fails as warden failing"
like "$OUT" "cannot load OpenSSL: warden-openssl.so was found neither next to warden nor at " \
	"... and says what is missing"

POLICY=$(mktmp pol)/policy.yaml
write_policy "$POLICY" <<'YAML'
version: 1
filesystem_policy:
  include_workdir: true
  read_only: [/usr, /bin, /sbin, /lib, /lib64, /etc]
network_policies:
  api:
    endpoints:
      - host: api.example.com
        port: 443
        protocol: rest
        access: read-only
    binaries:
      - path: /usr/bin/curl
YAML
run_w --policy "$POLICY" --audit-log "$TRAILS/l7.jsonl" -- true
is "$RC" 125 "a policy whose endpoint needs its TLS authority fails to start (exit 125)"
like "$ERR" "cannot load OpenSSL" "... naming OpenSSL"

printf 'not a shared object\n' >"$BIN/warden-openssl.so"
chmod 644 "$BIN/warden-openssl.so"
OUT=$("$W" audit verify "$TRAILS/plain.jsonl" 2>&1)
RC=$?
is "$RC" 125 "a warden-openssl.so that is not a shared object is not loaded"
like "$OUT" "cannot load OpenSSL: $BIN/warden-openssl.so: " "... and the error names the file"

cp "$MODULE" "$BIN/warden-openssl.so"
chmod 664 "$BIN/warden-openssl.so"
OUT=$("$W" audit verify "$TRAILS/plain.jsonl" 2>&1)
RC=$?
is "$RC" 125 "a warden-openssl.so its group may write is not loaded"
like "$OUT" "warden-openssl.so: refused: it must be a file owned by root or by this user and writable by no one else" \
	"... and the refusal says why"

chmod 644 "$BIN/warden-openssl.so"
OUT=$("$W" audit verify "$TRAILS/plain.jsonl" 2>&1)
RC=$?
is "$RC" 0 "with warden-openssl.so next to warden, audit verify loads it and works"
like "$OUT" "intact" "... and finds the trail intact"

run_w --policy "$POLICY" --audit-log "$TRAILS/l7b.jsonl" -- sh -c 'test -s "$SSL_CERT_FILE" && echo ca'
is "$RC:$OUT" "0:ca" "a policy that needs TLS starts, with its CA bundle in the sandbox"
[[ $RC -eq 0 ]] || diag "$ERR"

done_testing
