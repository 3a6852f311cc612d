#!/usr/bin/env python3
"""fluxo studio figures for docs/benchmarks.md: start-up time, the latency from a command to
the page's update, and the time to draw a 1,000-node flow in headless Chromium.

Usage: python3 benches/studio.py [FLUXO_BINARY]   (default target/release/fluxo)
Needs chromium and chromedriver (Debian: apt-get install chromium chromium-driver).
Python standard library only. A measurement, not a test: nothing here passes or fails.
"""
import json, os, shutil, socket, statistics, subprocess, sys, tempfile, time, urllib.request

FLUXO = sys.argv[1] if len(sys.argv) > 1 else "target/release/fluxo"
N = 1000


def flow(n):
    nodes = [{"id": "n0", "name": "Início", "condition": "start",
              "output": [{"default": {"type": "text", "text": "Olá! Digite algo."}}],
              "input": {"default": {"type": "text_input"}},
              "next": [{"condition": "input.text == 'x'", "goto": "n7"}, {"goto": "n1"}]}]
    for i in range(1, n):
        nxt = [] if i == n - 1 else [{"condition": f"input.text == '{i}'", "goto": f"n{min(n - 1, i + 7)}"}, {"goto": f"n{i + 1}"}]
        node = {"id": f"n{i}", "name": f"Passo {i}", "output": [{"default": {"type": "text", "text": f"Passo {i}."}}], "next": nxt}
        if i % 3 == 0:
            node["input"] = {"default": {"type": "text_input"}}
        nodes.append(node)
    return {"name": "mil", "nodes": nodes}


def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p


def req(method, url, body=None, cookie=None):
    r = urllib.request.Request(url, method=method, data=None if body is None else json.dumps(body).encode())
    if body is not None:
        r.add_header("Content-Type", "application/json")
    if cookie:
        r.add_header("Cookie", cookie)
    with urllib.request.urlopen(r) as f:
        return json.loads(f.read() or b"null")


def main():
    d = tempfile.mkdtemp(prefix="fluxo-studio-bench-")
    with open(os.path.join(d, "mil.json"), "w") as f:
        json.dump(flow(N), f, indent=2)
    t0 = time.perf_counter()
    p = subprocess.Popen([FLUXO, "studio", d, "--no-open", "--clock", "2026-11-23T14:00:00Z"], stdout=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    startup = time.perf_counter() - t0
    url = line.split()[-1]
    base, token = url.split("/?token=")
    cookie = f"fluxo_studio={token}"
    driver = None
    try:
        state = req("GET", base + "/api/state", cookie=cookie)
        svg_kib = len(state["open"]["graph"]) / 1024
        state_kib = len(json.dumps(state)) / 1024
        # A command to the state event that carries its result, over the server-sent events.
        host, port = base[len("http://"):].split(":")
        sse = socket.create_connection((host, int(port)))
        sse.sendall(f"GET /api/events HTTP/1.1\r\nHost: {host}:{port}\r\nCookie: {cookie}\r\nAccept: text/event-stream\r\n\r\n".encode())
        buf = b""
        def next_event():
            nonlocal buf
            while b"\n\n" not in buf.split(b"event: state", 1)[-1] or b"event: state" not in buf:
                buf += sse.recv(1 << 20)
            head, _, rest = buf.partition(b"event: state")
            ev, _, buf = rest.partition(b"\n\n")
            return ev
        next_event()
        server = []
        for i in range(20):
            t = time.perf_counter()
            req("POST", base + "/api/say", {"text": "a"}, cookie)
            next_event()
            server.append((time.perf_counter() - t) * 1000)
        sse.close()
        # Chromium: the click-to-update latency and the time to draw the graph.
        cd_port = free_port()
        driver = subprocess.Popen(["chromedriver", f"--port={cd_port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wd = f"http://127.0.0.1:{cd_port}"
        for _ in range(100):
            try:
                req("GET", wd + "/status"); break
            except Exception:
                time.sleep(0.1)
        profile = tempfile.mkdtemp(prefix="fluxo-bench-chromium-")
        caps = {"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": {"binary": shutil.which("chromium") or "/usr/bin/chromium", "args": [
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage", "--window-size=1400,1900", f"--user-data-dir={profile}"]}}}}
        sid = req("POST", wd + "/session", caps)["value"]["sessionId"]
        s = f"{wd}/session/{sid}"
        req("POST", s + "/url", {"url": url})
        for _ in range(200):
            if req("POST", s + "/execute/sync", {"script": "return document.querySelectorAll('[data-node-id]').length", "args": []})["value"] >= N:
                break
            time.sleep(0.05)
        draw = []
        for _ in range(10):
            draw.append(req("POST", s + "/execute/async", {"args": [], "script": """
              const done = arguments[0];
              fetch('/api/state').then(r => r.json()).then(st => {
                const g = document.getElementById('graph');
                const t = performance.now();
                g.innerHTML = st.open.graph;
                g.getBoundingClientRect();
                requestAnimationFrame(() => requestAnimationFrame(() => done(performance.now() - t)));
              });"""})["value"])
        click = []
        for _ in range(20):
            click.append(req("POST", s + "/execute/async", {"args": [], "script": """
              const done = arguments[0];
              const before = document.body.dataset.turns;
              const t = performance.now();
              const ob = new MutationObserver(() => {
                if (document.body.dataset.turns !== before) { ob.disconnect(); requestAnimationFrame(() => done(performance.now() - t)); }
              });
              ob.observe(document.body, { attributes: true });
              document.getElementById('message').value = 'a';
              document.getElementById('send').click();"""})["value"])
        req("DELETE", s)
        med = statistics.median
        print(f"flow: {N} nodes; state document {state_kib:.0f} KiB, of which the graph's SVG {svg_kib:.0f} KiB")
        print(f"start-up (spawn to URL printed, files linted, flow loaded): {startup * 1000:.0f} ms")
        print(f"command to its state event (POST /api/say, server-sent event read), median of 20: {med(server):.1f} ms")
        print(f"click on Send to the page updated (Chromium), median of 20: {med(click):.1f} ms")
        print(f"draw the {N}-node graph (Chromium: parse SVG, layout, two frames), median of 10: {med(draw):.1f} ms")
    finally:
        p.kill()
        if driver:
            driver.kill()
        shutil.rmtree(d, ignore_errors=True)


main()
