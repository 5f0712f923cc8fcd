// The playground: a client of the public /v1 API, nothing else. Plain JavaScript, no
// build step, no library from elsewhere (see markdown.js for message rendering).
"use strict";

const $ = (sel, root = document) => root.querySelector(sel);
const $$ = (sel, root = document) => [...root.querySelectorAll(sel)];
const esc = (s) => Markdown.escapeHtml(String(s ?? ""));
const INCLUDE_CONTENT = "step_details.tool_calls[*].file_search.results[*].content";
const TERMINAL = new Set(["completed", "failed", "cancelled", "expired", "incomplete"]);
const THREADS_KEY = "local-assistants.playground.threads";
const KEY_KEY = "local-assistants.playground.api-key";
const API_MODE_KEY = "local-assistants.playground.api";

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else if (k === "html") node.innerHTML = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), guard(v));
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined) node.append(c);
  return node;
}

const when = (ts) => (ts ? new Date(ts * 1000).toLocaleString() : "");

// ---------------------------------------------------------------- errors and the API

class ApiError extends Error {
  constructor(message, status) { super(message); this.status = status; }
}

function showError(err) {
  const message = err instanceof Error ? err.message : String(err);
  $("#error-text").textContent = message || "Something went wrong.";
  $("#error").hidden = false;
}

function hideError() { $("#error").hidden = true; }

// Every event handler goes through guard(): an error becomes the API's message in the
// banner, never an unhandled rejection or a blank page.
function guard(fn) {
  return async (...args) => {
    try {
      return await fn(...args);
    } catch (err) {
      showError(err);
    }
  };
}

let keyPrompt = null;
function askKey() {
  if (!keyPrompt) {
    keyPrompt = new Promise((resolve) => {
      const dialog = $("#key-dialog");
      $("#api-key").value = "";
      dialog.addEventListener("close", () => {
        sessionStorage.setItem(KEY_KEY, $("#api-key").value.trim());
        keyPrompt = null;
        resolve();
      }, { once: true });
      dialog.showModal();
    });
  }
  return keyPrompt;
}

function authHeaders() {
  const key = sessionStorage.getItem(KEY_KEY);
  return key ? { Authorization: `Bearer ${key}` } : {};
}

async function errorMessage(res) {
  try {
    const body = await res.json();
    if (body && body.error && body.error.message) return body.error.message;
  } catch (_) { /* not JSON */ }
  return `${res.status} ${res.statusText || "error"}`;
}

function queryString(query) {
  const parts = [];
  for (const [k, v] of Object.entries(query || {})) {
    if (v === undefined || v === null || v === "") continue;
    for (const one of Array.isArray(v) ? v : [v]) parts.push(`${encodeURIComponent(k)}=${encodeURIComponent(one)}`);
  }
  return parts.length ? `?${parts.join("&")}` : "";
}

// fetch() on /v1 with the key, OpenAI-Beta, JSON in and out; a 401 asks for the key once
// and tries again; any other error is thrown with the API's own message.
async function request(method, path, { body, query, stream = false } = {}) {
  for (let attempt = 0; ; attempt++) {
    const headers = { "OpenAI-Beta": "assistants=v2", ...authHeaders() };
    let payload;
    if (body instanceof FormData) payload = body;
    else if (body !== undefined) { headers["Content-Type"] = "application/json"; payload = JSON.stringify(body); }
    if (stream) headers.Accept = "text/event-stream";
    const res = await fetch(`/v1${path}${queryString(query)}`, { method, headers, body: payload });
    if (res.status === 401 && attempt < 3) { await askKey(); continue; }
    if (!res.ok) throw new ApiError(await errorMessage(res), res.status);
    return res;
  }
}

const api = {
  get: async (path, query) => (await request("GET", path, { query })).json(),
  post: async (path, body, query) => (await request("POST", path, { body, query })).json(),
  del: async (path) => (await request("DELETE", path)).json(),
  stream: (path, body) => request("POST", path, { body: { ...body, stream: true }, stream: true }),
  async blob(fileId) { return (await request("GET", `/files/${fileId}/content`)).blob(); },
  async all(path, query = {}, pages = 10) { // every page of a list, following the cursors
    const out = [];
    let after;
    for (let i = 0; i < pages; i++) {
      const page = await api.get(path, { limit: 100, ...query, after });
      out.push(...page.data);
      if (!page.has_more) break;
      after = page.last_id;
    }
    return out;
  },
};

// A file upload with progress (fetch reports none for request bodies).
function uploadFile(file, onProgress) {
  const send = () => new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/v1/files");
    for (const [k, v] of Object.entries(authHeaders())) xhr.setRequestHeader(k, v);
    xhr.upload.onprogress = (e) => { if (e.lengthComputable) onProgress(e.loaded / e.total); };
    xhr.onerror = () => reject(new ApiError(`Upload of ${file.name} failed: the server could not be reached.`, 0));
    xhr.onload = () => {
      let body = null;
      try { body = JSON.parse(xhr.responseText); } catch (_) { /* not JSON */ }
      if (xhr.status >= 200 && xhr.status < 300) resolve(body);
      else reject(new ApiError((body && body.error && body.error.message) || `${xhr.status} ${xhr.statusText}`, xhr.status));
    };
    const form = new FormData();
    form.append("purpose", "assistants");
    form.append("file", file, file.name);
    xhr.send(form);
  });
  return send().catch(async (err) => {
    if (err.status !== 401) throw err;
    await askKey();
    return send();
  });
}

// Server-sent events from a fetch() response, as {event, data} (data still a string).
async function* readEvents(res) {
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value.replace(/\r\n?/g, "\n");
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let event = "message";
      const data = [];
      for (const line of block.split("\n")) {
        if (!line || line.startsWith(":")) continue; // keep-alive comments
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
        if (field === "event") event = value;
        else if (field === "data") data.push(value);
      }
      if (data.length) yield { event, data: data.join("\n") };
    }
  }
}

// Merges a delta into a snapshot as the official SDK does: "index" and "type" replace,
// other strings concatenate, lists of {index} items merge by index, objects merge
// recursively, anything else replaces.
function mergeDelta(target, delta) {
  for (const [key, value] of Object.entries(delta)) {
    const current = target[key];
    if (key === "index" || key === "type") target[key] = value;
    else if (typeof value === "string" && typeof current === "string") target[key] = current + value;
    else if (Array.isArray(value) && Array.isArray(current)) {
      for (const item of value) {
        const found = item && typeof item === "object" && "index" in item ? current.find((c) => c.index === item.index) : null;
        if (found) mergeDelta(found, Object.fromEntries(Object.entries(item).filter(([k]) => k !== "index")));
        else current.push(structuredClone(item));
      }
    } else if (value && typeof value === "object" && !Array.isArray(value) && current && typeof current === "object") {
      mergeDelta(current, value);
    } else target[key] = structuredClone(value);
  }
  return target;
}

// ---------------------------------------------------------------- raw view

const raw = { events: [] };

function showRaw(tab) {
  $("#raw").hidden = false;
  document.body.classList.add("raw-open");
  for (const b of $$(".raw-tabs [data-raw]")) b.classList.toggle("active", b.dataset.raw === tab);
  $("#raw-events").hidden = tab !== "events";
  $("#raw-object").hidden = tab !== "object";
}

function hideRaw() {
  $("#raw").hidden = true;
  document.body.classList.remove("raw-open");
}

function showJson(obj) {
  $("#raw-object").textContent = JSON.stringify(obj, null, 2);
  showRaw("object");
}

function jsonButton(getObj) {
  return el("button", { type: "button", class: "json", title: "Show the JSON", onclick: (e) => { e.stopPropagation(); showJson(getObj()); } }, "{ }");
}

function recordEvent(event, data) {
  raw.events.push(`event: ${event}\ndata: ${data}`);
  const pre = $("#raw-events");
  pre.textContent += `event: ${event}\ndata: ${data}\n\n`;
  pre.scrollTop = pre.scrollHeight;
}

// ---------------------------------------------------------------- navigation

const views = {};
function showView(name) {
  for (const b of $$("nav [data-view]")) b.classList.toggle("active", b.dataset.view === name);
  for (const s of $$(".view")) s.hidden = s.id !== `view-${name}`;
  hideError();
  if (views[name]) return views[name]();
}

// ---------------------------------------------------------------- file helpers

const fileNames = new Map();
async function fileName(id) {
  if (!fileNames.has(id)) {
    fileNames.set(id, api.get(`/files/${id}`).then((f) => f.filename).catch(() => id));
  }
  return fileNames.get(id);
}

