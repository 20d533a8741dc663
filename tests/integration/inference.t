#!/usr/bin/env bash
#
# The privacy router, end to end.  Inside real sandboxes, agents call
# http://inference.local with the official SDKs (@anthropic-ai/sdk and
# openai from npm, run by node) and with a python3 stdlib client, streaming
# and not; warden's router reads every request through its classifiers
# (the built-in one chained with examples/classifier.py), picks the
# provider trusted with the request's tier, swaps the agent's key for the
# provider's, and forwards.  The providers are mock servers on the host's
# loopback (tests/upstream/mockllm.py) that record every request and echo
# the prompt back, so each check looks at both ends: what the agent got and
# what each provider received -- or did not.
#
#   cheap  anthropic  max_tier internal      https://api.cheap.test:P
#   zdr    anthropic  max_tier confidential  https://api.zdr.test:P
#   cloud  openai     max_tier internal      https://api.cloud.test:P/v1
#   local  openai     max_tier restricted    http://127.0.0.1:P/v1
#
#   routes: claude-* -> [cheap, zdr];  * -> [cloud, local]
#
# Cases: harmless prompts go to the preferred provider; health data goes to
# zdr / local and never to cheap / cloud; a private key is refused (403,
# tier restricted) where no provider may take it; a term only the Python
# classifier knows raises the tier; a label the agent sets can raise the
# tier but never lower it; the agent's own keys never reach a provider and
# the provider's credential does; an oversize body is refused (413);
# requests sent straight to a provider's host are governed too; the
# forward-proxy spelling of inference.local works; with on_no_provider:
# redact, providers see placeholders and the agent sees the originals, also
# when the placeholders arrive split across stream events; a classifier
# killed mid-request or too slow makes the request fail closed (403 naming
# it) and the next one works; every decision is one inference.route event
# in the audit trail, and none of the sensitive values used here appears in
# any trail or in anything warden printed.
#
# Needs the source tree (tests/sdk, tests/guard, examples/classifier.py,
# scripts/test-sdk.sh): $WARDEN_SRC, else the tree this file is in, else
# the one $WARDEN was built in.  The SDKs are installed by
# scripts/test-sdk.sh into $WARDEN_SDK_DIR (default
# <source>/build-test/sdk); when npm or the registry is unavailable the
# SDK checks are skipped with the reason -- unless CI=true, where that is a
# failure.

# shellcheck source=SCRIPTDIR/../lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

for tool in curl openssl; do
	if ! command -v $tool >/dev/null; then
		echo "Bail out! $tool is needed (scripts/deps.sh test installs it)"
		exit 1
	fi
done

SRC=${WARDEN_SRC:-}
if [[ -z $SRC ]]; then
	for d in "$T_ROOT" "$(dirname "$WARDEN")/.."; do
		if [[ -f $d/tests/sdk/client.py && -f $d/scripts/test-sdk.sh ]]; then
			SRC=$(cd "$d" && pwd)
			break
		fi
	done
fi
if [[ -z $SRC || ! -f $SRC/tests/sdk/client.py ]]; then
	echo "Bail out! the source tree is needed (tests/sdk, tests/guard, examples): set WARDEN_SRC"
	exit 1
fi
for f in examples/classifier.py tests/guard/slow_classifier.py tests/sdk/client.mjs; do
	if [[ ! -f $SRC/$f ]]; then
		echo "Bail out! $SRC/$f is missing"
		exit 1
	fi
done

WORKDIR=$(mk_workdir wd)
SYS_RO=$(system_ro)

# ---- the SDKs --------------------------------------------------------------------------------

SDK_DIR=${WARDEN_SDK_DIR:-$SRC/build-test/sdk}
HAVE_SDK=0 SDK_WHY=
if ! command -v node >/dev/null; then
	SDK_WHY="node is not installed"
elif sdk_err=$("$SRC/scripts/test-sdk.sh" "$SDK_DIR" 2>&1); then
	HAVE_SDK=1
else
	SDK_WHY="the SDKs could not be installed: $(tail -n 1 <<<"$sdk_err")"
fi
if ((!HAVE_SDK)) && [[ ${CI:-} == true ]]; then
	not_ok "the official SDKs are installed (CI=true: a failed install is a failure)"
	diag "$SDK_WHY" "$sdk_err"
elif ((!HAVE_SDK)); then
	diag "SDK checks are skipped: $SDK_WHY"
fi
[[ -n ${sdk_err:-} ]] && ((HAVE_SDK)) && diag "$sdk_err"

cp "$SRC/tests/sdk/client.py" "$SRC/tests/sdk/client.mjs" "$WORKDIR/"
chmod 644 "$WORKDIR/client.py" "$WORKDIR/client.mjs"
# node resolves the SDK packages from a node_modules next to the script.
((HAVE_SDK)) && ln -s "$SDK_DIR/node_modules" "$WORKDIR/node_modules"
RO_EXTRA=
((HAVE_SDK)) && RO_EXTRA=", $SDK_DIR"

# ---- providers -----------------------------------------------------------------------------------

tls=$(mktmp tls)
make_cert "$tls" api.cheap.test api.zdr.test api.cloud.test ||
	{ echo "Bail out! openssl cannot make a certificate"; exit 1; }
mocks=$(mktmp mocks)
start_mockllm cheap "$mocks/cheap.jsonl" "$tls" || { echo "Bail out! mock cheap did not start"; exit 1; }
CHEAP_PORT=$MOCK_PORT CHEAP_LOG=$mocks/cheap.jsonl
start_mockllm zdr "$mocks/zdr.jsonl" "$tls" || { echo "Bail out! mock zdr did not start"; exit 1; }
ZDR_PORT=$MOCK_PORT ZDR_LOG=$mocks/zdr.jsonl
start_mockllm cloud "$mocks/cloud.jsonl" "$tls" || { echo "Bail out! mock cloud did not start"; exit 1; }
CLOUD_PORT=$MOCK_PORT CLOUD_LOG=$mocks/cloud.jsonl
start_mockllm local "$mocks/local.jsonl" || { echo "Bail out! mock local did not start"; exit 1; }
LOCAL_PORT=$MOCK_PORT LOCAL_LOG=$mocks/local.jsonl
ALL_LOGS=("$CHEAP_LOG" "$ZDR_LOG" "$CLOUD_LOG" "$LOCAL_LOG")

L7=(--upstream-ca "$tls/cert.pem" --add-host api.cheap.test:127.0.0.1
	--add-host api.zdr.test:127.0.0.1 --add-host api.cloud.test:127.0.0.1)

