#!/usr/bin/env bash
#
# The egress proxy, end to end: real clients (curl, python3, node, git)
# inside real sandboxes, through warden's proxy, to upstream servers on the
# host's loopback that --add-host names point at.  Every denial is checked
# for its reason; every allow is checked at the upstream.

# shellcheck source=SCRIPTDIR/../lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

WORKDIR=$(mk_workdir wd)
SYS_RO=$(system_ro)
PY_EXE=$(readlink -f /usr/bin/python3)
PROXY=http://127.0.0.1:3128

for tool in curl git node openssl; do
	if ! command -v $tool >/dev/null; then
		echo "Bail out! $tool is needed (scripts/deps.sh test installs it)"
		exit 1
	fi
done

# ---- upstreams ---------------------------------------------------------------------------

tls=$(mktmp tls)
make_cert "$tls" api.anthropic.com || { echo "Bail out! openssl cannot make a certificate"; exit 1; }
cp "$tls/cert.pem" "$WORKDIR/ca.pem"
chmod 644 "$WORKDIR/ca.pem"

start_upstream
HTTP_PORT=$UP_PORT HTTP_LOG=$UP_LOG
start_upstream --tls "$tls/cert.pem" "$tls/key.pem"
TLS_PORT=$UP_PORT TLS_LOG=$UP_LOG

# A repository served over git's dumb HTTP protocol.
www=$(mktmp www)
(
	set -e
	git init -q --bare "$www/repo.git"
	src=$(mktemp -d "$www/src.XXXXXX")
	git -C "$src" init -q
	echo "hello from upstream" >"$src/README"
	git -C "$src" add README
	git -C "$src" -c user.name=t -c user.email=t@t commit -qm init
	git -C "$src" push -q "$www/repo.git" HEAD:refs/heads/main
	git -C "$www/repo.git" symbolic-ref HEAD refs/heads/main
	git -C "$www/repo.git" update-server-info
	rm -rf "$src"
) || { echo "Bail out! cannot prepare the git repository"; exit 1; }
head -c 150000 /dev/urandom >"$www/big.bin"
start_upstream --root "$www"
GIT_PORT=$UP_PORT GIT_LOG=$UP_LOG

HOSTS=(--add-host api.anthropic.com:127.0.0.1 --add-host files.example.com:127.0.0.1
	--add-host other.example.com:127.0.0.1 --add-host bücher.example:127.0.0.1)

POLICY=$(mktmp pol)/policy.yaml
write_policy "$POLICY" <<EOF
version: 1
filesystem_policy:
  include_workdir: true
  read_only: [$SYS_RO]
network_policies:
  model_api:
    name: model-api
    endpoints:
      - {host: api.anthropic.com, ports: [$TLS_PORT, $HTTP_PORT]}
    binaries:
      - {path: "/usr/bin/python3*"}
  tools:
    name: tools
    endpoints:
      - {host: files.example.com, ports: [$HTTP_PORT, $GIT_PORT]}
    binaries:
      - {path: /usr/bin/curl}
      - {path: /usr/bin/node}
      - {path: /usr/lib/git-core/git-remote-http}
  helpers:
    name: helpers
    endpoints:
      - {host: other.example.com, port: $HTTP_PORT}
    binaries:
      - {path: "/usr/bin/python3*", children: true}
  idn:
    endpoints:
      - {host: xn--bcher-kva.example, port: $HTTP_PORT}
    binaries:
      - {path: /usr/bin/curl}
  pinned:
    endpoints:
      - {host: pinned.example.com, port: $HTTP_PORT}
    binaries:
      - {path: $WORKDIR/pinned-curl}
EOF

# json_field JSON KEY: one top-level field of a JSON object ("" when absent).
json_field() {
	"$PYTHON" -c 'import json,sys
try:
    v = json.loads(sys.argv[1]).get(sys.argv[2])
except Exception:
    v = "<not json>"
print("" if v is None else v)' "$1" "$2"
}

# ---- the seed scenario: python may reach the model API, curl may not -----------------------

