#!/usr/bin/env python3
"""The registry's floor for a registration phase: the fastest plain concurrent requests go.

    bench/registry_floor.py URL MESH_REPO [IN_FLIGHT ...]

Registers every `.avsc` file under MESH_REPO (the same schema texts `mesh apply` registers)
under new subjects `floor-<run>-<i>-value` of the Confluent-compatible registry at URL
(for example http://127.0.0.1:18081/apis/ccompat/v7), with IN_FLIGHT keep-alive connections
(default 16), one run per value, and prints registrations per second. Python's standard
library only, so the figure owes nothing to mesh's HTTP client. docs/benchmarks.md compares it
with the rate `mesh apply` prints for its schemas phase on the same registry.
"""
import glob
import http.client
import json
import queue
import sys
import threading
import time
import urllib.parse


def run(url, texts, in_flight, tag):
    parts = urllib.parse.urlsplit(url)
    work = queue.Queue()
    for i, text in enumerate(texts):
        work.put((f"floor-{tag}-{i}-value", text))
    statuses = {}
    lock = threading.Lock()

    def worker():
        conn = http.client.HTTPConnection(parts.hostname, parts.port)
        while True:
            try:
                subject, text = work.get_nowait()
            except queue.Empty:
                return
            conn.request(
                "POST",
                f"{parts.path}/subjects/{subject}/versions",
                json.dumps({"schema": text}),
                {"Content-Type": "application/vnd.schemaregistry.v1+json"},
            )
            reply = conn.getresponse()
            reply.read()
            with lock:
                statuses[reply.status] = statuses.get(reply.status, 0) + 1

    began = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(in_flight)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    took = time.monotonic() - began
    print(
        f"{len(texts)} registrations, {in_flight} in flight: {took:.2f} s, "
        f"{len(texts) / took:.0f}/s, HTTP statuses {statuses}"
    )
    return statuses


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    url, repo = sys.argv[1], sys.argv[2]
    levels = [int(n) for n in sys.argv[3:]] or [16]
    texts = [open(f).read() for f in sorted(glob.glob(f"{repo}/**/*.avsc", recursive=True))]
    if not texts:
        sys.exit(f"no .avsc files under {repo}")
    tag = int(time.time())
    for n, in_flight in enumerate(levels):
        statuses = run(url, texts, in_flight, f"{tag}-{n}")
        if set(statuses) != {200}:
            sys.exit("some registrations failed")


if __name__ == "__main__":
    main()