const blobUrls = new Map();
async function fileUrl(id) {
  if (!blobUrls.has(id)) blobUrls.set(id, api.blob(id).then((b) => URL.createObjectURL(b)));
  return blobUrls.get(id);
}

function imageOf(fileId) {
  const img = el("img", { class: "inline-image", alt: `image ${fileId}`, "data-file-id": fileId });
  fileUrl(fileId).then((url) => { img.src = url; }, (err) => { img.alt = `image ${fileId}: ${err.message}`; });
  return img;
}

async function download(fileId) {
  const [url, name] = await Promise.all([fileUrl(fileId), fileName(fileId)]);
  const a = el("a", { href: url, download: name.split("/").pop() });
  document.body.append(a);
  a.click();
  a.remove();
}

// ---------------------------------------------------------------- threads (remembered here)

function rememberedThreads() {
  try { return JSON.parse(localStorage.getItem(THREADS_KEY)) || []; } catch (_) { return []; }
}
function saveThreads(list) { localStorage.setItem(THREADS_KEY, JSON.stringify(list)); }
function rememberThread(entry) { saveThreads([entry, ...rememberedThreads().filter((t) => t.id !== entry.id)]); }
function forgetThread(id) { saveThreads(rememberedThreads().filter((t) => t.id !== id)); }

const chat = {
  thread: null,       // the open thread object
  messages: new Map(), // id -> message (snapshots merged from deltas)
  oldestCursor: null,
  run: null,          // the run shown in the inspector
  steps: new Map(),   // its steps, id -> step
  streaming: false,
  timing: null,       // {sent, firstToken, ended}
  response: null,     // Responses mode: the response shown in the inspector
  items: [],          // its output items, by output_index
};

function renderThreadList() {
  const list = $("#thread-list");
  list.replaceChildren();
  const threads = rememberedThreads();
  $("#threads-hint").hidden = threads.length > 0;
  for (const t of threads) {
    list.append(el("li", { class: chat.thread && chat.thread.id === t.id ? "selected" : "", "data-id": t.id,
      onclick: () => openThread(t.id) },
    el("span", { class: "title", text: t.title || "(no message yet)" }),
    el("span", { class: "meta", text: t.api === "responses" ? `conversation · ${when(t.created_at)}` : when(t.created_at) }),
    el("button", { type: "button", class: "danger small", title: "Delete this thread", onclick: async (e) => {
      e.stopPropagation();
      if (!confirm("Delete this thread?")) return;
      const path = t.api === "responses" ? `/conversations/${t.id}` : `/threads/${t.id}`;
      try { await api.del(path); } catch (err) { if (err.status !== 404) throw err; }
      forgetThread(t.id);
      if (chat.thread && chat.thread.id === t.id) newThread();
      renderThreadList();
    } }, "Delete")));
  }
}

function newThread() {
  chat.thread = null;
  chat.messages.clear();
  $("#messages").replaceChildren();
  $("#thread-title").textContent = "New thread";
  $("#thread-json").hidden = true;
  $("#older-messages").hidden = true;
  showRun(null);
  renderThreadList();
  $("#prompt").focus();
}

async function openThread(id) {
  let thread;
  try {
    thread = await api.get(`/threads/${id}`);
  } catch (err) {
    if (err.status === 404) { forgetThread(id); renderThreadList(); }
    throw err;
  }
  chat.thread = thread;
  chat.messages.clear();
  $("#messages").replaceChildren();
  const entry = rememberedThreads().find((t) => t.id === id);
  $("#thread-title").textContent = (entry && entry.title) || id;
  $("#thread-json").hidden = false;
  renderThreadList();
  chat.oldestCursor = null;
  await loadMessages();
  const runs = await api.get(`/threads/${id}/runs`, { limit: 1 });
  if (runs.data.length) await inspect(runs.data[0]);
  else showRun(null);
}

// Messages come newest first, 20 a page; "Load earlier messages" follows the cursor.
async function loadMessages() {
  const first = !chat.oldestCursor;
  const page = await api.get(`/threads/${chat.thread.id}/messages`, { limit: 20, order: "desc", after: chat.oldestCursor });
  const box = $("#messages");
  const fromBottom = box.scrollHeight - box.scrollTop; // earlier ones go above: what was read stays put
  for (const m of page.data) {
    chat.messages.set(m.id, m);
    box.prepend(messageNode(m));
  }
  chat.oldestCursor = page.last_id;
  $("#older-messages").hidden = !page.has_more;
  box.scrollTop = first ? box.scrollHeight : box.scrollHeight - fromBottom;
}

function messageNode(m) {
  const node = el("div", { class: `message ${m.role}`, id: `m-${m.id}`, "data-id": m.id });
  fillMessage(node, m);
  return node;
}

function fillMessage(node, m) {
  const head = el("div", { class: "message-head" },
    el("span", { class: "role", text: m.role }),
    m.status && m.status !== "completed" ? el("span", { class: `status ${m.status}`, text: m.status }) : null,
    m.run_id ? (isResponseId(m.run_id)
      ? el("button", { type: "button", class: "small", title: "Show this response's output items", onclick: () => loadResponse(m.run_id) }, "output items")
      : el("button", { type: "button", class: "small", title: "Show this run's steps", onclick: () => loadRun({ id: m.run_id }) }, "run steps")) : null,
    jsonButton(() => chat.messages.get(m.id) || m));
  const body = el("div", { class: "message-body" });
  for (const part of m.content || []) {
    if (part.type === "text") body.append(textPart(part.text, m));
    else if (part.type === "image_file") body.append(imageOf(part.image_file.file_id));
    else if (part.type === "image_url") body.append(el("a", { href: part.image_url.url, text: part.image_url.url }));
  }
  for (const att of m.attachments || []) {
    body.append(el("div", { class: "attachment" }, "attached: ", el("a", { href: "#", onclick: (e) => { e.preventDefault(); return download(att.file_id); } }, att.file_id)));
  }
  node.replaceChildren(head, body);
}

// Text with its annotations: file_path links download the file; citation markers show the
// cited file and the chunk (from the run's file_search step) on hover or click.
function textPart(text, message) {
  let value = text.value || "";
  const annotations = text.annotations || [];
  annotations.forEach((a, i) => {
    if (a.text) value = value.split(a.text).join(`\uE000${i}\uE001`);
  });
  // A marker may carry the label of the Markdown link around it (\uE002, see markdown.js),
  // already rendered as HTML: [out.csv](sandbox:/mnt/data/out.csv) is one link, "⤓ out.csv".
  const html = Markdown.render(value).replace(/\uE000(\d+)(?:\uE002([^\uE001]*))?\uE001/g, (_, i, label) => {
    const a = annotations[Number(i)];
    if (a.type === "file_path") {
      const name = a.text.split("/").pop();
      return `<a href="#" class="file-link" data-file-id="${esc(a.file_path.file_id)}" title="Download ${esc(name)}">⤓ ${label === undefined ? esc(name) : label}</a>`;
    }
    if (a.type === "file_citation") {
      const m = a.text.match(/(\d+):(\d+)/);
      const n = m ? `${Number(m[2]) + 1}` : "*";
      return `<button type="button" class="citation" data-file-id="${esc(a.file_citation.file_id)}" data-marker="${esc(a.text)}" title="Show the cited chunk">[${n}]</button>`;
    }
    return label === undefined ? esc(a.text) : label;
  });
  const div = el("div", { class: "markdown", html });
  for (const a of $$("a.file-link", div)) a.addEventListener("click", guard((e) => { e.preventDefault(); return download(a.dataset.fileId); }));
  for (const b of $$("button.citation", div)) {
    const show = guard(() => showCitation(b, message));
    b.addEventListener("click", show);
    b.addEventListener("mouseenter", show);
  }
  return div;
}

async function showCitation(button, message) {
  const pop = $("#citation-pop");
  const fileId = button.dataset.fileId;
  const name = await fileName(fileId);
  let chunk = "";
  if (message.run_id) {
    const steps = await api.all(`/threads/${message.thread_id}/runs/${message.run_id}/steps`, { order: "asc", "include[]": INCLUDE_CONTENT }, 1);
    const searches = steps.flatMap((s) => (s.type === "tool_calls" ? s.step_details.tool_calls : []))
      .filter((c) => c.type === "file_search");
    const m = button.dataset.marker.match(/(\d+):(\d+)/);
    const results = (searches[m ? Number(m[1]) : 0] || searches[0] || { file_search: {} }).file_search.results || [];
    const hit = (m && results[Number(m[2])] && results[Number(m[2])].file_id === fileId ? results[Number(m[2])] : null)
      || results.find((r) => r.file_id === fileId);
    if (hit) chunk = (hit.content || []).map((c) => c.text).join("\n");
  }
  pop.replaceChildren(el("div", { class: "pop-head" }, el("strong", { text: name }), el("button", { type: "button", class: "small", onclick: () => { pop.hidden = true; } }, "×")),
    el("pre", { class: "chunk", text: chunk || "(the chunk is not available)" }));
  const r = button.getBoundingClientRect();
  pop.style.left = `${Math.max(8, Math.min(r.left, window.innerWidth - 420))}px`;
  pop.style.top = `${r.bottom + window.scrollY + 6}px`;
  pop.hidden = false;
}