sandbox "${HOSTS[@]}" --env "SSL_CERT_FILE=$WORKDIR/ca.pem" -- python3 -c "
import json, urllib.request
r = urllib.request.urlopen('https://api.anthropic.com:$TLS_PORT/echo')
print(r.status, json.load(r)['host'])"
is "$OUT" "200 api.anthropic.com:$TLS_PORT" "python3 (urllib, HTTPS through CONNECT) reaches the model API"
like "$(cat "$TLS_LOG")" "GET /echo host=api.anthropic.com:$TLS_PORT" "... and the upstream saw the request"

sandbox "${HOSTS[@]}" -- curl -sS --cacert "$WORKDIR/ca.pem" "https://api.anthropic.com:$TLS_PORT/echo"
is "$RC" 56 "curl https://api.anthropic.com is refused at CONNECT (curl exit 56)"
like "$ERR" "CONNECT tunnel failed, response 403" "... curl reports the 403"
like "$ERR" "warden: CONNECT deny binary=/usr/bin/curl pid=[0-9]+ dst=api.anthropic.com:$TLS_PORT rule=model-api .*reason=\"binary /usr/bin/curl not allowed by policy 'model-api'\"" \
	"... and the supervisor logs one deny line naming binary, pid, destination and reason"

sandbox "${HOSTS[@]}" -- curl -sS "http://api.anthropic.com:$HTTP_PORT/echo"
body=$OUT
is "$(json_field "$body" error)" policy_denied "plain HTTP denial: 403 with a JSON body (error)"
is "$(json_field "$body" binary)" /usr/bin/curl "... naming the binary"
is "$(json_field "$body" rule)" model-api "... the rule"
is "$(json_field "$body" host)/$(json_field "$body" port)" "api.anthropic.com/$HTTP_PORT" "... host and port"
like "$(json_field "$body" pid)" '^[1-9][0-9]*$' "... and the pid"
like "$(json_field "$body" reason)" "not allowed by policy 'model-api'" "... and the reason"
like "$(json_field "$body" hint)" "operator" "... and a hint on how to get access"

# ---- per-binary rules, each client ------------------------------------------------------------

: >"$HTTP_LOG"
sandbox "${HOSTS[@]}" -- curl -sS "http://files.example.com:$HTTP_PORT/echo?q=1"
is "$(json_field "$OUT" host)" "files.example.com:$HTTP_PORT" "curl reaches files.example.com (plain HTTP forward)"
like "$(cat "$HTTP_LOG")" "GET /echo\\?q=1 host=files.example.com:$HTTP_PORT" "... the upstream got an origin-form request"

sandbox "${HOSTS[@]}" -- curl -sS -X POST --data-binary @/etc/services "http://files.example.com:$HTTP_PORT/upload"
is "$(json_field "$OUT" received)" "$(stat -c %s /etc/services)" "a POST body is relayed whole"

sandbox "${HOSTS[@]}" -- python3 -c "
import urllib.request, urllib.error
try:
    urllib.request.urlopen('http://files.example.com:$HTTP_PORT/echo')
except urllib.error.HTTPError as e:
    print(e.code, e.read().decode())"
like "$OUT" "^403 " "python3 is refused where only curl, node and git may go"
like "$OUT" "binary $PY_EXE not allowed by policy 'tools'" "... the reason names python's real executable and the rule"

sandbox "${HOSTS[@]}" -- node -e "
const http = require('http');
const req = http.request({host: '127.0.0.1', port: 3128, path: 'http://files.example.com:$HTTP_PORT/echo',
  headers: {Host: 'files.example.com:$HTTP_PORT'}}, res => {
  let b = ''; res.on('data', d => b += d); res.on('end', () => console.log(res.statusCode, JSON.parse(b).host));
});
req.on('error', e => console.log('error', e.code)); req.end();"
is "$OUT" "200 files.example.com:$HTTP_PORT" "node (http through the proxy) reaches files.example.com"

node_major=$(node -p 'process.versions.node.split(".")[0]')
node_minor=$(node -p 'process.versions.node.split(".")[1]')
if ((node_major >= 24 || (node_major == 22 && node_minor >= 21))); then
	sandbox "${HOSTS[@]}" -- node -e "
fetch('http://files.example.com:$HTTP_PORT/echo').then(r => r.json()).then(j => console.log(j.host), e => console.log('error', e.cause && e.cause.code))"
	is "$OUT" "files.example.com:$HTTP_PORT" "node fetch honours NODE_USE_ENV_PROXY"