rnd() { head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
CHEAP_KEY=cheap-key-$(rnd) ZDR_KEY=zdr-key-$(rnd) CLOUD_KEY=cloud-key-$(rnd)
export WT_CHEAP_KEY=$CHEAP_KEY WT_ZDR_KEY=$ZDR_KEY WT_CLOUD_KEY=$CLOUD_KEY
AGENT_KEY=agent-own-key-$(rnd)

# ---- what the agents send -------------------------------------------------------------------------

CL=claude-sonnet-4-5
GPT=gpt-4o
HARMLESS="What is the capital of France?"
HEALTH="Patient with type 2 diabetes, HbA1c 8.1%, on metformin 500 mg"
NIGHTINGALE="Draft the status update for Project Nightingale"
EMAIL=jane.doe.$RANDOM@example.org
PHONE="+1 415-555-0$((100 + RANDOM % 900))"
CONTACT="Please call $PHONE or write to $EMAIL about the invoice"
# A real private key, new every run (the built-in classifier: restricted).
PEM=$(openssl genpkey -algorithm ed25519 2>/dev/null)
[[ $PEM == *"PRIVATE KEY"* ]] || { echo "Bail out! openssl cannot make a private key"; exit 1; }
PEM_B64=$(sed -n 2p <<<"$PEM")
SECRET="Why does this key not load? $PEM"
# A 16-digit card number that passes the Luhn check, new every run.
CARD=$("$PYTHON" -c '
import random
d = [4] + [random.randrange(10) for _ in range(14)]
s = 0
for i, x in enumerate(reversed(d)):
    s += x if i % 2 else (2 * x - 9 if 2 * x > 9 else 2 * x)
print("".join(map(str, d + [(10 - s % 10) % 10])))')
CARD_TEXT="Refund the order paid with card $CARD"
# The values that must never appear in an audit trail or in warden's output.
LEAKS=("HbA1c" "metformin" "$PEM_B64" "$CARD" "$EMAIL" "$PHONE" "Nightingale" "$CHEAP_KEY" "$ZDR_KEY" "$CLOUD_KEY")

# A body over the policy's max_body (64 KiB): harmless text, valid JSON.
"$PYTHON" -c '
import json, sys
json.dump({"model": sys.argv[1], "max_tokens": 16, "messages": [{"role": "user",
    "content": "ref=big " + "lorem ipsum dolor sit amet " * 4000}]}, open(sys.argv[2], "w"))' \
	"$CL" "$WORKDIR/big.json"
chmod 644 "$WORKDIR/big.json"
# Over 1 KiB: curl then sends "Expect: 100-continue" and waits for an answer before the body.
"$PYTHON" -c 'import json, sys; print(json.dumps({"model": sys.argv[1], "max_tokens": 16,
    "messages": [{"role": "user", "content": (sys.argv[2] + " ") * 80 + "ref=expect"}]}))' \
	"$CL" "$HARMLESS" >"$WORKDIR/expect.json"
chmod 644 "$WORKDIR/expect.json"

# ---- policies ----------------------------------------------------------------------------------------

# policy_head PROVIDER...: filesystem, the direct entry to api.cheap.test
# (python3 only) and the credentials of the providers named (a credential
# no provider uses is an error).
policy_head() {
	local p
	cat <<EOF
version: 1
filesystem_policy:
  include_workdir: true
  read_only: [$SYS_RO$RO_EXTRA]
network_policies:
  cheap_direct:
    endpoints:
      - {host: api.cheap.test, port: $CHEAP_PORT}
    binaries: [{path: "/usr/bin/python3*"}]
credentials:
EOF
	for p in "$@"; do
		printf '  %s: {from_env: WT_%s_KEY}\n' "$p" "${p^^}"
	done
}

POL_MAIN=$(mktmp pol)/main.yaml
write_policy "$POL_MAIN" <<EOF
$(policy_head cheap zdr cloud)
inference:
  providers:
    cheap: {format: anthropic, base_url: "https://api.cheap.test:$CHEAP_PORT", max_tier: internal, credential: cheap}
    zdr: {format: anthropic, base_url: "https://api.zdr.test:$ZDR_PORT", max_tier: confidential, credential: zdr}
    cloud: {format: openai, base_url: "https://api.cloud.test:$CLOUD_PORT/v1", max_tier: internal, credential: cloud}
    local: {format: openai, base_url: "http://127.0.0.1:$LOCAL_PORT/v1", max_tier: restricted}
  routes:
    - {models: ["claude-*"], providers: [cheap, zdr]}
    - {models: ["*"], providers: [cloud, local]}
  on_no_provider: deny
  max_body: 65536
  timeout_ms: 5000
classifiers:
  - name: example
    command: [/usr/bin/python3, $SRC/examples/classifier.py]
    read_only: [$SRC/examples]
EOF

# Redaction: cheap and cloud take only public requests, and there is no
# other provider, so contact data can only go out redacted.
POL_REDACT=$(mktmp pol)/redact.yaml
write_policy "$POL_REDACT" <<EOF
$(policy_head cheap cloud)
inference:
  providers:
    cheap: {format: anthropic, base_url: "https://api.cheap.test:$CHEAP_PORT", max_tier: public, credential: cheap}
    cloud: {format: openai, base_url: "https://api.cloud.test:$CLOUD_PORT/v1", max_tier: public, credential: cloud}
  routes:
    - {models: ["claude-*"], providers: [cheap]}
    - {models: ["*"], providers: [cloud]}
  on_no_provider: redact
EOF

# cheap_only: an inference section whose only provider is cheap (internal), for every model.
cheap_only() {
	cat <<EOF
inference:
  providers:
    cheap: {format: anthropic, base_url: "https://api.cheap.test:$CHEAP_PORT", max_tier: internal, credential: cheap}
  routes:
    - {models: ["*"], providers: [cheap]}
EOF
}

# Slow classifiers: "slow" sleeps when a body says SLEEP_MS=N and has time
# for it; "hasty" sleeps on HASTY_MS=N and has 300 ms.  The tag makes
# their command lines unique to this run, so the test kills exactly its own.
TAG=inference-t-$$-$RANDOM
POL_SLOW=$(mktmp pol)/slow.yaml
write_policy "$POL_SLOW" <<EOF
$(policy_head cheap)
$(cheap_only)
  timeout_ms: 10000
classifiers:
  - name: slow
    command: [/usr/bin/python3, $SRC/tests/guard/slow_classifier.py, --key, SLEEP_MS, --tag, $TAG]
    read_only: [$SRC/tests/guard]
  - name: hasty
    command: [/usr/bin/python3, $SRC/tests/guard/slow_classifier.py, --key, HASTY_MS, --tag, $TAG]
    read_only: [$SRC/tests/guard]
    timeout_ms: 300
EOF

# ---- helpers ---------------------------------------------------------------------------------------

# Everything warden (and the agents) printed on stderr, for the search for leaks.
ALLERR=$T_TMP/inference-stderr
: >"$ALLERR"
TRAILS=$(mktmp trails)

# inf [WARDEN-RUN-OPTIONS...] -- CMD [ARG...]: sandbox() with the provider
# names, --upstream-ca and a fresh audit trail, TRAIL.
inf() {
	TRAIL=$TRAILS/$RANDOM$RANDOM.jsonl
	sandbox "${L7[@]}" --audit-log "$TRAIL" "$@"
	printf '%s\n' "$ERR" >>"$ALLERR"
}

# jf JSON PATH...: fields of a JSON document (dotted paths, list indices
# as numbers: content.0.text), joined by "|";
# absent fields are "", booleans true/false, lists and objects compact JSON.
cat >"$T_TMP/jf.py" <<'EOF'
import json, sys
try:
    doc = json.loads(sys.argv[1])
except ValueError:
    doc = None
out = []
for path in sys.argv[2:]:
    v = doc
    for k in path.split("."):
        if isinstance(v, list) and k.isdigit():
            v = v[int(k)] if int(k) < len(v) else None
        else:
            v = v.get(k) if isinstance(v, dict) else None
    if v is None:
        out.append("")
    elif isinstance(v, (bool, list, dict)):
        out.append(json.dumps(v, separators=(",", ":")))
    else:
        out.append(str(v))
