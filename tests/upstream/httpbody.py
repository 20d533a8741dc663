"""Reading request bodies for the test upstreams (gitserver.py, mockllm.py).

http.server leaves bodies to the handler; these servers must read both
Content-Length and chunked framing exactly (the proxy under test re-frames
bodies), and refuse what is malformed instead of guessing.
"""


class BadRequest(Exception):
    pass


class BodyReader:
    """A mixin for BaseHTTPRequestHandler; MAX_BODY caps a body's size."""

    MAX_BODY = 64 << 20

    def read_exact(self, n):
        data = self.rfile.read(n)
        if len(data) != n:
            raise BadRequest("truncated body")
        return data

    def read_line(self):
        line = self.rfile.readline(65537)
        if not line.endswith(b"\n"):
            raise BadRequest("truncated chunked body")
        return line

    def read_body(self):
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            parts, total = [], 0
            while True:
                try:
                    size = int(self.read_line().split(b";", 1)[0].strip(), 16)
                except ValueError:
                    raise BadRequest("bad chunk size")
                if size < 0 or total + size > self.MAX_BODY:
                    raise BadRequest("chunk too large")
                if size == 0:
                    break
                parts.append(self.read_exact(size))
                total += size
                if self.read_exact(2) != b"\r\n":
                    raise BadRequest("chunk not followed by CRLF")
            while self.read_line() not in (b"\r\n", b"\n"):
                pass
            return b"".join(parts)
        n = self.headers.get("Content-Length")
        if n is None:
            return b""
        try:
            n = int(n)
        except ValueError:
            raise BadRequest("bad Content-Length")
        if n < 0 or n > self.MAX_BODY:
            raise BadRequest("bad Content-Length")
        return self.read_exact(n) if n else b""
