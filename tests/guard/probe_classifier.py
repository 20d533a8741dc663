#!/usr/bin/env python3
"""A classifier that first tries to break out of the sandbox warden starts
classifiers in, reports what happened on stderr, then serves the guard
protocol as examples/classifier.py does (by becoming it).

    probe_classifier.py PORT OUTSIDE_FILE RULES_FILE CLASSIFIER

PORT: a TCP listener on the host's loopback; OUTSIDE_FILE: a readable file
the classifier was not given; RULES_FILE: a file in a directory it was
given (read_only); CLASSIFIER: the example classifier to exec.

One line on stderr:
  guard-probe: connect=E write=E read_outside=E read_rules=E signal=E uid=N
where each E is "ok" or the errno name of the refusal.
"""
import errno
import os
import socket
import sys


def attempt(fn):
    try:
        fn()
        return "ok"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))


def connect(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(2)
    try:
        s.connect(("127.0.0.1", port))
    finally:
        s.close()


def write_next_to(path):
    with open(os.path.join(os.path.dirname(path), "written-by-classifier"), "w") as f:
        f.write("x")


def read(path):
    with open(path, "rb") as f:
        f.read(1)


def main():
    port, outside, rules, classifier = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
    r = {
        "connect": attempt(lambda: connect(port)),
        "write": attempt(lambda: write_next_to(outside)),
        "read_outside": attempt(lambda: read(outside)),
        "read_rules": attempt(lambda: read(rules)),
        # The supervisor is the parent: a signal 0 only asks whether it may be signalled.
        "signal": attempt(lambda: os.kill(os.getppid(), 0)),
    }
    line = " ".join("%s=%s" % kv for kv in r.items())
    sys.stderr.write("guard-probe: %s uid=%d\n" % (line, os.getuid()))
    sys.stderr.flush()
    os.execv(sys.executable, [sys.executable, classifier])


if __name__ == "__main__":
    main()