function upsertMessage(m) {
  chat.messages.set(m.id, m);
  let node = document.getElementById(`m-${m.id}`);
  if (!node) {
    node = messageNode(m);
    $("#messages").append(node);
  } else fillMessage(node, m);
  const box = $("#messages");
  box.scrollTop = box.scrollHeight;
}

// Re-rendering a message on every delta is cheap for a page; every 40 ms is enough. (Not
// requestAnimationFrame: it does not fire in a hidden tab, and the text would wait for focus.)
const RENDER_MS = 40;
const pendingRender = new Set();
function renderSoon(id) {
  if (pendingRender.size === 0) {
    setTimeout(() => {
      for (const mid of pendingRender) upsertMessage(chat.messages.get(mid));
      pendingRender.clear();
    }, RENDER_MS);
  }
  pendingRender.add(id);
}

// ---------------------------------------------------------------- runs: live

function renderStats() {
  const run = chat.run;
  const stats = $("#run-stats");
  if (!run) { stats.replaceChildren(); return; }
  const t = chat.timing && chat.timing.runId === run.id ? chat.timing : null;
  const parts = [el("span", { class: `status ${run.status}`, id: "run-status", text: run.status })];
  if (run.usage) {
    parts.push(el("span", { id: "run-usage", text: `${run.usage.prompt_tokens} prompt + ${run.usage.completion_tokens} completion tokens` }));
  }
  if (t && t.firstToken) parts.push(el("span", { id: "run-ttft", text: `first token ${((t.firstToken - t.sent) / 1000).toFixed(2)} s` }));
  if (t && t.firstToken && t.ended && run.usage && t.ended > t.firstToken) {
    const rate = run.usage.completion_tokens / ((t.ended - t.firstToken) / 1000);
    parts.push(el("span", { id: "run-rate", text: `${rate.toFixed(1)} tokens/s` }));
  }
  if (run.last_error) parts.push(el("span", { class: "form-error", text: `${run.last_error.code}: ${run.last_error.message}` }));
  if (run.incomplete_details) parts.push(el("span", { text: `incomplete: ${run.incomplete_details.reason}` }));
  stats.replaceChildren(...parts);
}

function setStreaming(on) {
  chat.streaming = on;
  $("#send").disabled = on;
  $("#stop").disabled = !on;
}

async function send() {
  if (apiMode() === "responses") return sendResponse();
  const text = $("#prompt").value.trim();
  if (!text || chat.streaming) return;
  const assistantId = $("#chat-assistant").value;
  if (!assistantId) throw new Error("Create an assistant first (Assistants tab), then choose it here.");
  setStreaming(true);
  try {
    if (!chat.thread) {
      chat.thread = await api.post("/threads", {});
      rememberThread({ id: chat.thread.id, title: text.slice(0, 80), created_at: chat.thread.created_at, assistant_id: assistantId });
      $("#thread-title").textContent = text.slice(0, 80);
      $("#thread-json").hidden = false;
      renderThreadList();
    }
    const message = await api.post(`/threads/${chat.thread.id}/messages`, { role: "user", content: text });
    upsertMessage(message);
    $("#prompt").value = "";
    await streamRun(`/threads/${chat.thread.id}/runs`, { assistant_id: assistantId });
  } finally {
    setStreaming(false);
  }
}

async function streamRun(path, body) {
  leaveResponse();
  setStreaming(true);
  raw.events = [];
  $("#raw-events").textContent = "";
  chat.timing = { sent: performance.now(), firstToken: null, ended: null, runId: null };
  try {
    const res = await api.stream(path, body);
    for await (const { event, data } of readEvents(res)) {
      recordEvent(event, data);
      if (data === "[DONE]") break;
      handleEvent(event, JSON.parse(data));
    }
  } finally {
    setStreaming(false);
  }
  if (chat.run) await loadRun(chat.run); // the stored steps, file-search chunks included
}

function handleEvent(event, data) {
  const t = chat.timing;
  if (event === "error") throw new ApiError((data.error && data.error.message) || data.message || "The run's stream failed.", 500);
  if (event.startsWith("thread.run.step.")) {
    if (event === "thread.run.step.delta") {
      const step = chat.steps.get(data.id);
      if (!step) return;
      if (!t.firstToken) t.firstToken = performance.now();
      mergeDelta(step, { step_details: data.delta.step_details || {} });
      renderStepSoon(step.id);
    } else {
      chat.steps.set(data.id, data);
      renderStep(data);
    }
    return;
  }
  if (event.startsWith("thread.run.")) {
    if (!chat.run || chat.run.id !== data.id) {
      chat.steps.clear();
      $("#steps").replaceChildren();
    }
    chat.run = data;
    t.runId = data.id;
    if (TERMINAL.has(data.status) || data.status === "requires_action") t.ended = performance.now();
    renderRunHead();
    renderStats();
    renderActionForm();
    return;
  }
  if (event === "thread.message.delta") {
    const m = chat.messages.get(data.id);
    if (!m) return;
    if (!t.firstToken) t.firstToken = performance.now();
    mergeDelta(m, data.delta);
    renderSoon(m.id);
    return;
  }
  if (event.startsWith("thread.message.")) {
    upsertMessage(structuredClone(data));
  }
}

// ---------------------------------------------------------------- the run-step inspector

function showRun(run) {
  leaveResponse();
  chat.run = run;
  chat.steps.clear();
  $("#steps").replaceChildren();
  renderRunHead();
  renderStats();
  renderActionForm();
}

async function loadRun(runRef) {
  const threadId = chat.thread.id;
  const run = runRef.status ? runRef : await api.get(`/threads/${threadId}/runs/${runRef.id}`);
  const steps = await api.all(`/threads/${threadId}/runs/${run.id}/steps`, { order: "asc", "include[]": INCLUDE_CONTENT });
  if (!chat.run || chat.run.id !== run.id || chat.response) showRun(run);
  chat.run = run;
  chat.steps.clear();
  $("#steps").replaceChildren();
  for (const s of steps) { chat.steps.set(s.id, s); renderStep(s); }
  renderRunHead();
  renderStats();
  renderActionForm();
}

function renderRunHead() {
  const run = chat.run;
  $("#run-json").hidden = !run;
  const summary = $("#run-summary");
  if (!run) { summary.textContent = "Steps of the latest run appear here."; return; }
  summary.replaceChildren(el("code", { text: run.id }), " ", el("span", { class: `status ${run.status}`, text: run.status }),
    " · ", el("span", { text: run.model }));
}

const pendingSteps = new Set();
function renderStepSoon(id) {
  if (pendingSteps.size === 0) {
    setTimeout(() => {
      for (const sid of pendingSteps) renderStep(chat.steps.get(sid));
      pendingSteps.clear();
    }, RENDER_MS);
  }
  pendingSteps.add(id);
}

function renderStep(step) {
  let card = document.getElementById(`s-${step.id}`);
  if (!card) {
    card = el("div", { class: "step", id: `s-${step.id}` });
    $("#steps").append(card);
  }
  const head = el("div", { class: "step-head" },
    el("strong", { text: step.type === "tool_calls" ? "Tool calls" : "Message" }), " ",
    el("span", { class: `status ${step.status}`, text: step.status }),
    jsonButton(() => chat.steps.get(step.id) || step));
  const body = el("div", { class: "step-body" });
  const details = step.step_details || {};
  if (step.type === "message_creation" && details.message_creation) {
    body.append(el("div", { class: "meta", text: `wrote ${details.message_creation.message_id}` }));
  }
  for (const call of details.tool_calls || []) body.append(toolCallNode(call));
  if (step.last_error) body.append(el("div", { class: "form-error", text: `${step.last_error.code}: ${step.last_error.message}` }));
  if (step.usage) body.append(el("div", { class: "meta", text: `${step.usage.prompt_tokens} prompt + ${step.usage.completion_tokens} completion tokens` }));
  card.replaceChildren(head, body);
}

