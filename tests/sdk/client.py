#!/usr/bin/env python3
"""A model-provider client in plain python3 (urllib), for the privacy
router's end-to-end tests: what an agent without an SDK sends.

    client.py anthropic|openai-chat|openai-responses [--stream]
              --model M (--prompt TEXT | --prompt-file F) [--base URL]
              [--header k:v]... [--metadata-sensitivity TIER] [--api-key K]
              [--body-file F] [--timeout S]

--base defaults to ANTHROPIC_BASE_URL (anthropic; the path /v1/messages is
appended) or OPENAI_BASE_URL (openai; /chat/completions or /responses is
appended, the base includes /v1), as the official SDKs do.  urllib honours
the proxy variables, so inside a sandbox a request to
http://inference.local goes to warden's proxy as a forward-proxy request
and an https:// base through a CONNECT tunnel.

--prompt-file reads the prompt from a file (UTF-8), so a sensitive test
prompt is not on a command line (warden's audit trail records argv).

--api-key is sent the way the format wants it: x-api-key for anthropic,
Authorization: Bearer for openai.  --metadata-sensitivity puts
{"metadata": {"sensitivity": TIER}} into the body.  --body-file sends the
file's bytes as the body, unchanged (--model and --prompt are then not
needed, and --stream only says how to read the answer).

Streaming reads the SSE events as they come and concatenates the text
deltas (content_block_delta / delta.content / response.output_text.delta).

Prints exactly one JSON line:
  {"ok": true, "text": ..., "status": 200, "events": N, "provider": ..., "tier": ...}
  {"ok": false, "status": N, "error": <the parsed error body>, ...}
"provider" and "tier" are the x-warden-provider / x-warden-tier response
headers.  Exit status: 0 ok, 1 an HTTP error, 2 usage or transport errors.
"""
import argparse
import json
import os
import sys
import urllib.error
import urllib.request

PATHS = {"anthropic": "/v1/messages", "openai-chat": "/chat/completions",
         "openai-responses": "/responses"}


def out(obj, code):
    sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")
    sys.stdout.flush()
    return code


def url_for(args):
    if args.base is not None:
        base = args.base
    elif args.api == "anthropic":
        base = os.environ.get("ANTHROPIC_BASE_URL") or "https://api.anthropic.com"
    else:
        base = os.environ.get("OPENAI_BASE_URL") or "https://api.openai.com/v1"
    return base.rstrip("/") + PATHS[args.api]


def body_for(args):
    if args.body_file is not None:
        with open(args.body_file, "rb") as f:
            return f.read()
    if args.api == "anthropic":
        req = {"model": args.model, "max_tokens": 256,
               "messages": [{"role": "user", "content": args.prompt}]}
    elif args.api == "openai-chat":
        req = {"model": args.model, "messages": [{"role": "user", "content": args.prompt}]}
    else:
        req = {"model": args.model, "input": args.prompt}
    if args.stream:
        req["stream"] = True
    if args.metadata_sensitivity is not None:
        req["metadata"] = {"sensitivity": args.metadata_sensitivity}
    return json.dumps(req).encode()


def headers_for(args):
    h = {"Content-Type": "application/json", "Accept": "application/json",
         "User-Agent": "warden-test-client/1 python-urllib"}
    if args.api == "anthropic":
        h["anthropic-version"] = "2023-06-01"
    if args.api_key is not None:
        if args.api == "anthropic":
            h["x-api-key"] = args.api_key
        else:
            h["Authorization"] = "Bearer " + args.api_key
    for kv in args.header:
        name, sep, value = kv.partition(":")
        if not sep or not name.strip():
            raise ValueError("--header wants name:value, got %r" % kv)
        h[name.strip()] = value.strip()
    return h


def sse_events(resp):
    """(event, data) pairs of a text/event-stream, read as they arrive."""
    event, data = None, []
    while True:
        line = resp.readline()
        if not line:
            break
        line = line.decode("utf-8").rstrip("\r\n")
        if line == "":
            if data:
                yield event, "\n".join(data)
            event, data = None, []
        elif line.startswith(":"):
            continue
        else:
            field, _, value = line.partition(":")
            if value.startswith(" "):
                value = value[1:]
            if field == "event":
                event = value
            elif field == "data":
                data.append(value)
    if data:
        yield event, "\n".join(data)


