#!/usr/bin/env bash
#
# Change under control, end to end: an agent (a shell script with curl)
# inside a real sandbox is denied, reads why, proposes a change at
# http://policy.local and waits; the test, on the host, decides with the
# real CLI (warden approvals / approve / deny) over the control socket.
# Held connections (approvals.mode: ask) are approved, denied, left to
# time out and abandoned by their client.  And the agent tries to approve
# itself by every route it has: none works.

# shellcheck source=SCRIPTDIR/../lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

for tool in curl; do
	if ! command -v $tool >/dev/null; then
		echo "Bail out! $tool is needed (scripts/deps.sh test installs it)"
		exit 1
	fi
done

WORKDIR=$(mk_workdir wd)
SYS_RO=$(system_ro)
CURL_EXE=$(readlink -f "$(command -v curl)")

start_upstream
P=$UP_PORT
HOSTS=(--add-host files.example.com:127.0.0.1 --add-host other.example.com:127.0.0.1
	--add-host third.example.com:127.0.0.1)

# pol APPROVALS-SECTION [NETWORK-POLICIES]: a policy with that approvals
# section and those network_policies (none when not given).
pol() {
	local f np=${2:-'{}'}
	f=$(mktmp pol)/policy.yaml
	write_policy "$f" <<EOF
version: 1
filesystem_policy:
  include_workdir: true
  read_only: [$SYS_RO]
network_policies: $np
$1
EOF
	printf '%s\n' "$f"
}
POL_DENY=$(pol "approvals: {mode: deny, rate_per_minute: 20}")
POL_ASK=$(pol "approvals: {mode: ask, timeout: 30s}")
POL_ASK2=$(pol "approvals: {mode: ask, timeout: 2s}")
POL_FLOOD=$(pol "approvals: {mode: deny, rate_per_minute: 3}")

mkdir -p "$T_TMP/trails"
# Sandbox names are unique to this run: another run may be going on beside it.
PFX=appr$$-

# agent NAME <<SCRIPT: the script the agent runs (sh, in the workdir).
agent() {
	{
		echo '#!/bin/sh'
		echo "cd '$WORKDIR' || exit 1"
		cat
	} >"$WORKDIR/$1.sh"
	chmod 755 "$WORKDIR/$1.sh"
}

# bg NAME POLICY: run agent script NAME in a sandbox called $PFX$NAME, in the background.
bg() {
	timeout 120 "$WARDEN" run --no-tty --name "$PFX$1" --policy "$2" --workdir "$WORKDIR" \
		--audit-log "$T_TMP/trails/$1.jsonl" "${HOSTS[@]}" -- "$WORKDIR/$1.sh" \
		</dev/null >"$T_TMP/$1.out" 2>"$T_TMP/$1.err" &
	BG_PID=$!
	track_pid "$BG_PID"
	track_name "$PFX$1"
}

# item NAME KIND: the id of $PFX$NAME's first pending item of KIND (proposal|hold), waiting up to 30 s.
item() {
	local line
	line=$(pending_item "$PFX$1" "$2") || return 1
	json_get "$line" id
}

# pending NAME: how many items $PFX$NAME has waiting.
pending() {
	"$WARDEN" approvals "$PFX$1" --json 2>/dev/null | grep -c '"status":"pending"'
}

file() { cat "$WORKDIR/$1" 2>/dev/null; }
field() { json_get "$(file "$1")" "$2"; }

propose_body() {	# propose_body NAME HOST: a proposal for curl to HOST:$P
	printf '{"intent":"fetch the test fixtures","name":"%s","network_policy":{"endpoints":[{"host":"%s","port":%s}],"binaries":[{"path":"%s"}]}}' \
		"$1" "$2" "$P" "$CURL_EXE"
}

# ---- denied, proposed, approved --always ---------------------------------------------

