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
import platform
import resource
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


def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def process_cpu(pid):
    """User plus system CPU seconds of a running process: the sum over its threads of the
    nanoseconds the scheduler counts (`/proc/PID/task/*/schedstat`), finer than the clock ticks
    of `/proc/PID/stat`."""
    total = 0
    for task in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/schedstat" % (pid, task)) as f:
                total += int(f.read().split()[0])
        except (FileNotFoundError, ProcessLookupError):
            pass  # a thread that ended between the listing and the read
    return total / 1e9


print("date: %s" % time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()))
print("machine: %d cores, %s; load %s" % (os.cpu_count(), platform.machine(),
                                         " ".join(open("/proc/loadavg").read().split()[:3])))
print("workspace: %s, %d bytes" % (os.path.basename(workspace), os.path.getsize(workspace)))

# 1. A process per turn.
n = min(turns, 50)
context = None
start, cpu0 = time.perf_counter(), children_cpu()
for i in range(n):
    r = cli_turn({"input": {"text": texts[i % len(texts)]}, "context": context})
    context = r["context"]
cli = (time.perf_counter() - start) / n
cli_cpu = (children_cpu() - cpu0) / n
print("fluxo watson message: %.1f ms CPU, %.1f ms wall per turn (process start, workspace load"
      " and turn), %d turns" % (cli_cpu * 1000, cli * 1000, n))

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
        start, cpu0 = time.perf_counter(), process_cpu(serve.pid)
        for i in range(k):
            if context is not None and extra is not None:
                context["client_data"] = extra
            r = turn({"input": {"text": texts[i % len(texts)]}, "context": context})
            context = r["context"]
        return (time.perf_counter() - start) / k, (process_cpu(serve.pid) - cpu0) / k

    run(20, None)  # warm-up
    per, cpu = run(turns, None)
    print("fluxo serve: %.2f ms wall per turn, %.0f turns/s (one connection, %d turns);"
          " server CPU %.2f ms per turn" % (per * 1000, 1 / per, turns, cpu * 1000))
    for size in [1_000, 10_000, 100_000, 500_000]:
        extra = ["x" * 90 for _ in range(size // 100)]
        per, cpu = run(max(turns // 4, 20), extra)
        print("  context carrying %7d bytes of client data: %.2f ms wall, server CPU %.2f ms"
              " per turn" % (size, per * 1000, cpu * 1000))
finally:
    serve.terminate()
    serve.wait()
    shutil.rmtree(scratch)
