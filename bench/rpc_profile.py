#!/usr/bin/env python3
"""Where a gateway frontend's time goes on a real daemon, RPC by RPC (a profiling aid; not part of
bench/run.sh). Run after bench/run.sh, in the environment of scripts/docker-env.sh 26:

  bench/rpc_profile.py [--runs 15] [--apps fastapi,express]

It imports the benchmarked frontend binary once more as local/strata:bench-rpc with
STRATA_LOG=warn,h2::codec=debug: the frontend then logs every HTTP/2 frame it sends and receives to
its stderr, which BuildKit passes to dockerd's log. Per no-op build (rawjson progress, so the
daemon's vertex timestamps are known too) it reads the new part of dockerd's log and times, per
gRPC call (one HTTP/2 stream each), from the request's HEADERS frame to the response's END_STREAM.
Calls are named from the sequence the same binary makes against the fake BuildKit for the same
example (the micro-benchmark's JSON), so the order must match: runs where the number of streams
differs are dropped. Also reported: frontend image ready -> Ping (container and process start) and
Return -> the first vertex of the result (the frontend's exit and container teardown).
"""

import argparse
import datetime
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import driver  # noqa: E402

FRAME = re.compile(r"^(\S+Z) +DEBUG .*h2::codec::framed_(write|read): (?:send|received) "
                   r"frame=(\w+) \{ stream_id: StreamId\((\d+)\)(.*)$")


def ts(s):
    return datetime.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


def streams(log_text):
    """stream id -> (request sent, response ended), from the frontend's frame log."""
    sent, ended = {}, {}
    for line in log_text.splitlines():
        m = FRAME.match(line)
        if not m:
            continue
        t, direction, kind, sid, rest = ts(m[1]), m[2], m[3], int(m[4]), m[5]
        if sid == 0:
            continue
        if direction == "write" and kind == "Headers":
            sent.setdefault(sid, t)
        elif direction == "read" and "END_STREAM" in rest:
            ended.setdefault(sid, t)
    return {sid: (sent[sid], ended.get(sid)) for sid in sorted(sent)}


def vertex_times(rawjson):
    dec, i, vs = json.JSONDecoder(), 0, {}
    while i < len(rawjson):
        while i < len(rawjson) and rawjson[i].isspace():
            i += 1
        if i >= len(rawjson):
            break
        try:
            obj, i = dec.raw_decode(rawjson, i)
        except json.JSONDecodeError:
            i = rawjson.find("\n", i) + 1 or len(rawjson)
            continue
        for v in obj.get("vertexes") or []:
            e = vs.setdefault(v["digest"], {"name": v.get("name", "")})
            for k in ("started", "completed"):
                if v.get(k):
                    e[k] = driver.parse_ts(v[k])
    return [v for v in vs.values() if "started" in v]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--runs", type=int, default=15)
    p.add_argument("--apps", default="fastapi,express")
    p.add_argument("--work", default="/var/tmp/strata/bench")
    p.add_argument("--binary", help="frontend binary [WORK/strata-frontend]")
    p.add_argument("--sequence-from", help="micro-benchmark JSON [WORK/docker26.frontend.json]")
    p.add_argument("--dockerd-log", default="/var/tmp/strata/26/dockerd.log")
    p.add_argument("--out", help="write the per-run data as JSON here")
    a = p.parse_args()
    work = Path(a.work)
    binary = Path(a.binary or work / "strata-frontend")
    fe = json.loads(Path(a.sequence_from or work / "docker26.frontend.json").read_text())
    tag = "local/strata:bench-rpc"

    with tempfile.TemporaryDirectory() as stage:
        subprocess.run(["install", "-m", "0755", str(binary), f"{stage}/strata"], check=True)
        subprocess.run(["tar", "-C", stage, "-cf", f"{stage}/rootfs.tar", "strata"], check=True)
        subprocess.run(["docker", "import", "--change", 'ENTRYPOINT ["/strata", "frontend"]',
                        "--change", "ENV STRATA_LOG=warn,h2::codec=debug",
                        "--change", 'LABEL moby.buildkit.frontend.network.none="true"',
                        "--change", 'LABEL moby.buildkit.frontend.caps="moby.buildkit.frontend.inputs"',
                        f"{stage}/rootfs.tar", tag], check=True, stdout=subprocess.DEVNULL)

    report = {}
    for app in a.apps.split(","):
        seq = [s.split(" ", 1)[1] for s in next(c for c in fe["cases"] if c["name"] == app)
               ["rpc"]["sequence"]]
        ws = driver.Workspace(work / "work", app, "strata", tag)
        cmd = ["docker", "buildx", "build", "--progress=rawjson", "-t", f"strata-bench/{app}:rpc",
               "-f", str(ws.dir / "strata.toml"), str(ws.dir)]
        subprocess.run(cmd, check=True, capture_output=True)  # warm
        runs = []
        for _ in range(a.runs):
            offset = os.path.getsize(a.dockerd_log)
            started = time.time()
            out = subprocess.run(cmd, check=True, capture_output=True, text=True)
            total = time.time() - started
            time.sleep(0.3)  # dockerd copies the frontend's stderr asynchronously
            with open(a.dockerd_log, errors="replace") as f:
                f.seek(offset)
                st = streams(f.read())
            if len(st) != len(seq):
                print(f"{app}: {len(st)} streams, expected {len(seq)}: run dropped", file=sys.stderr)
                continue
            vs = vertex_times(out.stderr)
            image = [v for v in vs if v["name"].startswith(driver.GATEWAY_IMAGE)]
            ready = max(v.get("completed", v["started"]) for v in image)
            result = [v["started"] for v in vs if not v["name"].startswith(driver.FRONTEND_VERTICES)]
            (ping, _), (_, returned) = st[min(st)], st[max(st)]
            runs.append({
                "total_ms": total * 1e3,
                "start_to_ping_ms": (ping - ready) * 1e3,
                "ping_to_return_ms": (returned - ping) * 1e3,
                "return_to_result_ms": (min(result) - returned) * 1e3,
                "calls": [{"method": m, "start_ms": (s - ping) * 1e3, "ms": (e - s) * 1e3}
                          for m, (s, e) in zip(seq, st.values())],
            })
        report[app] = runs
        if not runs:
            print(f"{app}: no usable run", file=sys.stderr)
            continue
        med = statistics.median
        print(f"\n{app}: {len(runs)} no-op builds, medians in ms; total {med([r['total_ms'] for r in runs]):.0f}")
        print(f"  frontend image ready -> Ping (container + process start) {med([r['start_to_ping_ms'] for r in runs]):6.1f}")
        print(f"  Ping -> Return answered (the frontend's whole session)   {med([r['ping_to_return_ms'] for r in runs]):6.1f}")
        print(f"  Return -> first vertex of the result (exit, teardown)    {med([r['return_to_result_ms'] for r in runs]):6.1f}")
        print("  call                 starts at   takes")
        for i, m in enumerate(seq):
            print(f"  {i + 1:2} {m:18} {med([r['calls'][i]['start_ms'] for r in runs]):8.1f} "
                  f"{med([r['calls'][i]['ms'] for r in runs]):7.1f}")
    if a.out:
        Path(a.out).write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