print("|".join(out))
EOF
jf() { "$PYTHON" "$T_TMP/jf.py" "$@"; }

# A batch of client calls run in one sandbox, each printing one JSON line.
#   N LABEL API ARG...   node client.mjs (skipped without the SDKs)
#   P LABEL API ARG...   python3 client.py
#   run_batch: runs them in order (policy: $POLICY); R[LABEL] is each
#   call's JSON line and LABELS the labels in order.
# A --prompt goes into a file (--prompt-file): warden's trail records every
# command line, and the prompts must not be found in the trail.
BATCH=()
LABELS=()
declare -A R
mkdir -p "$WORKDIR/prompts"
_call() {
	local l=$2 cmd=$1 a args=()
	shift 2
	while (($#)); do
		a=$1
		shift
		if [[ $a == --prompt ]]; then
			printf '%s' "$1" >"$WORKDIR/prompts/$l"
			chmod 644 "$WORKDIR/prompts/$l"
			args+=(--prompt-file "prompts/$l")
			shift
		else
			args+=("$a")
		fi
	done
	BATCH+=("$(printf 'r %q %s' "$l" "$cmd")$(printf ' %q' "${args[@]}")")
	LABELS+=("$l")
}
N() {
	((HAVE_SDK)) || return 0
	_call "node client.mjs" "$@"
}
P() {
	_call "python3 client.py" "$@"
}
run_batch() {
	local f=$WORKDIR/batch-$RANDOM.sh line
	{
		# shellcheck disable=SC2016 # for the sandbox's bash
		printf '%s\n' 'cd "$(dirname "$0")" || exit 1' \
			'r() { local l=$1; shift; printf "%s\t%s\n" "$l" "$("$@" </dev/null | tail -n 1)"; }'
		printf '%s\n' "${BATCH[@]}"
	} >"$f"
	chmod 644 "$f"
	BATCH=()
	inf -- /bin/bash "$f"
	while IFS=$'\t' read -r l line; do
		[[ -n $l ]] && R[$l]=$line
	done <<<"$OUT"
}

# skip_node LABEL DESC: true (and a SKIP) when LABEL is a node call without the SDKs.
skip_node() {
	if [[ $1 == *node* ]] && ((!HAVE_SDK)); then
		skip "$2" "$SDK_WHY"
		return 0
	fi
	return 1
}

# routed LABEL PROVIDER TIER TEXT DESC: the call succeeded through PROVIDER
# (x-warden-provider) at TIER (x-warden-tier; "*": any), and the agent read TEXT.
routed() {
	skip_node "$1" "$5" && return
	local got want="true|200|$2|$3|$4"
	got=$(jf "${R[$1]-}" ok status provider tier text)
	if [[ $3 == "*" ]]; then
		got=$(jf "${R[$1]-}" ok status provider text)
		want="true|200|$2|$4"
	fi
	is_r "$1" "$got" "$want" "$5"
}

# is_r LABEL GOT WANT DESC: is(), and on failure the call's whole answer.
is_r() {
	if [[ $2 == "$3" ]]; then
		ok "$4"
	else
		not_ok "$4"
		diag "got:  '$2'" "want: '$3'" "$1 answered: ${R[$1]-(nothing)}"
	fi
}

# denied LABEL STATUS TIER DESC: the call was refused with STATUS and the
# router's JSON (error inference_denied, tier TIER).
denied() {
	skip_node "$1" "$4" && return
	is_r "$1" "$(jf "${R[$1]-}" ok status error.error error.tier)" "false|$2|inference_denied|$3" "$4"
}

# Every prompt ends in "ref=LABEL", so a provider's log tells which calls reached it.
REF_RE="__import__('re').search(r'ref=' + __import__('re').escape(LABEL) + r'(?![A-Za-z0-9_.])', r['body'])"
# arrived LOG LABEL: how many requests carrying ref=LABEL the provider received.
arrived() {
	jsonl_query "$1" "len([r for r in recs if ${REF_RE//LABEL/\'$2\'}])"
}
# arrived_once LABEL WHERE DESC: LABEL's request reached the provider whose
# log is WHERE exactly once, and no other provider.
arrived_once() {
	skip_node "$1" "$3" && return
	local log got=
	for log in "${ALL_LOGS[@]}"; do
		got+="$(basename "$log" .jsonl)=$(arrived "$log" "$1") "
	done
	local want=
	for log in "${ALL_LOGS[@]}"; do
		if [[ $log == "$2" ]]; then want+="$(basename "$log" .jsonl)=1 "; else want+="$(basename "$log" .jsonl)=0 "; fi
	done
	is "$got" "$want" "$3"
}
# upstream_rec LOG LABEL EXPR: EXPR over the one record of LABEL's request (r).
upstream_rec() {
	jsonl_query "$1" "[($3) for r in recs if ${REF_RE//LABEL/\'$2\'}]"
}

# ---- the sandbox's view ----------------------------------------------------------------------------

POLICY=$POL_MAIN
# shellcheck disable=SC2016 # expanded by the sandbox's sh
inf -- sh -c '
echo "A=$ANTHROPIC_BASE_URL"
echo "O=$OPENAI_BASE_URL"
[ -n "$ANTHROPIC_API_KEY" ] && echo "akey set"
[ -n "$OPENAI_API_KEY" ] && echo "okey set"
grep -w inference.local /etc/hosts | head -n 1
env >envdump
for f in /proc/[0-9]*/environ /proc/[0-9]*/cmdline; do cat "$f" 2>/dev/null; echo; done >procdump'
is "$(sed -n 's/^A=//p' <<<"$OUT")|$(sed -n 's/^O=//p' <<<"$OUT")" \
	"http://inference.local|http://inference.local/v1" \
	"ANTHROPIC_BASE_URL=http://inference.local, OPENAI_BASE_URL=http://inference.local/v1 inside"
like "$OUT" $'akey set\nokey set' "... ANTHROPIC_API_KEY and OPENAI_API_KEY hold a (dummy) value"
like "$OUT" $'\n127\\.0\\.0\\.1[[:space:]]+([^[:space:]]+[[:space:]]+)*inference\\.local' \
	"... and /etc/hosts says inference.local is 127.0.0.1"
found=$(cat "$WORKDIR/envdump" "$WORKDIR/procdump" 2>/dev/null | grep -c -e "$CHEAP_KEY" -e "$ZDR_KEY" -e "$CLOUD_KEY")
if [[ -s $WORKDIR/envdump && $found == 0 ]]; then
	ok "no provider credential is in the environment or any /proc/*/environ and cmdline inside"
else
	not_ok "no provider credential is in the environment or any /proc/*/environ and cmdline inside"
	diag "matches: $found"
fi
DUMMY_KEY=$(sed -n 's/^ANTHROPIC_API_KEY=//p' "$WORKDIR/envdump" 2>/dev/null)
rm -f "$WORKDIR/envdump" "$WORKDIR/procdump"

# shellcheck disable=SC2016 # expanded by the sandbox's sh
inf --env ANTHROPIC_API_KEY=user-given-key -- sh -c 'echo "$ANTHROPIC_API_KEY"'
is "$OUT" "user-given-key" "--env ANTHROPIC_API_KEY=... is kept: warden sets a dummy only when the user passes none"

# ---- routing by tier: the main batch -------------------------------------------------------------

for c in P N; do
	if [[ $c == P ]]; then l=py; else l=node; fi
	$c "h.$l.a" anthropic --model "$CL" --prompt "$HARMLESS ref=h.$l.a"
	$c "h.$l.as" anthropic --stream --model "$CL" --prompt "$HARMLESS ref=h.$l.as"
	$c "h.$l.c" openai-chat --model "$GPT" --prompt "$HARMLESS ref=h.$l.c"
	$c "h.$l.cs" openai-chat --stream --model "$GPT" --prompt "$HARMLESS ref=h.$l.cs"
	$c "h.$l.r" openai-responses --model "$GPT" --prompt "$HARMLESS ref=h.$l.r"
	$c "h.$l.rs" openai-responses --stream --model "$GPT" --prompt "$HARMLESS ref=h.$l.rs"
	$c "m.$l.a" anthropic --model "$CL" --prompt "$HEALTH ref=m.$l.a"
	$c "m.$l.as" anthropic --stream --model "$CL" --prompt "$HEALTH ref=m.$l.as"
	$c "m.$l.c" openai-chat --model "$GPT" --prompt "$HEALTH ref=m.$l.c"
	$c "m.$l.cs" openai-chat --stream --model "$GPT" --prompt "$HEALTH ref=m.$l.cs"
	$c "m.$l.rs" openai-responses --stream --model "$GPT" --prompt "$HEALTH ref=m.$l.rs"
	$c "s.$l.a" anthropic --model "$CL" --prompt "$SECRET ref=s.$l.a"
	$c "s.$l.as" anthropic --stream --model "$CL" --prompt "$SECRET ref=s.$l.as"
	$c "n.$l.a" anthropic --model "$CL" --prompt "$NIGHTINGALE ref=n.$l.a"
	$c "n.$l.cs" openai-chat --stream --model "$GPT" --prompt "$NIGHTINGALE ref=n.$l.cs"
done
P s.py.c openai-chat --model "$GPT" --prompt "$SECRET ref=s.py.c"
P c.py.a anthropic --model "$CL" --prompt "$CARD_TEXT ref=c.py.a"
P m.py.r openai-responses --model "$GPT" --prompt "$HEALTH ref=m.py.r"
# Labels: forged ones that would lower the tier, honest ones that raise it.
P f.py.hdr anthropic --model "$CL" --prompt "$HEALTH ref=f.py.hdr" --header x-sensitivity:public
P f.py.meta anthropic --stream --model "$CL" --prompt "$HEALTH ref=f.py.meta" --metadata-sensitivity public
P f.py.both openai-chat --model "$GPT" --prompt "$HEALTH ref=f.py.both" --header x-warden-sensitivity:public \
	--metadata-sensitivity public
N f.node.hdr anthropic --stream --model "$CL" --prompt "$HEALTH ref=f.node.hdr" --header x-warden-sensitivity:public
P l.py.hdr anthropic --model "$CL" --prompt "$HARMLESS ref=l.py.hdr" --header x-sensitivity:confidential
P l.py.meta anthropic --model "$CL" --prompt "$HARMLESS ref=l.py.meta" --metadata-sensitivity confidential
N l.node.hdr openai-chat --model "$GPT" --prompt "$HARMLESS ref=l.node.hdr" --header x-warden-sensitivity:confidential
P l.py.restricted anthropic --model "$CL" --prompt "$HARMLESS ref=l.py.restricted" --header x-sensitivity:restricted
P l.py.unknown anthropic --model "$CL" --prompt "$HARMLESS ref=l.py.unknown" --header x-sensitivity:lowest-please
# The agent's own keys, in every header a provider might read.
P a.py.a anthropic --model "$CL" --prompt "$HARMLESS ref=a.py.a" --api-key "$AGENT_KEY" \
	--header "authorization:Bearer $AGENT_KEY" --header "anthropic-api-key:$AGENT_KEY" --header "api-key:$AGENT_KEY"
P a.py.c openai-chat --model "$GPT" --prompt "$HARMLESS ref=a.py.c" --api-key "$AGENT_KEY" \
	--header "x-api-key:$AGENT_KEY" --header "api-key:$AGENT_KEY"
P a.py.local openai-chat --model "$GPT" --prompt "$HEALTH ref=a.py.local" --api-key "$AGENT_KEY" \
	--header "x-api-key:$AGENT_KEY"
MAIN_LABELS=("${LABELS[@]}")
LABELS=()
POLICY=$POL_MAIN
run_batch
MAIN_TRAIL=$TRAIL
if [[ $RC != 0 || ${#R[@]} -ne ${#MAIN_LABELS[@]} ]]; then
	diag "the main batch: exit $RC, ${#R[@]} of ${#MAIN_LABELS[@]} answers" "stderr: $ERR"
fi

ECHO_H="$HARMLESS" ECHO_M="$HEALTH"
for l in py node; do
	who="python"
	[[ $l == node ]] && who="SDK"
	routed "h.$l.a" cheap public "echo[cheap]: $ECHO_H ref=h.$l.a" "harmless, Anthropic ($who): routed to cheap (public)"
	routed "h.$l.as" cheap public "echo[cheap]: $ECHO_H ref=h.$l.as" "... streaming too"
	routed "h.$l.c" cloud public "echo[cloud]: $ECHO_H ref=h.$l.c" "harmless, OpenAI Chat ($who): routed to cloud"
	routed "h.$l.cs" cloud public "echo[cloud]: $ECHO_H ref=h.$l.cs" "... streaming too"
	routed "h.$l.r" cloud public "echo[cloud]: $ECHO_H ref=h.$l.r" "harmless, OpenAI Responses ($who): routed to cloud"
	routed "h.$l.rs" cloud public "echo[cloud]: $ECHO_H ref=h.$l.rs" "... streaming too"
	arrived_once "h.$l.a" "$CHEAP_LOG" "... cheap received the Anthropic request, no other provider did"
	arrived_once "h.$l.cs" "$CLOUD_LOG" "... cloud received the OpenAI one, no other provider did"
	routed "m.$l.a" zdr confidential "echo[zdr]: $ECHO_M ref=m.$l.a" "health data, Anthropic ($who): routed to zdr (confidential), not cheap"
	routed "m.$l.as" zdr confidential "echo[zdr]: $ECHO_M ref=m.$l.as" "... streaming too"
	routed "m.$l.c" local confidential "echo[local]: $ECHO_M ref=m.$l.c" "health data, OpenAI Chat ($who): routed to local, not cloud"
	routed "m.$l.cs" local confidential "echo[local]: $ECHO_M ref=m.$l.cs" "... streaming too"
	routed "m.$l.rs" local confidential "echo[local]: $ECHO_M ref=m.$l.rs" "health data, OpenAI Responses streaming ($who): local"
	arrived_once "m.$l.as" "$ZDR_LOG" "... zdr received the streaming Anthropic request, no other provider did"
	arrived_once "m.$l.cs" "$LOCAL_LOG" "... local received the streaming Chat request, no other provider did"
	denied "s.$l.a" 403 restricted "a private key, Anthropic ($who): 403 inference_denied, tier restricted"
	denied "s.$l.as" 403 restricted "... streaming too"
	if ! skip_node "s.$l.a" "... the answer names the finding type, the providers considered, a reason and a hint"; then
		IFS='|' read -r fnd reason hint <<<"$(jf "${R[s.$l.a]-}" error.findings error.reason error.hint)"
		cons=$("$PYTHON" -c 'import json, sys
e = json.loads(sys.argv[1]).get("error", {})
print(sorted((p.get("name"), p.get("max_tier")) for p in e.get("providers_considered", [])))' "${R[s.$l.a]-}" 2>&1)
		if [[ $fnd =~ \"secret[^\"]*\":[1-9] && $cons == "[('cheap', 'internal'), ('zdr', 'confidential')]" &&
			-n $reason && -n $hint ]]; then
			ok "... the answer names the finding type, the providers considered, a reason and a hint"
		else
			not_ok "... the answer names the finding type, the providers considered, a reason and a hint"
			diag "${R[s.$l.a]-}"
		fi
	fi
	routed "n.$l.a" zdr confidential "echo[zdr]: $NIGHTINGALE ref=n.$l.a" \
		"\"Project Nightingale\" ($who): confidential by the Python classifier, routed to zdr"
	routed "n.$l.cs" local confidential "echo[local]: $NIGHTINGALE ref=n.$l.cs" "... and on OpenAI Chat streaming, to local"
done
routed s.py.c local restricted "echo[local]: $SECRET ref=s.py.c" "a private key on an OpenAI model: local (restricted) may take it"
routed c.py.a zdr confidential "echo[zdr]: $CARD_TEXT ref=c.py.a" "a payment card number (Luhn): confidential, zdr"
routed m.py.r local confidential "echo[local]: $ECHO_M ref=m.py.r" "health data, OpenAI Responses (python): local"
for l in s.py.a s.py.as s.node.a s.node.as; do
	skip_node "$l" "nothing of the refused request $l reached any provider" && continue
	is "$(arrived "$CHEAP_LOG" "$l")$(arrived "$ZDR_LOG" "$l")$(arrived "$CLOUD_LOG" "$l")$(arrived "$LOCAL_LOG" "$l")" \
		0000 "nothing of the refused request $l reached any provider"
done

routed f.py.hdr zdr confidential "echo[zdr]: $ECHO_M ref=f.py.hdr" "forged label: health data with x-sensitivity: public is still confidential (zdr)"
routed f.py.meta zdr confidential "echo[zdr]: $ECHO_M ref=f.py.meta" "... with metadata.sensitivity: public, streaming"
routed f.py.both local confidential "echo[local]: $ECHO_M ref=f.py.both" "... with both on OpenAI Chat (local, not cloud)"
routed f.node.hdr zdr confidential "echo[zdr]: $ECHO_M ref=f.node.hdr" "... x-warden-sensitivity: public from the SDK, streaming"
routed l.py.hdr zdr confidential "echo[zdr]: $HARMLESS ref=l.py.hdr" "a label raises: a harmless prompt with x-sensitivity: confidential goes to zdr"
routed l.py.meta zdr confidential "echo[zdr]: $HARMLESS ref=l.py.meta" "... with metadata.sensitivity: confidential too"
routed l.node.hdr local confidential "echo[local]: $HARMLESS ref=l.node.hdr" "... x-warden-sensitivity: confidential on OpenAI Chat: local"
denied l.py.restricted 403 restricted "... x-sensitivity: restricted where no provider may take it: 403, tier restricted"
routed l.py.unknown cheap public "echo[cheap]: $HARMLESS ref=l.py.unknown" "an unknown label changes nothing (cheap, public)"
arrived_once f.py.hdr "$ZDR_LOG" "... the forged-label request reached zdr only"
is "$(upstream_rec "$ZDR_LOG" f.py.hdr "[r['headers'].get(h) for h in ('x-sensitivity', 'x-warden-sensitivity')]")" \
	"[[null, null]]" "... and the label header itself stays with the router"

# Health data never reached the providers not trusted with it.
is "$(cat "$CHEAP_LOG" "$CLOUD_LOG" | grep -c -e HbA1c -e metformin -e Nightingale -e "$CARD")" 0 \
	"no health data, card number or confidential term ever reached cheap or cloud"
is "$(cat "$CHEAP_LOG" "$ZDR_LOG" "$CLOUD_LOG" | grep -cF -- "$PEM_B64")" 0 \
	"the private key never reached cheap, zdr or cloud"

# Credentials: the agent's keys stay inside; the provider's key goes out.
routed a.py.a cheap public "echo[cheap]: $HARMLESS ref=a.py.a" "a request carrying the agent's own keys is served"
is "$(upstream_rec "$CHEAP_LOG" a.py.a "[r['headers'].get(h) for h in ('x-api-key', 'authorization', 'anthropic-api-key', 'api-key')]")" \
	"[[\"$CHEAP_KEY\", null, null, null]]" \
	"... cheap got x-api-key: <cheap's credential>, and no authorization, anthropic-api-key or api-key"
routed a.py.c cloud public "echo[cloud]: $HARMLESS ref=a.py.c" "an OpenAI request carrying the agent's keys is served"
is "$(upstream_rec "$CLOUD_LOG" a.py.c "[r['headers'].get(h) for h in ('authorization', 'x-api-key', 'api-key')]")" \
	"[[\"Bearer $CLOUD_KEY\", null, null]]" "... cloud got Authorization: Bearer <cloud's credential> and nothing else"
is "$(upstream_rec "$LOCAL_LOG" a.py.local "[r['headers'].get(h) for h in ('authorization', 'x-api-key', 'api-key')]")" \
	"[[null, null, null]]" "local (no credential) got no auth header at all"
if ((HAVE_SDK)); then
	is "$(upstream_rec "$ZDR_LOG" m.node.a "[r['headers'].get(h) for h in ('x-api-key', 'authorization')]")" \
		"[[\"$ZDR_KEY\", null]]" "the Anthropic SDK's Authorization (its dummy key) is replaced by zdr's x-api-key"
else
	skip "the Anthropic SDK's Authorization (its dummy key) is replaced by zdr's x-api-key" "$SDK_WHY"
fi
pats=(-e "$AGENT_KEY")
[[ -n $DUMMY_KEY ]] && pats+=(-e "$DUMMY_KEY")
hits=$(cat "${ALL_LOGS[@]}" | grep -cF "${pats[@]}")
is "$hits" 0 "neither the agent's own key nor its dummy key reached any provider"

# ---- the audit trail of the main batch -------------------------------------------------------------

# One inference.route event per request, in the order the requests were made.
n_ev=$(jsonl_query "$MAIN_TRAIL" 'len(ev("inference.route"))')
is "$n_ev" "${#MAIN_LABELS[@]}" "the trail has one inference.route event per request (${#MAIN_LABELS[@]})"
# evq LABEL EXPR: EXPR over LABEL's inference.route event (e).
evq() {
	local i
	for i in "${!MAIN_LABELS[@]}"; do
		if [[ ${MAIN_LABELS[$i]} == "$1" ]]; then
			jsonl_query "$MAIN_TRAIL" "(lambda e: $2)(ev('inference.route')[$i]) if len(ev('inference.route')) > $i else 'no event'"
			return
		fi
	done
	echo "no such label $1"
}
if [[ $n_ev == "${#MAIN_LABELS[@]}" ]]; then
	is "$(evq h.py.a '[e.get("decision"), e.get("provider"), e.get("tier"), e.get("model")]')" \
		"[\"allow\", \"cheap\", \"public\", \"$CL\"]" "harmless: decision allow, provider cheap, tier public, the model"
	is "$(evq h.py.a 'sorted(c.get("name") for c in e.get("classifiers", []))')" '["builtin", "example"]' \
		"... both classifiers are named (builtin, example)"
	is "$(evq h.py.a 'len(e.get("classifiers", [])) == 2 and all(isinstance(c.get("latency_us"), int) and c.get("decision") == "allow" and c.get("tier") == "public" for c in e["classifiers"])')" \
		True "... each with its decision, tier and latency_us"
	is "$(evq m.py.a '[e.get("decision"), e.get("provider"), e.get("tier")]')" '["allow", "zdr", "confidential"]' \
		"health: allow, zdr, confidential"
	is "$(evq m.py.a 'any(k.startswith("health") and v >= 1 for k, v in e.get("findings", {}).items())')" True \
		"... with health finding types and counts"
	is "$(evq s.py.a '[e.get("decision"), e.get("tier"), e.get("provider")]')" '["deny", "restricted", null]' \
		"private key: deny, restricted, no provider"
	is "$(evq s.py.a 'any(k.startswith("secret") and v >= 1 for k, v in e.get("findings", {}).items())')" True \
		"... with the secret's finding type and count"
	like "$(evq s.py.a 'e.get("reason")')" '.' "... and a reason"
	like "$(evq n.py.a '[c for c in e.get("classifiers", []) if c.get("name") == "example"]')" \
		'"tier": "confidential"' "Project Nightingale: the example classifier said confidential"
	like "$(evq n.py.a 'e.get("findings")')" '"custom\.term": [1-9]' "... and its finding custom.term is recorded"
	is "$(evq f.py.hdr '[e.get("tier"), e.get("label")]')" '["confidential", "public"]' \
		"forged label: the trail has tier confidential and the label the agent gave (public)"
	is "$(evq l.py.hdr '[e.get("tier"), e.get("provider")]')" '["confidential", "zdr"]' "raised label: confidential, zdr"
else
	diag "inference.route events: $(jsonl_query "$MAIN_TRAIL" '[(e.get("decision"), e.get("provider")) for e in ev("inference.route")]')"
	skip "the per-request audit checks" "the events do not line up with the requests"
fi

# ---- direct to a provider's host, forward proxy, port 80, oversize, formats -----------------------

LABELS=()
P dp.py.h anthropic --base "https://api.cheap.test:$CHEAP_PORT" --model "$CL" --prompt "$HARMLESS ref=dp.py.h"
P dp.py.m anthropic --base "https://api.cheap.test:$CHEAP_PORT" --model "$CL" --prompt "$HEALTH ref=dp.py.m"
_call "env -u HTTP_PROXY -u http_proxy -u ALL_PROXY -u all_proxy python3 client.py" d80.py.a anthropic \
	--model "$CL" --prompt "$HARMLESS ref=d80.py.a"
P o.py.a anthropic --body-file big.json
P x.py.a anthropic --model "$GPT" --prompt "$HARMLESS ref=x.py.a"
BATCH+=("curl -sS -x http://127.0.0.1:3128 -D curl.hdr -o curl.body -w '%{http_code}' -H 'content-type: application/json' -H 'anthropic-version: 2023-06-01' --data-binary '{\"model\":\"$CL\",\"max_tokens\":16,\"messages\":[{\"role\":\"user\",\"content\":\"$HARMLESS ref=curl\"}]}' http://inference.local/v1/messages >curl.code")
BATCH+=("curl -sS -o /dev/null -w '%{http_code} %{time_total}' -H 'content-type: application/json' --data-binary @expect.json http://inference.local/v1/messages >curl.expect")
POLICY=$POL_MAIN
rm -f "$WORKDIR"/curl.*
run_batch
MISC_TRAIL=$TRAIL
is "$(jf "${R[dp.py.h]-}" ok status text)" "true|200|echo[cheap]: $HARMLESS ref=dp.py.h" \
	"python straight to https://api.cheap.test (allowed by network_policies): harmless, answered"
is "$(arrived "$CHEAP_LOG" dp.py.h)" 1 "... and it reached cheap"
is "$(jf "${R[dp.py.m]-}" ok status error.error)" "false|403|inference_denied" \
	"... health data sent straight to cheap's host (above its max_tier): 403 inference_denied"
is "$(arrived "$CHEAP_LOG" dp.py.m)" 0 "... and it never reached cheap"
routed d80.py.a cheap public "echo[cheap]: $HARMLESS ref=d80.py.a" \
	"python without the proxy variables: inference.local is 127.0.0.1:80 inside, the router answers"
is "$(jf "${R[o.py.a]-}" ok status error.error)" "false|413|inference_denied" "a body over max_body (64 KiB): 413 inference_denied"
is "$(cat "${ALL_LOGS[@]}" | grep -c 'ref=big')" 0 "... and it reached no provider"
is "$(jf "${R[x.py.a]-}" ok status error.error)" "false|403|inference_denied" \
	"an Anthropic request for a model whose route has only OpenAI providers: 403 (no format translation)"
is "$(cat "$WORKDIR/curl.code" 2>/dev/null)|$(jf "$(cat "$WORKDIR/curl.body" 2>/dev/null)" content.0.text)" \
	"200|echo[cheap]: $HARMLESS ref=curl" "curl -x (forward proxy) to http://inference.local/v1/messages: answered by cheap"
hdr_of() { tr -d '\r' <"$WORKDIR/curl.hdr" 2>/dev/null | sed -n "s/^$1: //Ip"; }
read -r expect_code expect_s <"$WORKDIR/curl.expect" 2>/dev/null
is "${expect_code:-}|$("$PYTHON" -c 'import sys; print(float(sys.argv[1] or 9) < 0.9)' "${expect_s:-}")" "200|True" \
	"curl's Expect: 100-continue gets its answer from the router at once (${expect_s:-?} s, not curl's 1 s wait)"
is "$(hdr_of x-warden-provider)" cheap "... with x-warden-provider: cheap"
is "$(hdr_of x-warden-tier)" public "... and x-warden-tier: public"
is "$(upstream_rec "$CHEAP_LOG" curl "r['headers'].get('x-api-key')")" "[\"$CHEAP_KEY\"]" "... and cheap got its credential"
like "$(jsonl_query "$MISC_TRAIL" '[e.get("reason") for e in ev("inference.route", decision="deny")]')" \
	'max_body|too large|size' "the oversize request is an inference.route deny whose reason says why"
is "$(jsonl_query "$MISC_TRAIL" 'len(ev("inference.route", decision="deny")) >= 3')" True \
	"the direct, oversize and format-mismatch denials are all in the trail"

# ---- redaction ---------------------------------------------------------------------------------------

LABELS=()
P r.py.a anthropic --model "$CL" --prompt "$CONTACT ref=r.py.a"
P r.py.as anthropic --stream --model "$CL" --prompt "$CONTACT ref=r.py.as"
N r.node.a anthropic --model "$CL" --prompt "$CONTACT ref=r.node.a"
N r.node.as anthropic --stream --model "$CL" --prompt "$CONTACT ref=r.node.as"
P r.py.cs openai-chat --stream --model "$GPT" --prompt "$CONTACT ref=r.py.cs"
N r.node.c openai-chat --model "$GPT" --prompt "$CONTACT ref=r.node.c"
N r.node.rs openai-responses --stream --model "$GPT" --prompt "$CONTACT ref=r.node.rs"
P r.py.r openai-responses --model "$GPT" --prompt "$CONTACT ref=r.py.r"
P r.py.card anthropic --stream --model "$CL" --prompt "$CARD_TEXT, or mail $EMAIL ref=r.py.card"
P r.dp.py anthropic --base "https://api.cheap.test:$CHEAP_PORT" --model "$CL" --prompt "$CONTACT ref=r.dp.py"
RED_LABELS=("${LABELS[@]}")
POLICY=$POL_REDACT
run_batch
RED_TRAIL=$TRAIL
for l in "${RED_LABELS[@]}"; do
	case $l in
	*.c | *.cs | *.r | *.rs) prov=cloud log=$CLOUD_LOG ;;
	*) prov=cheap log=$CHEAP_LOG ;;
	esac
	prompt="$CONTACT ref=$l"
	[[ $l == r.py.card ]] && prompt="$CARD_TEXT, or mail $EMAIL ref=$l"
	desc="redaction ($l): the agent reads its own words back"
	[[ $l == *s ]] && desc+=", from a stream of 3-character deltas"
	if [[ $l == r.dp.py ]]; then
		is "$(jf "${R[$l]-}" ok status text)" "true|200|echo[cheap]: $prompt" \
			"redaction also for a request straight to cheap's host: the agent reads its own words back"
	else
		routed "$l" "$prov" "*" "echo[$prov]: $prompt" "$desc"
	fi
	skip_node "$l" "... $prov got placeholders, never the originals" && continue
	body=$(upstream_rec "$log" "$l" "r['body']")
	if [[ $body == '["'* && $body != *"$EMAIL"* && $body != *"${PHONE#+}"* && $body != *"$CARD"* &&
		$body =~ \[[A-Za-z0-9_:.-]+\] ]]; then
		ok "... $prov got placeholders, never the originals"
	else
		not_ok "... $prov got placeholders, never the originals"
		diag "$prov received: $body"
	fi
done
if ((HAVE_SDK)); then
	ev_n=$(jf "${R[r.node.as]-}" events)
	if [[ $ev_n =~ ^[0-9]+$ ]] && ((ev_n > 3)); then
		ok "... the SDK stream came as $ev_n text deltas"
	else
		not_ok "... the SDK stream came as many text deltas"
		diag "${R[r.node.as]-}"
	fi
fi
is "$(jsonl_query "$RED_TRAIL" '[(e.get("decision"), e.get("provider"), e.get("redacted", 0) >= 2) for e in ev("inference.route")][:1]')" \
	'[["allow", "cheap", true]]' "the trail: allow, cheap, redacted (at least 2: the email and the phone)"

# ---- classifiers that fail ------------------------------------------------------------------------------

POLICY=$POL_SLOW
KILL_DONE=$WORKDIR/kill-done
rm -f "$WORKDIR/kill-started" "$KILL_DONE" "$WORKDIR"/k*.out
cat >"$WORKDIR/kill.sh" <<EOF
cd "\$(dirname "\$0")" || exit 1
touch kill-started
t0=\$(date +%s%N)
python3 client.py anthropic --model $CL --prompt 'hold on SLEEP_MS=8000 ref=k1' >k1.out
t1=\$(date +%s%N)
echo "k1_ms=\$(( (t1 - t0) / 1000000 ))"
i=0
while [ \$i -lt 40 ]; do
	i=\$((i + 1))
	python3 client.py anthropic --model $CL --prompt "after the restart ref=k2.\$i" >k2.out
	grep -q '"ok": true' k2.out && break
	sleep 0.25
done
echo "attempts=\$i"
EOF
chmod 644 "$WORKDIR/kill.sh"
KILL_TRAIL=$TRAILS/kill.jsonl
timeout 60 "$WARDEN" run --no-tty --policy "$POLICY" --workdir "$WORKDIR" "${L7[@]}" --audit-log "$KILL_TRAIL" \
	-- /bin/bash "$WORKDIR/kill.sh" </dev/null >"$T_TMP/kill.out" 2>"$T_TMP/kill.err" &
kill_pid=$!
track_pid $kill_pid
killed=
if wait_until 20 test -e "$WORKDIR/kill-started"; then
	sleep 1.5
	# The classifier "slow" of this run, by its pid: the tag is unique to this run.
	pids=$(pgrep -f -- "slow_classifier.py --key SLEEP_MS --tag $TAG" || true)
	if [[ -n $pids ]]; then
		# shellcheck disable=SC2086 # one or more pids
		kill -KILL $pids 2>/dev/null && killed=$pids
	fi
fi
wait "$kill_pid"
kill_rc=$?
cat "$T_TMP/kill.err" >>"$ALLERR"
if [[ -n $killed ]]; then
	ok "the classifier 'slow' was found and killed while a request waited on it (pid $killed)"
else
	not_ok "the classifier 'slow' was found and killed while a request waited on it"
	diag "processes: $(pgrep -af slow_classifier)" "sandbox stderr: $(cat "$T_TMP/kill.err")"
fi
k1=$(cat "$WORKDIR/k1.out" 2>/dev/null)
is "$(jf "$k1" ok status error.error)" "false|403|inference_denied" "the request that waited on it: 403 inference_denied (fail closed)"
like "$(jf "$k1" error.reason)" "slow" "... the reason names the classifier 'slow'"
k1_ms=$(sed -n 's/^k1_ms=//p' "$T_TMP/kill.out")
if [[ $k1_ms =~ ^[0-9]+$ ]] && ((k1_ms < 6000)); then
	ok "... answered when the classifier died (${k1_ms} ms), not after its 8 s sleep"
else
	not_ok "... answered when the classifier died, not after its 8 s sleep"
	diag "k1_ms='$k1_ms' exit=$kill_rc"
fi
attempts=$(sed -n 's/^attempts=//p' "$T_TMP/kill.out")
is "$(jf "$(cat "$WORKDIR/k2.out" 2>/dev/null)" ok provider)" "true|cheap" \
	"the classifier is restarted: a later request succeeds (attempt ${attempts:-?})"
is "$(arrived "$CHEAP_LOG" k1)" 0 "the request whose classifier died never reached a provider"
like "$(jsonl_query "$KILL_TRAIL" '[e.get("reason") for e in ev("inference.route", decision="deny")]')" "slow" \
	"the trail has the inference.route deny naming the classifier"

rm -f "$WORKDIR"/t*.out
cat >"$WORKDIR/slow.sh" <<EOF
cd "\$(dirname "\$0")" || exit 1
t0=\$(date +%s%N)
python3 client.py anthropic --model $CL --prompt 'quick please HASTY_MS=2000 ref=t1' >t1.out
t1=\$(date +%s%N)
echo "t1_ms=\$(( (t1 - t0) / 1000000 ))"
i=0
while [ \$i -lt 40 ]; do
	i=\$((i + 1))
	python3 client.py anthropic --model $CL --prompt "after the timeout ref=t2.\$i" >t2.out
	grep -q '"ok": true' t2.out && break
	sleep 0.25
done
echo "attempts=\$i"
EOF
chmod 644 "$WORKDIR/slow.sh"
inf -- /bin/bash "$WORKDIR/slow.sh"
t1=$(cat "$WORKDIR/t1.out" 2>/dev/null)
is "$(jf "$t1" ok status error.error)" "false|403|inference_denied" \
	"a classifier slower than its timeout_ms (300 ms; it sleeps 2 s): 403 inference_denied"
like "$(jf "$t1" error.reason)" "hasty" "... the reason names the classifier 'hasty'"
t1_ms=$(sed -n 's/^t1_ms=//p' <<<"$OUT")
if [[ $t1_ms =~ ^[0-9]+$ ]] && ((t1_ms < 1500)); then
	ok "... within the deadline, not after the sleep (${t1_ms} ms)"
else
	not_ok "... within the deadline, not after the sleep"
	diag "t1_ms='$t1_ms'" "$OUT" "$ERR"
fi
attempts=$(sed -n 's/^attempts=//p' <<<"$OUT")
is "$(jf "$(cat "$WORKDIR/t2.out" 2>/dev/null)" ok provider)" "true|cheap" \
	"... and a later request succeeds (attempt ${attempts:-?})"
is "$(arrived "$CHEAP_LOG" t1)" 0 "the timed-out request never reached a provider"
like "$(jsonl_query "$TRAIL" '[e.get("reason") for e in ev("inference.route", decision="deny")]')" "hasty" \
	"the trail has the inference.route deny naming the classifier"

# ---- hold-and-ask: a model request no provider may receive ------------------------------------

# cheap (internal) is the only provider: health data (confidential) has nowhere to go.
POL_ASK=$(mktmp pol)/ask.yaml
write_policy "$POL_ASK" <<EOF
$(policy_head cheap)
$(cheap_only)
approvals: {mode: ask, timeout: 30s}
EOF
"$PYTHON" -c 'import json, sys; print(json.dumps({"model": sys.argv[1], "max_tokens": 16,
    "messages": [{"role": "user", "content": sys.argv[2] + " ref=" + sys.argv[3]}]}))' \
	"$CL" "$HEALTH" held-ok >"$WORKDIR/held-ok.json"
"$PYTHON" -c 'import json, sys; print(json.dumps({"model": sys.argv[1], "max_tokens": 16,
    "messages": [{"role": "user", "content": sys.argv[2] + " ref=" + sys.argv[3]}]}))' \
	"$CL" "$HEALTH" held-no >"$WORKDIR/held-no.json"
