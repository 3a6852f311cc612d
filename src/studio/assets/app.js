// fluxo studio: renders the state the server sends over server-sent events and posts what the
// person does. No framework, no build step.

const $ = (id) => document.getElementById(id);
let state = null;
let zoom = 1;

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined) continue;
    e.append(typeof c === "string" ? document.createTextNode(c) : c);
  }
  return e;
}

function notice(text, kind = "error") {
  const n = $("notice");
  n.textContent = text || "";
  n.className = kind;
}

async function post(path, body = {}) {
  try {
    const r = await fetch(path, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
      credentials: "same-origin",
    });
    if (!r.ok) {
      const e = await r.json().catch(() => ({ error: r.statusText }));
      notice(e.error || r.statusText);
      return false;
    }
    return true;
  } catch (e) {
    notice(String(e));
    return false;
  }
}

const command = (c) => post("/api/command", c);

function time(ms) {
  if (ms === null || ms === undefined) return "";
  return new Date(ms).toISOString().replace(".000Z", "Z");
}

function countdown(deadline, clock) {
  const s = Math.round((deadline - clock) / 1000);
  if (s <= 0) return "due now";
  const m = Math.floor(s / 60), r = s % 60;
  return m ? `in ${m} min ${r} s` : `in ${s} s`;
}

function nodeLink(node) {
  if (!node) return null;
  return el("a", { href: "#", "data-goto-node": node, title: `sent by node ${node}`, onclick: (ev) => { ev.preventDefault(); showNode(node); } }, `⟶ ${node}`);
}

function bubble(item) {
  if (item.kind === "picked") return el("div", { class: "bubble event" }, `picked: ${item.text}`);
  if (item.kind === "notice") return el("div", { class: "bubble event" }, item.text);
  if (item.kind === "warning") return el("div", { class: "bubble error" }, `warning: ${item.text}`);
  if (item.kind === "input_mask") return null;
  if (item.kind === "options") return null;
  if (item.kind !== "output") return null;
  const o = item.output;
  switch (o.type) {
    case "message": {
      const who = o.from || "bot";
      let text = o.text;
      if (text === null || text === undefined) {
        const m = o.message || {};
        text = m.title || m.text || (m.response_type ? `[${m.response_type}]` : JSON.stringify(m));
      }
      const label = who === "agent" ? `${o.agent || "agent"}: ` : who === "system" ? "system: " : "";
      return el("div", { class: `bubble ${who}`, "data-from": who }, label + text, who === "bot" ? nodeLink(o.node || item.node) : null);
    }
    case "handoff_requested":
      return el("div", { class: "bubble event" }, `[hand-over → ${o.provider} (integration ${o.integration_id})] ${o.request.method} ${o.request.url}`);
    case "representative_joined":
      return el("div", { class: "bubble event" }, `[${o.name} joined the chat]`);
    case "representative_left":
      return el("div", { class: "bubble event" }, `[${o.name} left the chat]`);
    case "live_chat_closed":
      return el("div", { class: "bubble event", "data-status": o.status }, `[live chat closed: ${o.status}${o.reason ? " — " + o.reason : ""}]`);
    case "relay_to_agent":
      return el("div", { class: "bubble event" }, `→ to the agent: ${o.text}`);
    case "action_requested":
      return el("div", { class: "bubble event" }, `[the bot waits for action ${o.name} (${o.id})]`);
    case "file":
      return el("div", { class: "bubble bot" }, el("a", { href: o.url, rel: "noreferrer" }, o.name || o.url));
    case "typing":
      return o.typing ? el("div", { class: "bubble event" }, `${o.from} is typing…`) : null;
    case "error":
      return el("div", { class: "bubble error" }, `error[${o.code}]: ${o.message}`);
    default:
      return null;
  }
}