function toolCallNode(call) {
  const node = el("div", { class: `tool-call ${call.type}` });
  if (call.type === "code_interpreter") {
    const ci = call.code_interpreter || {};
    node.append(el("div", { class: "label", text: "Code" }), el("pre", { class: "code step-code", text: ci.input || "" }));
    for (const out of ci.outputs || []) {
      if (out.type === "logs") node.append(el("div", { class: "label", text: "Output" }), el("pre", { class: "step-logs", text: out.logs }));
      else if (out.type === "image") node.append(imageOf(out.image.file_id));
    }
  } else if (call.type === "file_search") {
    const fs = call.file_search || {};
    if (fs.query) node.append(el("div", { class: "label" }, "Search: ", el("q", { class: "search-query", text: fs.query })));
    const results = fs.results || [];
    if (!results.length) node.append(el("div", { class: "meta", text: "no results yet" }));
    for (const r of results) node.append(resultNode(r));
  } else if (call.type === "function") {
    const fn = call.function || {};
    let args = fn.arguments || "";
    try { args = JSON.stringify(JSON.parse(args), null, 2); } catch (_) { /* still streaming */ }
    node.append(el("div", { class: "label" }, "Function ", el("code", { text: fn.name || "" })),
      el("pre", { class: "code function-args", text: args }));
    if (fn.output !== null && fn.output !== undefined) node.append(el("div", { class: "label", text: "Output" }), el("pre", { class: "step-logs", text: fn.output }));
  }
  return node;
}

function resultNode(r) {
  const text = (r.content || []).map((c) => c.text).join("\n");
  return el("div", { class: "result" },
    el("div", { class: "result-head" }, el("strong", { text: r.file_name || r.filename || r.file_id }),
      el("span", { class: "score", text: `score ${Number(r.score).toFixed(3)}` })),
    text ? el("pre", { class: "chunk", text }) : null);
}

// A run in requires_action: one output field per tool call, submitted streamed.
function renderActionForm() {
  const form = $("#action-form");
  const run = chat.run;
  const calls = run && run.status === "requires_action" && run.required_action
    ? run.required_action.submit_tool_outputs.tool_calls : [];
  if (!calls.length) { form.hidden = true; form.replaceChildren(); return; }
  if (form.dataset.runId === run.id && !form.hidden) return;
  form.dataset.runId = run.id;
  form.replaceChildren(el("h3", { text: "The run waits for tool outputs" }),
    ...calls.map((c) => el("label", { class: "tool-output-field" },
      el("span", {}, el("code", { text: c.function.name }), " ", el("code", { class: "meta", text: c.function.arguments })),
      el("textarea", { class: "tool-output", rows: 2, "data-call-id": c.id, placeholder: "The function's result, e.g. JSON" }))),
    el("button", { type: "submit", id: "submit-outputs" }, "Submit outputs"));
  form.hidden = false;
}

async function submitOutputs(e) {
  e.preventDefault();
  if (chat.response) return submitResponseOutputs();
  const run = chat.run;
  const outputs = $$("textarea.tool-output", $("#action-form")).map((t) => ({ tool_call_id: t.dataset.callId, output: t.value }));
  $("#action-form").hidden = true;
  await streamRun(`/threads/${run.thread_id}/runs/${run.id}/submit_tool_outputs`, { tool_outputs: outputs });
}

async function stop() {
  if (!chat.run) return;
  const run = await api.post(`/threads/${chat.run.thread_id}/runs/${chat.run.id}/cancel`, {});
  if (chat.run.id === run.id && !TERMINAL.has(chat.run.status)) { chat.run = run; renderStats(); }
}

// ---------------------------------------------------------------- Responses mode
// The same chat through POST /v1/responses: each turn is a response in a conversation (a
// conversation is a thread here, so the thread list and the messages show it too), its
// stream is response.* events, and the inspector shows the response's output items.

const RESPONSE_SNAPSHOTS = new Set(["response.created", "response.queued", "response.in_progress",
  "response.completed", "response.incomplete", "response.failed"]);
const RESPONSE_TERMINAL = new Set(["completed", "incomplete", "failed", "cancelled"]);

const apiMode = () => ($("#chat-api").value === "responses" ? "responses" : "assistants");
const isResponseId = (id) => typeof id === "string" && id.startsWith("resp_");

function showApiMode() {
  $("#api-hint").hidden = apiMode() !== "responses";
}

// The latest run of a thread, or a message's: a response's items, or a run's steps.
function inspect(run) {
  return isResponseId(run.id) ? loadResponse(run.id) : loadRun(run);
}

// Back to the run-step inspector (the Assistants view of what is shown).
function leaveResponse() {
  if (!chat.response && $("#inspector-title").textContent === "Run steps") return;
  chat.response = null;
  chat.items = [];
  $("#inspector-title").textContent = "Run steps";
}

// The request a turn makes: the chosen assistant's model, instructions and tools, in the
// Responses shapes (none chosen: the server's default model, no tools).
async function responseSettings() {
  const assistantId = $("#chat-assistant").value;
  const body = {};
  if (!assistantId) return body;
  const a = await api.get(`/assistants/${assistantId}`);
  body.model = a.model;
  if (a.instructions) body.instructions = a.instructions;
  if (a.temperature !== null && a.temperature !== undefined) body.temperature = a.temperature;
  const res = a.tool_resources || {};
  const tools = [];
  const include = [];
  for (const t of a.tools || []) {
    if (t.type === "code_interpreter") {
      const fileIds = (res.code_interpreter || {}).file_ids || [];
      tools.push({ type: "code_interpreter", container: fileIds.length ? { type: "auto", file_ids: fileIds } : { type: "auto" } });
      include.push("code_interpreter_call.outputs");
    } else if (t.type === "file_search") {
      const ids = (res.file_search || {}).vector_store_ids || [];
      if (!ids.length) continue; // a Responses file search names its stores
      tools.push({ type: "file_search", vector_store_ids: ids });
      include.push("file_search_call.results");
    } else if (t.type === "function") {
      const fn = t.function || {};
      const tool = { type: "function", name: fn.name };
      if (fn.description) tool.description = fn.description;
      if (fn.parameters) tool.parameters = fn.parameters;
      if (typeof fn.strict === "boolean") tool.strict = fn.strict;
      tools.push(tool);
    }
  }
  if (tools.length) body.tools = tools;
  if (include.length) body.include = include;
  const rf = a.response_format;
  if (rf && rf !== "auto" && rf.type === "json_object") body.text = { format: { type: "json_object" } };
  if (rf && rf !== "auto" && rf.type === "json_schema" && rf.json_schema) {
    const format = { type: "json_schema" };
    for (const k of ["name", "schema", "strict", "description"]) {
      if (rf.json_schema[k] !== null && rf.json_schema[k] !== undefined) format[k] = rf.json_schema[k];
    }
    body.text = { format };
  }
  return body;
}

// The conversation the chat is in: the open thread, or a new conversation.
async function ensureConversation(title) {
  if (chat.thread) return chat.thread.id;
  chat.thread = await api.post("/conversations", {});
  rememberThread({ id: chat.thread.id, title: title.slice(0, 80), created_at: chat.thread.created_at,
    assistant_id: $("#chat-assistant").value || null, api: "responses" });
  $("#thread-title").textContent = title.slice(0, 80);
  $("#thread-json").hidden = false;
  renderThreadList();
  return chat.thread.id;
}

async function sendResponse() {
  const text = $("#prompt").value.trim();
  if (!text || chat.streaming) return;
  setStreaming(true);
  try {
    const settings = await responseSettings();
    const conversation = await ensureConversation(text);
    // Shown now; the stored message replaces it once the response is done.
    upsertMessage({ id: `local-${Date.now()}`, object: "thread.message", role: "user", thread_id: conversation, local: true,
      content: [{ type: "text", text: { value: text, annotations: [] } }] });
    $("#prompt").value = "";
    const { model, instructions, tools, ...rest } = settings;
    await streamResponse({ model, input: text, conversation, instructions, tools, ...rest });
  } finally {
    setStreaming(false);
  }
}

async function streamResponse(body) {
  setStreaming(true);
  $("#stop").disabled = true; // a response made without background=true cannot be cancelled
  raw.events = [];
  $("#raw-events").textContent = "";
  chat.timing = { sent: performance.now(), firstToken: null, ended: null, runId: null };
  showResponse(null);
  for (const k of Object.keys(body)) if (body[k] === undefined) delete body[k];
  try {
    const res = await api.stream("/responses", body);
    for await (const { event, data } of readEvents(res)) {
      recordEvent(event, data);
      if (data === "[DONE]") break; // not in a Responses stream, but harmless
      handleResponseEvent(event, JSON.parse(data));
    }
  } finally {
    setStreaming(false);
  }
  if (chat.response) await finishResponse(chat.response.id);
}

