#!/usr/bin/env python3
"""Generate the labelled accuracy corpus for warden's built-in classifier.

Each output line is one sample, a JSON object:

    {"body": "<the HTTP request body>", "labels": ["email", ...],
     "variant": "plain", "kind": "email", "negative": false}

`labels` lists every finding type the body contains (the type names the
classifier reports: "payment_card", "secret.github", "health.diagnosis",
...); `kind` is what the sample was built to exercise; `negative` marks a
near miss (an invalid Luhn digit, an IBAN with a wrong checksum, an SSN in
a range never issued, a placeholder token, prose with numbers, code with
hashes and UUIDs) whose labels are empty unless it deliberately carries
something else.

Variants (each value is placed in every one of them in turn):

  plain         the text alone, as a text/plain body
  anthropic     inside an Anthropic Messages request (json.dumps: non-ASCII
                and control characters escaped)
  openai        inside an OpenAI Chat Completions request
  tool_args     inside an OpenAI tool call's "arguments": a JSON document
                serialised into a JSON string (nested JSON)
  tool_number   numeric values as JSON numbers inside tool arguments
  escaped       inside Anthropic JSON with characters of the value written
                as \\uXXXX escapes (some as surrogate-pair-free BMP escapes,
                some as '\\/')
  sse           a follow-up request whose assistant turn was streamed as
                Server-Sent Events: the value is split across
                content_block_delta events at random points, and the client
                re-assembled the deltas (as every SDK does) before sending
                the conversation back.  What a request classifier sees of a
                stream is the re-assembled text; this variant checks that a
                value cut by the stream is found once joined.
  split_blocks  adversarial: the agent itself sends the value split across
                two adjacent text content blocks.  Each string is scanned on
                its own, so this is NOT expected to be found; it is reported
                separately (docs/classifier.md, known limits) and never
                counts toward the accuracy targets.

Deterministic for a given --seed.  Python 3 standard library only.
"""

import argparse
import base64
import json
import os
import random
import string
import sys
import zlib

ALNUM = string.ascii_letters + string.digits
B62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
B64URL = ALNUM + "-_"

FILLER = [
    "Please summarise the note below for the team.",
    "Can you help me draft a short reply to this?",
    "Here are the details we talked about earlier.",
    "I need this rewritten in a friendlier tone.",
    "Check the following and tell me if anything looks wrong.",
    "Thanks in advance for taking a look.",
    "Translate this into plain English, please.",
    "Keep the answer brief and to the point.",
    "This came in through the support inbox this morning.",
    "Let me know what you think about the wording.",
    "The customer asked us to update their record.",
    "Format the result as a bulleted list.",
]

CODE_SNIPPETS = [
    "def handler(event):\n    return {'status': 'ok', 'items': list(event.get('items', []))}\n",
    "for (let i = 0; i < rows.length; i++) { total += rows[i].price * rows[i].qty; }",
    "SELECT id, created_at FROM orders WHERE status = 'open' ORDER BY created_at DESC LIMIT 50;",
    "git log --oneline -n 20 && git diff HEAD~3 -- src/main.c",
    "docker run --rm -p 8080:8080 -v $(pwd):/app node:20 npm test",
    "const url = `https://api.example.com/v2/items?page=${page}&per_page=100`;",
    "if err != nil {\n\treturn fmt.Errorf(\"open %s: %w\", path, err)\n}",
    "x = np.linspace(0, 1, 1000)\ny = np.sin(2 * np.pi * 5 * x)",
]


