#!/usr/bin/env python3
"""Watson figures for docs/benchmarks.md: the cost of one `fluxo watson message` turn (a
process per turn, as a shell script calls it), turns per second through `fluxo serve` (one
keep-alive connection, the context of each answer sent back), and how the cost of a turn grows
with the context a client carries.

Usage, from the project root, on the release build:
    cargo build --release && python3 benches/watson.py WORKSPACE.json [TURNS]
"""
import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

FLUXO = os.environ.get("FLUXO", "target/release/fluxo")
workspace = sys.argv[1]
turns = int(sys.argv[2]) if len(sys.argv) > 2 else 200
texts = ["hello", "what can you do", "I want to eat something healthy", "yes", "no",
         "I had a salad for lunch", "thanks", "bye"]


def cli_turn(request):
    out = subprocess.run([FLUXO, "watson", "message", workspace], input=json.dumps(request),
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


# 1. A process per turn.
n = min(turns, 50)
context = None
start = time.perf_counter()
for i in range(n):
    r = cli_turn({"input": {"text": texts[i % len(texts)]}, "context": context})
    context = r["context"]
cli = (time.perf_counter() - start) / n
print("fluxo watson message: %.1f ms per turn (process start, workspace load and turn), %d turns"
      % (cli * 1000, n))

# 2. Through fluxo serve.
scratch = tempfile.mkdtemp()
name = "ws"
shutil.copy(workspace, os.path.join(scratch, name + ".json"))
serve = subprocess.Popen([FLUXO, "serve", "--listen", "127.0.0.1:0", "--store", "memory:",
                          "--flows", scratch], stderr=subprocess.PIPE, text=True)
try:
    addr = None
    for line in serve.stderr:
        if " on http://" in line:
            addr = line.split(" on http://")[1].split()[0]
            break
    host, port = addr.rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port))

    def turn(request):
        conn.request("POST", "/v1/workspaces/%s/message" % name, json.dumps(request),
                     {"content-type": "application/json"})
        resp = conn.getresponse()
        body = resp.read()
        assert resp.status == 200, body
        return json.loads(body)

    def run(k, extra):
        context = None
        start = time.perf_counter()
        for i in range(k):
            if context is not None and extra is not None:
                context["client_data"] = extra
            r = turn({"input": {"text": texts[i % len(texts)]}, "context": context})
            context = r["context"]
        return (time.perf_counter() - start) / k

    run(20, None)  # warm-up
    per = run(turns, None)
    print("fluxo serve: %.2f ms per turn, %.0f turns/s (one connection, %d turns)"
          % (per * 1000, 1 / per, turns))
    for size in [1_000, 10_000, 100_000, 500_000]:
        extra = ["x" * 90 for _ in range(size // 100)]
        per = run(max(turns // 4, 20), extra)
        print("  context carrying %7d bytes of client data: %.2f ms per turn" % (size, per * 1000))
finally:
    serve.terminate()
    serve.wait()
    shutil.rmtree(scratch)
