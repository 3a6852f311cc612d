// The reference web chat of `fluxo serve --webchat`: it sends the user's events with
// `POST …/events` and shows every output from the conversation's `EventSource` stream, so
// what an agent, a timer or another replica says appears without a reload. Inputs are drawn
// from `awaiting_input` alone. Text is only ever set with `textContent`.
"use strict";
(function () {
  const q = new URLSearchParams(location.search);
  const random = () => (crypto.randomUUID ? crypto.randomUUID()
    : Date.now().toString(36) + Math.random().toString(36).slice(2));
  const log = document.getElementById("log");
  const choices = document.getElementById("choices");
  const hint = document.getElementById("hint");
  const box = document.getElementById("message");
  const state = document.getElementById("state");
  let bot = q.get("bot");
  const conversation = q.get("conversation") || "web-" + random();
  let base = "";
  let last = 0;

  function line(cls, text) {
    const d = document.createElement("div");
    d.className = cls;
    d.textContent = text;
    log.appendChild(d);
    log.scrollTop = log.scrollHeight;
  }

  async function send(event) {
    try {
      const r = await fetch(base + "/events", {
        method: "POST",
        headers: { "content-type": "application/json", "idempotency-key": random() },
        body: JSON.stringify(event),
      });
      if (!r.ok) {
        const body = await r.json().catch(() => ({}));
        line("status", "refused: " + ((body.error && body.error.message) || r.status));
      }
    } catch (e) {
      line("status", "not sent: " + e);
    }
  }

  function say(text) {
    if (!text) return;
    line("m user", text);
    choices.replaceChildren();
    hint.textContent = "";
    send({ type: "user", text: text });
  }

  // An `awaiting_input`'s `input`: option buttons (with their numbers when a bare number
  // answers them), the mask's hint, a date picker within the bounds, the file types.
  function draw(input) {
    choices.replaceChildren();
    const notes = [];
    box.type = "text";
    box.removeAttribute("min");
    box.removeAttribute("max");
    if (!input) { hint.textContent = ""; return; }
    (input.options || []).forEach((o) => {
      const b = document.createElement("button");
      b.type = "button";
      b.textContent = input.numbered ? o.number + ". " + o.title : o.title;
      b.addEventListener("click", () => say(input.numbered ? String(o.number) : o.title));
      choices.appendChild(b);
    });
    if (input.numbered) notes.push("type an option's number");
    if (input.multiple) notes.push("several options separated by commas");
    if (input.type === "date") {
      box.type = "date";
      if (input.min) box.min = input.min;
      if (input.max) box.max = input.max;
      if (input.min || input.max) notes.push("a date from " + (input.min || "any day") + " to " + (input.max || "any day"));
      if (input.weekends === false) notes.push("no weekends");
    } else if (input.accepts) {
      notes.push(input.accepts);
    }
    if (input.mask) box.placeholder = input.mask; else box.placeholder = "";
    if (input.file_types && input.file_types.length) notes.push("files: " + input.file_types.join(", ") + (input.max_file_size ? " up to " + input.max_file_size : ""));
    if (input.tries_left !== undefined) notes.push(input.tries_left + " tries left");
    hint.textContent = notes.join(" · ");
  }

  function show(o) {
    if (typeof o.seq === "number") {
      if (o.seq <= last) return;
      last = o.seq;
    }
    switch (o.type) {
      case "message":
        line("m " + (o.from || "bot"), o.text !== undefined ? o.text
          : (o.message && (o.message.text || o.message.title)) || JSON.stringify(o.message || {}));
        break;
      case "awaiting_input": draw(o.input); break;
      case "handoff_requested": line("status", "connecting you to an agent…"); break;
      case "representative_joined": line("status", o.name + " joined"); break;
      case "representative_left": line("status", o.name + " left"); break;
      case "live_chat_closed": line("status", "the live chat ended (" + o.status + ")"); break;
      case "typing": if (o.from === "agent") state.textContent = o.typing ? "typing…" : ""; break;
      case "file": if (o.from === "agent") line("m agent", (o.name || "file") + ": " + o.url); break;
      case "error": line("status", "error: " + o.message); break;
      default: break;
    }
  }

  function listen() {
    const es = new EventSource(base + "/stream?after=" + last);
    es.addEventListener("output", (e) => {
      try { show(JSON.parse(e.data)); } catch (err) { line("status", "unreadable output"); }
    });
    es.onopen = () => { state.textContent = "connected"; };
    // The browser reconnects by itself, with `Last-Event-ID`: nothing is lost or repeated.
    es.onerror = () => { state.textContent = "reconnecting…"; };
  }

  async function begin() {
    if (!bot) {
      const bots = await fetch("webchat/bots").then((r) => r.json()).catch(() => []);
      bot = bots[0];
    }
    if (!bot) { line("status", "no bot is served"); return; }
    document.getElementById("who").textContent = bot + " · " + conversation;
    base = "v1/bots/" + encodeURIComponent(bot) + "/conversations/" + encodeURIComponent(conversation);
    const known = await fetch(base).then((r) => r.status).catch(() => 0);
    listen();
    if (known === 404) await send({ type: "start", channel: "Widget" });
  }

  document.getElementById("form").addEventListener("submit", (e) => {
    e.preventDefault();
    const t = box.value.trim();
    box.value = "";
    say(t);
  });
  begin();
})();
