# Cross-replica latency of the SSE stream: replica A on :18601 takes the events, replica B on
# :18602 streams them (both `fluxo serve --flows contador.json --store postgres://...`, where
# contador.json is a flow whose start node says one message and waits for input).
# Prints: n, median, p90, max in milliseconds from the answer on A to the output on B.
import http.client, json, time, threading, statistics
def post(conv, ev):
    c=http.client.HTTPConnection("127.0.0.1",18601); c.request("POST",f"/v1/bots/contador/conversations/{conv}/events",json.dumps(ev),{"content-type":"application/json"}); r=c.getresponse(); return json.loads(r.read())
lat=[]
for i in range(40):
    conv=f"m{i}"
    post(conv,{"type":"start"})
    c=http.client.HTTPConnection("127.0.0.1",18602); c.request("GET",f"/v1/bots/contador/conversations/{conv}/stream",headers={"last-event-id":"3"}); r=c.getresponse()
    time.sleep(0.05 + (i%10)*0.037)
    t0=time.monotonic(); post(conv,{"type":"user","text":"x"}); t1=time.monotonic()
    buf=b""
    while b"event: output" not in buf: buf+=r.fp.read1(4096)
    lat.append((time.monotonic()-t1)*1000)
    c.close()
lat.sort()
print(f"n={len(lat)} median={statistics.median(lat):.0f}ms p90={lat[int(len(lat)*0.9)]:.0f}ms max={lat[-1]:.0f}ms")