chmod 644 "$WORKDIR"/held-*.json
cat >"$WORKDIR/held.sh" <<'EOF'
#!/bin/sh
cd "$(dirname "$0")" || exit 1
curl -sS -o "held-$1.body" -w '%{http_code}' -H 'content-type: application/json' \
	-H 'anthropic-version: 2023-06-01' --data-binary "@held-$1.json" \
	http://inference.local/v1/messages >"held-$1.code"
EOF
chmod 755 "$WORKDIR/held.sh"

# held_run CASE: the agent sends held-CASE.json in a sandbox of its own, in the background.
held_run() {
	HTRAIL=$TRAILS/held-$1-$RANDOM.jsonl
	timeout 120 "$WARDEN" run --no-tty --name "inf$$-$1" --policy "$POL_ASK" --workdir "$WORKDIR" \
		--audit-log "$HTRAIL" "${L7[@]}" -- "$WORKDIR/held.sh" "$1" \
		</dev/null >"$T_TMP/held-$1.out" 2>>"$ALLERR" &
	HELD_PID=$!
	track_pid "$HELD_PID"
	track_name "inf$$-$1"
}
# held_item NAME: the pending hold of sandbox inf$$-NAME, as JSON (waits up to 30 s).
held_item() { pending_item "inf$$-$1" hold; }

