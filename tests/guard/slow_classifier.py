#!/usr/bin/env python3
"""A deliberately slow classifier for the privacy router's failure tests.

    slow_classifier.py [--key KEY] [--tag TAG]

Speaks the guard protocol, version 1 (docs/guard-protocol.md), on fd 3,
the socket warden hands a classifier.  It finds nothing in any request --
every answer is "allow", tier public, no findings -- but when a request
body contains KEY=N (default key SLEEP_MS; N in milliseconds, at most
60000) it first sleeps N ms.  Requests are answered one at a time, in
order, so a sleeping classifier also holds up the requests behind it: the
router must give up on it (timeout), or notice it died (kill), and fail
closed either way.

--tag is not used; it only makes the command line unique, so a test can
find and kill exactly its own instance by pid.

Frames: a 4-byte big-endian length N of what follows, a 4-byte big-endian
header length H, H bytes of JSON header, N - 4 - H bytes of body.
"""
import argparse
import json
import re
import socket
import struct
import sys
import time

PROTOCOL = "warden-guard"
VERSION = 1
MAX_FRAME = 80 << 20
MAX_HEADER = 64 << 10
MAX_SLEEP_MS = 60000


class StreamEnd(Exception):
    pass


def read_exact(sock, n):
    parts = []
    while n > 0:
        b = sock.recv(min(n, 1 << 20))
        if not b:
            raise StreamEnd()
        parts.append(b)
        n -= len(b)
    return b"".join(parts)


def read_frame(sock):
    """(header dict, body bytes); StreamEnd when the peer closed or broke the stream."""
    total, = struct.unpack(">I", read_exact(sock, 4))
    if total < 4 or total > MAX_FRAME:
        raise StreamEnd()
    hlen, = struct.unpack(">I", read_exact(sock, 4))
    if hlen > total - 4 or hlen > MAX_HEADER:
        raise StreamEnd()
    header = read_exact(sock, hlen)
    body = read_exact(sock, total - 4 - hlen)
    try:
        h = json.loads(header)
    except ValueError:
        raise StreamEnd()
    if not isinstance(h, dict):
        raise StreamEnd()
    return h, body


def send_frame(sock, header):
    h = json.dumps(header, separators=(",", ":")).encode()
    sock.sendall(struct.pack(">II", 4 + len(h), len(h)) + h)


def result(rid, decision="allow", reason=""):
    return {"type": "result", "id": rid, "decision": decision, "tier": "public",
            "reason": reason, "findings": [], "redactions": []}


def main():
    ap = argparse.ArgumentParser(description="a guard-protocol classifier that sleeps on demand")
    ap.add_argument("--key", default="SLEEP_MS")
    ap.add_argument("--tag", default="")
    args = ap.parse_args()
    trigger = re.compile(re.escape(args.key).encode() + rb"=([0-9]{1,6})")

    sock = socket.socket(fileno=3)
    try:
        hello, _ = read_frame(sock)
        versions = hello.get("versions")
        if hello.get("type") != "hello" or hello.get("protocol") != PROTOCOL or \
                not isinstance(versions, list) or VERSION not in versions:
            send_frame(sock, {"type": "hello", "error": "slow-classifier speaks %s version %d only"
                              % (PROTOCOL, VERSION)})
            return 1
        send_frame(sock, {"type": "hello", "version": VERSION, "name": "slow-classifier",
                          "classifier_version": "1"})
        while True:
            h, body = read_frame(sock)
            rid = h.get("id")
            if not isinstance(rid, int) or isinstance(rid, bool) or rid < 0:
                return 1  # nothing to answer to: the stream cannot be followed
            if h.get("type") != "classify":
                send_frame(sock, result(rid, "error", "unexpected message type"))
                continue
            m = trigger.search(body)
            if m:
                time.sleep(min(int(m.group(1)), MAX_SLEEP_MS) / 1000.0)
            send_frame(sock, result(rid))
    except (StreamEnd, ConnectionError):
        return 0


if __name__ == "__main__":
    sys.exit(main())