// A workspace's reading of a message: intents and entities with confidences, nodes visited.
function understood(u) {
  const conf = (c) => (typeof c === "number" ? c.toFixed(2) : "?");
  const intents = (u.intents || []).map((i) => `#${i.intent} ${conf(i.confidence)}`);
  const entities = (u.entities || []).map((e) => `@${e.entity}:${e.value} ${conf(e.confidence)}`);
  return el("div", { class: "bubble nlu", "data-understood": "" },
    el("span", {}, `intents: ${intents.length ? intents.join(", ") : "(none)"}`),
    el("span", {}, ` · entities: ${entities.length ? entities.join(", ") : "(none)"}`),
    el("span", {}, ` · nodes_visited: ${(u.nodes_visited || []).join(" → ") || "(none)"}`));
}

function renderFiles(s) {
  const ul = $("files");
  ul.replaceChildren(...s.files.map((f) => {
    const open = s.open && s.open.path === f.path;
    const b = el("button", { type: "button", "aria-current": open ? "page" : null, disabled: f.kind === "flow" || f.kind === "workspace" ? null : true,
      onclick: async () => { if (await post("/api/open", { path: f.path })) notice(""); } },
      `${f.path} `, el("span", { class: `count${f.findings ? "" : " zero"}`, title: "lint findings" }, `${f.kind} · ${f.findings}`));
    return el("li", {}, b);
  }));
}

function renderConversation(o) {
  const log = $("conversation");
  const items = [];
  for (const t of o.turns) {
    if (t.said !== null && t.said !== undefined) items.push(el("div", { class: "bubble user", "data-from": "user" }, t.said));
    if (t.understood) items.push(understood(t.understood));
    for (const i of t.items) {
      const b = bubble(i);
      if (b) items.push(b);
    }
  }
  log.replaceChildren(...items);
  log.scrollTop = log.scrollHeight;
  const snap = o.snapshot;
  $("options").replaceChildren(...snap.options.map((c) =>
    el("button", { type: "button", onclick: () => command({ command: "pick", number: c.number }) }, `${c.number}. ${c.label}`)));
  const last = o.turns[o.turns.length - 1];
  const mask = last && last.items.find((i) => i.kind === "input_mask");
  $("mask").textContent = mask ? `input mask: ${mask.mask}` : "";
}

function renderDesk(o) {
  const chat = o.snapshot.live_chat;
  $("desk").hidden = !(chat || o.request);
  $("desk-status").textContent = chat
    ? `${chat.provider} · integration ${chat.integration_id} · ${chat.phase}${chat.agents.length ? " · agents: " + chat.agents.join(", ") : ""}`
    : "no live chat open";
  $("wire-request").textContent = o.request ? JSON.stringify(o.request, null, 2) : "no hand-over yet";
}

function renderClock(o) {
  const s = o.snapshot;
  $("clock").textContent = `virtual time: ${time(s.clock)}`;
  const d = [];
  const chat = s.live_chat;
  if (chat && chat.wait_deadline) d.push(el("li", {}, `wait for an agent times out ${countdown(chat.wait_deadline, s.clock)}`));
  if (chat && chat.inactivity_deadline) d.push(el("li", {}, `customer inactivity ends the chat ${countdown(chat.inactivity_deadline, s.clock)}`));
  if (s.next_deadline && !d.length) d.push(el("li", {}, `next timer ${countdown(s.next_deadline, s.clock)}`));
  if (!d.length) d.push(el("li", {}, "no deadline pending"));
  $("deadlines").replaceChildren(...d);
  $("advance-next").disabled = !s.next_deadline;
}

function renderVars(o) {
  const s = o.snapshot;
  const changed = new Set(o.changed);
  const rows = [];
  const group = (name, obj) => {
    for (const [k, v] of Object.entries(obj || {})) {
      const key = `${name}.${k}`;
      const c = changed.has(key);
      rows.push(el("dt", { class: c ? "changed" : null, title: "click to edit", onclick: () => { $("set-name").value = key; $("set-value").value = JSON.stringify(v); $("set-value").focus(); } }, key, c ? " (changed)" : ""));
      rows.push(el("dd", { class: c ? "changed" : null, "data-key": key }, JSON.stringify(v)));
    }
  };
  group("context", s.context);
  group("contact", s.contact);
  rows.push(el("dt", {}, "focus"), el("dd", {}, s.focus || "(none)"));
  if (o.start_node) rows.push(el("dt", {}, "started at"), el("dd", {}, o.start_node));
  rows.push(el("dt", {}, "live chat"), el("dd", {}, s.live_chat ? s.live_chat.phase : "none"));
  if (s.awaiting_action) rows.push(el("dt", {}, "awaiting action"), el("dd", {}, `${s.awaiting_action.name} (${s.awaiting_action.id})`));
  $("vars").replaceChildren(el("dl", {}, rows));
}