else
	skip "node fetch honours NODE_USE_ENV_PROXY" "node $(node --version) predates NODE_USE_ENV_PROXY (22.21/24)"
fi
sandbox "${HOSTS[@]}" -- node -e "
require('net').connect(80, '192.0.2.1').on('error', e => console.log(e.code)).on('connect', () => console.log('connected'))"
is "$OUT" ENETUNREACH "a client that ignores the proxy variables gets 'network is unreachable'"

sandbox "${HOSTS[@]}" -- git clone -q "http://files.example.com:$GIT_PORT/repo.git" "$WORKDIR/clone"
is "$RC/$(cat "$WORKDIR/clone/README" 2>/dev/null)" "0/hello from upstream" "git clone over HTTP through the proxy (git-remote-http allowed)"

sandbox "${HOSTS[@]}" -- curl -sS -x socks5h://127.0.0.1:1080 "http://files.example.com:$HTTP_PORT/echo"
is "$(json_field "$OUT" host)" "files.example.com:$HTTP_PORT" "SOCKS5 with a host name: curl reaches files.example.com"
sandbox "${HOSTS[@]}" -- curl -sS -x socks5h://127.0.0.1:1080 "http://api.anthropic.com:$HTTP_PORT/echo"
is "$RC" 97 "SOCKS5 denial: curl fails with 'not allowed by ruleset' (exit 97)"
like "$ERR" "warden: SOCKS deny binary=/usr/bin/curl .*dst=api.anthropic.com:$HTTP_PORT" "... and the supervisor logs it"

# ---- children, internationalised names, pinned content ------------------------------------

sandbox "${HOSTS[@]}" -- python3 -c "
import subprocess
r = subprocess.run(['curl', '-sS', 'http://other.example.com:$HTTP_PORT/echo'], capture_output=True, text=True)
print(r.stdout.strip())"
is "$(json_field "$OUT" host)" "other.example.com:$HTTP_PORT" "children: true lets a process started by python (curl) connect"
sandbox "${HOSTS[@]}" -- curl -sS "http://other.example.com:$HTTP_PORT/echo"
like "$(json_field "$OUT" reason)" "not allowed by policy 'helpers'" "... but curl started by anything else is refused"

sandbox "${HOSTS[@]}" -- curl -sS "http://bücher.example:$HTTP_PORT/echo"
is "$(json_field "$OUT" ok)" "True" "an internationalised name matches its punycode form in the policy"
sandbox "${HOSTS[@]}" -- curl -sS --noproxy '' -x "$PROXY" "http://BÜCHER.example.:$HTTP_PORT/echo"
is "$(json_field "$OUT" ok)" "True" "... whatever its case, with a trailing dot"

# A binary is pinned by content: changed while the sandbox runs, it is refused.
cp /usr/bin/curl "$WORKDIR/pinned-curl"
chmod 755 "$WORKDIR/pinned-curl"
is_root && chown "$AGENT_UID:$AGENT_GID" "$WORKDIR/pinned-curl"
sandbox "${HOSTS[@]}" --add-host pinned.example.com:127.0.0.1 -- sh -c "
./pinned-curl -sS -o /dev/null -w '%{http_code} ' http://pinned.example.com:$HTTP_PORT/echo
cp pinned-curl pc.tmp && printf x >>pc.tmp && cat pc.tmp >pinned-curl && rm pc.tmp
./pinned-curl -sS -o /dev/null -w '%{http_code}' http://pinned.example.com:$HTTP_PORT/echo"
is "$OUT" "200 403" "a binary whose content changed during the sandbox's life is refused"
like "$ERR" "changed" "... and the reason says its content changed"

# End of stream passes through every tunnel, however the last read falls.
sandbox "${HOSTS[@]}" -- sh -c "
for i in 1 2 3 4 5 6 7 8 9 10; do
	curl -sS --max-time 10 -o /dev/null -w '%{size_download} ' http://files.example.com:$GIT_PORT/big.bin
	curl -sS --max-time 10 -p -o /dev/null -w '%{size_download} ' http://files.example.com:$GIT_PORT/big.bin