agent a <<EOF
curl -sS -o a.403 -w '%{http_code}' http://files.example.com:$P/always-1 >a.first
curl -sS 'http://policy.local/v1/denials?last=5' >a.denials
curl -sS http://policy.local/v1/policy >a.policy0
curl -sS -x http://127.0.0.1:3128 http://policy.local/v1/policy >a.policyfwd
test -r /etc/warden/AGENTS.md && echo yes >a.agents
echo x >/etc/warden/policy.yaml 2>/dev/null && echo written >a.write
curl -sS -o a.prop -w '%{http_code}' http://policy.local/v1/proposals -H 'Content-Type: application/json' -d '$(propose_body files files.example.com)' >a.propcode
id=\$(sed -n 's/.*"id":"\([^"]*\)".*/\1/p' a.prop)
curl -sS "http://policy.local/v1/proposals/\$id?wait=60" >a.decided
curl -sS -o /dev/null -w '%{http_code}' http://files.example.com:$P/always-2 >a.second
curl -sS http://policy.local/v1/policy >a.policy1
cat /etc/warden/policy.yaml >a.yaml
EOF
bg a "$POL_DENY"
id=$(item a proposal)
check "the proposal waits for a human (warden approvals --json)" test -n "$id"
check "(sanity) the sandbox's control socket exists on the host" test -S "$(state_dir "${PFX}a")/control.sock"
"$WARDEN" approve "$id" --always >"$T_TMP/approve.out" 2>&1
is "$?" 0 "warden approve ID --always"
wait "$BG_PID"
is "$(file a.first)" 403 "the agent's first request is denied"
like "$(field a.403 propose)" '"url": "http://policy.local/v1/proposals"' "... its 403 says where to propose"
like "$(json_get "$(json_get "$(json_get "$(file a.403)" propose)" example)" network_policy)" \
	"files.example.com.*$P.*$CURL_EXE" "... with an example for exactly that host, port and binary"
like "$(file a.denials)" "\"host\":\"files.example.com\",\"port\":$P" "/v1/denials lists the denial"
like "$(file a.denials)" "\"binary\":\"$CURL_EXE\"" "... with the binary"
like "$(field a.policy0 policy)" "network_policies: \\{\\}" "/v1/policy shows the running policy"
is "$(field a.policyfwd hash)" "$(field a.policy0 hash)" "... also through the forward proxy"
is "$(file a.agents)" yes "/etc/warden/AGENTS.md is there"
is "$(file a.write)" "" "/etc/warden is read-only"
is "$(file a.propcode)" 201 "the proposal is accepted (201)"
is "$(field a.prop status)" pending "... and pending"
is "$(field a.decided status)" approved "the agent's long poll returns approved"
is "$(file a.second)" 200 "the same request now succeeds"
like "$(cat "$UP_LOG")" "GET /always-2" "... and reaches the upstream"
new_hash=$(field a.policy1 hash)
check "/v1/policy shows a new hash" bash -c '[[ -n $1 && $1 != "$2" ]]' _ "$new_hash" "$(field a.policy0 hash)"
is "$(field a.policy1 hash)" "$(field a.decided hash)" "... the one the decision names"
is "$(field a.policy1 revision)" 2 "... revision 2"
like "$(file a.yaml)" "sha256 $new_hash" "/etc/warden/policy.yaml follows the reload"
like "$(file a.yaml)" "files.example.com" "... and holds the new entry"
like "$(jsonl_query "$T_TMP/trails/a.jsonl" "[r.get('event') for r in recs]")" "approval.granted" \
	"the trail records approval.granted"

# ---- denied with a reason ------------------------------------------------------------

agent b <<EOF
curl -sS -o b.prop http://policy.local/v1/proposals -d '$(propose_body other other.example.com)'
id=\$(sed -n 's/.*"id":"\([^"]*\)".*/\1/p' b.prop)
curl -sS "http://policy.local/v1/proposals/\$id?wait=60" >b.decided
curl -sS "http://policy.local/v1/proposals/\$id" >b.later
curl -sS -o /dev/null -w '%{http_code}' http://other.example.com:$P/b >b.after
EOF
bg b "$POL_DENY"
id=$(item b proposal)
"$WARDEN" deny "$id" --reason "use the internal mirror instead" >/dev/null 2>&1
is "$?" 0 "warden deny ID --reason"
wait "$BG_PID"
is "$(field b.decided status)" denied "the agent's long poll returns denied"
is "$(field b.decided reason)" "use the internal mirror instead" "... with the operator's reason"
is "$(field b.later reason)" "use the internal mirror instead" "... and GET /v1/proposals/ID keeps it"
is "$(file b.after)" 403 "the request stays denied"

# ---- approved --for 2s: works, then expires -------------------------------------------

