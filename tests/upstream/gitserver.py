#!/usr/bin/env python3
"""A loopback git smart-HTTP server for warden's proxy tests.

    gitserver.py PORT_FILE LOG [--tls CERT KEY] --root DIR

Listens on 127.0.0.1 (port 0: the kernel picks), writes the port to
PORT_FILE once ready, and runs `git http-backend` as a CGI for every
request on the repositories under DIR:

  GET  /REPO/info/refs?service=git-upload-pack|git-receive-pack
  POST /REPO/git-upload-pack, /REPO/git-receive-pack

Each request appends one line to LOG: "METHOD PATH" (the path with its
query).  REMOTE_USER is set, so a push is accepted by every repository
whose http.receivepack is not false (tests set it to true explicitly).

Request bodies arrive with Content-Length or chunked (git sends large
pushes chunked); they are decoded here and handed to the CGI with an exact
CONTENT_LENGTH.  A gzip'd body is passed through as it came, its
Content-Encoding in HTTP_CONTENT_ENCODING, for http-backend to inflate.
The CGI's Status header becomes the response status; its output streams
to the client with chunked transfer coding, so connections stay alive for
git's next request.
"""
import http.server
import os
import shutil
import socketserver
import ssl
import subprocess
import sys
import threading
import urllib.parse

from httpbody import BadRequest, BodyReader

LOG = None
ROOT = None
_log_lock = threading.Lock()
MAX_BODY = 256 << 20
GIT = shutil.which("git") or "/usr/bin/git"


class Handler(BodyReader, http.server.BaseHTTPRequestHandler):
    MAX_BODY = MAX_BODY
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def record(self):
        with _log_lock:
            with open(LOG, "a") as f:
                f.write("%s %s\n" % (self.command, self.path))

    # ---- the CGI ------------------------------------------------------------

    def cgi_env(self, body):
        path, _, query = self.path.partition("?")
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "GIT_PROJECT_ROOT": ROOT,
            "GIT_HTTP_EXPORT_ALL": "1",
            "REMOTE_USER": "warden-test",
            "REMOTE_ADDR": self.client_address[0],
            "GATEWAY_INTERFACE": "CGI/1.1",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REQUEST_METHOD": self.command,
            "PATH_INFO": urllib.parse.unquote(path),
            "QUERY_STRING": query,
            "CONTENT_LENGTH": str(len(body)),
            "CONTENT_TYPE": self.headers.get("Content-Type") or "",
        }
        for name, var in (("Content-Encoding", "HTTP_CONTENT_ENCODING"),
                          ("Git-Protocol", "HTTP_GIT_PROTOCOL")):
            v = self.headers.get(name)
            if v:
                env[var] = v
        return env

    def run_cgi(self, body):
        proc = subprocess.Popen([GIT, "http-backend"], env=self.cgi_env(body),
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE)

        # Fed from its own thread: http-backend may answer before it has
        # read all of a large body, and neither side may wait on the other.
        def feed():
            try:
                proc.stdin.write(body)
            except OSError:
                pass
            finally:
                try:
                    proc.stdin.close()
                except OSError:
                    pass
        feeder = threading.Thread(target=feed, daemon=True)
        feeder.start()

        status, headers = 200, []
        while True:
            line = proc.stdout.readline()
            if not line or line in (b"\r\n", b"\n"):
                break
            name, _, value = line.decode("latin-1").rstrip("\r\n").partition(":")
            value = value.strip()
            if name.lower() == "status":
                status = int(value.split()[0])
            else:
                headers.append((name, value))

        # HTTP/1.0 has no chunked coding: the end of the body is the close.
        chunked = self.request_version != "HTTP/1.0"
        self.send_response(status)
        for name, value in headers:
            if name.lower() not in ("content-length", "transfer-encoding", "connection"):
                self.send_header(name, value)
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        while True:
            chunk = proc.stdout.read1(65536)
            if not chunk:
                break
            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk)
            self.wfile.flush()
        if chunked:
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        feeder.join()
        proc.wait()

    def handle_any(self):
        self.record()
        try:
            body = self.read_body()
        except BadRequest as e:
            self.close_connection = True
            self.send_error(400, str(e))
            return
        self.run_cgi(body)

    do_GET = handle_any
    do_POST = handle_any


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    tls = None

    def get_request(self):
        # The TLS handshake runs in the connection's thread (first read).
        sock, addr = self.socket.accept()
        if self.tls is not None:
            sock = self.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, addr

    def handle_error(self, request, client_address):
        pass


def main():
    global LOG, ROOT
    args = sys.argv[1:]
    if len(args) < 2:
        sys.exit("usage: gitserver.py PORT_FILE LOG [--tls CERT KEY] --root DIR")
    port_file, LOG = args[0], args[1]
    tls = None
    i = 2
    while i < len(args):
        if args[i] == "--tls":
            tls = (args[i + 1], args[i + 2])
            i += 3
        elif args[i] == "--root":
            ROOT = os.path.abspath(args[i + 1])
            i += 2
        else:
            sys.exit("unknown argument " + args[i])
    if ROOT is None:
        sys.exit("gitserver.py: --root DIR is required")
    srv = Server(("127.0.0.1", 0), Handler)
    if tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(tls[0], tls[1])
        srv.tls = ctx
    with open(port_file + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(port_file + ".tmp", port_file)
    srv.serve_forever()


if __name__ == "__main__":
    main()