done"
is "$OUT" "$(printf '150000 %.0s' {1..20})" "150 kB downloads through forward and CONNECT tunnels all end (20 of 20)"

# ---- attempts that must fail ----------------------------------------------------------------

expect_err ECONNREFUSED "a direct connection to the host's loopback finds nothing" connect-tcp 127.0.0.1 "$HTTP_PORT"
expect_err ENETUNREACH "a direct connection to another address: network is unreachable" connect-tcp 192.0.2.1 80

: >"$TLS_LOG"
sandbox "${HOSTS[@]}" -- curl -sS --noproxy '' -x "$PROXY" --cacert "$WORKDIR/ca.pem" "https://127.0.0.1:$TLS_PORT/echo"
is "$RC" 56 "CONNECT to the allowed host's IP literal is refused"
like "$ERR" "CONNECT deny .*dst=127.0.0.1:$TLS_PORT .*not listed" "... because IP literals must be listed"
is "$(cat "$TLS_LOG")" "" "... and nothing reached the upstream"

sandbox "${HOSTS[@]}" -- curl -sS --noproxy '' -x "$PROXY" "http://169.254.169.254/latest/meta-data/"
is "$(json_field "$OUT" error)" policy_denied "the metadata address is refused"
sandbox "${HOSTS[@]}" -- curl -sS --noproxy '' -x "$PROXY" "http://localhost:$HTTP_PORT/echo"
is "$(json_field "$OUT" error)" policy_denied "localhost, not named in the policy, is refused"
sandbox "${HOSTS[@]}" -- curl -sS --noproxy '' -x "$PROXY" "http://127.0.0.1:$HTTP_PORT/echo"
is "$(json_field "$OUT" error)" policy_denied "127.0.0.1, not named in the policy, is refused"
sandbox "${HOSTS[@]}" -- curl -sS --noproxy '' -x "$PROXY" "http://[::ffff:127.0.0.1]:$HTTP_PORT/echo"
is "$(json_field "$OUT" error)" policy_denied "the IPv4-mapped IPv6 form of loopback is refused"
like "$(json_field "$OUT" host)" "^127\\.0\\.0\\.1$" "... and recognised as 127.0.0.1"

: >"$HTTP_LOG"
sandbox "${HOSTS[@]}" -- curl -sS "http://files.example.com:$HTTP_PORT/echo" -H "Host: api.anthropic.com:$HTTP_PORT"
is "$(json_field "$OUT" error)" policy_denied "a Host header that differs from the request target is refused"
like "$(json_field "$OUT" reason)" "does not match" "... with a reason that says so"
is "$(cat "$HTTP_LOG")" "" "... and nothing reached the upstream"

sandbox "${HOSTS[@]}" -- python3 -c "
import socket
try:
    socket.getaddrinfo('example.com', 80)
    print('resolved')
except socket.gaierror as e:
    print('gaierror')
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
try:
    s.sendto(b'x', ('192.0.2.53', 53))
    print('sent')
except OSError as e:
    print(e.errno)"
is "$OUT" "gaierror
101" "DNS from inside: no resolver answers, and UDP to a name server is unreachable"

cp /usr/bin/curl "$WORKDIR/mycurl"
chmod 755 "$WORKDIR/mycurl"
sandbox "${HOSTS[@]}" -- "$WORKDIR/mycurl" -sS "http://files.example.com:$HTTP_PORT/echo"
is "$(json_field "$OUT" binary)" "$WORKDIR/mycurl" "curl copied into the workdir under a new name is refused"

# Two processes share one socket: python (allowed) connects it while a
# sleep that inherited it (not allowed) still holds it.
sandbox "${HOSTS[@]}" -- python3 -c "
import os, socket, time
s = socket.socket()
s.set_inheritable(True)
if os.fork() == 0:
    os.execv('/bin/sleep', ['sleep', '3'])
time.sleep(0.3)
s.connect(('127.0.0.1', 3128))
s.sendall(b'CONNECT api.anthropic.com:$TLS_PORT HTTP/1.1\r\nHost: api.anthropic.com:$TLS_PORT\r\n\r\n')
print(s.recv(65536).decode(errors='replace').split('\r\n')[0], flush=True)
os._exit(0)"
is "$OUT" "HTTP/1.1 403 Forbidden" "a socket shared by python and another binary is refused"
like "$ERR" "different binaries" "... because its owners run different binaries"