// An output item's message, in the thread-message shape the chat renders.
function itemMessage(item, responseId) {
  const status = item.status === "in_progress" ? "in_progress" : item.status === "incomplete" ? "incomplete" : "completed";
  return { id: item.id, object: "thread.message", role: item.role || "assistant", status, run_id: responseId,
    thread_id: chat.thread ? chat.thread.id : null,
    content: (item.content || []).filter((p) => p.type === "output_text" || p.type === "input_text")
      .map((p) => ({ type: "text", text: { value: p.text || "", annotations: [] } })) };
}

function syncMessage(item, now = false) {
  if (item.type !== "message" || item.role !== "assistant" || !chat.response) return;
  const m = itemMessage(item, chat.response.id);
  chat.messages.set(m.id, m);
  if (now) upsertMessage(m);
  else renderSoon(m.id);
}

function handleResponseEvent(event, data) {
  const t = chat.timing;
  if (event === "error" || data.type === "error") {
    throw new ApiError(data.message || (data.error && data.error.message) || "The response's stream failed.", 500);
  }
  if (RESPONSE_SNAPSHOTS.has(event) && data.response) {
    const r = data.response;
    if (!chat.response || chat.response.id !== r.id) showResponse(r);
    chat.response = r;
    t.runId = r.id;
    if (RESPONSE_TERMINAL.has(r.status)) t.ended = performance.now();
    (r.output || []).forEach((item, i) => { if (!chat.items[i]) setItem(i, structuredClone(item)); });
    renderResponseHead();
    renderResponseStats();
    renderResponseActionForm();
    return;
  }
  const i = data.output_index;
  if (event === "response.output_item.added" || event === "response.output_item.done") {
    const item = structuredClone(data.item);
    setItem(i, item);
    syncMessage(item, true);
    return;
  }
  const item = chat.items[i];
  if (!item) return;
  const part = () => {
    item.content = item.content || [];
    if (!item.content[data.content_index]) item.content[data.content_index] = { type: "output_text", text: "", annotations: [] };
    return item.content[data.content_index];
  };
  if (event === "response.content_part.added") {
    if (!(item.content || [])[data.content_index]) { item.content = item.content || []; item.content[data.content_index] = structuredClone(data.part); }
  } else if (event === "response.output_text.delta") {
    if (!t.firstToken) t.firstToken = performance.now();
    part().text += data.delta;
  } else if (event === "response.output_text.done") {
    part().text = data.text;
  } else if (event === "response.output_text.annotation.added") {
    const p = part();
    p.annotations = p.annotations || [];
    p.annotations[data.annotation_index] = data.annotation;
  } else if (event === "response.content_part.done") {
    item.content = item.content || [];
    item.content[data.content_index] = structuredClone(data.part);
  } else if (event === "response.function_call_arguments.delta") {
    if (!t.firstToken) t.firstToken = performance.now();
    item.arguments = (item.arguments || "") + data.delta;
  } else if (event === "response.function_call_arguments.done") {
    item.arguments = data.arguments;
    if (data.name) item.name = data.name;
  } else if (event === "response.code_interpreter_call_code.delta") {
    if (!t.firstToken) t.firstToken = performance.now();
    item.code = (item.code || "") + data.delta;
  } else if (event === "response.code_interpreter_call_code.done") {
    item.code = data.code;
  } else if (/^response\.(code_interpreter|file_search)_call\.[a-z_]+$/.test(event)) {
    item.status = event.split(".").pop(); // in_progress, interpreting, searching, completed
  } else {
    return;
  }
  renderItemSoon(i);
  syncMessage(item);
}

// After the stream: the stored response (its items as GET /v1/responses/{id} gives them),
// and the stored messages (annotations, images) in place of what was streamed.
async function finishResponse(responseId) {
  await loadResponse(responseId);
  const threadId = chat.thread && chat.thread.id;
  if (!threadId || !chat.response || chat.response.id !== responseId) return;
  for (const item of chat.response.output || []) {
    if (item.type !== "message") continue;
    try { upsertMessage(await api.get(`/threads/${threadId}/messages/${item.id}`)); } catch (err) { if (err.status !== 404) throw err; }
  }
  const input = await api.get(`/responses/${responseId}/input_items`, { order: "asc", limit: 100 });
  const given = input.data.filter((it) => it.type === "message" && it.role === "user");
  const locals = $$("#messages .message.user").filter((n) => n.dataset.id.startsWith("local-"));
  for (const [n, node] of locals.entries()) {
    const it = given[given.length - locals.length + n];
    if (!it) continue;
    let m;
    try { m = await api.get(`/threads/${threadId}/messages/${it.id}`); } catch (err) { if (err.status === 404) continue; throw err; }
    chat.messages.delete(node.dataset.id);
    chat.messages.set(m.id, m);
    node.replaceWith(messageNode(m));
  }
}

// ---- the inspector: a response's output items

function showResponse(response) {
  chat.run = null;
  chat.steps.clear();
  chat.response = response;
  chat.items = [];
  $("#steps").replaceChildren();
  $("#inspector-title").textContent = "Response items";
  renderResponseHead();
  renderResponseStats();
  renderResponseActionForm();
}

async function loadResponse(responseId) {
  // Code outputs and search results are shown only when asked for, as on OpenAI.
  const response = await api.get(`/responses/${responseId}`,
    { "include[]": ["code_interpreter_call.outputs", "file_search_call.results"] });
  showResponse(response);
  (response.output || []).forEach((item, i) => setItem(i, item));
}

function usageText(u) {
  const cached = (u.input_tokens_details || {}).cached_tokens || 0;
  return `${u.input_tokens} input + ${u.output_tokens} output tokens (${cached} cached)`;
}

function renderResponseHead() {
  const r = chat.response;
  $("#run-json").hidden = !r;
  const summary = $("#run-summary");
  if (!r) { summary.textContent = "Output items of the latest response appear here."; return; }
  summary.replaceChildren(...[el("code", { text: r.id }), " ", el("span", { class: `status ${r.status}`, text: r.status }),
    " · ", el("span", { text: r.model }),
    r.usage ? el("span", { id: "response-usage", class: "meta", text: usageText(r.usage) }) : null,
    r.error ? el("div", { class: "form-error", text: `${r.error.code}: ${r.error.message}` }) : null].filter(Boolean));
}

function renderResponseStats() {
  const r = chat.response;
  const stats = $("#run-stats");
  if (!r) { stats.replaceChildren(); return; }
  const t = chat.timing && chat.timing.runId === r.id ? chat.timing : null;
  const parts = [el("span", { class: `status ${r.status}`, id: "run-status", text: r.status })];
  if (r.usage) parts.push(el("span", { id: "run-usage", text: usageText(r.usage) }));
  if (t && t.firstToken) parts.push(el("span", { id: "run-ttft", text: `first token ${((t.firstToken - t.sent) / 1000).toFixed(2)} s` }));
  if (t && t.firstToken && t.ended && r.usage && t.ended > t.firstToken) {
    const rate = r.usage.output_tokens / ((t.ended - t.firstToken) / 1000);
    parts.push(el("span", { id: "run-rate", text: `${rate.toFixed(1)} tokens/s` }));
  }
  if (r.error) parts.push(el("span", { class: "form-error", text: `${r.error.code}: ${r.error.message}` }));
  if (r.incomplete_details) parts.push(el("span", { text: `incomplete: ${r.incomplete_details.reason}` }));
  stats.replaceChildren(...parts);
}

function setItem(index, item) {
  chat.items[index] = item;
  renderItem(index);
}

const pendingItems = new Set();
function renderItemSoon(index) {
  if (pendingItems.size === 0) {
    setTimeout(() => {
      for (const i of pendingItems) if (chat.items[i]) renderItem(i);
      pendingItems.clear();
    }, RENDER_MS);
  }
  pendingItems.add(index);
}

function renderItem(index) {
  const item = chat.items[index];
  let card = document.getElementById(`item-${index}`);
  if (!card) {
    card = el("div", { class: "step item", id: `item-${index}` });
    const next = [...$("#steps").children].find((c) => Number(c.dataset.index) > index);
    $("#steps").insertBefore(card, next || null);
  }
  card.dataset.index = String(index);
  card.dataset.id = item.id || "";
  card.dataset.type = item.type;
  const head = el("div", { class: "step-head" },
    el("strong", { class: "item-type", text: item.type }),
    el("code", { class: "item-id", text: item.id || "" }),
    item.status ? el("span", { class: `status ${item.status}`, text: item.status }) : null,
    jsonButton(() => chat.items[index] || item));
  card.replaceChildren(head, itemBody(item));
}