agent c <<EOF
curl -sS -o c.prop http://policy.local/v1/proposals -d '$(propose_body third third.example.com)'
id=\$(sed -n 's/.*"id":"\([^"]*\)".*/\1/p' c.prop)
curl -sS "http://policy.local/v1/proposals/\$id?wait=60" >c.decided
curl -sS -o /dev/null -w '%{http_code}' http://third.example.com:$P/for-1 >c.1
sleep 3
curl -sS -o /dev/null -w '%{http_code}' http://third.example.com:$P/for-2 >c.2
EOF
bg c "$POL_DENY"
id=$(item c proposal)
"$WARDEN" approve "$id" --for 2s >/dev/null 2>&1
is "$?" 0 "warden approve ID --for 2s"
wait "$BG_PID"
is "$(field c.decided status)" approved "approved for 2 s"
is "$(file c.1)" 200 "... the request succeeds at once"
is "$(file c.2)" 403 "... and is denied again after 3 s"
like "$(jsonl_query "$T_TMP/trails/c.jsonl" "[r.get('rule') for r in ev('net.connect', decision='allow')]")" \
	"approval:$id" "the allowed connection's rule names the approval"

# held_denied NAME POLICY WHAT PATH [CURL-ARG...]: the agent's request to
# files.example.com:$P/PATH is held; denied with a reason, it gets 403 with
# that reason, and nothing reaches the upstream.
held_denied() {
	local name=$1 policy=$2 what=$3 path=$4 id
	shift 4
	agent "$name" <<EOF
curl -sS -o $name.body -w '%{http_code}' $* http://files.example.com:$P$path >$name.code
EOF
	bg "$name" "$policy"
	id=$(item "$name" hold)
	"$WARDEN" deny "$id" --reason "not during the freeze ($name)" >/dev/null 2>&1
	wait "$BG_PID"
	is "$(file "$name.code")" 403 "denied: the held $what gets 403"
	like "$(field "$name.body" reason)" "denied by the operator: not during the freeze \\($name\\)" \
		"... with the operator's reason"
	is "$(grep -c "$path" "$UP_LOG")" 0 "... and nothing reached the upstream"
}

# held_gone NAME POLICY WHAT PATH [CURL-ARG...]: the agent's request is held
# and its client gives up after 2 s: the item is released, nothing reaches
# the upstream.
held_gone() {
	local name=$1 policy=$2 what=$3 path=$4 id
	shift 4
	agent "$name" <<EOF
curl -sS -m 2 -o /dev/null $* http://files.example.com:$P$path
echo \$? >$name.rc
sleep 3
EOF
	bg "$name" "$policy"
	id=$(item "$name" hold)
	check "the $what is held" test -n "$id"
	sleep 3
	is "$(pending "$name")" 0 "the client of the held $what went away: the item is gone (released)"
	wait "$BG_PID"
	is "$(file "$name.rc")" 28 "... (curl gave up: timeout)"
	is "$(grep -c "$path" "$UP_LOG")" 0 "... and nothing reached the upstream"
}

# held_then_proposed NAME POLICY WHAT URL PROPOSAL [CURL-ARG...]: the agent's
# request to URL is held, then the agent proposes PROPOSAL (JSON); approved
# --always, the held request goes on.
held_then_proposed() {
	local name=$1 policy=$2 what=$3 url=$4 body=$5 id
	shift 5
	agent "$name" <<EOF
curl -sS -o /dev/null -w '%{http_code}' $* $url >$name.code &
sleep 1
curl -sS -o $name.prop http://policy.local/v1/proposals -d '$body'
wait
EOF
	bg "$name" "$policy"
	item "$name" hold >/dev/null
	id=$(item "$name" proposal)
	"$WARDEN" approve "$id" --always >/dev/null 2>&1
	wait "$BG_PID"
	is "$(file "$name.code")" 200 "a held $what proceeds once a proposal covering it is approved --always"
}

# ---- hold-and-ask: approve, deny ---------------------------------------------------------

agent d <<EOF
curl -sS -o d.body -w '%{http_code}' http://files.example.com:$P/held-approve >d.code
EOF
bg d "$POL_ASK"
id=$(item d hold)
like "$id" "^h-" "a denied connection is held (approvals.mode: ask)"
"$WARDEN" approve "$id" --once >/dev/null 2>&1
wait "$BG_PID"
is "$(file d.code)" 200 "approved: the held request proceeds"
like "$(cat "$UP_LOG")" "GET /held-approve" "... and reaches the upstream"

held_denied e "$POL_ASK" connection /held-deny

# Several held at once, identical ones coalesced into one item, each answered.
agent m <<EOF
for i in 1 2 3; do
	curl -sS -o /dev/null -w '%{http_code}' http://files.example.com:$P/held-many-\$i >m.\$i &