before=$(grep -c 'ref=held-ok' "$CHEAP_LOG")
held_run ok
it=$(held_item ok)
is "$(jf "$it" provider tier host)" "cheap|confidential|inference.local" \
	"a model request no provider may take is held, naming the provider and tier"
id=$(jf "$it" id)
out=$("$WARDEN" approve "$id" --always 2>&1)
like "$out" "max_tier" "--always is refused for it: a provider's max_tier is the policy's to change"
"$WARDEN" approve "$id" --once >/dev/null 2>&1
wait "$HELD_PID"
is "$(cat "$WORKDIR/held-ok.code")" 200 "approved --once: it goes to that provider"
is "$(( $(grep -c 'ref=held-ok' "$CHEAP_LOG") - before ))" 1 "... which received it once"
is "$(jsonl_query "$HTRAIL" "[(r.get('decision'), r.get('provider'), r.get('approval') == '$id') for r in ev('inference.route')]")" \
	'[["allow", "cheap", true]]' "... recorded as inference.route allow naming the approval"

held_run no
it=$(held_item no)
"$WARDEN" deny "$(jf "$it" id)" --reason "no patient data to that vendor" >/dev/null 2>&1
wait "$HELD_PID"
is "$(cat "$WORKDIR/held-no.code")" 403 "denied: 403"
is "$(jf "$(cat "$WORKDIR/held-no.body")" error tier)" "inference_denied|confidential" "... inference_denied, with the tier"
like "$(jf "$(cat "$WORKDIR/held-no.body")" reason)" "denied by the operator: no patient data to that vendor" \
	"... and the operator's reason"
