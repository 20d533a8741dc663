#!/usr/bin/env python3
"""A mock model provider for the privacy router's end-to-end tests.

    mockllm.py --port 0 --port-file F --name NAME [--tls CERT KEY]
               --log LOG.jsonl [--event-delay-ms N]

One process plays one provider.  It listens on 127.0.0.1 only (port 0: the
kernel picks; the bound port is written to F once the socket listens,
atomically), one thread per connection, HTTP/1.1 keep-alive, optionally
over TLS.

Every request is recorded -- before it is answered, so a test that reads
the log after the client returned finds it -- as one JSON line:

  {"provider": NAME, "method", "path", "headers": {lower-case name: value},
   "body": <the body as text>, "status": <the status answered>}

A repeated header's values are joined with ", ", so a header the router
should have replaced but only added to shows up as two values.

The answer echoes the last user message, so a test can see what the
provider received and what the agent got back: the reply text is
"echo[NAME]: " + that message.  Paths are matched by suffix, so a provider
mounted under a prefix (/openai/v1/chat/completions) works the same:

  POST .../v1/messages          Anthropic Messages.  content may be a
                                string or a list of blocks (text blocks are
                                joined with "\\n").
  POST .../v1/chat/completions  OpenAI Chat Completions (content a string
                                or a list of text parts).
  POST .../v1/responses         OpenAI Responses (input a string or a list
                                of messages / input_text parts).
  anything else                 404 with a JSON error in the API's shape.

With "stream": true the answer is text/event-stream, shaped like the real
APIs' streams, sent with chunked transfer coding, one write per event:

  anthropic  message_start, content_block_start, ping, content_block_delta
             (text_delta) ..., content_block_stop, message_delta,
             message_stop
  chat       chat.completion.chunk with the role, then delta.content
             pieces, a chunk with finish_reason "stop" (and one with usage
             when stream_options.include_usage), then "data: [DONE]"
  responses  response.created, response.in_progress,
             response.output_item.added, response.content_part.added,
             response.output_text.delta ..., response.output_text.done,
             response.content_part.done, response.output_item.done,
             response.completed

The reply text is cut into 3-character deltas, so a placeholder such as
[EMAIL_1] in the echoed prompt reaches the router split across events.

For tests of the clients' error handling: a request header
"x-mock-status: N" (400..599) makes the answer an error with that status,
in the API's error shape.  --event-delay-ms sleeps between stream events,
so they also arrive in separate reads.
"""
import argparse
import itertools
import json
import os
import socket
import socketserver
import ssl
import sys
import threading
import time
import http.server

from httpbody import BadRequest, BodyReader

MAX_BODY = 64 << 20
DELTA = 3

ARGS = None
_log_lock = threading.Lock()
_ids = itertools.count(1)


def compact(obj):
    """JSON as the real APIs send it: no spaces, non-ASCII as is."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def new_id(prefix):
    return "%s_mock%08d%s" % (prefix, next(_ids), os.urandom(6).hex())


def tokens(text):
    """A rough token count: the mock only needs plausible numbers."""
    return max(1, len(text) // 4)


def pieces(text):
    return [text[i:i + DELTA] for i in range(0, len(text), DELTA)] or [""]


# ---- what the agent asked -------------------------------------------------------

def text_of(content):
    """The text of a message's content: a string, or a list of text parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        out = []
        for part in content:
            if isinstance(part, str):
                out.append(part)
            elif isinstance(part, dict) and part.get("type") in ("text", "input_text", "output_text") \
                    and isinstance(part.get("text"), str):
                out.append(part["text"])
        return "\n".join(out)
    return ""


def last_user_text(messages):
    if not isinstance(messages, list):
        return ""
    for m in reversed(messages):
        if isinstance(m, dict) and m.get("role") == "user":
            return text_of(m.get("content"))
    return ""


def responses_input_text(inp):
    if isinstance(inp, str):
        return inp
    return last_user_text(inp)


# ---- answers in each API's shape ------------------------------------------------------

