"""A stand-in for an AI agent: it tries what agents try and reports what happened.

It runs inside `warden run` under the embedded default policy; every line it
prints is one action the sandbox allowed or denied.
"""
import os
import socket
import sys


def attempt(what, fn):
    try:
        detail = fn()
        print(f"  ALLOWED  {what}" + (f"  ({detail})" if detail else ""))
    except OSError as e:
        print(f"  DENIED   {what}  ({e.strerror})")


def write_workdir():
    with open("notes.txt", "w") as f:
        f.write("the agent was here\n")
    return "workdir is read-write"


def read_system():
    with open("/etc/os-release") as f:
        return f.readline().strip()


def write_system():
    open("/usr/bin/backdoor", "w").close()


def read_shadow():
    open("/etc/shadow").read()


def read_host_home():
    # The caller's real home is replaced by an empty private one.
    return f"{len(os.listdir(os.path.expanduser('~')))} entries in private HOME"


def host_secret():
    val = os.environ.get("AWS_SECRET_ACCESS_KEY")
    if val is None:
        raise OSError(2, "not in the agent's environment")
    return "visible!"


def connect_host(port):
    def go():
        s = socket.create_connection(("127.0.0.1", port), timeout=2)
        s.close()
    return go


def http_via_proxy(url):
    # Through warden's egress proxy (HTTP_PROXY is set in the sandbox).
    def go():
        import json
        import urllib.error
        import urllib.request
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                return f"HTTP {r.status}"
        except urllib.error.HTTPError as e:
            body = json.loads(e.read() or b"{}")
            raise OSError(1, f"HTTP {e.code}: {body.get('reason', '')}")
    return go


def run_program(argv):
    def go():
        import subprocess
        r = subprocess.run(argv, capture_output=True, text=True, timeout=10)
        if r.returncode != 0:
            raise OSError(1, (r.stderr or r.stdout).strip().splitlines()[-1]
                          if (r.stderr or r.stdout).strip() else f"exit {r.returncode}")
        return r.stdout.strip()[:60]
    return go


def new_userns():
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(0x10000000) != 0:  # CLONE_NEWUSER
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 9
    api = sys.argv[2] if len(sys.argv) > 2 else None
    print(f"agent: pid {os.getpid()}, uid {os.getuid()}, host {socket.gethostname()}")
    attempt("write ./notes.txt", write_workdir)
    attempt("read /etc/os-release", read_system)
    attempt("write /usr/bin/backdoor", write_system)
    attempt("read /etc/shadow (masked by the policy)", read_shadow)
    attempt("list $HOME", read_host_home)
    attempt("read $AWS_SECRET_ACCESS_KEY from the host", host_secret)
    attempt(f"connect to the host's 127.0.0.1:{port}", connect_host(port))
    attempt("open a raw socket", lambda: socket.socket(socket.AF_INET, socket.SOCK_RAW, 1))
    attempt("create a user namespace (unshare)", new_userns)
    if api:
        attempt(f"python3: GET {api}", http_via_proxy(api))
        attempt(f"curl: GET {api}", run_program(["curl", "-sS", "-f", api]))


if __name__ == "__main__":
    main()
