#!/bin/bash
# make demo: run a stand-in agent under warden's embedded default policy and
# show what it was allowed and denied.  A listener on the host's loopback
# shows that the sandbox cannot reach it.
set -euo pipefail

warden=$(realpath "${1:-build/warden}")
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d /tmp/warden-demo.XXXXXX)
trap 'kill "${lpid:-}" 2>/dev/null || true; rm -rf "$work"' EXIT

cp "$here/demo_agent.py" "$work/agent.py"
# As root the agent runs as nobody (no run_as_user in the default policy),
# so the demo's working directory must belong to nobody.
if [ "$(id -u)" -eq 0 ]; then
	chown -R 65534:65534 "$work"
fi

# A host service on loopback the agent should not be able to reach.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 -c '
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(4)
while True:
    c, _ = s.accept(); print("  HOST LISTENER: a connection arrived (should never happen)"); c.close()
' "$port" &
lpid=$!

# A stand-in model API on the host's loopback; `--add-host` points a
# real-looking name at it for the second run.
api_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 -c '
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"{\"model\": \"demo\", \"ok\": true}\n"
        self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a): pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
' "$api_port" &
apid=$!
trap 'kill "${lpid:-}" "${apid:-}" 2>/dev/null || true; rm -rf "$work"' EXIT
api_url="http://api.model.example:$api_port/v1/models"

echo "== the embedded default policy ($warden policy default) =="
"$warden" policy default | sed 's/^/  /'
echo
echo "== warden run -- python3 agent.py =="
export AWS_SECRET_ACCESS_KEY=demo-secret-that-must-not-leak
cd "$work"
status=0
"$warden" run --name demo --no-tty --env PYTHONUNBUFFERED=1 --audit-log "$work/audit.jsonl" \
	--add-host "api.model.example:127.0.0.1" -- python3 agent.py "$port" "$api_url" || status=$?
echo
echo "== on the host afterwards =="
echo "  ./notes.txt: $(cat "$work/notes.txt" 2>/dev/null || echo missing)"
echo "  /usr/bin/backdoor: $([ -e /usr/bin/backdoor ] && echo EXISTS || echo absent)"
echo "  agent exit status: $status"

# The same agent under a policy that lets python3 -- and only python3 --
# reach the model API.
sys_ro=""
for d in /usr /bin /sbin /lib /lib64 /etc; do [ -e "$d" ] && sys_ro="$sys_ro${sys_ro:+, }$d"; done
cat >"$work/policy.yaml" <<EOF
version: 1
filesystem_policy:
  include_workdir: true
  read_only: [$sys_ro]
  deny: [/etc/shadow]
network_policies:
  model_api:
    name: model-api
    endpoints:
      - {host: api.model.example, port: $api_port}
    binaries:
      - {path: "/usr/bin/python3*"}
EOF
echo
echo "== warden run --policy policy.yaml -- python3 agent.py   (python3 may reach the model API, curl may not) =="
"$warden" run --name demo --no-tty --env PYTHONUNBUFFERED=1 --policy "$work/policy.yaml" --audit-log "$work/audit.jsonl" \
	--add-host "api.model.example:127.0.0.1" -- python3 agent.py "$port" "$api_url" || true
echo
echo "== the audit trail: warden logs $work/audit.jsonl =="
"$warden" logs "$work/audit.jsonl" | sed 's/^/  /'
echo
echo "== warden audit verify =="
"$warden" audit verify "$work/audit.jsonl" | sed 's/^/  /'
exit "$status"