function itemBody(item) {
  const body = el("div", { class: item.type === "message" ? "step-body item-body" : "step-body item-body tool-call" });
  if (item.type === "message") {
    body.append(el("div", { class: "item-meta", text: `role: ${item.role}` }));
    for (const p of item.content || []) {
      if (p.type === "output_text" || p.type === "input_text") {
        body.append(el("div", { class: "item-text", text: p.text || "" }));
        if ((p.annotations || []).length) {
          body.append(el("div", { class: "item-meta", text: `annotations: ${p.annotations.map((a) => `${a.type} ${a.filename || a.file_id || ""}`.trim()).join(", ")}` }));
        }
      } else if (p.type === "refusal") body.append(el("div", { class: "form-error", text: p.refusal }));
    }
  } else if (item.type === "function_call") {
    let args = item.arguments || "";
    try { args = JSON.stringify(JSON.parse(args), null, 2); } catch (_) { /* still streaming */ }
    body.append(el("div", { class: "label" }, "Function ", el("code", { class: "function-name", text: item.name || "" })),
      el("div", { class: "item-meta", text: `call_id ${item.call_id || ""}` }),
      el("pre", { class: "code function-args", text: args }));
  } else if (item.type === "function_call_output") {
    body.append(el("div", { class: "item-meta", text: `call_id ${item.call_id || ""}` }),
      el("div", { class: "label", text: "Output" }), el("pre", { class: "step-logs", text: String(item.output ?? "") }));
  } else if (item.type === "code_interpreter_call") {
    body.append(el("div", { class: "label", text: "Code" }), el("pre", { class: "code step-code", text: item.code || "" }));
    for (const out of item.outputs || []) {
      if (out.type === "logs") body.append(el("div", { class: "label", text: "Output" }), el("pre", { class: "step-logs", text: out.logs }));
      else if (out.type === "image") body.append(imageAt(out.url));
    }
    if (item.container_id) body.append(el("div", { class: "item-meta", text: `container ${item.container_id}` }));
  } else if (item.type === "file_search_call") {
    for (const q of item.queries || []) body.append(el("div", { class: "label" }, "Search: ", el("q", { class: "search-query", text: q })));
    if (item.results === null || item.results === undefined) body.append(el("div", { class: "meta", text: "results not included" }));
    else if (!item.results.length) body.append(el("div", { class: "meta", text: "no results" }));
    for (const r of item.results || []) {
      body.append(el("div", { class: "result" },
        el("div", { class: "result-head" }, el("strong", { text: r.filename || r.file_id }),
          el("span", { class: "score", text: `score ${Number(r.score).toFixed(3)}` })),
        r.text ? el("pre", { class: "chunk", text: r.text }) : null));
    }
  } else {
    body.append(el("pre", { class: "code", text: JSON.stringify(item, null, 2) }));
  }
  return body;
}

// A code call's image, named by its content's URL: a stored file's (fetched with the key,
// cached), or a container file's.
function imageAt(url) {
  const m = /^\/v1\/files\/([^/]+)\/content$/.exec(url || "");
  if (m) return imageOf(m[1]);
  const img = el("img", { class: "inline-image", alt: `image ${url}` });
  if (!url || !url.startsWith("/v1/")) return img;
  request("GET", url.slice(3)).then((res) => res.blob()).then((b) => { img.src = URL.createObjectURL(b); },
    (err) => { img.alt = `image ${url}: ${err.message}`; });
  return img;
}

// A response that ends with function calls: their outputs, typed here, go back as the
// next response's input, in the same conversation.
function pendingCalls(response) {
  const out = response ? response.output || [] : [];
  const answered = new Set(out.filter((i) => i.type === "function_call_output").map((i) => i.call_id));
  return out.filter((i) => i.type === "function_call" && !answered.has(i.call_id));
}

function renderResponseActionForm() {
  const form = $("#action-form");
  const r = chat.response;
  const calls = r && r.status === "completed" && !chat.streaming ? pendingCalls(r) : [];
  if (!calls.length) { form.hidden = true; form.replaceChildren(); delete form.dataset.runId; return; }
  if (form.dataset.runId === r.id && !form.hidden) return;
  form.dataset.runId = r.id;
  form.replaceChildren(el("h3", { text: "The response asks for function outputs" }),
    ...calls.map((c) => el("label", { class: "tool-output-field" },
      el("span", {}, el("code", { text: c.name }), " ", el("code", { class: "meta", text: c.arguments })),
      el("textarea", { class: "tool-output", rows: 2, "data-call-id": c.call_id, placeholder: "The function's result, e.g. JSON" }))),
    el("button", { type: "submit", id: "submit-outputs" }, "Submit outputs"));
  form.hidden = false;
}

async function submitResponseOutputs() {
  if (chat.streaming || !chat.thread) return;
  const input = $$("textarea.tool-output", $("#action-form")).map((t) => ({ type: "function_call_output", call_id: t.dataset.callId, output: t.value }));
  $("#action-form").hidden = true;
  setStreaming(true);
  try {
    const { model, instructions, tools, ...rest } = await responseSettings();
    await streamResponse({ model, input, conversation: chat.thread.id, instructions, tools, ...rest });
  } finally {
    setStreaming(false);
  }
}

// ---------------------------------------------------------------- assistants

const assistants = { cursor: null, current: null, models: [] };

async function refreshAssistantChoices() {
  const list = await api.all("/assistants", { order: "desc" });
  const select = $("#chat-assistant");
  const previous = select.value;
  select.replaceChildren(...list.map((a) => el("option", { value: a.id, text: `${a.name || "(unnamed)"} · ${a.model}` })));
  if (!list.length) select.append(el("option", { value: "", text: "no assistant yet: create one" }));
  if (list.some((a) => a.id === previous)) select.value = previous;
  return list;
}

async function loadAssistants(more = false) {
  if (!more) { assistants.cursor = null; $("#assistant-list").replaceChildren(); }
  const page = await api.get("/assistants", { limit: 20, order: "desc", after: assistants.cursor });
  for (const a of page.data) {
    const selected = assistants.current && assistants.current.id === a.id ? "selected" : "";
    $("#assistant-list").append(el("li", { "data-id": a.id, class: selected, onclick: () => editAssistant(a.id) },
      el("span", { class: "title", text: a.name || "(unnamed)" }),
      el("span", { class: "meta", text: `${a.model} · ${a.tools.map((t) => t.type).join(", ") || "no tools"}` })));
  }
  assistants.cursor = page.last_id;
  $("#assistants-more").hidden = !page.has_more;
}

async function fillAssistantChoices() {
  if (!assistants.models.length) assistants.models = (await api.get("/models")).data;
  const model = $("#a-model");
  const keep = model.value;
  model.replaceChildren(...assistants.models.map((m) => el("option", { value: m.id, text: m.id })));
  if (keep) model.value = keep;
  const [files, stores] = await Promise.all([api.all("/files", { purpose: "assistants" }, 3), api.all("/vector_stores", {}, 3)]);
  $("#a-code-files").replaceChildren(...(files.length ? files.map((f) => el("label", { class: "inline" },
    el("input", { type: "checkbox", value: f.id }), ` ${f.filename}`)) : [el("span", { class: "hint", text: "no file uploaded (Files tab)" })]));
  $("#a-vector-store").replaceChildren(el("option", { value: "", text: "none" }),
    ...stores.map((s) => el("option", { value: s.id, text: `${s.name || s.id} (${s.file_counts.completed} files)` })));
}

function functionEditor(fn) {
  const text = JSON.stringify(fn || {
    name: "get_weather", description: "The weather in a city.",
    parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
  }, null, 2);
  return el("div", { class: "function-editor" },
    el("textarea", { class: "function-json", rows: 8, spellcheck: "false", text }),
    el("button", { type: "button", class: "small danger", onclick: (e) => e.target.closest(".function-editor").remove() }, "Remove"));
}

