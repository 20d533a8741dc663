#!/usr/bin/env python3
"""A loopback upstream for warden's proxy tests.

    server.py PORT_FILE LOG [--tls CERT KEY] [--root DIR] [--headers FILE]

Listens on 127.0.0.1 (port 0: the kernel picks), writes the port to
PORT_FILE once ready, and appends one line per request to LOG:
"METHOD PATH host=HOST".  With --headers, also one JSON line per request
to FILE:

  {"method", "path", "host", "headers": {name: value}, "body_len",
   "body_sha256", "sni", "conn", "seq"}

Header names are lower-cased; a repeated header's values are joined with
", " (so a header the proxy should have replaced but only added to shows
as two values).  "sni" is the TLS server name the client sent (null
without TLS or SNI); "conn" numbers the connection and "seq" the request
on it, so tests can tell keep-alive from new connections.

Request bodies are read whole, with Content-Length or chunked transfer
coding (decoded here; http.server itself does not), so every connection
stays usable for the next request.  Every answer carries Content-Length.

Answers:

  GET/HEAD /echo...  200, JSON: method, path, host header, body length
                     and SHA-256
  POST, PUT, PATCH, DELETE, OPTIONS anything
                     200, the same JSON ("received" is the body length)
  GET /ws with Upgrade: websocket
                     101 with the right Sec-WebSocket-Accept, then every
                     data frame is echoed back (unmasked) until a close
  GET other paths    static files from --root (git's dumb HTTP protocol);
                     without --root, the echo JSON
"""
import base64
import hashlib
import http.server
import itertools
import json
import os
import socketserver
import ssl
import struct
import sys
import threading

LOG = None
HEADERS_LOG = None
ROOT = None
_log_lock = threading.Lock()
_conn_ids = itertools.count(1)
WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
MAX_BODY = 64 << 20


def append(path, line):
    with _log_lock:
        with open(path, "a") as f:
            f.write(line)


class BadRequest(Exception):
    pass


