#!/usr/bin/env bash
#
# L7 inspection, end to end: the proxy terminates TLS for `protocol: rest`
# endpoints (and for entries a credential is bound to) with the sandbox's
# own CA, checks every request against method/path rules, refuses domain
# fronting and path spellings that could mean two things, and puts
# credentials into requests that the agent only ever sees as placeholders.
#
# Real clients (curl, python3, node, git) run inside real sandboxes and talk
# HTTPS through warden's proxy to upstreams on the host's loopback
# (tests/upstream/server.py and gitserver.py) that --add-host names point
# at; the upstreams' certificate is trusted by the proxy through
# --upstream-ca.  Every allow is checked at the upstream (its request log
# and the JSON log of request heads and body hashes), every denial for what
# the agent got, what the upstream did not get, and what the audit trail
# recorded.

# shellcheck source=SCRIPTDIR/../lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

for tool in curl openssl; do
	if ! command -v $tool >/dev/null; then
		echo "Bail out! $tool is needed (scripts/deps.sh test installs it)"
		exit 1
	fi
done
HAVE_NODE=0 HAVE_GIT=0
command -v node >/dev/null && HAVE_NODE=1
command -v git >/dev/null && HAVE_GIT=1

WORKDIR=$(mk_workdir wd)
SYS_RO=$(system_ro)

# ---- upstreams ---------------------------------------------------------------------------

NAMES=(api.test other.test plain.test audit.test slash.test nows.test bound.test git.test)
tls=$(mktmp tls)
make_cert "$tls" "${NAMES[@]}" || { echo "Bail out! openssl cannot make a certificate"; exit 1; }
UPSTREAM_CA=$tls/cert.pem
cp "$UPSTREAM_CA" "$WORKDIR/upstream.pem"

start_https_upstream "$tls" || { echo "Bail out! the HTTPS upstream did not start"; exit 1; }
P=$UP_PORT API_LOG=$UP_LOG API_HDR=$UP_HEADERS

GIT_PORT=0
if ((HAVE_GIT)); then
	groot=$(mktmp groot)
	make_git_repo "$groot" repo.git || { echo "Bail out! cannot prepare the git repository"; exit 1; }
	start_git_server "$tls" "$groot" || { echo "Bail out! the git server did not start"; exit 1; }
	GIT_PORT=$GIT_SRV_PORT GIT_LOG=$GIT_SRV_LOG
fi

HOSTS=()
for n in "${NAMES[@]}"; do HOSTS+=(--add-host "$n:127.0.0.1"); done
L7=(--upstream-ca "$UPSTREAM_CA" "${HOSTS[@]}")

# ---- credentials ---------------------------------------------------------------------------

SECRET=real-secret-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
FILE_SECRET=file-secret-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
export TEST_API_KEY=$SECRET
creds=$(mktmp creds)
printf '%s\n' "$FILE_SECRET" >"$creds/token"
chmod 600 "$creds/token"

# ---- the policy ------------------------------------------------------------------------------

BINS='[{path: /usr/bin/curl}, {path: "/usr/bin/python3*"}, {path: /usr/bin/node}, {path: /usr/lib/git-core/git-remote-http}]'
POLICY=$(mktmp pol)/policy.yaml
write_policy "$POLICY" <<EOF
version: 1
filesystem_policy:
  include_workdir: true
  read_only: [$SYS_RO]
network_policies:
  api:
    endpoints:
      - host: api.test
        port: $P
        protocol: rest
        rules:
          - allow: {method: GET, path: "/repos/**"}
          - allow: {method: POST, path: "/repos/*/issues"}
          - allow: {method: GET, path: /ws}
        deny_rules:
          - {method: "*", path: "/repos/secret/**"}
    binaries: $BINS
  other:
    endpoints:
      - {host: other.test, port: $P, protocol: rest, access: full}
    binaries: $BINS
  plain:
    endpoints:
      - {host: plain.test, port: $P}
    binaries: $BINS
  audited:
    endpoints:
      - host: audit.test
        port: $P
        protocol: rest
        enforcement: audit
        rules:
          - allow: {method: GET, path: /allowed}
    binaries: $BINS
  slash:
    endpoints:
      - {host: slash.test, port: $P, protocol: rest, access: read-only, allow_encoded_slash: true}
    binaries: $BINS
  nows:
    endpoints:
      - host: nows.test
        port: $P
        protocol: rest
        rules:
          - allow: {method: GET, path: "/repos/**"}
    binaries: $BINS
  bound:
    endpoints:
      - {host: bound.test, port: $P}
    binaries: $BINS
  git:
    endpoints:
      - host: git.test
        port: $GIT_PORT
        protocol: rest
        rules:
          - allow: {method: GET, path: /repo.git/info/refs, query: {service: git-upload-pack}}
          - allow: {method: POST, path: /repo.git/git-upload-pack}
    binaries: $BINS
credentials:
  apikey:
    from_env: TEST_API_KEY
    sandbox_env: API_KEY
    header: "X-Api-Key: {}"
    network_policies: [api]
  token:
    from_file: $creds/token
    sandbox_env: TOKEN
    network_policies: [bound]
EOF

# ---- helpers ---------------------------------------------------------------------------------

# Everything the agent printed and warden said, for the search for secrets at the end.
L7ALL=$T_TMP/l7-output
: >"$L7ALL"

# l7 [WARDEN-RUN-OPTIONS...] -- CMD [ARG...]: sandbox() with --upstream-ca, the
# --add-host names and a fresh audit trail, TRAIL.
l7() {
	TRAIL=$(mktmp trail)/audit.jsonl
	sandbox "${L7[@]}" --audit-log "$TRAIL" "$@"
	printf '%s\n%s\n' "$OUT" "$ERR" >>"$L7ALL"
}