async function editAssistant(id) {
  const form = $("#assistant-form");
  delete form.dataset.loaded;
  if ($("#view-assistants").hidden) await showView("assistants");
  await fillAssistantChoices();
  const a = id ? await api.get(`/assistants/${id}`) : null;
  assistants.current = a;
  $("#assistant-form-title").textContent = a ? `Edit ${a.name || a.id}` : "New assistant";
  $("#a-name").value = a ? a.name || "" : "";
  if (a) $("#a-model").value = a.model;
  $("#a-instructions").value = a ? a.instructions || "" : "";
  $("#a-temperature").value = a && a.temperature !== null && a.temperature !== undefined ? a.temperature : "";
  const tools = a ? a.tools : [];
  $("#a-code").checked = tools.some((t) => t.type === "code_interpreter");
  $("#a-search").checked = tools.some((t) => t.type === "file_search");
  $("#a-functions").replaceChildren(...tools.filter((t) => t.type === "function").map((t) => functionEditor(t.function)));
  const rf = a ? a.response_format : "auto";
  const kind = !rf || rf === "auto" ? "auto" : rf.type;
  $("#a-format").value = kind;
  $("#a-format-schema").hidden = kind !== "json_schema";
  $("#a-format-schema").value = kind === "json_schema" ? JSON.stringify(rf.json_schema, null, 2) : "";
  const res = (a && a.tool_resources) || {};
  const codeFiles = new Set(((res.code_interpreter || {}).file_ids) || []);
  for (const box of $$("#a-code-files input")) box.checked = codeFiles.has(box.value);
  $("#a-vector-store").value = (((res.file_search || {}).vector_store_ids) || [])[0] || "";
  $("#assistant-form-error").textContent = "";
  for (const b of ["#assistant-delete", "#assistant-chat", "#assistant-json"]) $(b).hidden = !a;
  for (const li of $$("#assistant-list li")) li.classList.toggle("selected", !!a && li.dataset.id === a.id);
  form.dataset.loaded = a ? a.id : "new"; // the fields now show this assistant
}

// JSON Schema, checked the way a person editing one needs: each mistake named by its place.
const SCHEMA_TYPES = new Set(["object", "array", "string", "number", "integer", "boolean", "null"]);
function checkSchema(schema, where) {
  if (typeof schema === "boolean") return;
  if (!schema || typeof schema !== "object" || Array.isArray(schema)) throw new Error(`${where} must be a JSON object (a schema).`);
  if ("type" in schema) {
    const types = Array.isArray(schema.type) ? schema.type : [schema.type];
    for (const t of types) if (!SCHEMA_TYPES.has(t)) throw new Error(`${where}.type: ${JSON.stringify(t)} is not a JSON Schema type (${[...SCHEMA_TYPES].join(", ")}).`);
  }
  if ("properties" in schema) {
    if (!schema.properties || typeof schema.properties !== "object" || Array.isArray(schema.properties)) throw new Error(`${where}.properties must be an object.`);
    for (const [k, v] of Object.entries(schema.properties)) checkSchema(v, `${where}.properties.${k}`);
  }
  if ("required" in schema) {
    if (!Array.isArray(schema.required) || schema.required.some((r) => typeof r !== "string")) throw new Error(`${where}.required must be a list of property names.`);
    const missing = schema.required.filter((r) => !(schema.properties || {})[r]);
    if (missing.length) throw new Error(`${where}.required names ${missing.join(", ")}, which ${where}.properties does not define.`);
  }
  if ("items" in schema) checkSchema(schema.items, `${where}.items`);
  if ("enum" in schema && (!Array.isArray(schema.enum) || !schema.enum.length)) throw new Error(`${where}.enum must be a non-empty list.`);
  if ("additionalProperties" in schema && typeof schema.additionalProperties !== "boolean") checkSchema(schema.additionalProperties, `${where}.additionalProperties`);
  for (const k of ["anyOf", "oneOf", "allOf"]) {
    if (k in schema) {
      if (!Array.isArray(schema[k])) throw new Error(`${where}.${k} must be a list of schemas.`);
      schema[k].forEach((s, i) => checkSchema(s, `${where}.${k}[${i}]`));
    }
  }
  for (const k of ["minimum", "maximum", "minLength", "maxLength", "minItems", "maxItems"]) {
    if (k in schema && typeof schema[k] !== "number") throw new Error(`${where}.${k} must be a number.`);
  }
}

function parseJson(text, what) {
  try { return JSON.parse(text); } catch (err) { throw new Error(`${what} is not valid JSON: ${err.message}`); }
}

function assistantBody() {
  const tools = [];
  if ($("#a-code").checked) tools.push({ type: "code_interpreter" });
  if ($("#a-search").checked) tools.push({ type: "file_search" });
  $$("#a-functions .function-json").forEach((area, i) => {
    const what = `Function ${i + 1}`;
    const fn = parseJson(area.value, what);
    if (!fn || typeof fn !== "object" || Array.isArray(fn)) throw new Error(`${what} must be a JSON object with name, description and parameters.`);
    if (typeof fn.name !== "string" || !/^[a-zA-Z0-9_-]{1,64}$/.test(fn.name)) throw new Error(`${what}: "name" must be 1 to 64 letters, digits, _ or -.`);
    if (fn.description !== undefined && typeof fn.description !== "string") throw new Error(`${what} (${fn.name}): "description" must be a string.`);
    if (fn.parameters !== undefined) {
      checkSchema(fn.parameters, `${fn.name}.parameters`);
      if (fn.parameters.type !== "object") throw new Error(`${fn.name}.parameters must be a schema of "type": "object".`);
    }
    tools.push({ type: "function", function: fn });
  });
  const kind = $("#a-format").value;
  let responseFormat = "auto";
  if (kind === "text" || kind === "json_object") responseFormat = { type: kind };
  if (kind === "json_schema") {
    const js = parseJson($("#a-format-schema").value, "The response format's JSON schema");
    if (!js || typeof js.name !== "string" || !js.name) throw new Error('The response format needs {"name": ..., "schema": {...}}.');
    checkSchema(js.schema, `${js.name}.schema`);
    responseFormat = { type: "json_schema", json_schema: js };
  }
  const temperature = $("#a-temperature").value;
  if (temperature !== "" && !(Number(temperature) >= 0 && Number(temperature) <= 2)) throw new Error("Temperature goes from 0 to 2.");
  const vs = $("#a-vector-store").value;
  return {
    name: $("#a-name").value.trim() || null,
    model: $("#a-model").value,
    instructions: $("#a-instructions").value,
    temperature: temperature === "" ? null : Number(temperature),
    tools,
    response_format: responseFormat,
    tool_resources: {
      code_interpreter: { file_ids: $$("#a-code-files input:checked").map((b) => b.value) },
      file_search: { vector_store_ids: vs ? [vs] : [] },
    },
  };
}

async function saveAssistant(e) {
  e.preventDefault();
  const error = $("#assistant-form-error");
  error.textContent = "";
  let body;
  try {
    body = assistantBody();
  } catch (err) {
    error.textContent = err.message;
    return;
  }
  let saved;
  try {
    const a = assistants.current;
    saved = a ? await api.post(`/assistants/${a.id}`, body) : await api.post("/assistants", body);
  } catch (err) {
    error.textContent = err.message; // the API's own words
    return;
  }
  await loadAssistants();
  await refreshAssistantChoices();
  await editAssistant(saved.id);
  error.textContent = "";
  $("#assistant-form-error").append(el("span", { class: "ok", text: `Saved ${saved.id}.` }));
}

// ---------------------------------------------------------------- files

const files = { cursor: null };

async function loadFiles(more = false) {
  if (!more) { files.cursor = null; $("#file-list").replaceChildren(); }
  const page = await api.get("/files", { limit: 20, order: "desc", after: files.cursor });
  for (const f of page.data) {
    fileNames.set(f.id, Promise.resolve(f.filename));
    $("#file-list").append(el("tr", { "data-id": f.id },
      el("td", {}, el("a", { href: "#", text: f.filename, onclick: (e) => { e.preventDefault(); return download(f.id); } })),
      el("td", { text: String(f.bytes) }), el("td", { text: f.purpose }), el("td", { text: when(f.created_at) }),
      el("td", {}, jsonButton(() => f), el("button", { type: "button", class: "small danger", onclick: async () => {
        if (!confirm(`Delete ${f.filename}?`)) return;
        await api.del(`/files/${f.id}`);
        await loadFiles();
      } }, "Delete"))));
  }
  files.cursor = page.last_id;
  $("#files-more").hidden = !page.has_more;
}

// Uploads several files at once, a progress bar each; returns the file objects made.
async function uploadMany(list, progressBox) {
  const jobs = [...list].map((file) => {
    const bar = el("progress", { max: 1, value: 0 });
    const status = el("span", { class: "meta", text: "uploading" });
    progressBox.append(el("li", {}, el("span", { text: file.name }), bar, status));
    return uploadFile(file, (p) => { bar.value = p; })
      .then((obj) => { bar.value = 1; status.textContent = `uploaded ${obj.id}`; return obj; },
        (err) => { status.textContent = err.message; status.classList.add("form-error"); return null; });
  });
  const done = (await Promise.all(jobs)).filter(Boolean);
  const failed = jobs.length - done.length;
  if (failed) showError(`${failed} of ${jobs.length} uploads failed: see the messages beside them.`);
  return done;
}

function dropzone(zone, input, onFiles) {
  const take = guard(onFiles);
  input.addEventListener("change", () => { const list = [...input.files]; input.value = ""; if (list.length) take(list); });
  zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (e) => {
    e.preventDefault();
    zone.classList.remove("over");
    if (e.dataTransfer.files.length) take([...e.dataTransfer.files]);
  });
}