done
wait
EOF
bg m "$POL_ASK"
id=$(item m hold)
sleep 1
coalesced=$("$WARDEN" approvals "${PFX}m" --json 2>/dev/null | grep -c '"kind":"hold"')
is "$coalesced" 1 "three identical held connections are one item"
"$WARDEN" approve "$id" --once >/dev/null 2>&1
wait "$BG_PID"
is "$(file m.1)$(file m.2)$(file m.3)" 200200200 "... and each proceeds once it is approved"

# A proposal approved --always lets a connection held for the same thing go on.
held_then_proposed n "$POL_ASK" connection "http://other.example.com:$P/held-by-proposal" \
	"$(propose_body other other.example.com)"

# ---- hold-and-ask: timeout, client gone ---------------------------------------------------

agent t <<EOF
curl -sS -o t.body -w '%{http_code}' http://files.example.com:$P/held-timeout >t.code
EOF
bg t "$POL_ASK2"
wait "$BG_PID"
is "$(file t.code)" 403 "no decision within approvals.timeout: 403"
like "$(field t.body reason)" "no decision within 2 s" "... saying so"

held_gone g "$POL_ASK" connection /held-gone
like "$(jsonl_query "$T_TMP/trails/g.jsonl" "[r.get('event') for r in recs]")" "approval.expired" \
	"... recorded as approval.expired"

# ---- hold-and-ask for single requests (an endpoint's rules) -------------------------------