def anthropic_message(model, text, prompt):
    return {
        "id": new_id("msg"), "type": "message", "role": "assistant", "model": model,
        "content": [{"type": "text", "text": text}],
        "stop_reason": "end_turn", "stop_sequence": None,
        "usage": {"input_tokens": tokens(prompt), "output_tokens": tokens(text),
                  "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0},
    }


def anthropic_stream(model, text, prompt):
    mid = new_id("msg")
    yield "message_start", {"type": "message_start", "message": {
        "id": mid, "type": "message", "role": "assistant", "model": model, "content": [],
        "stop_reason": None, "stop_sequence": None,
        "usage": {"input_tokens": tokens(prompt), "output_tokens": 1,
                  "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}}}
    yield "content_block_start", {"type": "content_block_start", "index": 0,
                                  "content_block": {"type": "text", "text": ""}}
    yield "ping", {"type": "ping"}
    for p in pieces(text):
        yield "content_block_delta", {"type": "content_block_delta", "index": 0,
                                      "delta": {"type": "text_delta", "text": p}}
    yield "content_block_stop", {"type": "content_block_stop", "index": 0}
    yield "message_delta", {"type": "message_delta",
                            "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                            "usage": {"output_tokens": tokens(text)}}
    yield "message_stop", {"type": "message_stop"}


def anthropic_error(status, message):
    kinds = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
             404: "not_found_error", 413: "request_too_large", 429: "rate_limit_error",
             529: "overloaded_error"}
    return {"type": "error", "error": {"type": kinds.get(status, "api_error"), "message": message}}


def chat_completion(model, text, prompt):
    return {
        "id": new_id("chatcmpl"), "object": "chat.completion", "created": int(time.time()),
        "model": model, "system_fingerprint": "fp_mock",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text, "refusal": None,
                                              "annotations": []},
                     "logprobs": None, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": tokens(prompt), "completion_tokens": tokens(text),
                  "total_tokens": tokens(prompt) + tokens(text)},
    }


def chat_stream(model, text, prompt, include_usage):
    cid, created = new_id("chatcmpl"), int(time.time())

    def chunk(delta, finish=None):
        c = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
             "system_fingerprint": "fp_mock",
             "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}
        if include_usage:
            c["usage"] = None
        return c

    yield None, chunk({"role": "assistant", "content": "", "refusal": None})
    for p in pieces(text):
        yield None, chunk({"content": p})
    yield None, chunk({}, "stop")
    if include_usage:
        yield None, {"id": cid, "object": "chat.completion.chunk", "created": created,
                     "model": model, "system_fingerprint": "fp_mock", "choices": [],
                     "usage": {"prompt_tokens": tokens(prompt), "completion_tokens": tokens(text),
                               "total_tokens": tokens(prompt) + tokens(text)}}
    yield None, "[DONE]"


def openai_error(status, message):
    kinds = {400: "invalid_request_error", 401: "invalid_request_error", 404: "invalid_request_error",
             429: "rate_limit_exceeded"}
    return {"error": {"message": message, "type": kinds.get(status, "server_error"),
                      "param": None, "code": None}}


def response_object(rid, mid, model, text, prompt, status):
    done = status == "completed"
    output = []
    if done:
        output = [{"type": "message", "id": mid, "status": "completed", "role": "assistant",
                   "content": [{"type": "output_text", "text": text, "annotations": []}]}]
    return {
        "id": rid, "object": "response", "created_at": int(time.time()), "status": status,
        "error": None, "incomplete_details": None, "instructions": None,
        "max_output_tokens": None, "model": model, "output": output,
        "parallel_tool_calls": True, "previous_response_id": None,
        "reasoning": {"effort": None, "summary": None}, "store": False, "temperature": 1.0,
        "text": {"format": {"type": "text"}}, "tool_choice": "auto", "tools": [], "top_p": 1.0,
        "truncation": "disabled",
        "usage": ({"input_tokens": tokens(prompt), "input_tokens_details": {"cached_tokens": 0},
                   "output_tokens": tokens(text), "output_tokens_details": {"reasoning_tokens": 0},
                   "total_tokens": tokens(prompt) + tokens(text)} if done else None),
        "user": None, "metadata": {},
    }


def responses_stream(model, text, prompt):
    rid, mid = new_id("resp"), new_id("msg")
    seq = itertools.count(0)

    def ev(kind, **kw):
        d = {"type": kind, "sequence_number": next(seq)}
        d.update(kw)
        return kind, d

    yield ev("response.created", response=response_object(rid, mid, model, text, prompt, "in_progress"))
    yield ev("response.in_progress", response=response_object(rid, mid, model, text, prompt, "in_progress"))
    yield ev("response.output_item.added", output_index=0,
             item={"id": mid, "type": "message", "status": "in_progress", "role": "assistant",
                   "content": []})
    yield ev("response.content_part.added", item_id=mid, output_index=0, content_index=0,
             part={"type": "output_text", "text": "", "annotations": []})
    for p in pieces(text):
        yield ev("response.output_text.delta", item_id=mid, output_index=0, content_index=0,
                 delta=p, logprobs=[])
    yield ev("response.output_text.done", item_id=mid, output_index=0, content_index=0,
             text=text, logprobs=[])
    part = {"type": "output_text", "text": text, "annotations": []}
    yield ev("response.content_part.done", item_id=mid, output_index=0, content_index=0, part=part)
    yield ev("response.output_item.done", output_index=0,
             item={"id": mid, "type": "message", "status": "completed", "role": "assistant",
                   "content": [part]})
    yield ev("response.completed", response=response_object(rid, mid, model, text, prompt, "completed"))


# ---- the server --------------------------------------------------------------------------

class Handler(BodyReader, http.server.BaseHTTPRequestHandler):
    MAX_BODY = MAX_BODY
    protocol_version = "HTTP/1.1"

    def version_string(self):
        return "mockllm/1"

    def log_message(self, fmt, *args):
        pass

    def setup(self):
        super().setup()
        try:
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass

    # ---- the log ----

    def record(self, body, status):
        hdrs = {}
        for name, value in self.headers.items():
            k = name.lower()
            hdrs[k] = hdrs[k] + ", " + value if k in hdrs else value
        rec = {"provider": ARGS.name, "method": self.command, "path": self.path, "headers": hdrs,
               "body": body.decode("utf-8", "replace"), "status": status}
        with _log_lock:
            with open(ARGS.log, "a") as f:
                f.write(json.dumps(rec) + "\n")

    # ---- answers ----

    def send_json(self, status, obj):
        data = (compact(obj) + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("request-id", new_id("req"))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def send_chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def send_stream(self, events):
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("request-id", new_id("req"))
        self.end_headers()
        self.wfile.flush()
        delay = ARGS.event_delay_ms / 1000.0
        for kind, data in events:
            text = data if isinstance(data, str) else compact(data)
            ev = ("event: %s\n" % kind if kind else "") + "data: %s\n\n" % text
            self.send_chunk(ev.encode())
            if delay:
                time.sleep(delay)
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    # ---- methods ----

    def api_of(self):
        path = self.path.split("?", 1)[0].rstrip("/")
        for suffix, api in (("/v1/messages", "anthropic"), ("/v1/chat/completions", "chat"),
                            ("/v1/responses", "responses")):
            if path.endswith(suffix):
                return api
        return None

    def do_POST(self):
        try:
            body = self.read_body()
        except BadRequest as e:
            self.close_connection = True
            self.record(b"", 400)
            self.send_json(400, openai_error(400, str(e)))
            return
        api = self.api_of()
        errshape = anthropic_error if api == "anthropic" else openai_error
        if api is None:
            self.record(body, 404)
            self.send_json(404, errshape(404, "no such endpoint: %s %s" % (self.command, self.path)))
            return
        forced = self.headers.get("x-mock-status", "")
        if forced.isdigit() and 400 <= int(forced) <= 599:
            self.record(body, int(forced))
            self.send_json(int(forced), errshape(int(forced), "mock error %s as requested" % forced))
            return
        try:
            req = json.loads(body)
            if not isinstance(req, dict):
                raise ValueError("not an object")
        except ValueError as e:
            self.record(body, 400)
            self.send_json(400, errshape(400, "the body is not a JSON object: %s" % e))
            return
        model = req.get("model") if isinstance(req.get("model"), str) else "unknown"
        if api == "responses":
            prompt = responses_input_text(req.get("input"))
        else:
            prompt = last_user_text(req.get("messages"))
        text = "echo[%s]: %s" % (ARGS.name, prompt)
        stream = req.get("stream") is True
        self.record(body, 200)
        if api == "anthropic":
            if stream:
                self.send_stream(anthropic_stream(model, text, prompt))
            else:
                self.send_json(200, anthropic_message(model, text, prompt))
        elif api == "chat":
            if stream:
                so = req.get("stream_options")
                usage = isinstance(so, dict) and so.get("include_usage") is True
                self.send_stream(chat_stream(model, text, prompt, usage))
            else:
                self.send_json(200, chat_completion(model, text, prompt))
        else:
            if stream:
                self.send_stream(responses_stream(model, text, prompt))
            else:
                rid, mid = new_id("resp"), new_id("msg")
                self.send_json(200, response_object(rid, mid, model, text, prompt, "completed"))

    def do_other(self):
        try:
            body = self.read_body()
        except BadRequest:
            body = b""
            self.close_connection = True
        self.record(body, 404)
        errshape = anthropic_error if self.api_of() == "anthropic" else openai_error
        self.send_json(404, errshape(404, "no such endpoint: %s %s" % (self.command, self.path)))

    do_GET = do_other
    do_HEAD = do_other
    do_PUT = do_other
    do_PATCH = do_other
    do_DELETE = do_other
    do_OPTIONS = do_other


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    tls = None

    def get_request(self):
        # The TLS handshake runs in the connection's thread (on its first
        # read), so a client that stalls in it holds up nobody else.
        sock, addr = self.socket.accept()
        if self.tls is not None:
            sock = self.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, addr

    def handle_error(self, request, client_address):
        pass  # failed handshakes and resets are the tests' business


def main():
    global ARGS
    ap = argparse.ArgumentParser(description="a mock model provider on the loopback")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--name", required=True)
    ap.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    ap.add_argument("--log", required=True)
    ap.add_argument("--event-delay-ms", type=int, default=0)
    ARGS = ap.parse_args()
    open(ARGS.log, "a").close()
    srv = Server(("127.0.0.1", ARGS.port), Handler)
    if ARGS.tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(ARGS.tls[0], ARGS.tls[1])
        srv.tls = ctx
    tmp = ARGS.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(tmp, ARGS.port_file)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