class Gen:
    def __init__(self, seed):
        self.r = random.Random(seed)

    def choice(self, seq):
        return self.r.choice(seq)

    def digits(self, n):
        return "".join(self.r.choice(string.digits) for _ in range(n))

    def chars(self, alphabet, n):
        return "".join(self.r.choice(alphabet) for _ in range(n))

    def filler(self, k=None):
        k = self.r.randint(1, 3) if k is None else k
        return " ".join(self.r.sample(FILLER, k))

    # ---- values: each returns (text, labels) ----

    def luhn_complete(self, prefix, length):
        body = prefix + self.digits(length - len(prefix) - 1)
        total = 0
        for i, ch in enumerate(reversed(body)):
            v = int(ch)
            if i % 2 == 0:
                v *= 2
                if v > 9:
                    v -= 9
            total += v
        return body + str((10 - total % 10) % 10)

    CARD_SCHEMES = [
        (["4"], 16), (["4"], 13), (["51", "52", "53", "54", "55", "2221", "2500", "2720"], 16),
        (["34", "37"], 15), (["6011", "644", "65"], 16), (["3528", "3589"], 16),
        (["36", "38"], 14), (["62"], 16), (["6304", "6759"], 18), (["2200"], 16),
    ]

    def card_number(self):
        prefixes, length = self.choice(self.CARD_SCHEMES)
        return self.luhn_complete(self.choice(prefixes), length)

    def format_card(self, num):
        style = self.r.randint(0, 2)
        if style == 0:
            return num
        sep = " " if style == 1 else "-"
        if len(num) == 15:
            groups = [num[:4], num[4:10], num[10:]]
        else:
            groups = [num[i:i + 4] for i in range(0, len(num), 4)]
        return sep.join(groups)

    def card(self):
        return self.format_card(self.card_number())

    def card_bad(self):
        if self.r.random() < 0.2:
            # An order or tracking number: 16 random digits.  About one in
            # twenty of these is Luhn-valid with a card issuer's prefix, and
            # then indistinguishable from a card number -- a real source of
            # false positives, kept in the corpus on purpose.
            return self.digits(16)
        num = self.card_number()
        last = (int(num[-1]) + self.r.randint(1, 9)) % 10
        return self.format_card(num[:-1] + str(last))

    IBAN_SPECS = [
        ("DE", "n18"), ("GB", "a4n14"), ("FR", "n23"), ("ES", "n20"), ("IT", "a1n22"),
        ("NL", "a4n10"), ("BE", "n12"), ("CH", "n17"), ("AT", "n16"), ("PL", "n24"),
        ("IE", "a4n14"), ("SE", "n20"), ("NO", "n11"), ("DK", "n14"), ("FI", "n14"),
        ("PT", "n21"),
    ]

    def bban(self, spec):
        out, i = "", 0
        while i < len(spec):
            kind = spec[i]
            j = i + 1
            while j < len(spec) and spec[j].isdigit():
                j += 1
            n = int(spec[i + 1:j])
            out += self.chars(string.ascii_uppercase, n) if kind == "a" else self.digits(n)
            i = j
        return out

    @staticmethod
    def iban_check(cc, bban):
        s = bban + cc + "00"
        num = "".join(str(int(ch, 36)) for ch in s)
        return "%02d" % (98 - int(num) % 97)

    def iban_raw(self, valid=True):
        cc, spec = self.choice(self.IBAN_SPECS)
        bban = self.bban(spec)
        check = self.iban_check(cc, bban)
        if not valid:
            check = "%02d" % ((int(check) + self.r.randint(1, 90)) % 97 + 2)
            if check == self.iban_check(cc, bban):
                check = "%02d" % ((int(check) + 1) % 97 + 2)
        return cc + check + bban

    def format_iban(self, iban):
        if self.r.random() < 0.5:
            return iban
        return " ".join(iban[i:i + 4] for i in range(0, len(iban), 4))

    def iban(self):
        return self.format_iban(self.iban_raw())

    def iban_bad(self):
        return self.format_iban(self.iban_raw(valid=False))

    def ssn_parts(self):
        while True:
            area = self.r.randint(1, 899)
            if area != 666:
                break
        return area, self.r.randint(1, 99), self.r.randint(1, 9999)

    def ssn(self):
        a, g, s = self.ssn_parts()
        if (a, g, s) in ((78, 5, 1120), (219, 9, 9999), (123, 45, 6789)):
            a = 124
        return "%03d-%02d-%04d" % (a, g, s)

    def ssn_bad(self):
        a, g, s = self.ssn_parts()
        k = self.r.randint(0, 4)
        if k == 0:
            a = 0
        elif k == 1:
            a = 666
        elif k == 2:
            a = self.r.randint(900, 999)
        elif k == 3:
            g = 0
        else:
            s = 0
        return "%03d-%02d-%04d" % (a, g, s)

    NINO_FIRST = [c for c in string.ascii_uppercase if c not in "DFIQUV"]
    NINO_SECOND = [c for c in string.ascii_uppercase if c not in "DFIOQUV"]

    def nino(self):
        while True:
            p = self.choice(self.NINO_FIRST) + self.choice(self.NINO_SECOND)
            if p not in ("BG", "GB", "KN", "NK", "NT", "TN", "ZZ"):
                break
        d = self.digits(6)
        s = self.choice("ABCD")
        if self.r.random() < 0.5:
            return p + d + s
        return "%s %s %s %s %s" % (p, d[:2], d[2:4], d[4:], s)

    def nino_bad(self):
        p = self.choice(["GB", "BG", "NK", "TN", "ZZ", "DA", "QA", "AO"])
        return p + self.digits(6) + self.choice("ABCD")

    FIRST = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan",
             "judy", "mallory", "niaj", "olivia", "peggy", "rupert", "sybil", "trent",
             "victor", "walter", "maria", "jose", "li", "wei", "fatima", "amir"]
    LAST = ["smith", "jones", "garcia", "nguyen", "muller", "rossi", "tanaka", "kowalski",
            "okafor", "silva", "dubois", "hansen", "ivanova", "patel", "oconnor"]
    DOMAINS = ["gmail.com", "outlook.com", "yahoo.co.uk", "proton.me", "acme-corp.com",
               "mail.example.org", "uni-heidelberg.de", "company.io", "health-clinic.net",
               "subdomain.bigcorp.co.jp", "fastmail.fm", "web.de"]

    def email(self):
        f, l = self.choice(self.FIRST), self.choice(self.LAST)
        local = self.choice([f, f + "." + l, f[0] + l, f + "_" + l, f + l + self.digits(2),
                             f + "+news", l + "." + f])
        return local + "@" + self.choice(self.DOMAINS)

    def email_bad(self):
        f = self.choice(self.FIRST)
        return self.choice([
            "@" + f, f + "@localhost", f + " at " + self.choice(self.DOMAINS).replace(".", " dot "),
            "@types/node", "git@github.com:" + f + "/project.git", "@dataclass",
            "lodash@4.17.21", "user@", f + "@@" + self.choice(self.DOMAINS),
            f + "@company", "[email protected]",
        ])

    def phone(self):
        area = str(self.r.randint(2, 9)) + self.digits(2)
        if area[1:] == "11":
            area = area[0] + "12"
        exch = str(self.r.randint(2, 9)) + self.digits(2)
        line = self.digits(4)
        k = self.r.randint(0, 11)
        return [
            "+1 (%s) %s-%s" % (area, exch, line),
            "%s-%s-%s" % (area, exch, line),
            "(%s) %s-%s" % (area, exch, line),
            "%s.%s.%s" % (area, exch, line),
            "+1-%s-%s-%s" % (area, exch, line),
            "+44 20 %s %s" % (self.digits(4), self.digits(4)),
            "+49 30 %s" % self.digits(8),
            "020 %s %s" % (self.digits(4), self.digits(4)),
            "07700 %s" % self.digits(6),
            "+33 6 %s %s %s %s" % (self.digits(2), self.digits(2), self.digits(2), self.digits(2)),
            "+1%s%s%s" % (area, exch, line),
            "+91 98%s %s" % (self.digits(3), self.digits(5)),
        ][k]

    def phone_bad(self):
        if self.r.random() < 0.15:
            # NANP-shaped but with an area code or exchange starting 0 or 1.
            return "%d%s-%d%s-%s" % (self.r.randint(0, 1), self.digits(2), self.r.randint(0, 1),
                                     self.digits(2), self.digits(4))
        return self.choice([
            "2024-%02d-%02d" % (self.r.randint(1, 12), self.r.randint(1, 28)),
            "%02d:%02d:%02d" % (self.r.randint(0, 23), self.r.randint(0, 59), self.r.randint(0, 59)),
            "192.168.%d.%d" % (self.r.randint(0, 255), self.r.randint(1, 254)),
            "version %d.%d.%d" % (self.r.randint(0, 9), self.r.randint(0, 30), self.r.randint(0, 99)),
            "ISBN 978-3-16-%s-%d" % (self.digits(6), self.r.randint(0, 9)),
            "$%d,%03d.%02d" % (self.r.randint(1, 99), self.r.randint(0, 999), self.r.randint(0, 99)),
            "zip code %s-%s" % (self.digits(5), self.digits(4)),
            "the score was %d-%d" % (self.r.randint(0, 9), self.r.randint(0, 9)),
            "%d%%" % self.r.randint(1, 100),
            "call 911",
            "room %d" % self.r.randint(100, 999),
            "build %s" % self.digits(5),
        ])

    # ---- secrets ----

    def github(self):
        rnd = self.chars(ALNUM, 30)
        crc = zlib.crc32(rnd.encode())
        cs = ""
        for _ in range(6):
            cs = B62[crc % 62] + cs
            crc //= 62
        return "gh" + self.choice("pousr") + "_" + rnd + cs

    def github_bad(self):
        tok = self.github()
        bad = tok[:-1] + ("A" if tok[-1] != "A" else "B")
        return self.choice([bad, "ghp_" + "x" * 36, "ghp_<your-token-here>", "ghp_...", bad])

    def github_pat(self):
        return "github_" + "pat_" + self.chars(ALNUM, 22) + "_" + self.chars(ALNUM, 59)

    def aws_id(self):
        return self.choice(["AKIA", "ASIA"]) + self.chars(string.ascii_uppercase + "234567", 16)

    def aws_secret(self):
        while True:
            s = self.chars(ALNUM + "/+", 40)
            if any(c.isupper() for c in s) and any(c.islower() for c in s) and \
                    any(c.isdigit() for c in s):
                return s

    def aws_bad(self):
        return self.choice(["AKIA" + self.chars(string.ascii_lowercase, 16), "AKIAEXAMPLE",
                            "AKIA" + "X" * 10, "arn:aws:iam::" + self.digits(12) + ":role/deploy"])

    def anthropic(self):
        return "sk-" + "ant-api03-" + self.chars(B64URL, 93) + "AA"

    def openai(self):
        if self.r.random() < 0.5:
            return "sk-" + "proj-" + self.chars(B64URL, 100) + "A1b"
        return "sk-" + self.chars(ALNUM, 20) + "T3BlbkFJ" + self.chars(ALNUM, 20)

    def llm_key_bad(self):
        return self.choice(["sk-your-key-here", "sk-...", "sk-learn", "sk-" + "x" * 40,
                            "task-sk-force", "sk-ant-xxxxxxxx"])

    def slack(self):
        return "xox" + self.choice("bp") + "-" + self.digits(12) + "-" + self.digits(13) + "-" + \
            self.chars(ALNUM, 24)

    def slack_bad(self):
        return self.choice(["xoxb-your-bot-token", "xoxp-...", "xoxb-" + "x" * 30])

    def stripe(self):
        return self.choice(["sk", "rk"]) + "_" + "live_" + self.chars(ALNUM, self.r.randint(24, 40)) + "9Zz"

    def stripe_bad(self):
        return self.choice(["sk_" + "test_" + self.chars(ALNUM, 24), "sk_live_...",
                            "sk_live_xxxxxxxxxxxxxxxx", "pk_live_" + self.chars(ALNUM, 24)])

    @staticmethod
    def b64url(data):
        return base64.urlsafe_b64encode(data).decode().rstrip("=")

    def jwt(self):
        header = {"alg": self.choice(["HS256", "RS256", "ES256"]), "typ": "JWT"}
        if self.r.random() < 0.3:
            header["kid"] = self.chars(ALNUM, 16)
        payload = {"sub": self.digits(10), "name": self.choice(self.FIRST).title(),
                   "iat": 1700000000 + self.r.randint(0, 10 ** 7)}
        return self.b64url(json.dumps(header).encode()) + "." + \
            self.b64url(json.dumps(payload).encode()) + "." + self.chars(B64URL, 43)

    def jwt_bad(self):
        fake = self.b64url(json.dumps({"foo": "bar", "n": self.r.randint(0, 99)}).encode())
        return self.choice([fake + "." + fake + "." + self.chars(B64URL, 20),
                            "eyJ" + self.chars(B64URL, 30), "eyJhbGciOi..."])

    def pem(self):
        kind = self.choice(["RSA ", "EC ", "OPENSSH ", "", "ENCRYPTED "])
        lines = [self.b64url(bytes(self.r.randrange(256) for _ in range(48))) for _ in
                 range(self.r.randint(3, 8))]
        return "-----BEGIN %sPRIVATE KEY-----\n%s\n-----END %sPRIVATE KEY-----" % (
            kind, "\n".join(lines), kind)

    def pem_bad(self):
        kind = self.choice(["PUBLIC KEY", "CERTIFICATE", "CERTIFICATE REQUEST"])
        lines = [self.b64url(bytes(self.r.randrange(256) for _ in range(48))) for _ in range(3)]
        return "-----BEGIN %s-----\n%s\n-----END %s-----" % (kind, "\n".join(lines), kind)

    def google(self):
        return "AIza" + self.chars(B64URL, 35)

    # ---- health ----

    DIAGNOSES = ["type 2 diabetes", "hypertension", "major depressive disorder", "asthma",
                 "HIV", "breast cancer", "bipolar disorder", "epilepsy", "COPD",
                 "rheumatoid arthritis", "atrial fibrillation", "chronic kidney disease",
                 "schizophrenia", "ADHD", "multiple sclerosis", "hepatitis C", "psoriasis",
                 "sleep apnea", "heart failure", "lymphoma"]
    MEDS = ["metformin", "insulin", "sertraline", "lisinopril", "atorvastatin", "fluoxetine",
            "levothyroxine", "semaglutide", "warfarin", "quetiapine", "adalimumab",
            "gabapentin", "albuterol", "prednisone", "tenofovir", "methotrexate"]
    ICD = ["E11.9", "I10", "F32.9", "J45.909", "C50.911", "F31.81", "G40.909", "J44.9",
           "M06.9", "I48.91", "N18.3", "F20.9", "B20", "E66.01", "K50.90", "Z79.4", "E119",
           "F329"]

    def diagnosis(self):
        d = self.choice(self.DIAGNOSES)
        return self.choice([
            "I was diagnosed with %s last year." % d,
            "My brother has %s and is on a waiting list." % d,
            "Patient history: %s, managed by the GP." % d,
            "She asked whether %s affects her insurance." % d,
        ]), ["health.diagnosis"]

    def medication(self):
        m = self.choice(self.MEDS)
        return self.choice([
            "I take %s every morning." % m,
            "Can I drink coffee while on %s?" % m,
            "The pharmacy ran out of %s again." % m,
            "Prescription renewed: %s, twice a day." % m,
        ]), ["health.medication"]

    def biometric(self):
        k = self.r.randint(0, 8)
        v = self.r.randint(40, 180)
        return [
            "My resting heart rate was %d bpm this week." % (v // 2 + 20),
            "HbA1c came back at %d.%d%%." % (self.r.randint(5, 11), self.r.randint(0, 9)),
            "Blood pressure %d/%d at the pharmacy." % (v, v // 2 + 10),
            "HRV dropped to %d ms overnight." % (v // 3),
            "Sleep score %d and recovery score %d today." % (self.r.randint(40, 99), self.r.randint(10, 99)),
            "LDL cholesterol %d mg/dL, HDL %d." % (v, v // 3),
            "SpO2 %d%% on room air." % self.r.randint(85, 99),
            "Fasting glucose %d mg/dL." % v,
            "{\"resting_heart_rate\": %d, \"hrv\": %d}" % (v // 2 + 20, v // 3),
        ][k], ["health.biometric"]

    def icd10(self):
        code = self.choice(self.ICD)
        dotted = "." in code
        if dotted:
            return self.choice([
                "Billing code %s was rejected." % code,
                "Claim lists %s as the primary code." % code,
                "Please double-check %s on the form." % code,
            ]), ["health.icd10"]
        return self.choice([
            "ICD-10: %s" % code,
            "Primary diagnosis code %s, secondary none." % code,
            "dx %s per the referral letter" % code,
        ]), ["health.icd10"]

    def health_bad(self):
        return self.choice([
            "What is a normal resting heart rate for adults?",
            "Take the A10 towards the airport and exit at junction five.",
            "The Samsung Galaxy A10 has a small battery.",
            "Upgrade the firmware to version V12.1 before Friday.",
            "See section B12.3 of the contract for details.",
            "The heart of the matter is the rate of change.",
            "The Great Depression began in 1929.",
            "She wrote an essay about cancer as a metaphor in literature.",
            "The band's tempo rose to 128 bpm in the chorus.",
            "Lithium batteries should not be shipped by air.",
            "Seat C12 is next to the window.",
        ])


# ---- placing values into bodies ----

def anthropic_body(g, text, model="claude-sonnet-4-5"):
    return json.dumps({"model": model, "max_tokens": 1024,
                       "system": "You are a helpful assistant.",
                       "messages": [{"role": "user", "content": text}]})


def openai_body(g, text):
    return json.dumps({"model": "gpt-4o", "messages": [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": text}], "temperature": 0.2})


def tool_args_body(g, key, value, as_number=False, extra=None):
    args = {"note": g.filler(1), key: int(value) if as_number else value,
            "priority": g.choice(["low", "high"])}
    args.update(extra or {})
    return json.dumps({"model": "gpt-4o", "messages": [
        {"role": "user", "content": g.filler(1)},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_" + g.chars(ALNUM, 24), "type": "function",
             "function": {"name": "update_record", "arguments": json.dumps(args)}}]},
        {"role": "tool", "tool_call_id": "call_" + g.chars(ALNUM, 24), "content": "ok"}]})


def escape_some(g, text, value):
    """JSON string content for text, with characters of value written as \\uXXXX."""
    out = []
    start = text.find(value)
    for i, ch in enumerate(text):
        inside = start >= 0 and start <= i < start + len(value)
        if inside and g.r.random() < 0.5:
            out.append("\\/" if ch == "/" and g.r.random() < 0.5 else "\\u%04x" % ord(ch))
        else:
            out.append(json.dumps(ch)[1:-1])
    return "".join(out)


def escaped_body(g, text, value):
    return '{"model":"claude-sonnet-4-5","max_tokens":512,"messages":[{"role":"user",' \
           '"content":[{"type":"text","text":"%s"}]}]}' % escape_some(g, text, value)


def sse_stream(g, text):
    """The assistant's answer as an Anthropic SSE stream, cut at random points."""
    cuts = sorted(g.r.sample(range(1, len(text)), min(len(text) - 1, g.r.randint(2, 6))))
    pieces = [text[a:b] for a, b in zip([0] + cuts, cuts + [len(text)])]
    events = ['event: message_start\ndata: {"type":"message_start"}\n\n',
              'event: content_block_start\ndata: {"type":"content_block_start","index":0,'
              '"content_block":{"type":"text","text":""}}\n\n']
    for p in pieces:
        events.append("event: content_block_delta\ndata: %s\n\n" % json.dumps(
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": p}}))
    events.append('event: message_stop\ndata: {"type":"message_stop"}\n\n')
    return "".join(events)


def reassemble(stream):
    """What an SDK does with the stream: concatenate the text deltas."""
    out = []
    for block in stream.split("\n\n"):
        for line in block.split("\n"):
            if line.startswith("data: "):
                ev = json.loads(line[6:])
                if ev.get("type") == "content_block_delta":
                    out.append(ev["delta"]["text"])
    return "".join(out)


def sse_body(g, text):
    answer = reassemble(sse_stream(g, "Noted. " + text))
    return json.dumps({"model": "claude-sonnet-4-5", "max_tokens": 1024, "messages": [
        {"role": "user", "content": g.filler(1)},
        {"role": "assistant", "content": answer},
        {"role": "user", "content": "Thanks, continue."}]})


def split_blocks_body(g, text, value):
    i = text.find(value)
    cut = i + max(1, len(value) // 2) if i >= 0 else len(text) // 2
    return json.dumps({"model": "claude-sonnet-4-5", "max_tokens": 512, "messages": [
        {"role": "user", "content": [{"type": "text", "text": text[:cut]},
                                     {"type": "text", "text": text[cut:]}]}]})


SENTENCES = {
    "payment_card": ["My card number is {v}, please update the subscription.",
                     "Charge {v} for the renewal.", "card: {v} exp 09/29"],
    "iban": ["Send the refund to {v}.", "IBAN {v} (personal account)", "Bank details: {v}"],
    "us_ssn": ["My SSN is {v}.", "Social security number {v} on the W-2.", "ssn {v}"],
    "uk_nino": ["National Insurance number {v}", "NI no. {v} for the payroll form.", "NINO: {v}"],
    "email": ["Reach me at {v} any time.", "Forward it to {v}.", "Contact: {v}"],
    "phone": ["Call me on {v} after six.", "Mobile {v}", "Her number is {v}, leave a message."],
    "secret": ["Use this key: {v}", "export TOKEN={v}", "config:\n  api_key: {v}\n",
               "The deploy failed with credentials {v} in the log."],
}

# Types whose value is a plain string placed into a sentence, with the generator and its negatives.
STRUCTURED = [
    ("payment_card", "payment_card", "card", "card_bad"),
    ("iban", "iban", "iban", "iban_bad"),
    ("us_ssn", "us_ssn", "ssn", "ssn_bad"),
    ("uk_nino", "uk_nino", "nino", "nino_bad"),
    ("email", "email", "email", "email_bad"),
    ("phone", "phone", "phone", "phone_bad"),
    ("secret.github", "secret", "github", "github_bad"),
    ("secret.github", "secret", "github_pat", None),
    ("secret.aws_access_key", "secret", "aws_id", "aws_bad"),
    ("secret.anthropic_key", "secret", "anthropic", "llm_key_bad"),
    ("secret.openai_key", "secret", "openai", "llm_key_bad"),
    ("secret.slack_token", "secret", "slack", "slack_bad"),
    ("secret.stripe_key", "secret", "stripe", "stripe_bad"),
    ("secret.jwt", "secret", "jwt", "jwt_bad"),
    ("secret.private_key", "secret", "pem", "pem_bad"),
    ("secret.google_api_key", "secret", "google", None),
]

HEALTH = [("health.diagnosis", "diagnosis"), ("health.medication", "medication"),
          ("health.biometric", "biometric"), ("health.icd10", "icd10")]

VARIANTS = ["plain", "anthropic", "openai", "tool_args", "escaped", "sse", "split_blocks"]


def place(g, variant, text, value, key="value", numeric=False, extra=None):
    if variant == "plain":
        return text
    if variant == "anthropic":
        return anthropic_body(g, text)
    if variant == "openai":
        return openai_body(g, text)
    if variant == "tool_args":
        return tool_args_body(g, key, value, as_number=numeric, extra=extra)
    if variant == "escaped":
        return escaped_body(g, text, value)
    if variant == "sse":
        return sse_body(g, text)
    if variant == "split_blocks":
        return split_blocks_body(g, text, value)
    raise ValueError(variant)


def generate(seed, per_type):
    g = Gen(seed)
    out = []

    def add(body, labels, variant, kind, negative):
        out.append({"body": body, "labels": sorted(set(labels)), "variant": variant,
                    "kind": kind, "negative": negative})

    for label, family, make, bad in STRUCTURED:
        for i in range(per_type):
            variant = VARIANTS[i % len(VARIANTS)]
            numeric = make == "card" and variant == "tool_args" and i % 2 == 0
            value = g.card_number() if numeric else getattr(g, make)()
            text = g.filler() + " " + g.choice(SENTENCES[family]).format(v=value)
            labels = [label]
            extra = None
            if make == "aws_id" and g.r.random() < 0.4:
                secret = g.aws_secret()
                text += "\naws_secret_access_key = " + secret
                extra = {"aws_secret_access_key": secret}
                labels.append("secret.aws_secret_key")
            v = place(g, variant, text, value, key=family, numeric=numeric, extra=extra)
            add(v, labels, "tool_number" if numeric else variant, label, False)
        if bad:
            for i in range(per_type // 2):
                variant = VARIANTS[i % (len(VARIANTS) - 1)]
                value = getattr(g, bad)()
                text = g.filler() + " " + g.choice(SENTENCES[family]).format(v=value)
                add(place(g, variant, text, value, key=family), [], variant, label, True)

    for label, make in HEALTH:
        for i in range(per_type):
            variant = VARIANTS[i % len(VARIANTS)]
            text, labels = getattr(g, make)()
            # The sentences can carry more than one kind of health data.
            if label != "health.diagnosis" and any(d.lower() in text.lower() for d in g.DIAGNOSES):
                labels = labels + ["health.diagnosis"]
            sentence = text
            text = g.filler() + " " + text
            add(place(g, variant, text, sentence), labels, variant, label, False)

    for i in range(per_type):
        variant = VARIANTS[i % (len(VARIANTS) - 1)]
        text = g.filler() + " " + g.health_bad()
        add(place(g, variant, text, text[-8:]), [], variant, "health", True)

    # Prose with numbers, code, hashes, UUIDs: nothing to find.
    for i in range(per_type):
        variant = VARIANTS[i % (len(VARIANTS) - 1)]
        parts = [g.filler(2)]
        k = i % 5
        if k == 0:
            parts.append(g.choice(CODE_SNIPPETS))
        elif k == 1:
            parts.append("Commit %s fixed it; sha256 %s." % (
                "".join(g.r.choice("0123456789abcdef") for _ in range(40)),
                "".join(g.r.choice("0123456789abcdef") for _ in range(64))))
        elif k == 2:
            u = "".join(g.r.choice("0123456789abcdef") for _ in range(32))
            parts.append("Request id %s-%s-%s-%s-%s failed after %d ms." % (
                u[:8], u[8:12], u[12:16], u[16:20], u[20:], g.r.randint(10, 5000)))
        elif k == 3:
            parts.append("Revenue grew %d%% to $%d,%03d,%03d in Q%d %d across %d stores." % (
                g.r.randint(1, 40), g.r.randint(1, 99), g.r.randint(0, 999), g.r.randint(0, 999),
                g.r.randint(1, 4), g.r.randint(2015, 2025), g.r.randint(10, 900)))
        else:
            parts.append("Order %s shipped on %d-%02d-%02d, tracking %s." % (
                g.digits(8), g.r.randint(2020, 2025), g.r.randint(1, 12), g.r.randint(1, 28),
                "1Z" + g.chars(string.ascii_uppercase + string.digits, 16)))
        text = " ".join(parts)
        add(place(g, variant, text, text[-10:]), [], variant, "prose", True)

    # Inline images: opaque, nothing else.
    for i in range(per_type // 4):
        blob = base64.b64encode(bytes(g.r.randrange(256) for _ in range(g.r.randint(300, 3000)))).decode()
        body = json.dumps({"model": "claude-sonnet-4-5", "max_tokens": 256, "messages": [
            {"role": "user", "content": [
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": blob}},
                {"type": "text", "text": g.filler(1)}]}]})
        add(body, ["opaque.base64"], "anthropic", "opaque.base64", False)

    g.r.shuffle(out)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--per-type", type=int, default=350,
                    help="positive samples per type (negatives: half as many per type)")
    ap.add_argument("--output", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                     "corpus", "classify.jsonl"))
    args = ap.parse_args()
    samples = generate(args.seed, args.per_type)
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    tmp = args.output + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        for s in samples:
            f.write(json.dumps(s, ensure_ascii=True) + "\n")
    os.replace(tmp, args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