function renderProblems(o) {
  const list = o.problems.length
    ? o.problems.map((p) => el("li", { class: p.severity }, `${p.line}:${p.column} ${p.severity} [${p.code}] ${p.message}`))
    : [el("li", {}, "no problems")];
  $("problem-list").replaceChildren(...list);
}

function renderGraph(o) {
  const g = $("graph");
  g.innerHTML = o.graph;
  const svg = g.querySelector("svg");
  if (svg) {
    svg.style.transformOrigin = "0 0";
    applyZoom();
  }
  for (const n of g.querySelectorAll("[data-node-id]")) {
    n.addEventListener("click", () => showNode(n.dataset.nodeId));
    n.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); showNode(n.dataset.nodeId); } });
  }
  search();
  const cur = g.querySelector('[aria-current="step"]');
  if (cur && cur.scrollIntoView) cur.scrollIntoView({ block: "nearest", inline: "nearest" });
}

function applyZoom() {
  const svg = $("graph").querySelector("svg");
  if (!svg) return;
  const w = Number(svg.getAttribute("width")), h = Number(svg.getAttribute("height"));
  svg.style.width = `${w * zoom}px`;
  svg.style.height = `${h * zoom}px`;
}

function search() {
  const q = $("graph-search").value.trim().toLowerCase();
  let first = null;
  for (const n of $("graph").querySelectorAll("[data-node-id]")) {
    const hit = q && (n.dataset.nodeId.toLowerCase().includes(q) || (n.getAttribute("aria-label") || "").toLowerCase().includes(q));
    n.classList.toggle("match", !!hit);
    if (hit && !first) first = n;
  }
  return first;
}

async function showNode(id) {
  const r = await fetch(`/api/node?id=${encodeURIComponent(id)}`, { credentials: "same-origin" });
  if (!r.ok) return;
  const n = await r.json();
  $("node-source").hidden = false;
  $("node-title").textContent = `node ${n.id}`;
  $("node-source").dataset.nodeId = n.id;
  $("start-here").hidden = !(state && state.open && state.open.kind === "flow");
  $("node-findings").replaceChildren(...n.findings.map((f) => el("li", { class: f.severity }, `${f.line}:${f.column} [${f.code}] ${f.message}`)));
  $("node-lines").textContent = n.lines.map((l) => `${String(l.line).padStart(5)}  ${l.text}`).join("\n");
}

function renderTimeline(o) {
  $("timeline").replaceChildren(...o.turns.map((t, i) =>
    el("li", {},
      el("details", {},
        el("summary", {}, `${i}. ${t.did} (${t.items.length} items)`),
        el("pre", {}, t.items.map((x) => JSON.stringify(x)).join("\n"))),
      el("button", { type: "button", "aria-label": `Rewind to turn ${i}`, onclick: () => post("/api/rewind", { turn: i }) }, "Rewind here"))));
}

function renderTests(s) {
  const box = $("test-results");
  const t = s.tests;
  if (!t) { box.replaceChildren(); return; }
  const parts = [el("p", { class: t.failed ? "fail" : "pass" }, `${t.passed} passed, ${t.failed} failed`)];
  const ul = el("ul");
  for (const f of t.files) {
    if (f.error) ul.append(el("li", { class: "fail" }, `${f.path}: ${f.error}`));
    for (const c of f.conversations) {
      const li = el("li", { class: c.passed ? "pass" : "fail" }, `${c.passed ? "ok" : "FAIL"} ${f.path.split("/").pop()} › ${c.name}`);
      if (c.failures.length || c.diff_html) {
        const why = el("details", { open: true }, el("summary", {}, "why"));
        if (c.failures.length) why.append(el("pre", {}, c.failures.join("\n\n")));
        if (c.diff_html) {
          // Rendered and escaped by the server, with the same template as `fluxo test --report html`.
          const d = el("div", { class: "golden-diff", role: "region", "aria-label": `Golden diff of ${c.name}` });
          d.innerHTML = c.diff_html;
          why.append(d);
        }
        li.append(why);
      }
      ul.append(li);
    }
  }
  parts.push(ul);
  const u = s.open && s.open.uncovered;
  if (u) {
    const never = [...u.close_statuses.map((x) => `close status ${x}`), ...u.edges.map((x) => `edge ${x}`), ...u.nodes.map((x) => `node ${x}`)];
    parts.push(el("p", {}, never.length ? `never reached by the tests (red on the graph): ${never.join("; ")}` : "the tests reach every node, edge and close status of this file"));
  }
  box.replaceChildren(...parts);
}