# Empty network_policies means deny all, never allow all.
EMPTY=$(mktmp pol)/empty.yaml
write_policy "$EMPTY" <<EOF
version: 1
filesystem_policy:
  include_workdir: true
  read_only: [$SYS_RO]
network_policies: {}
EOF
POLICY_SAVED=$POLICY
POLICY=$EMPTY
sandbox "${HOSTS[@]}" -- curl -sS "http://files.example.com:$HTTP_PORT/echo"
like "$(json_field "$OUT" reason)" "network_policies is empty" "an empty network_policies denies everything"
POLICY=
sandbox "${HOSTS[@]}" -- curl -sS "http://files.example.com:$HTTP_PORT/echo"
is "$(json_field "$OUT" error)" policy_denied "the default policy has no egress"
POLICY=$POLICY_SAVED

# ---- bounded resources ----------------------------------------------------------------------

# A client that never finishes its request head is cut off after the header
# timeout, and does not hold up anybody else meanwhile.
OUT=$(WARDEN_PROXY_HEADER_TIMEOUT_MS=1500 timeout 60 "$WARDEN" run --no-tty --policy "$POLICY" \
	--workdir "$WORKDIR" "${HOSTS[@]}" -- python3 -c "
import socket, subprocess, time
slow = socket.create_connection(('127.0.0.1', 3128))
slow.sendall(b'GET http://files.example.com:$HTTP_PORT/ HTTP/1.1\\r\\nHost: files')
t = time.time()
r = subprocess.run(['curl', '-sS', '-o', '/dev/null', '-w', '%{http_code}',
    'http://files.example.com:$HTTP_PORT/echo'], capture_output=True, text=True)
print('other', r.stdout, 'fast' if time.time() - t < 1.0 else 'slow', flush=True)
slow.settimeout(10)
print('slow', slow.recv(4096).split(b'\\r\\n')[0].decode(), flush=True)
" </dev/null 2>/dev/null)
is "$OUT" "other 200 fast
slow HTTP/1.1 408 Request Timeout" "a stalled request head does not stall others, and gets 408 after the header timeout"

# A tunnel without traffic is closed after the idle timeout.
OUT=$(WARDEN_PROXY_IDLE_TIMEOUT_MS=1000 timeout 60 "$WARDEN" run --no-tty --policy "$POLICY" \
	--workdir "$WORKDIR" "${HOSTS[@]}" -- python3 -c "
import socket, time
s = socket.create_connection(('127.0.0.1', 3128))
s.sendall(b'CONNECT api.anthropic.com:$HTTP_PORT HTTP/1.1\\r\\nHost: api.anthropic.com:$HTTP_PORT\\r\\n\\r\\n')
print(s.recv(4096).split(b'\\r\\n')[0].decode(), flush=True)
t = time.time()
s.settimeout(10)
print('closed' if s.recv(4096) == b'' else 'data', 'after idle' if time.time() - t >= 0.9 else 'too early', flush=True)
" </dev/null 2>/dev/null)
is "$OUT" "HTTP/1.1 200 Connection established
closed after idle" "an idle tunnel is closed after the idle timeout"

# The connection limit answers 503 at once instead of queueing.
OUT=$(WARDEN_PROXY_MAX_CONNS=2 timeout 60 "$WARDEN" run --no-tty --policy "$POLICY" \
	--workdir "$WORKDIR" "${HOSTS[@]}" -- python3 -c "
import socket, time
held = [socket.create_connection(('127.0.0.1', 3128)) for _ in range(2)]
time.sleep(0.3)
s = socket.create_connection(('127.0.0.1', 3128))
s.sendall(b'GET http://files.example.com:$HTTP_PORT/ HTTP/1.1\\r\\nHost: files.example.com:$HTTP_PORT\\r\\n\\r\\n')
s.settimeout(10)
print(s.recv(4096).split(b'\\r\\n')[0].decode(), flush=True)
" </dev/null 2>/dev/null)
is "$OUT" "HTTP/1.1 503 Service Unavailable" "past the connection limit the proxy answers 503 at once"

# ---- processes joined with warden exec -------------------------------------------------------

EXNAME=exec-$$-$RANDOM
track_name "$EXNAME"
ex_out=$(mktmp ex)
timeout 120 "$WARDEN" run --no-tty --name "$EXNAME" --policy "$POLICY" --workdir "$WORKDIR" "${HOSTS[@]}" \
	-- sleep 60 </dev/null >"$ex_out/out" 2>"$ex_out/err" &
track_pid $!
if wait_until 20 test -S "$(state_dir "$EXNAME")/control.sock"; then
	OUT=$(timeout 30 "$WARDEN" exec "$EXNAME" -- curl -sS "http://files.example.com:$HTTP_PORT/echo" 2>&1)
	is "$(json_field "$OUT" host)" "files.example.com:$HTTP_PORT" "curl started with warden exec is attributed and allowed"
	OUT=$(timeout 30 "$WARDEN" exec "$EXNAME" -- python3 -c "
import urllib.request, urllib.error
try:
    urllib.request.urlopen('http://files.example.com:$HTTP_PORT/echo')
except urllib.error.HTTPError as e:
    print(e.code, e.read().decode())" 2>&1)
	like "$OUT" "^403 .*binary $PY_EXE not allowed by policy 'tools'" "python3 started with warden exec is attributed and refused"
	"$WARDEN" stop -t 1 "$EXNAME" >/dev/null 2>&1
	sleep 0.5
	if grep -q "no process in the sandbox owns" "$ex_out/err"; then
		not_ok "no warden exec connection went unattributed"
		diag "$(cat "$ex_out/err")"
	else
		ok "no warden exec connection went unattributed"
	fi
else
	not_ok "a sandbox for warden exec starts"
	diag "$(cat "$ex_out/err")"
fi

# ---- live reload through the control socket ------------------------------------------------------

NAME=reload-$$-$RANDOM
track_name "$NAME"
rm -f "$WORKDIR/ready" "$WORKDIR/go"
cat >"$WORKDIR/tunnel.py" <<EOF
import os, socket, time, urllib.request, urllib.error
def get(s):
    s.sendall(b'GET /echo HTTP/1.1\r\nHost: api.anthropic.com:$HTTP_PORT\r\n\r\n')
    data = b''
    while b'\r\n\r\n' not in data:
        more = s.recv(65536)
        if not more:
            raise ConnectionError('closed')
        data += more
    head, body = data.split(b'\r\n\r\n', 1)
    n = [int(l.split(b':')[1]) for l in head.split(b'\r\n') if l.lower().startswith(b'content-length:')][0]
    while len(body) < n:
        more = s.recv(65536)
        if not more:
            raise ConnectionError('closed')
        body += more
    return head.split(b'\r\n')[0].decode()
s = socket.create_connection(('127.0.0.1', 3128))
s.sendall(b'CONNECT api.anthropic.com:$HTTP_PORT HTTP/1.1\r\nHost: api.anthropic.com:$HTTP_PORT\r\n\r\n')
print('connect', s.recv(4096).split(b'\r\n')[0].decode(), flush=True)
print('first', get(s), flush=True)
open('$WORKDIR/ready', 'w').close()
while not os.path.exists('$WORKDIR/go'):
    time.sleep(0.05)
try:
    print('second', get(s), flush=True)
except OSError as e:
    print('second closed', flush=True)
try:
    urllib.request.urlopen('http://api.anthropic.com:$HTTP_PORT/echo')
    print('new allowed')
except urllib.error.HTTPError as e:
    print('new', e.code)
EOF
chmod 644 "$WORKDIR/tunnel.py"
rl_out=$(mktmp rl)
timeout 60 "$WARDEN" run --no-tty --name "$NAME" --policy "$POLICY" --workdir "$WORKDIR" "${HOSTS[@]}" \
	-- python3 "$WORKDIR/tunnel.py" </dev/null >"$rl_out/out" 2>"$rl_out/err" &
rl_pid=$!
track_pid $rl_pid
if wait_until 20 test -e "$WORKDIR/ready"; then
	ok "a sandbox holds an allowed tunnel open"
else
	not_ok "a sandbox holds an allowed tunnel open"
	diag "$(cat "$rl_out/out" "$rl_out/err")"
fi

sock=$(state_dir "$NAME")/control.sock
is "$(stat -c '%a %u' "$sock" 2>&1)" "600 $(id -u)" "the control socket is mode 0600, owned by the user"
expect_err ENOENT "the control socket is not visible inside a sandbox" connect-unix "$sock"
# Same uid, another user namespace (as every sandboxed process is): refused.
if command -v unshare >/dev/null && unshare -r true 2>/dev/null; then
	out=$(unshare -r "$PYTHON" -c "
import socket, struct, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
req = b'policy-show\\n'
try:
    s.sendall(struct.pack('>I', len(req)) + req)
except OSError:
    pass  # refused before the request was read
n = struct.unpack('>I', s.recv(4))[0]
print(s.recv(n).decode().replace(chr(10), ' ').strip())" "$sock" 2>&1)
	is "$out" "error permission denied" "a client in another user namespace (same uid) is refused by the control socket"
else
	skip "a client in another user namespace (same uid) is refused by the control socket" "unshare -r is not available"
fi

show=$("$WARDEN" policy show "$NAME" 2>&1)
like "$show" "revision 1" "policy show NAME: revision 1 at start"
hash1=$(sed -n 's/^# sha256:\([0-9a-f]*\)$/\1/p' <<<"$show")
like "$("$WARDEN" ps 2>&1)" "$NAME .*${hash1:0:12}" "warden ps shows the running policy's hash"

BAD=$(mktmp pol)/bad.yaml
printf 'version: 1\nnetwork_policies:\n  x:\n    endpoints: [{host: "*.com", port: 443}]\n    binaries: [{path: /usr/bin/curl}]\n' >"$BAD"
chmod 644 "$BAD"
out=$("$WARDEN" policy set "$NAME" "$BAD" 2>&1)
rc=$?
is "$rc" 1 "an invalid candidate is refused (exit 1)"
like "$out" "$BAD:4:[0-9]+: error: .*top-level domain" "... with FILE:LINE:COL and the reason"
like "$("$WARDEN" policy show "$NAME" 2>&1)" "revision 1" "... and the old policy keeps running"

STATIC=$(mktmp pol)/static.yaml
sed 's/include_workdir: true/include_workdir: false/' "$POLICY" >"$STATIC"
chmod 644 "$STATIC"
out=$("$WARDEN" policy set "$NAME" "$STATIC" 2>&1)
is "$?" 1 "a change to a static section is refused"
like "$out" "filesystem_policy.*restart the sandbox" "... naming the section and saying a restart is needed"

DENY=$(mktmp pol)/deny.yaml
sed 's|{path: "/usr/bin/python3\*"}|{path: /usr/bin/curl}|' "$POLICY" >"$DENY"
chmod 644 "$DENY"
out=$("$WARDEN" policy set "$NAME" "$DENY" 2>&1)
is "$?" 0 "policy set applies a valid change to network_policies"
like "$out" "revision 2 applied" "... as revision 2"
show=$("$WARDEN" policy show "$NAME" 2>&1)
hash2=$(sed -n 's/^# sha256:\([0-9a-f]*\)$/\1/p' <<<"$show")
like "$show" "revision 2" "policy show reports revision 2"
if [[ -n $hash2 && $hash2 != "$hash1" ]]; then ok "... with a new hash"; else not_ok "... with a new hash"; fi
like "$("$WARDEN" ps 2>&1)" "$NAME .*${hash2:0:12}" "warden ps shows the new hash"
touch "$WORKDIR/go"
wait "$rl_pid"
rl_rc=$?
is "$(cat "$rl_out/out")" "connect HTTP/1.1 200 Connection established
first HTTP/1.1 200 OK
second closed
new 403" "allow -> deny: the open tunnel is closed and new connections are refused"
is "$rl_rc" 0 "the agent ran to completion"
like "$(cat "$rl_out/err")" "net.close deny .*revision 2 no longer allows" "the closed tunnel is logged with the revision"
like "$(cat "$rl_out/err")" "policy.reload revision=2" "the reload is logged"
like "$(cat "$rl_out/err")" "policy.reject deny" "the refused candidates are logged"

done_testing