// ---------------------------------------------------------------- vector stores

const stores = { cursor: null, current: null, timer: null };

async function loadStores(more = false) {
  if (!more) { stores.cursor = null; $("#vs-list").replaceChildren(); }
  const page = await api.get("/vector_stores", { limit: 20, order: "desc", after: stores.cursor });
  for (const s of page.data) {
    $("#vs-list").append(el("li", { "data-id": s.id, class: stores.current && stores.current.id === s.id ? "selected" : "", onclick: () => openStore(s.id) },
      el("span", { class: "title", text: s.name || s.id }),
      el("span", { class: "meta", text: `${s.file_counts.total} files · ${s.status}` })));
  }
  stores.cursor = page.last_id;
  $("#vs-more").hidden = !page.has_more;
}

async function openStore(id) {
  stores.current = await api.get(`/vector_stores/${id}`);
  for (const li of $$("#vs-list li")) li.classList.toggle("selected", li.dataset.id === id);
  $("#vs-detail").hidden = false;
  $("#vs-title").textContent = stores.current.name || id;
  $("#vs-results").replaceChildren();
  $("#vs-upload-progress").replaceChildren();
  await fillAttachChoices();
  await refreshStore();
}

async function fillAttachChoices() {
  const all = await api.all("/files", { purpose: "assistants" }, 3);
  $("#vs-attach-file").replaceChildren(...all.map((f) => el("option", { value: f.id, text: f.filename })));
}

// The store's counts and each file's status; polled while any file is in progress.
async function refreshStore() {
  clearTimeout(stores.timer);
  const s = stores.current;
  if (!s || $("#view-stores").hidden) return;
  const [store, page] = await Promise.all([api.get(`/vector_stores/${s.id}`), api.all(`/vector_stores/${s.id}/files`, {}, 5)]);
  stores.current = store;
  const c = store.file_counts;
  $("#vs-counts").textContent = `${c.total} files: ${c.completed} completed, ${c.in_progress} in progress, ${c.failed} failed, ${c.cancelled} cancelled · ${store.usage_bytes} bytes`;
  const rows = await Promise.all(page.map(async (f) => el("tr", { "data-id": f.id },
    el("td", { text: await fileName(f.id) }),
    el("td", {}, el("span", { class: `status ${f.status}`, text: f.status })),
    el("td", { class: "form-error", text: f.last_error ? `${f.last_error.code}: ${f.last_error.message}` : "" }),
    el("td", {}, jsonButton(() => f), el("button", { type: "button", class: "small danger", onclick: async () => {
      await api.del(`/vector_stores/${s.id}/files/${f.id}`);
      await refreshStore();
    } }, "Remove")))));
  $("#vs-files").replaceChildren(...rows);
  const item = $(`#vs-list li[data-id="${store.id}"] .meta`);
  if (item) item.textContent = `${c.total} files · ${store.status}`;
  if (c.in_progress > 0) stores.timer = setTimeout(guard(refreshStore), 1000);
}

async function searchStore(e) {
  e.preventDefault();
  const query = $("#vs-query").value.trim();
  if (!query) return;
  const page = await api.post(`/vector_stores/${stores.current.id}/search`, { query });
  const box = $("#vs-results");
  box.replaceChildren(el("div", { class: "meta", text: `${page.data.length} results for “${query}”` }),
    ...page.data.map((r) => el("div", { class: "result" },
      el("div", { class: "result-head" }, el("strong", { text: r.filename }), el("span", { class: "score", text: `score ${Number(r.score).toFixed(3)}` }), jsonButton(() => r)),
      el("pre", { class: "chunk", text: r.content.map((c) => c.text).join("\n") }))));
}

// ---------------------------------------------------------------- wiring

views.chat = async () => { await refreshAssistantChoices(); renderThreadList(); };
views.assistants = async () => { await loadAssistants(); if (!assistants.current) await editAssistant(null); };
views.files = () => loadFiles();
views.stores = async () => { await loadStores(); if (stores.current) await refreshStore(); };

function wire() {
  for (const b of $$("nav [data-view]")) b.addEventListener("click", guard(() => showView(b.dataset.view)));
  $("#error-close").addEventListener("click", hideError);
  $("#raw-toggle").addEventListener("click", () => { if ($("#raw").hidden) showRaw("events"); else hideRaw(); });
  $("#raw-close").addEventListener("click", hideRaw);
  for (const b of $$(".raw-tabs [data-raw]")) b.addEventListener("click", () => showRaw(b.dataset.raw));
  $("#key-form").addEventListener("submit", () => { /* method=dialog closes it */ });
  document.addEventListener("click", (e) => {
    const pop = $("#citation-pop");
    if (!pop.hidden && !pop.contains(e.target) && !e.target.classList.contains("citation")) pop.hidden = true;
  });

  $("#new-thread").addEventListener("click", newThread);
  $("#composer").addEventListener("submit", guard(async (e) => { e.preventDefault(); await send(); }));
  $("#prompt").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); $("#composer").requestSubmit(); }
  });
  $("#stop").addEventListener("click", guard(stop));
  $("#action-form").addEventListener("submit", guard(submitOutputs));
  $("#older-messages").addEventListener("click", guard(loadMessages));
  $("#thread-json").addEventListener("click", () => showJson(chat.thread));
  $("#run-json").addEventListener("click", () => showJson(chat.response || chat.run));
  $("#chat-api").value = localStorage.getItem(API_MODE_KEY) === "responses" ? "responses" : "assistants";
  $("#chat-api").addEventListener("change", () => {
    localStorage.setItem(API_MODE_KEY, apiMode());
    showApiMode();
  });
  showApiMode();

  $("#assistant-new").addEventListener("click", guard(() => editAssistant(null)));
  $("#assistants-more").addEventListener("click", guard(() => loadAssistants(true)));
  $("#assistant-form").addEventListener("submit", guard(saveAssistant));
  $("#a-add-function").addEventListener("click", () => $("#a-functions").append(functionEditor()));
  $("#a-format").addEventListener("change", () => { $("#a-format-schema").hidden = $("#a-format").value !== "json_schema"; });
  $("#assistant-json").addEventListener("click", () => showJson(assistants.current));
  $("#assistant-delete").addEventListener("click", guard(async () => {
    const a = assistants.current;
    if (!a || !confirm(`Delete ${a.name || a.id}?`)) return;
    await api.del(`/assistants/${a.id}`);
    assistants.current = null;
    await loadAssistants();
    await editAssistant(null);
  }));
  $("#assistant-chat").addEventListener("click", guard(async () => {
    const id = assistants.current.id;
    await showView("chat");
    $("#chat-assistant").value = id;
    newThread();
  }));

  dropzone($("#dropzone"), $("#file-input"), async (list) => {
    await uploadMany(list, $("#upload-progress"));
    await loadFiles();
  });
  $("#files-more").addEventListener("click", guard(() => loadFiles(true)));

  $("#vs-create").addEventListener("submit", guard(async (e) => {
    e.preventDefault();
    const store = await api.post("/vector_stores", { name: $("#vs-name").value.trim() || undefined });
    $("#vs-name").value = "";
    await loadStores();
    await openStore(store.id);
  }));
  $("#vs-more").addEventListener("click", guard(() => loadStores(true)));
  $("#vs-json").addEventListener("click", () => showJson(stores.current));
  $("#vs-delete").addEventListener("click", guard(async () => {
    if (!confirm("Delete this vector store? (its files stay uploaded)")) return;
    await api.del(`/vector_stores/${stores.current.id}`);
    stores.current = null;
    $("#vs-detail").hidden = true;
    await loadStores();
  }));
  dropzone($("#vs-dropzone"), $("#vs-file-input"), async (list) => {
    const made = await uploadMany(list, $("#vs-upload-progress"));
    for (const f of made) await api.post(`/vector_stores/${stores.current.id}/files`, { file_id: f.id });
    await loadStores();
    await fillAttachChoices();
    await refreshStore();
  });
  $("#vs-attach").addEventListener("click", guard(async () => {
    const id = $("#vs-attach-file").value;
    if (!id) throw new Error("Upload a file first (Files tab, or drop it above).");
    await api.post(`/vector_stores/${stores.current.id}/files`, { file_id: id });
    await refreshStore();
  }));
  $("#vs-search").addEventListener("submit", guard(searchStore));
}

window.addEventListener("unhandledrejection", (e) => { showError(e.reason); });
document.addEventListener("DOMContentLoaded", guard(async () => {
  wire();
  await showView("chat");
  document.body.dataset.ready = "1"; // for the browser tests: the first view is loaded
}));
