#!/usr/bin/env python3
"""An example classifier for warden's guard protocol, version 1.

Reads the requests warden's proxy sends on fd 3 (or $WARDEN_GUARD_FD) and
reports every occurrence of a list of terms -- project code names, customer
names -- with the tier each term requires, and a redaction per occurrence.
The specification is docs/guard-protocol.md; this file is meant to be read
next to it.  Python 3 standard library only.

    classifier.py [--terms FILE]

FILE has one rule per line, "TIER<TAB>term" (tier: public, internal,
confidential, restricted); blank lines and lines starting with '#' are
skipped.  Terms match case-insensitively (ASCII letters) as literal bytes.

Limits of the example: a term written with JSON escapes in the body
("\\u0070roject") or split across two JSON strings is not seen.  The
built-in classifier, warden-guard, unescapes JSON strings before scanning.
"""
import json
import os
import socket
import struct
import sys

TIERS = ["public", "internal", "confidential", "restricted"]
DEFAULT_TERMS = [("confidential", "project nightingale")]
MAX_HEADER = 64 * 1024
MAX_FRAME = 80 << 20  # the largest frame the proxy sends


class ProtocolError(Exception):
    pass


def load_terms(path):
    terms = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\r\n")
            if not line.strip() or line.startswith("#"):
                continue
            tier, sep, term = line.partition("\t")
            if not sep or tier not in TIERS or not term:
                sys.exit(f"{path}:{n}: expected TIER<TAB>term, TIER one of {', '.join(TIERS)}")
            terms.append((tier, term))
    return terms


def read_exact(sock, n):
    """n bytes, or None when the stream ends before the first of them."""
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(min(n - len(buf), 1 << 20))
        if not chunk:
            if not buf:
                return None
            raise ProtocolError("connection closed in the middle of a frame")
        buf += chunk
    return bytes(buf)


def read_frame(sock):
    """One frame as (header dict, body bytes), or None at a clean end of stream."""
    prefix = read_exact(sock, 8)
    if prefix is None:
        return None
    total, hlen = struct.unpack(">II", prefix)
    if total < 4 or total > MAX_FRAME or hlen > total - 4 or hlen > MAX_HEADER:
        raise ProtocolError(f"bad frame lengths {total}/{hlen}")
    rest = read_exact(sock, total - 4) if total > 4 else b""
    if rest is None:
        raise ProtocolError("connection closed in the middle of a frame")
    header = json.loads(rest[:hlen].decode("utf-8"))
    if not isinstance(header, dict):
        raise ProtocolError("header is not a JSON object")
    return header, rest[hlen:]


def send_frame(sock, header, body=b""):
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    sock.sendall(struct.pack(">II", 4 + len(h) + len(body), len(h)) + h + body)


def handshake(sock):
    frame = read_frame(sock)
    if frame is None:
        sys.exit(0)
    hello, _ = frame
    versions = hello.get("versions")
    if (hello.get("type") != "hello" or hello.get("protocol") != "warden-guard"
            or not isinstance(versions, list) or 1 not in versions):
        send_frame(sock, {"type": "hello", "error": "this classifier speaks warden-guard version 1"})
        sys.exit(1)
    send_frame(sock, {"type": "hello", "version": 1, "name": "example-terms",
                      "classifier_version": "1.0"})


def classify(body, terms):
    """Findings and redactions, with spans as byte offsets into the raw body."""
    lowered = body.lower()  # bytes.lower() changes ASCII only: offsets stay the same
    hits = []
    for tier, term in terms:
        needle = term.lower().encode("utf-8")
        at = lowered.find(needle)
        while at >= 0:
            hits.append((at, at + len(needle), tier, needle))
            at = lowered.find(needle, at + len(needle))
    hits.sort(key=lambda h: (h[0], -h[1]))

    findings, redactions, placeholders = [], [], {}
    for start, end, tier, needle in hits:
        findings.append({"type": "custom.term", "class": "custom", "tier": tier,
                         "start": start, "end": end, "validator": ""})
        if redactions and start < redactions[-1]["end"]:
            continue  # redactions must not overlap: the earlier one covers this
        # The same term gets the same placeholder every time it occurs.
        ph = placeholders.setdefault(needle, f"[TERM_{len(placeholders) + 1}]")
        redactions.append({"start": start, "end": end, "placeholder": ph})
    tier = max((TIERS.index(h[2]) for h in hits), default=0)
    return TIERS[tier], findings, redactions


def serve(sock, terms):
    handshake(sock)
    # Requests may be pipelined: answering each in the order read is enough,
    # since every reply carries the id of the request it answers.
    while True:
        frame = read_frame(sock)
        if frame is None:
            return  # the proxy closed the connection: a clean end
        req, body = frame
        rid = req.get("id")
        if req.get("type") != "classify" or not isinstance(rid, int) or rid < 0:
            if isinstance(rid, int) and rid >= 0:
                send_frame(sock, {"type": "result", "id": rid, "decision": "error",
                                  "tier": "restricted", "reason": "not a classify request"})
                continue
            raise ProtocolError("a request without a usable id")
        tier, findings, redactions = classify(body, terms)
        send_frame(sock, {
            "type": "result", "id": rid, "decision": "allow", "tier": tier,
            "reason": f"{len(findings)} term(s) found" if findings else "",
            "findings": findings, "redactions": redactions,
        })


def main(argv):
    terms = DEFAULT_TERMS
    if len(argv) == 3 and argv[1] == "--terms":
        terms = load_terms(argv[2])
    elif len(argv) != 1:
        sys.exit("usage: classifier.py [--terms FILE]")
    fd = int(os.environ.get("WARDEN_GUARD_FD", "3"))
    sock = socket.socket(fileno=fd)
    sock.setblocking(True)
    try:
        serve(sock, terms)
    except (ProtocolError, ValueError, UnicodeDecodeError) as e:
        sys.exit(f"classifier.py: {e}")
    except (BrokenPipeError, ConnectionResetError):
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
