// A model-provider client built on the official SDKs, for the privacy
// router's end-to-end tests (tests/integration/inference.t).
//
//   node client.mjs anthropic|openai-chat|openai-responses [--stream]
//        --model M (--prompt TEXT | --prompt-file F) [--header k:v]...
//        [--max-retries N]
//
// --prompt-file reads the prompt from a file (UTF-8), so a sensitive test
// prompt is not on a command line (warden's audit trail records argv).
//
// The SDKs find their base URL and key in the environment as they would
// for any agent: ANTHROPIC_BASE_URL / ANTHROPIC_API_KEY and
// OPENAI_BASE_URL / OPENAI_API_KEY (warden sets them inside the sandbox).
// The SDK packages are resolved from a node_modules directory next to this
// file or above it (scripts/test-sdk.sh installs them; the test links them
// next to its copy of this file).
//
// Prints exactly one JSON line:
//   {"ok":true,"text":...,"status":200,"events":N,"provider":...,"tier":...}
//   {"ok":false,"status":N,"error":<the parsed error body>,...}
// "events" counts the text deltas of a stream (0 without --stream);
// "provider" and "tier" are the x-warden-provider / x-warden-tier response
// headers (null when absent).  Exit status: 0 ok, 1 an API error, 2 a
// usage error or a failure without an HTTP status.
//
// Error bodies: the Anthropic SDK keeps the parsed body of an error, the
// OpenAI SDK only its "error" member, so the raw body is taken from the
// response itself (a fetch wrapper keeps the last one) and parsed here.

import { readFileSync } from 'node:fs';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';

function usage(msg) {
  console.log(JSON.stringify({ ok: false, status: 0, error: 'usage: ' + msg }));
  process.exit(2);
}

function parseArgs(argv) {
  const a = { api: argv[0], stream: false, model: null, prompt: null, headers: {}, maxRetries: 0 };
  if (!['anthropic', 'openai-chat', 'openai-responses'].includes(a.api))
    usage('the first argument is anthropic, openai-chat or openai-responses');
  for (let i = 1; i < argv.length; i++) {
    const k = argv[i];
    const val = () => {
      if (i + 1 >= argv.length) usage(k + ' needs a value');
      return argv[++i];
    };
    if (k === '--stream') a.stream = true;
    else if (k === '--model') a.model = val();
    else if (k === '--prompt') a.prompt = val();
    else if (k === '--prompt-file') a.prompt = readFileSync(val(), 'utf8');
    else if (k === '--max-retries') a.maxRetries = Number(val());
    else if (k === '--header') {
      const h = val();
      const c = h.indexOf(':');
      if (c <= 0) usage('--header wants name:value');
      a.headers[h.slice(0, c).trim()] = h.slice(c + 1).trim();
    } else usage('unknown argument ' + k);
  }
  if (a.model === null || a.prompt === null) usage('--model and --prompt (or --prompt-file) are required');
  return a;
}

// The last response seen: status, the x-warden-* headers, and for errors the body text.
const last = { status: 0, provider: null, tier: null, errorText: null };

async function recordingFetch(input, init) {
  const res = await fetch(input, init);
  last.status = res.status;
  last.provider = res.headers.get('x-warden-provider');
  last.tier = res.headers.get('x-warden-tier');
  if (!res.ok) {
    try {
      last.errorText = await res.clone().text();
    } catch {
      last.errorText = null;
    }
  }
  return res;
}

function parseBody(text) {
  if (text === null || text === undefined) return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

async function anthropic(a) {
  const client = new Anthropic({
    maxRetries: a.maxRetries, timeout: 30000, defaultHeaders: a.headers, fetch: recordingFetch,
  });
  const params = { model: a.model, max_tokens: 256, messages: [{ role: 'user', content: a.prompt }] };
  if (!a.stream) {
    const msg = await client.messages.create(params);
    return { text: msg.content.filter(b => b.type === 'text').map(b => b.text).join(''), events: 0 };
  }
  const stream = await client.messages.create({ ...params, stream: true });
  let text = '', events = 0;
  for await (const ev of stream) {
    if (ev.type === 'content_block_delta' && ev.delta.type === 'text_delta') {
      text += ev.delta.text;
      events++;
    }
  }
  return { text, events };
}

async function openaiChat(a) {
  const client = new OpenAI({
    maxRetries: a.maxRetries, timeout: 30000, defaultHeaders: a.headers, fetch: recordingFetch,
  });
  const params = { model: a.model, messages: [{ role: 'user', content: a.prompt }] };
  if (!a.stream) {
    const c = await client.chat.completions.create(params);
    return { text: c.choices[0]?.message?.content ?? '', events: 0 };
  }
  const stream = await client.chat.completions.create({ ...params, stream: true });
  let text = '', events = 0;
  for await (const chunk of stream) {
    const d = chunk.choices[0]?.delta?.content;
    if (d) {
      text += d;
      events++;
    }
  }
  return { text, events };
}

async function openaiResponses(a) {
  const client = new OpenAI({
    maxRetries: a.maxRetries, timeout: 30000, defaultHeaders: a.headers, fetch: recordingFetch,
  });
  const params = { model: a.model, input: a.prompt };
  if (!a.stream) {
    const r = await client.responses.create(params);
    return { text: r.output_text, events: 0 };
  }
  const stream = await client.responses.create({ ...params, stream: true });
  let text = '', events = 0;
  for await (const ev of stream) {
    if (ev.type === 'response.output_text.delta') {
      text += ev.delta;
      events++;
    }
  }
  return { text, events };
}

async function main() {
  const a = parseArgs(process.argv.slice(2));
  const run = { anthropic, 'openai-chat': openaiChat, 'openai-responses': openaiResponses }[a.api];
  try {
    const r = await run(a);
    console.log(JSON.stringify({
      ok: true, text: r.text, status: last.status, events: r.events, provider: last.provider, tier: last.tier,
    }));
    return 0;
  } catch (e) {
    const status = typeof e?.status === 'number' ? e.status : 0;
    let error;
    if (status && last.status === status && last.errorText !== null) error = parseBody(last.errorText);
    else if (e?.error !== undefined) error = e.error;
    else error = String(e?.cause?.message ?? e?.message ?? e);
    console.log(JSON.stringify({
      ok: false, status, error, provider: last.provider, tier: last.tier, kind: e?.constructor?.name ?? null,
    }));
    return status ? 1 : 2;
  }
}

process.exitCode = await main();