# split_out: OUT is "BODY\nCODE" (curl -w '\n%{http_code}'); sets BODY and CODE.
split_out() {
	CODE=${OUT##*$'\n'}
	BODY=
	[[ $OUT == *$'\n'* ]] && BODY=${OUT%$'\n'*}
}

# json_missing JSON KEY...: the keys JSON (an object) lacks, space-separated.
json_missing() {
	"$PYTHON" -c 'import json, sys
try:
    d = json.loads(sys.argv[1])
except Exception:
    d = {}
print(" ".join(k for k in sys.argv[2:] if k not in d))' "$@"
}

# up_has LOG REGEX: does the upstream's request log have a matching line?
up_count() { grep -cE -- "$2" "$1"; }

# The raw HTTP/1.1 client for the cases no ordinary client produces
# (pipelining, smuggling, fronting inside TLS, WebSocket frames).
cat >"$WORKDIR/l7c.py" <<'EOF'
import base64, hashlib, os, socket, ssl, struct

PROXY = ('127.0.0.1', 3128)
WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11'


def tunnel(host, port, sni=None, cafile=None):
    """A TLS connection to host:port through a CONNECT tunnel (SNI: sni or host)."""
    s = socket.create_connection(PROXY, timeout=20)
    target = '%s:%d' % (host, port)
    s.sendall(('CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n' % (target, target)).encode())
    head = b''
    while not head.endswith(b'\r\n\r\n'):
        b = s.recv(1)
        if not b:
            raise ConnectionError('the proxy closed during CONNECT')
        head += b
    code = head.split(b' ')[1].decode()
    if code != '200':
        raise ConnectionError('CONNECT ' + code)
    ctx = ssl.create_default_context(cafile=cafile) if cafile else ssl.create_default_context()
    return Conn(ctx.wrap_socket(s, server_hostname=sni or host))


def req(method, path, host, headers=(), body=None):
    lines = ['%s %s HTTP/1.1' % (method, path), 'Host: ' + host] + list(headers)
    if body is not None:
        lines.append('Content-Length: %d' % len(body))
    return ('\r\n'.join(lines) + '\r\n\r\n').encode() + (body or b'')


class Conn:
    def __init__(self, s):
        self.s = s
        self.buf = b''

    def send(self, data):
        self.s.sendall(data)

    def _fill(self):
        try:
            d = self.s.recv(65536)
        except TimeoutError:
            raise
        except (OSError, ssl.SSLError):
            d = b''
        if not d:
            return False
        self.buf += d
        return True

    def _line(self):
        while b'\r\n' not in self.buf:
            if not self._fill():
                raise EOFError('closed within a response')
        line, self.buf = self.buf.split(b'\r\n', 1)
        return line

    def _take(self, n):
        while len(self.buf) < n:
            if not self._fill():
                raise EOFError('closed within a body')
        d, self.buf = self.buf[:n], self.buf[n:]
        return d

    def response(self):
        """(status, headers, body) or None when the connection closed first."""
        if not self.buf and not self._fill():
            return None
        status = int(self._line().split(b' ')[1])
        headers = {}
        while True:
            line = self._line()
            if not line:
                break
            k, _, v = line.decode('latin-1').partition(':')
            headers[k.strip().lower()] = v.strip()
        if status == 101 or status == 204 or status == 304:
            return status, headers, b''
        if 'chunked' in headers.get('transfer-encoding', '').lower():
            body = b''
            while True:
                n = int(self._line().split(b';')[0], 16)
                if n == 0:
                    while self._line():
                        pass
                    break
                body += self._take(n)
                self._take(2)
            return status, headers, body
        if 'content-length' in headers:
            return status, headers, self._take(int(headers['content-length']))
        while self._fill():
            pass
        body, self.buf = self.buf, b''
        return status, headers, body

    def codes(self, timeout=5):
        """The status codes of the responses that arrive, then "closed" (the
        peer closed), "cut" (closed within a response) or "open" (silent
        for timeout seconds)."""
        self.s.settimeout(timeout)
        out = []
        while True:
            try:
                r = self.response()
            except TimeoutError:
                out.append('open')
                break
            except EOFError:
                out.append('cut')
                break
            if r is None:
                out.append('closed')
                break
            out.append(str(r[0]))
        return ' '.join(out)

    def closed(self):
        """Does the peer close the connection (rather than stay silent)?"""
        if self.buf:
            return False
        try:
            return not self._fill()
        except TimeoutError:
            return False

    # WebSocket (RFC 6455), the client side: masked frames out, plain in.
    def ws_upgrade(self, path, host):
        key = base64.b64encode(os.urandom(16)).decode()
        self.send(req('GET', path, host, ['Upgrade: websocket', 'Connection: Upgrade',
                                          'Sec-WebSocket-Key: ' + key, 'Sec-WebSocket-Version: 13']))
        r = self.response()
        want = base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()
        return r, r is not None and r[1].get('sec-websocket-accept') == want

    def ws_send(self, text):
        p = text.encode()
        m = os.urandom(4)
        assert len(p) < 126
        self.send(bytes([0x81, 0x80 | len(p)]) + m + bytes(c ^ m[i % 4] for i, c in enumerate(p)))

    def ws_recv(self):
        b0, b1 = self._take(2)
        n = b1 & 0x7f
        if n == 126:
            n = struct.unpack('!H', self._take(2))[0]
        elif n == 127:
            n = struct.unpack('!Q', self._take(8))[0]
        return b0 & 0x0f, self._take(n)
EOF

# node's https through an explicit CONNECT (node 20's https ignores the proxy variables).
cat >"$WORKDIR/nodec.js" <<'EOF'
const http = require('http'), https = require('https'), tls = require('tls');
// request(host, port, path, {method, headers, body: [chunks]}) -> {status, body}
exports.request = (host, port, path, opts = {}) => new Promise(resolve => {
  const c = http.request({host: '127.0.0.1', port: 3128, method: 'CONNECT', path: host + ':' + port,
    headers: {Host: host + ':' + port}});
  c.on('error', e => resolve({status: 'error ' + e.code, body: ''}));
  c.on('connect', (res, sock) => {
    if (res.statusCode !== 200) { sock.destroy(); return resolve({status: 'CONNECT ' + res.statusCode, body: ''}); }
    const r = https.request({host, port, path, method: opts.method || 'GET', headers: opts.headers || {},
      createConnection: () => tls.connect({socket: sock, servername: host})}, res2 => {
      let b = '';
      res2.on('data', d => b += d);
      res2.on('end', () => resolve({status: res2.statusCode, body: b}));
    });
    r.on('error', e => resolve({status: 'error ' + (e.code || e.message), body: ''}));
    for (const part of opts.body || []) r.write(part);
    r.end();
  });
  c.end();
});
EOF
head -c 300000 /dev/urandom >"$WORKDIR/body.bin"
BODY_SHA=$(sha256sum "$WORKDIR/body.bin" | cut -d' ' -f1)
chmod 644 "$WORKDIR/l7c.py" "$WORKDIR/nodec.js" "$WORKDIR/body.bin" "$WORKDIR/upstream.pem"
PYC="import sys; sys.path.insert(0, '$WORKDIR'); from l7c import *"
H=api.test:$P

# ---- the sandbox trusts its own CA, and only through a bundle ---------------------------------------

# shellcheck disable=SC2016 # expanded by the sandbox's sh
l7 -- sh -c '
echo "SSL_CERT_FILE=$SSL_CERT_FILE"
echo "REQUESTS_CA_BUNDLE=$REQUESTS_CA_BUNDLE"
echo "CURL_CA_BUNDLE=$CURL_CA_BUNDLE"
echo "NODE_EXTRA_CA_CERTS=$NODE_EXTRA_CA_CERTS"
echo "GIT_SSL_CAINFO=$GIT_SSL_CAINFO"
cmp -s "$SSL_CERT_FILE" /etc/ssl/certs/ca-certificates.crt && echo mounted
grep -c "BEGIN CERTIFICATE" "$SSL_CERT_FILE"
echo "etc=$(grep -c "BEGIN CERTIFICATE" /etc/ssl/certs/ca-certificates.crt)"
cat "$SSL_CERT_FILE" >bundle.1
grep -rlsIE -e "-----BEGIN [A-Z ]*PRIVATE KEY-----" "$(dirname "$SSL_CERT_FILE")" /etc/ssl/certs /tmp "$HOME" /run 2>/dev/null | sed "s/^/key: /"
true'
bundle=$(sed -n 's/^SSL_CERT_FILE=//p' <<<"$OUT")
if [[ $bundle == /* ]]; then ok "SSL_CERT_FILE points at a bundle ($bundle)"; else not_ok "SSL_CERT_FILE points at a bundle"; diag "$OUT" "$ERR"; fi
for v in REQUESTS_CA_BUNDLE CURL_CA_BUNDLE NODE_EXTRA_CA_CERTS GIT_SSL_CAINFO; do
	is "$(sed -n "s/^$v=//p" <<<"$OUT")" "$bundle" "... and $v at the same bundle"
done
host_n=$(grep -c "BEGIN CERTIFICATE" /etc/ssl/certs/ca-certificates.crt 2>/dev/null || echo 0)
etc_n=$(sed -n 's/^etc=//p' <<<"$OUT")
if [[ $OUT == *$'\nmounted\n'* && $etc_n =~ ^[0-9]+$ ]] && ((etc_n > host_n)); then
	ok "the bundle is also what /etc/ssl/certs/ca-certificates.crt holds inside ($etc_n certificates there, $host_n outside)"
else
	not_ok "the bundle is also what /etc/ssl/certs/ca-certificates.crt holds inside"
	diag "$OUT"
fi
in_n=$(sed -n '/^[0-9][0-9]*$/p' <<<"$OUT" | head -n1)
if [[ -n $in_n ]] && ((in_n >= host_n + 1)); then
	ok "the bundle holds the system roots and the sandbox CA ($in_n certificates, the host has $host_n)"
else
	not_ok "the bundle holds the system roots and the sandbox CA"
	diag "inside: '${in_n}' certificates, host: $host_n"
fi
if grep -q '^key: ' <<<"$OUT" || grep -q 'PRIVATE KEY' "$WORKDIR/bundle.1" 2>/dev/null; then
	not_ok "no private key is visible inside (the bundle's directory, /etc/ssl/certs, /tmp, HOME, /run)"
	diag "$(grep '^key: ' <<<"$OUT")"
else
	ok "no private key is visible inside (the bundle's directory, /etc/ssl/certs, /tmp, HOME, /run)"
fi
# shellcheck disable=SC2016 # expanded by the sandbox's sh
l7 -- sh -c 'cat "$SSL_CERT_FILE" >bundle.2'
if [[ -s $WORKDIR/bundle.1 && -s $WORKDIR/bundle.2 ]] && ! cmp -s "$WORKDIR/bundle.1" "$WORKDIR/bundle.2"; then
	ok "each sandbox has its own CA (two runs, two bundles)"
else
	not_ok "each sandbox has its own CA (two runs, two bundles)"
fi

# ---- which connections are terminated --------------------------------------------------------------

: >"$API_LOG"
l7 -- sh -c "
curl -sS -o /dev/null -w '%{http_code} ' https://api.test:$P/repos/t1
curl -sS -o /dev/null -w '%{http_code} ' --cacert upstream.pem https://api.test:$P/repos/t2 2>/dev/null || echo \"exit=\$?\"
curl -sS -o /dev/null -w '%{http_code} ' --cacert upstream.pem https://plain.test:$P/echo/t3
curl -sS -o /dev/null -w '%{http_code} ' --cacert upstream.pem https://bound.test:$P/echo/t4 2>/dev/null || echo \"exit=\$?\""
is "$OUT" "200 000 exit=60
200 000 exit=60" \
	"curl: a rest endpoint and an entry with a bound credential present the sandbox CA's certificate, a plain endpoint the upstream's own"
is "$(up_count "$API_LOG" '/(t1|t3) ')" 2 "... and the requests that verified reached the upstream"

l7 -- python3 -c "
$PYC
import ssl
def issuer(host, cafile=None):
    try:
        c = tunnel(host, $P, cafile=cafile)
    except (ssl.SSLError, ConnectionError) as e:
        return 'failed'
    return dict(x[0] for x in c.s.getpeercert()['issuer']).get('commonName')
print(issuer('api.test'), issuer('plain.test', '$WORKDIR/upstream.pem'), issuer('plain.test'), sep='|')"
IFS='|' read -r iss_l7 iss_plain iss_plain_bundle <<<"$OUT"
if [[ -n $iss_l7 && $iss_l7 != failed && $iss_l7 != api.test ]]; then
	ok "python (default context, SSL_CERT_FILE): api.test is issued by the sandbox CA ($iss_l7)"
else
	not_ok "python (default context, SSL_CERT_FILE): api.test is issued by the sandbox CA"
	diag "$OUT" "$ERR"
fi
is "$iss_plain/$iss_plain_bundle" "api.test/failed" \
	"... plain.test by the upstream's own certificate, which the sandbox's bundle does not trust"

: >"$API_LOG"
sandbox "${HOSTS[@]}" -- curl -sS -o /dev/null -w '%{http_code}' "https://api.test:$P/repos/noca"
if [[ $OUT != 200 && $(up_count "$API_LOG" noca) == 0 ]]; then
	ok "without --upstream-ca the proxy does not trust the upstream: no request goes out (curl got $OUT)"
else
	not_ok "without --upstream-ca the proxy does not trust the upstream"
	diag "curl: $OUT" "upstream: $(cat "$API_LOG")"
fi

# ---- method and path rules --------------------------------------------------------------------------

: >"$API_LOG"
l7 -- curl -sS -w '\n%{http_code}' "https://api.test:$P/repos/a/b?x=1"
split_out
is "$CODE/$(json_get "$BODY" path)" "200//repos/a/b?x=1" "GET /repos/a/b (rule GET /repos/**) is allowed"
is "$(up_count "$API_LOG" "^GET /repos/a/b\\?x=1 host=api.test:$P$")" 1 "... and reaches the upstream once, query intact"

l7 -- curl -sS -w '\n%{http_code}' -X POST -d 'title=x' "https://api.test:$P/repos/a/issues"
split_out
is "$CODE/$(json_get "$BODY" method)" "200/POST" "POST /repos/a/issues (rule POST /repos/*/issues) is allowed"

: >"$API_LOG"
l7 -- curl -sS -w '\n%{http_code}' -X DELETE "https://api.test:$P/repos/a/issues"
split_out
is "$CODE/$(json_get "$BODY" error)" "403/policy_denied" "DELETE /repos/a/issues (no rule) is refused: 403 policy_denied"
is "$(json_missing "$BODY" error reason rule binary pid host port method path policy_revision policy_hash hint)" "" \
	"... the JSON has error, reason, rule, binary, pid, host, port, method, path, policy_revision, policy_hash, hint"
is "$(json_get "$BODY" method) $(json_get "$BODY" path) $(json_get "$BODY" host) $(json_get "$BODY" port) $(json_get "$BODY" binary)" \
	"DELETE /repos/a/issues api.test $P /usr/bin/curl" "... naming method, path, host, port and binary"
is "$(cat "$API_LOG")" "" "... and nothing reached the upstream"
is "$(jsonl_query "$TRAIL" '[(r.get("method"), r.get("path"), r.get("decision")) for r in ev("http.request")]')" \
	'[["DELETE", "/repos/a/issues", "deny"]]' "... the trail has the http.request deny"

l7 -- curl -sS -w '\n%{http_code}' "https://api.test:$P/repos/secret/x?token=sekrit-q-value"
split_out
is "$CODE/$(json_get "$BODY" error)" "403/policy_denied" "GET /repos/secret/x matches deny_rules: refused though GET /repos/** allows it"
is "$(json_get "$BODY" path)" "/repos/secret/x?token=" "... the path in the answer is without the query value"
like "$(json_get "$BODY" reason)$(json_get "$BODY" rule)" "deny_rules" "... and the answer names the deny rule"
is "$(up_count "$API_LOG" secret)" 0 "... nothing reached the upstream"

# One run, three decisions, for the trail.
: >"$API_LOG"
l7 -- sh -c "
curl -sS -o /dev/null -w '%{http_code} ' 'https://api.test:$P/repos/t/1?token=sekrit-q-value&page=2'
curl -sS -o /dev/null -w '%{http_code} ' 'https://api.test:$P/repos/secret/2?token=sekrit-q-value'
curl -sS -o /dev/null -w '%{http_code}' 'https://audit.test:$P/forbidden?token=sekrit-q-value'"
is "$OUT" "200 403 200" "allowed, denied, and denied-but-audited (enforcement: audit) requests"
like "$(cat "$API_LOG")" "GET /forbidden\\?token=sekrit-q-value host=audit.test:$P" \
	"enforcement: audit: the request the rules would deny reaches the upstream"
is "$(jsonl_query "$TRAIL" '[(r.get("method"), r.get("path"), r.get("decision")) for r in ev("http.request")]')" \
	'[["GET", "/repos/t/1?token=&page=", "allow"], ["GET", "/repos/secret/2?token=", "deny"], ["GET", "/forbidden?token=", "audit"]]' \
	"the trail: one http.request per request, decisions allow, deny, audit, paths without query values"
like "$(jsonl_query "$TRAIL" '[r.get("dst") for r in ev("http.request")]')" '^\["api\.test[^"]*", "api\.test[^"]*", "audit\.test[^"]*"\]$' \
	"... each with its destination"
is "$(jsonl_query "$TRAIL" 'len(ev("http.request")) == 3 and all(r.get("rule") for r in ev("http.request"))')" True \
	"... and the rule that decided"
is "$(grep -c sekrit-q-value "$TRAIL")" 0 "... and no query value anywhere in the trail"

# ---- domain fronting ------------------------------------------------------------------------------------

: >"$API_LOG"
l7 -- curl -sS -w '\n%{http_code}' -H "Host: other.test" "https://api.test:$P/repos/front1"
split_out
is "$CODE/$(json_get "$BODY" error)" "421/misdirected_request" "a Host header naming another host than the CONNECT target: 421 misdirected_request"
l7 -- python3 -c "
$PYC
out = []
for target in ('http://other.test:$P/repos/front2', 'https://other.test:$P/repos/front2'):
    c = tunnel('api.test', $P)
    c.send(req('GET', target, 'api.test:$P'))
    r = c.response()
    out.append(str(r[0]) if r else 'closed')
print(' '.join(out))"
is "$OUT" "421 421" "an absolute-form target (http:// and https://) naming another host inside the tunnel: 421"
l7 -- curl -sS -o /dev/null --connect-to "other.test:$P:api.test:$P" "https://other.test:$P/repos/front3"
is "$RC" 35 "TLS SNI naming another host than the CONNECT target: the handshake is refused (curl exit 35)"
like "$(jsonl_query "$TRAIL" '[(r.get("decision"), r.get("reason")) for r in ev("tls.handshake")]')" '"deny", "[^"]*SNI' \
	"... recorded as tls.handshake deny with a reason naming the SNI"
l7 -- python3 -c "
$PYC
import ssl
try:
    tunnel('api.test', $P, sni='other.test')
    print('handshake done')
except ssl.SSLError as e:
    print('refused', e.reason)"
like "$OUT" "^refused" "python: the same fronting is refused during the handshake ($OUT)"
is "$(up_count "$API_LOG" front)" 0 "no fronted request reached the upstream"

# ---- paths that could mean two things -----------------------------------------------------------------

: >"$API_LOG"
BAD_PATHS=(/repos/%2e%2e/secret/x /repos/a/..%2F..%2Fsecret /repos/a%252Fsecret //repos/secret/x
	/repos/./secret/x /repos/a/../secret/x /repos/a/%2e%2e/%2e%2e/secret/x /repos/..%3B/secret/x
	"/repos/..;/secret/x" /repos/%c0%ae%c0%ae/secret/x /repos/a/..%5csecret/x /repos/secret%2fx
	/repos/%2Fsecret /REPOS/secret/x /repos/secret%00/x)
# shellcheck disable=SC2016 # expanded by the sandbox's sh
l7 -- sh -c 'for p in "$@"; do
	curl -sS --path-as-is -o /dev/null -w "%{http_code} " "https://api.test:'"$P"'$p"
done' sh "${BAD_PATHS[@]}"
like "$OUT" "^((400|403) ){${#BAD_PATHS[@]}}$" "${#BAD_PATHS[@]} spellings of a secret path (%2e%2e, ..%2F, %252F, //, ./, ../, ..;, overlong UTF-8, %5c, %00) get 400 or 403"
is "$(up_count "$API_LOG" .)" 0 "... and none reached the upstream"
[[ $(up_count "$API_LOG" .) == 0 ]] || diag "$(cat "$API_LOG")"

l7 -- curl -sS -w '\n%{http_code}' "https://api.test:$P/repos/a%2Fb"
split_out
is "$CODE" 400 "an encoded slash (%2F) is refused with 400 (GET /repos/** would allow the decoded path)"
l7 -- curl -sS -w '\n%{http_code}' "https://slash.test:$P/pkg/@scope%2Fname"
split_out
is "$CODE" 200 "... but allowed where the endpoint has allow_encoded_slash: true"
like "$(cat "$API_LOG")" "GET /pkg/@scope%2Fname host=slash.test:$P" "... and reaches the upstream as %2F, not as a separator"
is "$(grep -c 'a%2Fb' "$API_LOG")" 0 "the refused %2F request did not reach the upstream"

# ---- several requests on one connection -------------------------------------------------------------------

: >"$API_LOG"
l7 -- curl -sS -w '%{http_code}/%{num_connects} ' -o /dev/null "https://api.test:$P/repos/k/1" \
	-o /dev/null "https://api.test:$P/repos/secret/k2" -o /dev/null "https://api.test:$P/repos/k/3"
is "$OUT" "200/1 403/0 200/1 " "curl, three URLs: the second is checked on the kept-alive connection and refused, which closes it"
is "$(grep -c '/repos/k/' "$API_LOG")/$(grep -c 'secret' "$API_LOG")" "2/0" "... the upstream saw the two allowed requests only"

l7 -- python3 -c "
import http.client, json
c = http.client.HTTPSConnection('127.0.0.1', 3128, timeout=20)
c.set_tunnel('api.test', $P)
out = []
for m, path in (('GET', '/repos/hc/1'), ('POST', '/repos/hc/issues'), ('GET', '/repos/secret/hc'), ('GET', '/repos/hc/4')):
    c.request(m, path, body=b'abc' if m == 'POST' else None)
    r = c.getresponse()
    b = r.read()
    out.append(str(r.status) + ('/' + json.loads(b)['error'] if r.status == 403 else ''))
print(' '.join(out))"
is "$OUT" "200 200 403/policy_denied 200" "python http.client on one connection: allowed, allowed POST, denied, then a new connection works"

l7 -- python3 -c "
$PYC
c = tunnel('api.test', $P)
c.send(req('GET', '/repos/ka/1', '$H'))
a = c.response()[0]
c.send(req('GET', '/repos/secret/ka', '$H'))
b = c.response()[0]
print(a, b, 'closed' if c.closed() else 'open')"
is "$OUT" "200 403 closed" "raw: after a denial the proxy closes the connection"

: >"$API_LOG"
l7 -- python3 -c "
$PYC
c = tunnel('api.test', $P)
c.send(req('GET', '/repos/pl/1', '$H') + req('GET', '/repos/secret/pl2', '$H') + req('GET', '/repos/pl/3', '$H'))
print(c.codes())"
like "$OUT" "^(200 403 |200 |)closed$" "pipelined allowed + denied + allowed: answered in order up to the denial, then closed ($OUT)"
is "$(grep -c 'secret' "$API_LOG")/$(grep -c '/repos/pl/3' "$API_LOG")" "0/0" \
	"... the upstream never saw the denied request nor the one after it"

: >"$API_LOG"
l7 -- python3 -c "
$PYC
smuggled = req('GET', '/repos/secret/smuggled', '$H')
out = []
for te in ('Transfer-Encoding: chunked', 'Transfer-Encoding:  chunked, identity', 'Content-Length: 0'):
    try:
        c = tunnel('api.test', $P)
    except ConnectionError as e:
        out.append(str(e))
        continue
    body = b'0\r\n\r\n' + smuggled
    c.send(req('POST', '/repos/sm/issues', '$H', [te], body))
    out.append(c.codes().replace(' ', '+'))
print(' '.join(out))"
diag "request smuggling attempts answered: $OUT"
is "$(grep -c 'smuggled' "$API_LOG")" 0 "a request smuggled in a body (CL+TE, TE list, duplicate Content-Length) never reaches the upstream"

# ---- bodies ---------------------------------------------------------------------------------------------

l7 -- sh -c "
curl -sS -o /dev/null -w '%{http_code} ' --data-binary @body.bin https://api.test:$P/repos/cl/issues
curl -sS -o /dev/null -w '%{http_code}' -H 'Transfer-Encoding: chunked' --data-binary @body.bin https://api.test:$P/repos/ch/issues"
is "$OUT" "200 200" "curl POSTs 300 kB with Content-Length and chunked"
is "$(jsonl_query "$API_HDR" '[(r["body_len"], r["body_sha256"]) for r in req(path="/repos/cl/issues")]')" \
	"[[300000, \"$BODY_SHA\"]]" "... the Content-Length body reaches the upstream intact"
is "$(jsonl_query "$API_HDR" '[(r["body_len"], r["body_sha256"]) for r in req(path="/repos/ch/issues")]')" \
	"[[300000, \"$BODY_SHA\"]]" "... the chunked body reaches the upstream intact"
l7 -- python3 -c "
import http.client, json
data = open('$WORKDIR/body.bin', 'rb').read()
c = http.client.HTTPSConnection('127.0.0.1', 3128, timeout=20)
c.set_tunnel('api.test', $P)
c.request('POST', '/repos/py/issues', body=(data[i:i + 7001] for i in range(0, len(data), 7001)), encode_chunked=True)
r = c.getresponse()
print(r.status, json.loads(r.read())['body_sha256'])"
is "$OUT" "200 $BODY_SHA" "python http.client: a chunked body in 43 pieces reaches the upstream intact"
if ((HAVE_NODE)); then
	l7 -- node -e "
const {request} = require('$WORKDIR/nodec.js');
const data = require('fs').readFileSync('$WORKDIR/body.bin');
const parts = [];
for (let i = 0; i < data.length; i += 65000) parts.push(data.subarray(i, i + 65000));
request('api.test', $P, '/repos/node/issues', {method: 'POST', body: parts}).then(r => console.log(r.status, r.body && JSON.parse(r.body).body_sha256));"
	is "$OUT" "200 $BODY_SHA" "node https: a chunked body reaches the upstream intact"
else
	skip "node https: a chunked body reaches the upstream intact" "node is not installed"
fi

# ---- WebSocket ------------------------------------------------------------------------------------------

: >"$API_LOG"
l7 -- python3 -c "
$PYC
def ws(host):
    c = tunnel(host, $P)
    r, accept_ok = c.ws_upgrade('/ws', '%s:$P' % host)
    if r is None or r[0] != 101:
        return str(r[0] if r else 'closed') + ('/' + r[2].decode() if r else '')
    c.ws_send('hello through warden')
    op, payload = c.ws_recv()
    return '101 accept=%s %d %s' % (accept_ok, op, payload.decode())
print(ws('api.test'))
print(ws('nows.test'))"
like "$OUT" "^101 accept=True 1 hello through warden" "WebSocket upgrade on /ws (rule GET /ws): 101, and a text frame comes back"
like "$OUT" $'\n403/.*policy_denied' "... refused (403) where no rule covers GET /ws"
is "$(up_count "$API_LOG" "^GET /ws host=nows.test")" 0 "... and the refused upgrade never reached the upstream"

# ---- credentials ------------------------------------------------------------------------------------------

# shellcheck disable=SC2016 # expanded by the sandbox's sh
l7 -- sh -c '
printf "%s\n" "$API_KEY" "$TOKEN"
env >envdump
for f in /proc/[0-9]*/environ /proc/[0-9]*/cmdline /proc/self/environ; do cat "$f" 2>/dev/null; echo; done >procdump
cat /proc/1/environ >p1 2>/dev/null || echo "pid 1 environ unreadable"'
like "$(sed -n 1p <<<"$OUT") $(sed -n 2p <<<"$OUT")" "^warden-placeholder-[^ ]+ warden-placeholder-" "the agent's environment has placeholders (API_KEY, TOKEN)"
like "$(grep '^API_KEY=' "$WORKDIR/envdump" 2>/dev/null)" "^API_KEY=warden-placeholder-" "... API_KEY=warden-placeholder-... in env"
PLACEHOLDER=$(grep '^API_KEY=' "$WORKDIR/envdump" 2>/dev/null | cut -d= -f2-)
found=$(cat "$WORKDIR/envdump" "$WORKDIR/procdump" "$WORKDIR/p1" 2>/dev/null | grep -c -e "$SECRET" -e "$FILE_SECRET")
if [[ -s $WORKDIR/procdump && $found == 0 ]]; then
	ok "neither secret is in env, /proc/self/environ, /proc/1/environ or any /proc/*/environ and cmdline inside"
else
	not_ok "neither secret is in env, /proc/self/environ, /proc/1/environ or any /proc/*/environ and cmdline inside"
	diag "matches: $found" "$(wc -c <"$WORKDIR/procdump" 2>&1) bytes of /proc read"
fi

# The agent's requests to api.test: no key, its own key, the placeholder in Authorization.
# shellcheck disable=SC2016 # expanded by the sandbox's sh
l7 -- sh -c '
curl -sS -o /dev/null -w "%{http_code} " https://api.test:'"$P"'/repos/cred/1
curl -sS -o /dev/null -w "%{http_code} " -H "X-Api-Key: agent-own-key" https://api.test:'"$P"'/repos/cred/2
curl -sS -o /dev/null -w "%{http_code} " -H "x-API-key: $API_KEY" -H "Authorization: Bearer $API_KEY" https://api.test:'"$P"'/repos/cred/3'
is "$OUT" "200 200 200 " "requests to api.test with no key, the agent's own key, and the placeholder"
hq() { jsonl_query "$API_HDR" "[hdr(r, '$2') for r in req(path='$1')]"; }
is "$(hq /repos/cred/1 x-api-key)" "[\"$SECRET\"]" "... the upstream gets X-Api-Key: <the real secret> though the agent sent none"
is "$(hq /repos/cred/2 x-api-key)" "[\"$SECRET\"]" "... and instead of the agent's own X-Api-Key (one header, the secret)"
is "$(hq /repos/cred/3 authorization)" "[\"Bearer $SECRET\"]" "... the placeholder in Authorization is replaced by the secret"
is "$(hq /repos/cred/3 x-api-key)" "[\"$SECRET\"]" "... and a placeholder X-Api-Key (any case) becomes the one secret header"

l7 -- python3 -c "
import os, urllib.request, json
r = urllib.request.Request('https://api.test:$P/repos/cred/py', headers={'Authorization': 'token ' + os.environ['API_KEY']})
print(urllib.request.urlopen(r).status)"
is "$OUT/$(hq /repos/cred/py authorization)" "200/[\"token $SECRET\"]" "python urllib: the placeholder it sends arrives as the secret"
if ((HAVE_NODE)); then
	l7 -- node -e "
const {request} = require('$WORKDIR/nodec.js');
request('api.test', $P, '/repos/cred/node', {headers: {Authorization: 'Bearer ' + process.env.API_KEY}}).then(r => console.log(r.status));"
	is "$OUT/$(hq /repos/cred/node authorization)" "200/[\"Bearer $SECRET\"]" "node https: the placeholder it sends arrives as the secret"
else
	skip "node https: the placeholder it sends arrives as the secret" "node is not installed"
fi
if [[ -n $PLACEHOLDER ]]; then
	is "$(grep -cF "$PLACEHOLDER" "$API_HDR")" 0 "no placeholder reached the upstream (curl, python, node)"
else
	not_ok "no placeholder reached the upstream (curl, python, node)"
	diag "no placeholder to look for"
fi

: >"$API_LOG"
# shellcheck disable=SC2016 # expanded by the sandbox's sh
l7 -- sh -c '
curl -sS -o o1.json -w "%{http_code} " -H "Authorization: Bearer $API_KEY" https://other.test:'"$P"'/repos/o/1
curl -sS -o /dev/null -w "%{http_code}" https://other.test:'"$P"'/repos/o/2'
read -r o1 o2 <<<"$OUT"
is "$o1/$(json_get "$(cat "$WORKDIR/o1.json" 2>/dev/null)" error)" "403/credential_endpoint_mismatch" \
	"the placeholder sent to other.test (allowed, but not bound to the credential): 403 credential_endpoint_mismatch"
is "$(up_count "$API_LOG" "/repos/o/1 ")" 0 "... and nothing reached other.test's upstream"
is "$o2/$(hq /repos/o/2 x-api-key)" '200/[""]' "other.test without the placeholder: allowed, and no X-Api-Key is added there"

# shellcheck disable=SC2016 # expanded by the sandbox's sh
l7 -- sh -c 'curl -sS -o /dev/null -w "%{http_code}" -H "Authorization: token $TOKEN" https://bound.test:'"$P"'/echo/bound'
is "$OUT/$(hq /echo/bound authorization)" "200/[\"token $FILE_SECRET\"]" \
	"a credential from a file (0600), bound to an entry without protocol: its placeholder becomes the secret"

# A named sandbox, to search its state directory while it runs.
NAME=l7-$$-$RANDOM
track_name "$NAME"
named=$(mktmp named)
rm -f "$WORKDIR/named-ready" "$WORKDIR/named-stop"
timeout 60 "$WARDEN" run --no-tty --name "$NAME" --policy "$POLICY" --workdir "$WORKDIR" "${L7[@]}" \
	--audit-log "$named/audit.jsonl" -- sh -c "
curl -sS -o /dev/null -H 'X-Api-Key: x' https://api.test:$P/repos/named
touch $WORKDIR/named-ready
while [ ! -e $WORKDIR/named-stop ]; do sleep 0.1; done" </dev/null >"$named/out" 2>"$named/err" &
named_pid=$!
track_pid $named_pid
if wait_until 20 test -e "$WORKDIR/named-ready"; then
	sd=$(state_dir "$NAME")
	hits=$(grep -rlF -e "$SECRET" -e "$FILE_SECRET" "$sd" 2>&1)
	if [[ -d $sd && -z $hits ]]; then
		ok "no secret in the running sandbox's state directory ($sd)"
	else
		not_ok "no secret in the running sandbox's state directory"
		diag "$sd: ${hits:-does not exist}"
	fi
else
	not_ok "no secret in the running sandbox's state directory"
	diag "the sandbox did not get ready: $(cat "$named/err")"
fi
touch "$WORKDIR/named-stop"
wait "$named_pid"
cat "$named/out" "$named/err" >>"$L7ALL"

hits=$(grep -rlF -e "$SECRET" -e "$FILE_SECRET" "$T_TMP"/trail.* "$named" "$L7ALL" 2>&1)
if [[ -z $hits ]]; then
	ok "no secret in any audit trail of this file, nor in anything warden or the agent printed"
else
	not_ok "no secret in any audit trail of this file, nor in anything warden or the agent printed"
	diag "$hits"
fi

POL644=$(mktmp pol)/p644.yaml
printf '%s\n' "file-secret-0644-$RANDOM$RANDOM" >"$creds/open"
chmod 644 "$creds/open"
sed "s|from_file: $creds/token|from_file: $creds/open|" "$POLICY" >"$POL644"
chmod 644 "$POL644"
POLICY_SAVED=$POLICY
POLICY=$POL644
l7 -- true
is "$RC" 125 "a from_file credential readable by others (0644): warden refuses to start (125)"
like "$ERR" "$creds/open" "... naming the file"
if grep -qF "$(cat "$creds/open")" <<<"$ERR$OUT"; then not_ok "... and not the secret"; else ok "... and not the secret"; fi
POLICY=$POLICY_SAVED
TEST_API_KEY=
l7 -- true
is "$RC" 125 "a from_env credential whose variable is empty: warden refuses to start (125)"
like "$ERR" "TEST_API_KEY" "... naming the variable"
TEST_API_KEY=$SECRET

# ---- git: may clone, may not push ---------------------------------------------------------------------------

if ((HAVE_GIT)); then
	: >"$GIT_LOG"
	rm -rf "$WORKDIR/gclone"
	l7 -- git clone -q "https://git.test:$GIT_PORT/repo.git" "$WORKDIR/gclone"
	is "$RC/$(cat "$WORKDIR/gclone/README" 2>/dev/null)" "0/hello from upstream" "git clone over HTTPS through the inspecting proxy"
	[[ $RC == 0 ]] || diag "$ERR"
	like "$(cat "$GIT_LOG")" "GET /repo.git/info/refs\\?service=git-upload-pack" "... the git server saw the upload-pack advertisement"
	like "$(cat "$GIT_LOG")" "POST /repo.git/git-upload-pack" "... and the upload-pack POST"
	l7 -- sh -c "cd $WORKDIR/gclone && echo change >>README && git -c user.name=t -c user.email=t@t commit -qam change && echo committed && git push -q origin HEAD:main"
	if [[ $RC != 0 && $OUT == committed ]]; then
		ok "git commit works, git push is refused (exit $RC)"
	else
		not_ok "git commit works, git push is refused"
		diag "stdout: $OUT" "stderr: $ERR" "exit: $RC"
	fi
	is "$(grep -c 'git-receive-pack' "$GIT_LOG")" 0 "... and no git-receive-pack request reached the git server"
	like "$(jsonl_query "$TRAIL" '[(r.get("method"), r.get("path")) for r in ev("http.request", decision="deny")]')" \
		'\["GET", "/repo\.git/info/refs\?service="\]|git-receive-pack' "... the trail has the denied http.request for the push"
	l7 -- curl -sS -w '\n%{http_code}' -X POST -H 'Content-Type: application/x-git-receive-pack-request' \
		--data-binary '0000' "https://git.test:$GIT_PORT/repo.git/git-receive-pack"
	split_out
	is "$CODE/$(json_get "$BODY" error)" "403/policy_denied" "a direct POST to git-receive-pack: 403"
	is "$(grep -c 'git-receive-pack' "$GIT_LOG")" 0 "... and it did not reach the git server either"
	# The same push from the host, without warden, is accepted: the refusal was the proxy's.
	hp=$(GIT_SSL_CAINFO=$UPSTREAM_CA git -c safe.directory='*' -c "http.curloptResolve=git.test:$GIT_PORT:127.0.0.1" \
		-C "$WORKDIR/gclone" push -q origin HEAD:main 2>&1)
	is "$?" 0 "the same push from the host (no proxy) is accepted by the git server"
	[[ -z $hp ]] || diag "$hp"
else
	for d in "git clone over HTTPS through the inspecting proxy" "git commit works, git push is refused"; do
		skip "$d" "git is not installed"
	done
fi

# ---- real clients, allowed and denied ---------------------------------------------------------------------

l7 -- python3 -c "
import json, urllib.request, urllib.error
r = urllib.request.urlopen('https://api.test:$P/repos/py/1')
print(r.status, json.load(r)['path'])
try:
    urllib.request.urlopen('https://api.test:$P/other/py')
except urllib.error.HTTPError as e:
    print(e.code, json.load(e)['error'])"
is "$OUT" "200 /repos/py/1
403 policy_denied" "python urllib (HTTPS_PROXY, SSL_CERT_FILE): allowed, then denied with the JSON answer"

if ((HAVE_NODE)); then
	l7 -- node -e "
const {request} = require('$WORKDIR/nodec.js');
(async () => {
  const a = await request('api.test', $P, '/repos/node/1');
  console.log(a.status, a.body && JSON.parse(a.body).path);
  const b = await request('api.test', $P, '/other/node');
  console.log(b.status, b.body && JSON.parse(b.body).error);
})();"
	is "$OUT" "200 /repos/node/1
403 policy_denied" "node https (NODE_EXTRA_CA_CERTS, CONNECT by hand): allowed, then denied with the JSON answer"
else
	skip "node https (NODE_EXTRA_CA_CERTS, CONNECT by hand): allowed, then denied" "node is not installed"
fi

done_testing
