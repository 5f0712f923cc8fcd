// The official `openai` Node SDK against a running local-assistants server: a chat completion
// that must call a function tool, the follow-up that answers the call, a streamed chat
// completion with its usage chunk, and embeddings (base64 on the wire, decoded by the SDK).
//
//   BASE_URL=http://127.0.0.1:<port>/v1 node tests/node/chat_flow.mjs
//
// Prints one JSON line of results ({"ok": true, ...}) and exits 0, or prints
// {"ok": false, "step": ..., "error": ...} and exits 1 at the first failed check.
// Driven by tests/api/test_node_sdk.py; `make node-sdk` installs the pinned SDK.

import assert from "node:assert/strict";

import OpenAI from "openai";
import { VERSION } from "openai/version";

const MODEL = "gpt-4o";
const EMBEDDING_MODEL = "text-embedding-3-small";
const EMBEDDING_DIMS = 384; // all-MiniLM-L6-v2, the local embedder behind OpenAI's names
const WEATHER = {
  type: "function",
  function: {
    name: "get_weather",
    description: "The current weather in a city.",
    parameters: {
      type: "object",
      properties: { city: { type: "string", description: "The city's name." } },
      required: ["city"],
      additionalProperties: false,
    },
  },
};
const ASK = [{ role: "user", content: "What is the weather in Paris?" }];

const baseURL = process.env.BASE_URL;
if (!baseURL) {
  console.error("BASE_URL is not set (e.g. http://127.0.0.1:8000/v1)");
  process.exit(2);
}
const client = new OpenAI({ baseURL, apiKey: "test-key", maxRetries: 0, timeout: 120_000 });
const results = { ok: false, sdk_version: VERSION, node_version: process.version };
let step = "setup";

function checkCompletion(c, what) {
  assert.equal(c.object, "chat.completion", `${what}: object`);
  assert.match(c.id, /^chatcmpl-/, `${what}: id`);
  assert.equal(c.choices.length, 1, `${what}: one choice`);
  assert.equal(c.choices[0].message.role, "assistant", `${what}: role`);
  assert.ok(c.usage && c.usage.prompt_tokens > 0 && c.usage.completion_tokens > 0, `${what}: usage`);
  assert.equal(c.usage.total_tokens, c.usage.prompt_tokens + c.usage.completion_tokens, `${what}: total_tokens`);
}

