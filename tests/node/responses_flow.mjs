// The official `openai` Node SDK against a running local-assistants server: the basic
// Responses flow (create, retrieve, previous_response_id, a conversation) and a streamed
// response, read through the SDK's own stream parser and its `responses.stream` helper.
//
//   BASE_URL=http://127.0.0.1:<port>/v1 node tests/node/responses_flow.mjs
//
// Prints one JSON line of results ({"ok": true, ...}) and exits 0, or prints
// {"ok": false, "step": ..., "error": ...} and exits 1 at the first failed check.
// Driven by tests/api/test_node_sdk.py; `make node-sdk` installs the pinned SDK.

import assert from "node:assert/strict";

import OpenAI from "openai";
import { VERSION } from "openai/version";

const MODEL = "gpt-4o";
const FINAL = ["response.completed", "response.incomplete", "response.failed"];

const baseURL = process.env.BASE_URL;
if (!baseURL) {
  console.error("BASE_URL is not set (e.g. http://127.0.0.1:8000/v1)");
  process.exit(2);
}
const client = new OpenAI({ baseURL, apiKey: "test-key", maxRetries: 0, timeout: 120_000 });
const results = { ok: false, sdk_version: VERSION, node_version: process.version };
let step = "setup";

/** The text of a response's output messages, as the SDK's `output_text` is built. */
function textOf(response) {
  const parts = [];
  for (const item of response.output ?? []) {
    if (item.type !== "message") continue;
    for (const part of item.content ?? []) {
      if (part.type === "output_text") parts.push(part.text);
    }
  }
  return parts.join("");
}

function checkFinished(r, what) {
  assert.equal(r.object, "response", `${what}: object`);
  assert.match(r.id, /^resp_/, `${what}: id`);
  assert.ok(["completed", "incomplete"].includes(r.status), `${what}: status ${r.status}`);
  assert.equal(typeof r.output_text, "string", `${what}: output_text is added by the SDK`);
  assert.ok(r.output_text.length > 0, `${what}: output_text is empty`);
  assert.equal(r.output_text, textOf(r), `${what}: output_text matches its output`);
  assert.ok(r.usage && r.usage.input_tokens > 0 && r.usage.output_tokens > 0, `${what}: usage`);
}

/** Every event of a stream: types, sequence numbers in order, created first, one final last,
 * deltas that make up the final response's text. Returns what was seen. */
function checkEvents(events, what) {
  assert.ok(events.length >= 3, `${what}: only ${events.length} events`);
  const types = events.map((e) => e.type);
  const seqs = events.map((e) => e.sequence_number);
  assert.deepEqual(seqs, [...Array(events.length).keys()], `${what}: sequence numbers are 0..n-1`);
  assert.equal(types[0], "response.created", `${what}: first event`);
  assert.ok(["response.completed", "response.incomplete"].includes(types.at(-1)),
    `${what}: last event ${types.at(-1)}`);
  assert.equal(types.filter((t) => FINAL.includes(t)).length, 1, `${what}: exactly one final event`);
  assert.ok(types.includes("response.output_text.delta"), `${what}: no response.output_text.delta`);
  assert.ok(types.includes("response.output_text.done"), `${what}: no response.output_text.done`);
  const created = events[0].response;
  const final = events.at(-1).response;
  assert.equal(created.object, "response", `${what}: response.created carries a response`);
  assert.equal(final.id, created.id, `${what}: one response id throughout`);
  const deltas = events.filter((e) => e.type === "response.output_text.delta").map((e) => e.delta).join("");
  const finalText = textOf(final);
  assert.ok(finalText.length > 0, `${what}: the final response has no text`);
  assert.equal(deltas, finalText, `${what}: the deltas make the final response's text`);
  const done = events.filter((e) => e.type === "response.output_text.done");
  assert.equal(done.map((e) => e.text).join(""), finalText, `${what}: output_text.done carries the text`);
  return { types, final, deltas };
}