def delta_of(api, data):
    if data == "[DONE]":
        return None
    d = json.loads(data)
    if api == "anthropic":
        if d.get("type") == "content_block_delta" and d.get("delta", {}).get("type") == "text_delta":
            return d["delta"]["text"]
        if d.get("type") == "error":
            raise StreamError(d)
    elif api == "openai-chat":
        if "error" in d:
            raise StreamError(d)
        ch = d.get("choices") or []
        if ch:
            return (ch[0].get("delta") or {}).get("content")
    else:
        if d.get("type") == "response.output_text.delta":
            return d.get("delta")
        if d.get("type") in ("error", "response.failed"):
            raise StreamError(d)
    return None


class StreamError(Exception):
    def __init__(self, body):
        super().__init__("error event in the stream")
        self.body = body


def text_of(api, obj):
    if api == "anthropic":
        return "".join(b.get("text", "") for b in obj.get("content", []) if b.get("type") == "text")
    if api == "openai-chat":
        return obj["choices"][0]["message"].get("content") or ""
    parts = []
    for item in obj.get("output", []):
        if item.get("type") == "message":
            parts += [c.get("text", "") for c in item.get("content", []) if c.get("type") == "output_text"]
    return "".join(parts)


def parse(raw):
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace")


def main():
    ap = argparse.ArgumentParser(description="a python3 stdlib model-provider client")
    ap.add_argument("api", choices=sorted(PATHS))
    ap.add_argument("--stream", action="store_true")
    ap.add_argument("--model", default="")
    ap.add_argument("--prompt", default="")
    ap.add_argument("--prompt-file")
    ap.add_argument("--base")
    ap.add_argument("--header", action="append", default=[])
    ap.add_argument("--metadata-sensitivity")
    ap.add_argument("--api-key")
    ap.add_argument("--body-file")
    ap.add_argument("--timeout", type=float, default=30)
    args = ap.parse_args()
    if args.prompt_file is not None:
        try:
            with open(args.prompt_file, encoding="utf-8") as f:
                args.prompt = f.read()
        except (OSError, ValueError) as e:
            return out({"ok": False, "status": 0, "error": "--prompt-file: %s" % e}, 2)
    if args.body_file is None and (not args.model or not args.prompt):
        ap.error("--model and --prompt are required without --body-file")

    try:
        req = urllib.request.Request(url_for(args), data=body_for(args), method="POST",
                                     headers=headers_for(args))
    except (OSError, ValueError) as e:
        return out({"ok": False, "status": 0, "error": str(e)}, 2)
    info = {"status": 0, "provider": None, "tier": None}
    try:
        with urllib.request.urlopen(req, timeout=args.timeout) as resp:
            info = {"status": resp.status, "provider": resp.headers.get("x-warden-provider"),
                    "tier": resp.headers.get("x-warden-tier")}
            ctype = resp.headers.get("Content-Type", "")
            if args.stream and ctype.startswith("text/event-stream"):
                text, events = "", 0
                for _, data in sse_events(resp):
                    d = delta_of(args.api, data)
                    if d:
                        text += d
                        events += 1
                return out(dict(ok=True, text=text, events=events, **info), 0)
            raw = resp.read()
            obj = parse(raw)
            if not isinstance(obj, dict):
                return out(dict(ok=False, error="not a JSON object: %.200s" % raw, **info), 1)
            return out(dict(ok=True, text=text_of(args.api, obj), events=0, **info), 0)
    except urllib.error.HTTPError as e:
        info = {"status": e.code, "provider": e.headers.get("x-warden-provider"),
                "tier": e.headers.get("x-warden-tier")}
        return out(dict(ok=False, error=parse(e.read()), **info), 1)
    except StreamError as e:
        return out(dict(ok=False, error=e.body, **info), 1)
    except (OSError, ValueError, KeyError, IndexError, TypeError) as e:
        return out(dict(ok=False, error="%s: %s" % (type(e).__name__, e), **info), 2)


if __name__ == "__main__":
    sys.exit(main())