async function main() {
  // (a) a function tool the model must call
  step = "tool_call";
  const called = await client.chat.completions.create({
    model: MODEL, messages: ASK, tools: [WEATHER], tool_choice: "required", parallel_tool_calls: false,
    temperature: 0, max_completion_tokens: 128,
  });
  checkCompletion(called, "tool call");
  const choice = called.choices[0];
  assert.equal(choice.finish_reason, "tool_calls", `tool call: finish_reason ${choice.finish_reason}`);
  const calls = choice.message.tool_calls ?? [];
  assert.equal(calls.length, 1, "tool call: one call (parallel_tool_calls: false)");
  const call = calls[0];
  assert.equal(call.type, "function", "tool call: type");
  assert.ok(typeof call.id === "string" && call.id.length > 0, "tool call: id");
  assert.equal(call.function.name, "get_weather", "tool call: the function's name");
  let args;
  assert.doesNotThrow(() => { args = JSON.parse(call.function.arguments); },
    `tool call: arguments are not JSON: ${call.function.arguments}`);
  assert.equal(typeof args, "object", "tool call: arguments are an object");
  results.tool_call = {
    id: called.id, finish_reason: choice.finish_reason, calls: calls.length, name: call.function.name,
    arguments: args, call_id: call.id,
  };

  // (b) the follow-up: the assistant's call and the tool's answer in the messages. The tool
  // stays declared (the history is rendered in the model's tool protocol) and tool_choice
  // "none" asks for the answer: a 135M model left to "auto" tends to call again.
  step = "tool_answer";
  const answered = await client.chat.completions.create({
    model: MODEL, tools: [WEATHER], tool_choice: "none", temperature: 0, max_completion_tokens: 48,
    messages: [
      ...ASK,
      choice.message,
      ...calls.map((c) => ({ role: "tool", tool_call_id: c.id, content: "Sunny, 22 degrees Celsius." })),
    ],
  });
  checkCompletion(answered, "tool answer");
  const answer = answered.choices[0];
  assert.ok(["stop", "length"].includes(answer.finish_reason), `tool answer: finish_reason ${answer.finish_reason}`);
  assert.ok(!answer.message.tool_calls?.length, "tool answer: called a tool again instead of answering");
  assert.equal(typeof answer.message.content, "string", "tool answer: content");
  assert.ok(answer.message.content.trim().length > 0, "tool answer: empty content");
  results.tool_answer = { id: answered.id, finish_reason: answer.finish_reason, content: answer.message.content };

  // (c) a streamed completion with its usage as the last chunk
  step = "stream";
  const stream = await client.chat.completions.create({
    model: MODEL, messages: [{ role: "user", content: "Count to five." }], max_completion_tokens: 24,
    temperature: 0, stream: true, stream_options: { include_usage: true },
  });
  const chunks = [];
  for await (const chunk of stream) chunks.push(chunk);
  assert.ok(chunks.length >= 3, `stream: only ${chunks.length} chunks`);
  assert.ok(chunks.every((c) => c.object === "chat.completion.chunk"), "stream: chunk objects");
  assert.equal(new Set(chunks.map((c) => c.id)).size, 1, "stream: one id throughout");
  assert.equal(chunks[0].choices[0].delta.role, "assistant", "stream: the first delta carries the role");
  const last = chunks.at(-1);
  assert.deepEqual(last.choices, [], "stream: the usage chunk has no choices");
  assert.ok(last.usage && last.usage.completion_tokens > 0 && last.usage.prompt_tokens > 0, "stream: usage");
  assert.ok(chunks.slice(0, -1).every((c) => c.usage == null), "stream: usage only on the last chunk");
  const finishes = chunks.flatMap((c) => c.choices).map((c) => c.finish_reason).filter((f) => f != null);
  assert.equal(finishes.length, 1, "stream: one finish_reason");
  assert.ok(["stop", "length"].includes(finishes[0]), `stream: finish_reason ${finishes[0]}`);
  const text = chunks.flatMap((c) => c.choices).map((c) => c.delta?.content ?? "").join("");
  assert.ok(text.length > 0, "stream: the deltas make no text");
  results.stream = {
    id: last.id, chunks: chunks.length, finish_reason: finishes[0], text, usage: last.usage,
  };

  // (d) embeddings: the SDK asks for base64 and decodes it into floats
  step = "embeddings";
  const emb = await client.embeddings.create({ model: EMBEDDING_MODEL, input: ["a", "b"] });
  assert.equal(emb.object, "list", "embeddings: object");
  assert.equal(emb.data.length, 2, "embeddings: two vectors");
  const norms = [];
  emb.data.forEach((d, i) => {
    assert.equal(d.object, "embedding", "embeddings: item object");
    assert.equal(d.index, i, "embeddings: index");
    assert.ok(Array.isArray(d.embedding), "embeddings: decoded into an array");
    assert.equal(d.embedding.length, EMBEDDING_DIMS, `embeddings: ${d.embedding.length} dimensions`);
    assert.ok(d.embedding.every((x) => typeof x === "number" && Number.isFinite(x)), "embeddings: finite floats");
    const norm = Math.sqrt(d.embedding.reduce((s, x) => s + x * x, 0));
    assert.ok(Math.abs(norm - 1) <= 1e-3, `embeddings: norm ${norm}`);
    norms.push(norm);
  });
  assert.notDeepEqual(emb.data[0].embedding, emb.data[1].embedding, "embeddings: two different vectors");
  assert.ok(emb.usage && emb.usage.prompt_tokens > 0, "embeddings: usage");
  results.embeddings = {
    model: emb.model, count: emb.data.length, dims: emb.data.map((d) => d.embedding.length), norms,
    head: emb.data.map((d) => d.embedding.slice(0, 4)),
  };

  results.ok = true;
}

try {
  await main();
  console.log(JSON.stringify(results));
} catch (err) {
  results.ok = false;
  results.step = step;
  results.error = `${err?.name ?? "Error"}: ${err?.message ?? err}`;
  if (err?.status) results.status = err.status;
  console.log(JSON.stringify(results));
  console.error(err);
  process.exitCode = 1;
}
