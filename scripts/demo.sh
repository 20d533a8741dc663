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

echo "== the embedded default policy ($warden policy default) =="
"$warden" policy default | sed 's/^/  /'
echo
echo "== warden run -- python3 agent.py =="
export AWS_SECRET_ACCESS_KEY=demo-secret-that-must-not-leak
cd "$work"
status=0
"$warden" run --name demo --no-tty -- python3 agent.py "$port" || status=$?
echo
echo "== on the host afterwards =="
echo "  ./notes.txt: $(cat "$work/notes.txt" 2>/dev/null || echo missing)"
echo "  /usr/bin/backdoor: $([ -e /usr/bin/backdoor ] && echo EXISTS || echo absent)"
echo "  agent exit status: $status"
echo
echo "The audit trail of these decisions arrives with warden's audit milestone;"
echo "today every denial above is enforced by the kernel (mounts, Landlock, seccomp,"
echo "an empty network namespace) and reported to the agent as an ordinary error."
exit "$status"