# pol_rest TIMEOUT: curl may GET /ok/** on files.example.com; the rest is asked for.
pol_rest() {
	pol "approvals: {mode: ask, timeout: $1}" "
  files:
    endpoints:
      - host: files.example.com
        port: $P
        protocol: rest
        rules:
          - allow: {method: GET, path: \"/ok/**\"}
        deny_rules:
          - {method: DELETE, path: \"/**\"}
    binaries:
      - path: $CURL_EXE"
}
POL_REST=$(pol_rest 30s)
POL_REST2=$(pol_rest 2s)

# Three identical requests the rules refuse: one item naming method and path; --once answers each.
agent ra <<EOF
curl -sS -o /dev/null -w '%{http_code}' http://files.example.com:$P/ok/first >ra.0
for i in 1 2 3; do
	curl -sS -o ra.body\$i -w '%{http_code}' -X POST -d "item \$i" http://files.example.com:$P/api/items >ra.\$i &
done
wait
EOF
bg ra "$POL_REST"
id=$(item ra hold)
like "$id" "^h-" "a request the rules refuse is held (approvals.mode: ask)"
sleep 1
listing=$("$WARDEN" approvals "${PFX}ra" --json 2>/dev/null)
is "$(grep -c '"kind":"hold"' <<<"$listing")" 1 "... three identical requests are one item"
like "$listing" '"method":"POST","path":"/api/items","entry":"files"' "... naming method, path and the entry"
like "$("$WARDEN" approvals "${PFX}ra" 2>/dev/null)" "POST /api/items" "... which warden approvals shows"
"$WARDEN" approve "$id" --once >/dev/null 2>&1
wait "$BG_PID"
is "$(file ra.0)" 200 "the allowed GET went through before"
is "$(file ra.1)$(file ra.2)$(file ra.3)" 200200200 "approved --once: each held request proceeds"
is "$(grep -c "POST /api/items" "$UP_LOG")" 3 "... and reaches the upstream, once each"
like "$(field ra.body1 method)" POST "... as the request it was"

# Denied with a reason: 403, the reason, nothing upstream.
held_denied rd "$POL_REST" request /api/deny-me -X POST -d x

# --always: the entry gains a rule for that method and path; the next one is not held.
agent rw <<EOF
curl -sS -o rw.before http://policy.local/v1/policy
curl -sS -o /dev/null -w '%{http_code}' -X PUT -d v http://files.example.com:$P/api/settings >rw.1
curl -sS -o /dev/null -w '%{http_code}' -X PUT -d v http://files.example.com:$P/api/settings >rw.2
curl -sS -o /dev/null -w '%{http_code}' -m 3 -X PUT -d v http://files.example.com:$P/api/settings/x >rw.3
curl -sS -o rw.after http://policy.local/v1/policy
EOF
bg rw "$POL_REST"
id=$(item rw hold)
"$WARDEN" approve "$id" --always >/dev/null 2>&1
wait "$BG_PID"
is "$(file rw.1)" 200 "approved --always: the held request proceeds"
is "$(file rw.2)" 200 "... and the same request again is allowed without asking"
like "$(file rw.3)" "^(000|403)$" "... but not another path (held again)"
check "... under a new policy hash" test "$(field rw.after hash)" != "$(field rw.before hash)"
like "$(field rw.after policy)" 'method: "PUT", path: "/api/settings"' "... whose entry has the new rule"
is "$(grep -c "PUT /api/settings " "$UP_LOG")" 2 "... both reached the upstream"

# Two different requests held at once, decided independently; a --for grant covers the next one too.
agent ri <<EOF
curl -sS -o /dev/null -w '%{http_code}' -X POST -d a http://files.example.com:$P/api/a >ri.a &
curl -sS -o ri.bbody -w '%{http_code}' -X POST -d b http://files.example.com:$P/api/b >ri.b &
wait
curl -sS -o /dev/null -w '%{http_code}' -m 5 -X POST -d a http://files.example.com:$P/api/a >ri.again
EOF
bg ri "$POL_REST"
item ri hold >/dev/null
for ((k = 0; k < 50; k++)); do
	[[ $(pending ri) == 2 ]] && break
	sleep 0.2
done
listing=$("$WARDEN" approvals "${PFX}ri" --json 2>/dev/null)
id_a=$(grep '"path":"/api/a"' <<<"$listing" | "$PYTHON" -c 'import json, sys; print(json.loads(sys.stdin.readline())["id"])')
id_b=$(grep '"path":"/api/b"' <<<"$listing" | "$PYTHON" -c 'import json, sys; print(json.loads(sys.stdin.readline())["id"])')
check "two different held requests are two items" test -n "$id_a" -a -n "$id_b" -a "$id_a" != "$id_b"
"$WARDEN" approve "$id_a" --for 30s >/dev/null 2>&1
"$WARDEN" deny "$id_b" --reason "not b" >/dev/null 2>&1
wait "$BG_PID"
is "$(file ri.a) $(file ri.b)" "200 403" "... one approved, the other denied, each answered on its own"
like "$(field ri.bbody reason)" "denied by the operator: not b" "... the denied one with its reason"
is "$(file ri.again)" 200 "a --for grant lets the same request through again while it lasts"
is "$(grep -c "POST /api/a" "$UP_LOG") $(grep -c "POST /api/b" "$UP_LOG")" "2 0" "... and only what was granted reached the upstream"

# A held request goes on when a proposal that allows it is approved --always.
held_then_proposed rp "$POL_REST" request "http://files.example.com:$P/api/prop" \
	'{"intent":"patch the fixture","name":"files","network_policy":{"endpoints":[{"host":"files.example.com","port":'"$P"',"protocol":"rest","rules":[{"allow":{"method":"GET","path":"/ok/**"}},{"allow":{"method":"PATCH","path":"/api/prop"}}]}],"binaries":[{"path":"'"$CURL_EXE"'"}]}}' \
	-X PATCH -d x
is "$(grep -c "PATCH /api/prop" "$UP_LOG")" 1 "... and reaches the upstream"

# No decision in time: 403 saying so.
agent rt <<EOF
curl -sS -o rt.body -w '%{http_code}' -X POST -d x http://files.example.com:$P/api/slow >rt.code
EOF
bg rt "$POL_REST2"
wait "$BG_PID"
is "$(file rt.code)" 403 "a held request with no decision within approvals.timeout: 403"
like "$(field rt.body reason)" "no decision within 2 s" "... saying so"

# An explicit deny_rules entry is the policy's final word: refused at once, never held.
agent rx <<EOF
curl -sS -o rx.body -w '%{http_code}' -X DELETE http://files.example.com:$P/api/items/1 >rx.code
EOF
bg rx "$POL_REST"
wait "$BG_PID"
is "$(file rx.code)" 403 "a request matching deny_rules is refused without asking"
like "$(field rx.body reason)" "deny_rules" "... naming the rule"
is "$(grep -c approval.requested "$T_TMP/trails/rx.jsonl")" 0 "... and nothing was held"

# The client goes away while its request is held: the item goes, nothing reaches the upstream.
held_gone rg "$POL_REST" request /api/gone -X POST -d x

# Over TLS (the request inspected inside a CONNECT tunnel), after an allowed request on the same connection.
tls=$(mktmp tls)
make_cert "$tls" secure.example.com || { echo "Bail out! openssl cannot make a certificate"; exit 1; }
HTTP_UP_LOG=$UP_LOG
start_https_upstream "$tls" || { echo "Bail out! the HTTPS upstream did not start"; exit 1; }
SP=$UP_PORT TLS_LOG=$UP_LOG TLS_HDR=$UP_HEADERS
UP_LOG=$HTTP_UP_LOG
POL_TLS=$(mktmp pol)/policy.yaml
write_policy "$POL_TLS" <<EOF
version: 1
filesystem_policy:
  include_workdir: true
  read_only: [$SYS_RO]
network_policies:
  secure:
    endpoints:
      - host: secure.example.com
        port: $SP
        protocol: rest
        access: read-only
    binaries:
      - path: $CURL_EXE
approvals: {mode: ask, timeout: 30s}
EOF
agent rs <<EOF
curl -sS -o /dev/null -w '%{http_code} ' https://secure.example.com:$SP/ok/a \
	--next -o rs.body -w '%{http_code}' -X POST -d x https://secure.example.com:$SP/api/tls >rs.code
EOF
timeout 120 "$WARDEN" run --no-tty --name "${PFX}rs" --policy "$POL_TLS" --workdir "$WORKDIR" \
	--audit-log "$T_TMP/trails/rs.jsonl" --upstream-ca "$tls/cert.pem" \
	--add-host secure.example.com:127.0.0.1 -- "$WORKDIR/rs.sh" </dev/null >"$T_TMP/rs.out" 2>"$T_TMP/rs.err" &
BG_PID=$!
track_pid "$BG_PID"
track_name "${PFX}rs"
id=$(item rs hold)
like "$("$WARDEN" approvals "${PFX}rs" --json 2>/dev/null)" '"method":"POST","path":"/api/tls"' \
	"a request inside a TLS tunnel is held, on a kept-alive connection"
"$WARDEN" approve "$id" --once >/dev/null 2>&1
wait "$BG_PID"
is "$(file rs.code)" "200 200" "... and proceeds on that connection once approved"
is "$(grep -c "POST /api/tls" "$TLS_LOG")" 1 "... reaching the upstream once"
is "$(jsonl_query "$TLS_HDR" "[r['method'] + ' ' + str(r['conn']) for r in recs] == ['GET ' + str(recs[0]['conn']), 'POST ' + str(recs[0]['conn'])]")" True \
	"... after the GET, on the same upstream connection"

# ---- refused proposals, rate limit, no way to approve oneself ----------------------------

agent f <<EOF
curl -sS -o f.fs -w '%{http_code}' http://policy.local/v1/proposals -d '{"intent":"write everywhere","name":"fs","filesystem_policy":{"read_write":["/"]}}' >f.fscode
curl -sS -o f.nested -w '%{http_code}' http://policy.local/v1/proposals -d '{"intent":"x","name":"n","network_policy":{"endpoints":[{"host":"a.example.com","port":80}],"binaries":[{"path":"/usr/bin/curl"}],"process":{"run_as_user":"root"}}}' >f.nestedcode
curl -sS -o f.bad -w '%{http_code}' http://policy.local/v1/proposals -d '{"intent":"x","name":"bad","network_policy":{"endpoints":[{"host":"*.com","port":80}],"binaries":[{"path":"/usr/bin/curl"}]}}' >f.badcode
curl -sS -o f.prop http://policy.local/v1/proposals -d '$(propose_body self files.example.com)'
id=\$(sed -n 's/.*"id":"\([^"]*\)".*/\1/p' f.prop)
echo "\$id" >f.id
curl -sS -o /dev/null -w '%{http_code}' -X POST http://policy.local/v1/proposals/\$id/approve >f.self1
curl -sS -o /dev/null -w '%{http_code}' -X POST "http://policy.local/v1/proposals/\$id?grant=always" >f.self2
curl -sS -o /dev/null -w '%{http_code}' -X POST http://policy.local/v1/approve -d "{\"id\":\"\$id\"}" >f.self3
curl -sS -o /dev/null -w '%{http_code}' -x http://127.0.0.1:3128 -X PUT http://policy.local/v1/proposals/\$id -d '{"status":"approved"}' >f.self4
curl -sS -o /dev/null -w '%{http_code}' http://policy.local/v1/proposals/\$id/approve >f.self5
curl -sS http://policy.local/v1/proposals/\$id >f.after
i=0
while [ \$i -lt 105 ]; do
	curl -s -o /dev/null http://files.example.com:$P/many-\$i
	i=\$((i + 1))
done
curl -sS 'http://policy.local/v1/denials?last=500' >f.den500
curl -sS 'http://policy.local/v1/denials' >f.dendefault
curl -sS -o /dev/null -w '%{http_code}' 'http://policy.local/v1/denials?last=abc' >f.denbad
for s in \$(find / -xdev -name control.sock 2>/dev/null) \$(cat ctl.path); do
	test -e "\$s" && echo "\$s" >>f.seen
done
python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
try:
    s.connect(sys.argv[1]); print("connected")
except OSError as e:
    print("refused", e.errno)' "\$(cat ctl.path)" >f.ctl 2>&1
curl -sS -o /dev/null -w '%{http_code}' --unix-socket "\$(cat ctl.path)" http://x/ >f.ctlcurl 2>/dev/null
EOF
ctl=$(state_dir "${PFX}f")/control.sock
printf '%s\n' "$ctl" >"$WORKDIR/ctl.path"
bg f "$POL_DENY"
wait "$BG_PID"
is "$(file f.fscode)" 403 "a proposal for a filesystem path is refused (403)"
is "$(field f.fs error)" static_section "... as a static section"
is "$(file f.nestedcode)" 403 "a static section inside network_policy is refused too"
is "$(file f.badcode)" 400 "an invalid entry is refused with the loader's messages (400)"
like "$(field f.bad errors)" "proposal:" "... which point into the proposal"
check "a valid proposal is pending" test -n "$(file f.id)"
is "$(file f.self1)" 405 "POST /v1/proposals/ID/approve: 405, nothing to approve with"
is "$(file f.self2)" 405 "POST /v1/proposals/ID?grant=always: 405"
is "$(file f.self3)" 404 "POST /v1/approve: 404"
is "$(file f.self4)" 405 "PUT through the forward proxy: 405"
is "$(file f.self5)" 404 "GET /v1/proposals/ID/approve: 404"
is "$(field f.after status)" pending "... and the proposal is still pending"
count_denials() { "$PYTHON" -c 'import json, sys; j = json.load(open(sys.argv[1])); print(len(j["denials"]), j["total"], j["denials"][-1]["path"] or j["denials"][-1]["host"])' "$WORKDIR/$1"; }
is "$(count_denials f.den500)" "100 105 files.example.com" "/v1/denials keeps the last 100 (last is capped; total counts all)"
is "$(count_denials f.dendefault | cut -d' ' -f1)" 20 "... 20 by default"
is "$(file f.denbad)" 400 "... and refuses a last that is not a number"
is "$(file f.seen)" "" "the control socket is not visible inside the sandbox"
like "$(file f.ctl)" "^refused" "connecting to the control socket by its path fails"
check "... with curl --unix-socket too" test "$(file f.ctlcurl)" != 200

# A policy that lists no /etc still has /etc/warden and a readable hosts file naming policy.local.
noetc=$(mktmp pol)/policy.yaml
write_policy "$noetc" <<EOF
version: 1
filesystem_policy:
  include_workdir: true
  read_only: [$(printf '%s' "$SYS_RO" | sed 's/, *\/etc//; s/\/etc, *//')]
network_policies: {}
EOF
POLICY=$noetc
sandbox -- /bin/sh -c 'curl -sS http://policy.local/v1/policy; echo; head -2 /etc/warden/policy.yaml'
like "$OUT" '"hash":"[0-9a-f]{64}"' "without /etc in the policy, http://policy.local still resolves and answers"
like "$OUT" "revision 1" "... and /etc/warden/policy.yaml is there"

agent r <<EOF
for i in 1 2 3 4 5 6; do
	curl -sS -o /dev/null -w '%{http_code} ' http://policy.local/v1/proposals -d "{\"intent\":\"ask \$i\",\"name\":\"flood\$i\",\"network_policy\":{\"endpoints\":[{\"host\":\"h\$i.example.com\",\"port\":443}],\"binaries\":[{\"path\":\"/usr/bin/curl\"}]}}"
done >r.codes
EOF
bg r "$POL_FLOOD"
wait "$BG_PID"
is "$(file r.codes)" "201 201 201 429 429 429 " "a flood of proposals is rate-limited (429 after rate_per_minute)"

done_testing
