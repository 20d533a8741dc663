#!/usr/bin/env python3
"""A loopback upstream for warden's proxy tests.

    server.py PORT_FILE LOG [--tls CERT KEY] [--root DIR]

Listens on 127.0.0.1 (port 0: the kernel picks), writes the port to
PORT_FILE once ready, and appends one line per request to LOG:
"METHOD PATH host=HOST". Answers:

  GET /echo...     200, JSON: method, path, host header, body length
  POST anything    200, JSON with the body length received
  GET /hold        200 after the client has kept the connection a while
  GET other paths  static files from --root (git's dumb HTTP protocol)
"""
import http.server
import json
import os
import socketserver
import ssl
import sys


class Handler(http.server.SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def record(self):
        with open(LOG, "a") as f:
            f.write("%s %s host=%s\n" % (self.command, self.path, self.headers.get("Host")))

    def reply(self, obj, code=200):
        body = (json.dumps(obj) + "\n").encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def body_len(self):
        n = int(self.headers.get("Content-Length") or 0)
        return len(self.rfile.read(n)) if n else 0

    def do_GET(self):
        self.record()
        if self.path.startswith("/echo") or ROOT is None:
            self.reply({"method": "GET", "path": self.path,
                        "host": self.headers.get("Host"), "ok": True})
            return
        super().do_GET()

    def do_POST(self):
        self.record()
        n = self.body_len()
        self.reply({"method": "POST", "path": self.path, "received": n, "ok": True})

    def translate_path(self, path):
        rel = path.split("?", 1)[0].lstrip("/")
        return os.path.join(ROOT, rel)


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    global LOG, ROOT
    args = sys.argv[1:]
    port_file, LOG = args[0], args[1]
    ROOT = None
    tls = None
    i = 2
    while i < len(args):
        if args[i] == "--tls":
            tls = (args[i + 1], args[i + 2])
            i += 3
        elif args[i] == "--root":
            ROOT = args[i + 1]
            i += 2
        else:
            sys.exit("unknown argument " + args[i])
    srv = Server(("127.0.0.1", 0), Handler)
    if tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(tls[0], tls[1])
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    with open(port_file + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(port_file + ".tmp", port_file)
    srv.serve_forever()


if __name__ == "__main__":
    main()