function render(s) {
  state = s;
  renderFiles(s);
  renderTests(s);
  if (s.notice) notice(s.notice.text, s.notice.kind);
  else notice("");
  const o = s.open;
  $("open-path").textContent = o ? `${o.path} (${o.kind})` : "nothing open";
  if (!o) return;
  renderConversation(o);
  renderDesk(o);
  renderClock(o);
  renderVars(o);
  renderProblems(o);
  renderGraph(o);
  renderTimeline(o);
  document.body.dataset.turns = String(o.turns.length);
}

function onSubmit(id, f) {
  $(id).addEventListener("submit", (e) => { e.preventDefault(); f(); });
}

function wire() {
  onSubmit("say-form", async () => {
    const text = $("message").value;
    if (!text.trim()) return;
    if (await post("/api/say", { text })) $("message").value = "";
  });
  onSubmit("join-form", () => command({ command: "agent_join", name: $("agent-name").value.trim() || "agent" }));
  onSubmit("agent-form", async () => {
    const text = $("agent-message").value;
    if (!text.trim()) return;
    if (await command({ command: "agent_say", text })) $("agent-message").value = "";
  });
  onSubmit("transfer-form", () => command({ command: "agent_transfer", to: $("transfer-to").value.trim() }));
  onSubmit("advance-form", () => post("/api/advance", { by: $("advance-by").value }));
  onSubmit("save-form", () => post("/api/save", { name: $("test-name").value }));
  $("agent-close").addEventListener("click", () => command({ command: "agent_close" }));
  $("user-close").addEventListener("click", () => command({ command: "user_close" }));
  $("provider-opened").addEventListener("click", () => command({ command: "provider_opened", remote_id: "conv-1" }));
  $("provider-error").addEventListener("click", () => command({ command: "provider_error", message: "simulated provider error" }));
  $("restart").addEventListener("click", () => post("/api/restart"));
  $("run-tests").addEventListener("click", () => post("/api/tests/run"));
  $("advance-next").addEventListener("click", () => post("/api/advance", { to: "next_deadline" }));
  onSubmit("set-form", async () => {
    const name = $("set-name").value.trim();
    const dot = name.indexOf(".");
    const scope = name.slice(0, dot), key = name.slice(dot + 1);
    if (dot < 1 || !key || (scope !== "context" && scope !== "contact")) {
      notice("name the variable as context.NAME or contact.NAME");
      return;
    }
    const raw = $("set-value").value;
    let value;
    try { value = JSON.parse(raw); } catch { value = raw; }
    if (await command({ command: "set", [scope]: { [key]: value } })) $("set-value").value = "";
  });
  $("start-here").addEventListener("click", () => {
    const id = $("node-source").dataset.nodeId;
    if (id) post("/api/start", { node: id });
  });
  $("graph-search").addEventListener("input", () => {
    const hit = search();
    if (hit && hit.scrollIntoView) hit.scrollIntoView({ block: "center", inline: "center" });
  });
  $("zoom-in").addEventListener("click", () => { zoom = Math.min(3, zoom * 1.25); applyZoom(); });
  $("zoom-out").addEventListener("click", () => { zoom = Math.max(0.1, zoom / 1.25); applyZoom(); });
  const events = new EventSource("/api/events");
  events.addEventListener("state", (e) => render(JSON.parse(e.data)));
  events.onerror = () => notice("lost the connection to fluxo studio; it reconnects by itself");
}

wire();
