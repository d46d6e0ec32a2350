#!/usr/bin/env python3
"""The registry's floor for a plan's registry read: the same requests, sent by curl.

    bench/registry_read_floor.py URL MESH_REPO [IN_FLIGHT ...]

A no-change plan on a registry without a bulk listing (Apicurio 2.6 answers 404 to
`GET /schemas`; 3.3.3 answers without the subject names) reads two things per declared subject:
its latest version and its compatibility level. This script derives the subjects MESH_REPO
declares (`<topic>-value` / `<topic>-key` of every product file with a `[schema]`, the topic
being `[topic] name`, else the product id `<domain>.<name or file stem>`), and sends exactly
those 2 x N GETs to the Confluent-compatible registry at URL (for example
http://127.0.0.1:18081/apis/ccompat/v7) with curl's `--parallel` over IN_FLIGHT keep-alive
connections (default 16, mesh's own default), one run per value. It prints the wall time,
requests per second and the HTTP statuses. curl does the requests, so the figure owes nothing
to mesh's HTTP client nor to Python's speed. docs/benchmarks.md compares it with the time of a
no-change `mesh plan` on the same registry.
"""
import collections
import glob
import os
import subprocess
import sys
import tempfile
import time
import tomllib


def subjects(repo):
    out = []
    for path in sorted(glob.glob(f"{repo}/domains/*/products/*.toml")):
        domain = path.split(os.sep)[-3]
        with open(path, "rb") as f:
            product = tomllib.load(f)
        name = product.get("name", os.path.basename(path)[: -len(".toml")])
        topic = product.get("topic", {}).get("name", f"{domain}.{name}")
        schema = product.get("schema", {})
        out += [f"{topic}-{part}" for part in ("value", "key") if part in schema]
    return out


def run(url, names, in_flight):
    with tempfile.NamedTemporaryFile("w", suffix=".curl", delete=False) as config:
        for s in names:
            for path in (f"subjects/{s}/versions/latest", f"config/{s}"):
                config.write(f'url = "{url}/{path}"\noutput = "/dev/null"\n')
    try:
        began = time.monotonic()
        done = subprocess.run(
            ["curl", "--silent", "--parallel", "--parallel-max", str(in_flight),
             "--config", config.name, "--write-out", "%{http_code}\\n"],
            capture_output=True, text=True, check=False,
        )
        took = time.monotonic() - began
    finally:
        os.unlink(config.name)
    statuses = collections.Counter(
        line for line in done.stdout.splitlines() if line.isdigit()
    )
    requests = 2 * len(names)
    print(
        f"{len(names)} subjects, {requests} GETs, {in_flight} in flight: {took:.2f} s, "
        f"{requests / took:.0f}/s, HTTP statuses {dict(statuses)}"
    )
    return statuses


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    url, repo = sys.argv[1].rstrip("/"), sys.argv[2]
    levels = [int(n) for n in sys.argv[3:]] or [16]
    names = subjects(repo)
    if not names:
        sys.exit(f"no product under {repo}/domains/*/products declares a schema")
    for in_flight in levels:
        statuses = run(url, names, in_flight)
        if set(statuses) != {"200"}:
            sys.exit("some reads failed (is every subject registered? apply the repo first)")


if __name__ == "__main__":
    main()