is "$(grep -c 'ref=held-no' "$CHEAP_LOG")" 0 "... and the provider never saw it"

# ---- nothing sensitive in the trails or in what warden printed -------------------------------------

# leak_where VALUE: which events and fields of the trails hold VALUE.
leak_where() {
	"$PYTHON" -c 'import json, os, sys
v, top = sys.argv[1], sys.argv[2]
where = set()
def walk(x, path, event):
    if isinstance(x, dict):
        for k, y in x.items():
            walk(y, path + "." + k, event)
    elif isinstance(x, list):
        for y in x:
            walk(y, path + "[]", event)
    elif isinstance(x, str) and v in x:
        where.add("%s:%s" % (event, path))
for f in os.listdir(top):
    for line in open(os.path.join(top, f), "rb"):
        try:
            r = json.loads(line)
        except ValueError:
            continue
        walk(r, "", r.get("event"))
print(" ".join(sorted(where)) or "(not in a trail)")' "$1" "$TRAILS"
}
leaks=()
for v in "${LEAKS[@]}"; do
	[[ -z $v ]] && continue
	if grep -rqF -- "$v" "$TRAILS" "$ALLERR"; then
		leaks+=("$(printf '%.12s...' "$v"): $(grep -rlF -- "$v" "$TRAILS" "$ALLERR" | tr '\n' ' ')")
		leaks+=("   in: $(leak_where "$v")")
	fi
done
if ((${#leaks[@]} == 0)) && [[ -n $(ls "$TRAILS") ]]; then
	ok "no health text, private key, card number, email, phone, custom term or provider key in any trail or in warden's stderr"
else
	not_ok "no health text, private key, card number, email, phone, custom term or provider key in any trail or in warden's stderr"
	diag "${leaks[@]}"
fi

done_testing