class Handler(http.server.SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def setup(self):
        super().setup()
        self.conn_id = next(_conn_ids)
        self.req_seq = 0

    # ---- request bodies ------------------------------------------------

    def read_line(self):
        line = self.rfile.readline(65537)
        if not line.endswith(b"\n"):
            raise BadRequest("truncated chunked body")
        return line

    def read_exact(self, n):
        data = self.rfile.read(n)
        if len(data) != n:
            raise BadRequest("truncated body")
        return data

    def read_chunked(self):
        parts = []
        total = 0
        while True:
            size_line = self.read_line().split(b";", 1)[0].strip()
            try:
                size = int(size_line, 16)
            except ValueError:
                raise BadRequest("bad chunk size")
            if size < 0 or total + size > MAX_BODY:
                raise BadRequest("chunk too large")
            if size == 0:
                break
            parts.append(self.read_exact(size))
            total += size
            if self.read_exact(2) != b"\r\n":
                raise BadRequest("chunk not followed by CRLF")
        while self.read_line() not in (b"\r\n", b"\n"):
            pass  # trailers
        return b"".join(parts)

    def read_body(self):
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            return self.read_chunked()
        n = self.headers.get("Content-Length")
        if n is None:
            return b""
        try:
            n = int(n)
        except ValueError:
            raise BadRequest("bad Content-Length")
        if n < 0 or n > MAX_BODY:
            raise BadRequest("bad Content-Length")
        return self.read_exact(n) if n else b""

    # ---- logs and answers ---------------------------------------------------

    def record(self):
        append(LOG, "%s %s host=%s\n" % (self.command, self.path, self.headers.get("Host")))

    def record_headers(self, body):
        if HEADERS_LOG is None:
            return
        hdrs = {}
        for name, value in self.headers.items():
            k = name.lower()
            hdrs[k] = hdrs[k] + ", " + value if k in hdrs else value
        self.req_seq += 1
        obj = {"method": self.command, "path": self.path, "host": self.headers.get("Host"),
               "headers": hdrs, "body_len": len(body),
               "body_sha256": hashlib.sha256(body).hexdigest(),
               "sni": getattr(self.connection, "warden_sni", None),
               "conn": self.conn_id, "seq": self.req_seq}
        append(HEADERS_LOG, json.dumps(obj) + "\n")

    def reply(self, obj, code=200):
        body = (json.dumps(obj) + "\n").encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def echo(self, body):
        n = len(body)
        self.reply({"method": self.command, "path": self.path,
                    "host": self.headers.get("Host"), "ok": True, "received": n,
                    "body_len": n, "body_sha256": hashlib.sha256(body).hexdigest()})

    def begin(self):
        """Log the request and read its body; None when the request was bad."""
        self.record()
        try:
            body = self.read_body()
        except BadRequest as e:
            self.close_connection = True
            self.send_error(400, str(e))
            return None
        self.record_headers(body)
        return body

    # ---- methods ---------------------------------------------------------

    def do_GET(self):
        body = self.begin()
        if body is None:
            return
        if self.path.split("?", 1)[0] == "/ws" and \
                (self.headers.get("Upgrade") or "").lower() == "websocket":
            self.websocket()
            return
        if self.path.startswith("/echo") or ROOT is None:
            self.echo(body)
            return
        super().do_GET()

    def do_HEAD(self):
        body = self.begin()
        if body is None:
            return
        if self.path.startswith("/echo") or ROOT is None:
            self.echo(body)
            return
        super().do_HEAD()

    def do_POST(self):
        body = self.begin()
        if body is not None:
            self.echo(body)

    do_PUT = do_POST
    do_PATCH = do_POST
    do_DELETE = do_POST
    do_OPTIONS = do_POST

    def translate_path(self, path):
        rel = path.split("?", 1)[0].lstrip("/")
        return os.path.join(ROOT, rel)

    # ---- WebSocket ------------------------------------------------------------

    def websocket(self):
        key = self.headers.get("Sec-WebSocket-Key")
        if not key:
            self.close_connection = True
            self.send_error(400, "no Sec-WebSocket-Key")
            return
        accept = base64.b64encode(hashlib.sha1((key.strip() + WS_GUID).encode()).digest()).decode()
        self.send_response(101, "Switching Protocols")
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", accept)
        self.end_headers()
        self.wfile.flush()
        self.close_connection = True
        try:
            self.ws_echo()
        except (OSError, BadRequest, struct.error):
            pass

    def ws_frame(self, opcode, payload):
        n = len(payload)
        if n < 126:
            head = struct.pack("!BB", 0x80 | opcode, n)
        elif n < 65536:
            head = struct.pack("!BBH", 0x80 | opcode, 126, n)
        else:
            head = struct.pack("!BBQ", 0x80 | opcode, 127, n)
        self.wfile.write(head + payload)
        self.wfile.flush()

    def ws_echo(self):
        while True:
            b0, b1 = self.read_exact(2)
            opcode = b0 & 0x0F
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack("!H", self.read_exact(2))[0]
            elif n == 127:
                n = struct.unpack("!Q", self.read_exact(8))[0]
            if n > MAX_BODY:
                return
            mask = self.read_exact(4) if b1 & 0x80 else None
            payload = self.read_exact(n)
            if mask:
                payload = bytes(c ^ mask[i % 4] for i, c in enumerate(payload))
            if opcode == 0x8:
                self.ws_frame(0x8, payload[:2])
                return
            if opcode == 0x9:
                self.ws_frame(0xA, payload)
            elif opcode in (0x0, 0x1, 0x2):
                self.ws_frame(opcode, payload)


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    tls = None

    def get_request(self):
        # The TLS handshake runs in the connection's thread (on its first
        # read), so a client that stalls or fails it holds up nobody else.
        sock, addr = self.socket.accept()
        if self.tls is not None:
            sock = self.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, addr

    def handle_error(self, request, client_address):
        pass  # handshake failures and resets are the tests' business


def _remember_sni(sslsock, name, ctx):
    try:
        sslsock.warden_sni = name
    except AttributeError:
        pass


def main():
    global LOG, ROOT, HEADERS_LOG
    args = sys.argv[1:]
    port_file, LOG = args[0], args[1]
    tls = None
    i = 2
    while i < len(args):
        if args[i] == "--tls":
            tls = (args[i + 1], args[i + 2])
            i += 3
        elif args[i] == "--root":
            ROOT = args[i + 1]
            i += 2
        elif args[i] == "--headers":
            HEADERS_LOG = args[i + 1]
            open(HEADERS_LOG, "a").close()
            i += 2
        else:
            sys.exit("unknown argument " + args[i])
    srv = Server(("127.0.0.1", 0), Handler)
    if tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(tls[0], tls[1])
        ctx.sni_callback = _remember_sni
        srv.tls = ctx
    with open(port_file + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(port_file + ".tmp", port_file)
    srv.serve_forever()


if __name__ == "__main__":
    main()