async function main() {
  // (a) a plain response, retrieved again by its id
  step = "create";
  const first = await client.responses.create({ model: MODEL, input: "Say hello.", max_output_tokens: 16 });
  checkFinished(first, "create");
  step = "retrieve";
  const again = await client.responses.retrieve(first.id);
  checkFinished(again, "retrieve");
  assert.equal(again.id, first.id);
  assert.equal(again.output_text, first.output_text, "retrieve: same output_text");
  assert.equal(again.status, first.status, "retrieve: same status");
  step = "input_items";
  const inputs = await client.responses.inputItems.list(first.id);
  assert.deepEqual(inputs.data.map((i) => i.type), ["message"], "input_items: one message");
  assert.equal(inputs.data[0].content[0].text, "Say hello.", "input_items: the input text");
  step = "not_found";
  await assert.rejects(client.responses.retrieve("resp_does_not_exist"), OpenAI.NotFoundError,
    "retrieving an unknown response is the SDK's NotFoundError");
  results.create = { id: first.id, status: first.status, output_text: first.output_text };

  // (b) a follow-up through previous_response_id
  step = "previous_response_id";
  const second = await client.responses.create({
    model: MODEL, input: "Say it again.", max_output_tokens: 16, previous_response_id: first.id,
  });
  checkFinished(second, "follow-up");
  assert.equal(second.previous_response_id, first.id, "follow-up: previous_response_id");
  assert.ok(second.usage.input_tokens > first.usage.input_tokens, "follow-up: the first turn is in its input");
  results.follow_up = { id: second.id, previous_response_id: second.previous_response_id };

  // (c) a conversation: a response in it, then its items
  step = "conversation";
  const conv = await client.conversations.create({ metadata: { topic: "greeting" } });
  assert.equal(conv.object, "conversation", "conversation: object");
  assert.deepEqual(conv.metadata, { topic: "greeting" }, "conversation: metadata");
  const inConv = await client.responses.create({
    model: MODEL, input: "Hello there, who are you?", max_output_tokens: 16, conversation: conv.id,
  });
  checkFinished(inConv, "conversation response");
  step = "conversation_items";
  const items = await client.conversations.items.list(conv.id, { order: "asc" });
  const messages = items.data.filter((i) => i.type === "message");
  const user = messages.find((m) => m.role === "user");
  const answer = messages.find((m) => m.role === "assistant");
  assert.ok(user, "conversation items: the user message");
  assert.equal(user.content.map((p) => p.text).join(""), "Hello there, who are you?", "conversation items: user text");
  assert.ok(answer, "conversation items: the answer");
  assert.equal(answer.id, inConv.output[0].id, "conversation items: the answer is the response's output item");
  assert.equal(answer.content.filter((p) => p.type === "output_text").map((p) => p.text).join(""),
    inConv.output_text, "conversation items: the answer's text");
  let iterated = 0;
  for await (const _item of client.conversations.items.list(conv.id, { limit: 1 })) iterated += 1;
  assert.equal(iterated, items.data.length, "conversation items: auto-pagination sees every item");
  results.conversation = { id: conv.id, items: items.data.map((i) => `${i.type}:${i.role}`) };

  // (d) a streamed response through create({stream: true})
  step = "stream";
  const stream = await client.responses.create({
    model: MODEL, input: "Count to three.", max_output_tokens: 24, stream: true,
  });
  const events = [];
  for await (const event of stream) events.push(event);
  const seen = checkEvents(events, "stream");
  step = "stream_retrieve";
  const stored = await client.responses.retrieve(seen.final.id);
  checkFinished(stored, "streamed response retrieved");
  assert.equal(stored.output_text, seen.deltas, "stream: the stored response's text is the deltas'");
  assert.equal(stored.status, seen.final.status, "stream: the stored status is the final event's");
  results.stream = {
    id: seen.final.id, events: events.length, first: seen.types[0], last: seen.types.at(-1),
    deltas: seen.types.filter((t) => t === "response.output_text.delta").length,
    types: [...new Set(seen.types)], output_text: seen.deltas,
  };

  // (d') the SDK's helper, which rebuilds the response from the events and checks their shape
  if (typeof client.responses.stream === "function") {
    step = "stream_helper";
    const helper = client.responses.stream({ model: MODEL, input: "Name a colour.", max_output_tokens: 16 });
    const helperEvents = [];
    let deltaText = "";
    helper.on("response.output_text.delta", (e) => { deltaText += e.delta; });
    for await (const event of helper) helperEvents.push(event);
    const final = await helper.finalResponse();
    checkEvents(helperEvents, "stream helper");
    checkFinished(final, "stream helper finalResponse");
    assert.equal(final.output_text, deltaText, "stream helper: finalResponse().output_text is the deltas'");
    const storedHelper = await client.responses.retrieve(final.id);
    assert.equal(storedHelper.output_text, final.output_text, "stream helper: stored text");
    results.stream_helper = { id: final.id, events: helperEvents.length, status: final.status,
      output_text: final.output_text };
  } else {
    results.stream_helper = null;
  }

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
