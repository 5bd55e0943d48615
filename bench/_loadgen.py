"""Keep-alive HTTP/1.1 load generator (raw asyncio streams, one child process) shared by the benchmarks."""

from __future__ import annotations

import asyncio
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit


@dataclass
class LoadResult:
    """What the generator saw: answers inside the measured window, and every answer it got at all."""

    tool: str
    connections: int
    duration: float  # the measured window, seconds
    measured: Counter = field(default_factory=Counter)  # status -> answers completed inside the window
    total: Counter = field(default_factory=Counter)  # status -> every answer (warm-up, window, drain)
    errors: int = 0  # broken connections / unparsable answers
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    cpu_seconds: float = 0.0  # the generator's own CPU time (user + system)
    cut_in_flight: int = 0  # wrk only: requests cut at the end whose answer was never counted

    @property
    def rate(self) -> float:
        """Answers per second in the window, whatever their status."""
        return sum(self.measured.values()) / self.duration

    def rate_of(self, status: int) -> float:
        return self.measured.get(status, 0) / self.duration

    def non_status(self, status: int) -> dict[int, int]:
        return {code: count for code, count in sorted(self.total.items()) if code != status}


def build_request(url: str, path: str, body: bytes, headers: dict[str, str] | None = None) -> bytes:
    """One pre-built POST request, sent again and again on every connection."""
    parts = urlsplit(url)
    lines = [f"POST {path} HTTP/1.1", f"Host: {parts.hostname}:{parts.port}", "Connection: keep-alive",
             "Content-Type: application/json", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class MachineMeter:
    """How busy the machine was, and how much of that was not us (this process and its children)."""

    def __init__(self) -> None:
        self._start = self._sample()

    @staticmethod
    def _sample() -> tuple[float, float, float]:
        tick = 100.0  # USER_HZ
        try:
            fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
            busy = (sum(fields) - fields[3] - fields[4]) / tick  # all but idle and iowait
        except (OSError, ValueError, IndexError):
            busy = float("nan")
        own = sum(getattr(resource.getrusage(who), f) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
                  for f in ("ru_utime", "ru_stime"))
        return time.monotonic(), busy, own

    def report(self) -> str:
        end = self._sample()
        wall = end[0] - self._start[0]
        busy, own = end[1] - self._start[1], end[2] - self._start[2]
        other = max(0.0, busy - own)
        noisy = "  <-- NOISY: figures are pessimistic" if other / wall > 0.1 else ""
        return (f"machine: {busy / wall:.2f} of {os.cpu_count()} cores busy over {wall:.0f} s, of which other "
                f"processes {other / wall:.2f} cores{noisy}")


# -- the child process --------------------------------------------------------------------------

async def _one_connection(host: str, port: int, request: bytes, phase: dict, totals: Counter, measured: Counter,
                          latencies: list[float], errors: list[int]) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    perf = time.perf_counter
    try:
        while not phase["stop"]:
            sent = perf()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            lowered = head.lower()
            at = lowered.find(b"\r\ncontent-length:")
            if at < 0:
                raise ValueError(f"answer without Content-Length: {head[:200]!r}")
            end = lowered.find(b"\r\n", at + 2)
            length = int(lowered[at + 17:end])
            if length:
                await reader.readexactly(length)
            done = perf()
            totals[status] += 1
            if phase["measuring"]:
                measured[status] += 1
                latencies.append(done - sent)
            if b"connection: close" in lowered:
                raise ConnectionError("the server closed the connection")
    except (ConnectionError, asyncio.IncompleteReadError, ValueError, OSError):
        errors[0] += 1
    finally:
        writer.close()


async def _drive(config: dict) -> dict:
    host, port, request = config["host"], config["port"], config["request"].encode("latin-1")
    phase = {"measuring": False, "stop": False}
    totals: Counter = Counter()
    measured: Counter = Counter()
    latencies: list[float] = []
    errors = [0]
    tasks = [asyncio.create_task(_one_connection(host, port, request, phase, totals, measured, latencies, errors))
             for _ in range(config["connections"])]
    await asyncio.sleep(config["warmup"])
    phase["measuring"] = True
    started = time.perf_counter()
    await asyncio.sleep(config["duration"])
    phase["measuring"] = False
    window = time.perf_counter() - started
    phase["stop"] = True  # every connection finishes its request in flight, so `totals` is exact
    await asyncio.wait_for(asyncio.gather(*tasks), timeout=60)
    latencies.sort()

    def pct(p: float) -> float:
        return 1000 * latencies[min(len(latencies) - 1, int(p * len(latencies)))] if latencies else 0.0

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {"window": window, "measured": dict(measured), "total": dict(totals), "errors": errors[0],
            "p50_ms": pct(0.50), "p99_ms": pct(0.99), "cpu_seconds": usage.ru_utime + usage.ru_stime}


def _child_main() -> None:
    config = json.loads(sys.stdin.read())
    result = asyncio.run(_drive(config))
    sys.stdout.write(json.dumps(result))


# -- the parent side ----------------------------------------------------------------------------

def run_python(url: str, request: bytes, *, connections: int, warmup: float, duration: float) -> LoadResult:
    """Run the asyncio generator in a child process (its own core, its own GIL)."""
    parts = urlsplit(url)
    config = {"host": parts.hostname if parts.hostname != "localhost" else "127.0.0.1", "port": parts.port,
              "request": request.decode("latin-1"), "connections": connections, "warmup": warmup,
              "duration": duration}
    done = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child"], input=json.dumps(config),
                          capture_output=True, text=True, timeout=warmup + duration + 90)
    if done.returncode != 0:
        raise RuntimeError(f"load generator failed:\n{done.stderr}")
    raw = json.loads(done.stdout)
    return LoadResult("python-asyncio", connections, raw["window"],
                      Counter({int(k): v for k, v in raw["measured"].items()}),
                      Counter({int(k): v for k, v in raw["total"].items()}), raw["errors"], raw["p50_ms"],
                      raw["p99_ms"], raw["cpu_seconds"])


_WRK_SCRIPT = """
wrk.method = "POST"
wrk.body = {body}
wrk.headers["Content-Type"] = "application/json"
{headers}
counts = {{}}
local threads = {{}}
function setup(thread) table.insert(threads, thread) end
function init(args) counts = {{}} end
function response(status, headers, body)
  counts[status] = (counts[status] or 0) + 1
end
function done(summary, latency, requests)
  local all = {{}}
  for _, t in ipairs(threads) do
    local c = t:get("counts")
    for k, v in pairs(c) do all[k] = (all[k] or 0) + v end
  end
  local parts = {{}}
  for k, v in pairs(all) do table.insert(parts, string.format('"%d":%d', k, v)) end
  io.write(string.format('ZIGGY_RESULT {{"counts":{{%s}},"requests":%d,"duration_us":%d,' ..
    '"p50_us":%d,"p99_us":%d,"errors":%d}}\\n', table.concat(parts, ","), summary.requests,
    summary.duration, latency:percentile(50), latency:percentile(99),
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
"""


def wrk_available() -> bool:
    return shutil.which("wrk") is not None


def run_wrk(url: str, path: str, body: bytes, headers: dict[str, str], *, connections: int, duration: float,
            threads: int = 1) -> LoadResult:
    """Run wrk (C, far cheaper per request than Python). No warm-up split: call it twice if needed."""
    import tempfile

    lua_headers = "\n".join(f'wrk.headers["{k}"] = "{v}"' for k, v in headers.items())
    script = _WRK_SCRIPT.format(body=json.dumps(body.decode()), headers=lua_headers)
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{duration:g}s", "-s",
                           handle.name, "--latency", url.rstrip("/") + path],
                          capture_output=True, text=True, timeout=duration + 60)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    Path(handle.name).unlink()
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("ZIGGY_RESULT ")), None)
    if line is None:
        raise RuntimeError(f"wrk failed:\n{done.stdout}\n{done.stderr}")
    raw = json.loads(line[len("ZIGGY_RESULT "):])
    counts = Counter({int(k): v for k, v in raw["counts"].items()})
    window = raw["duration_us"] / 1e6
    # wrk stops by closing its sockets: answers in flight then are never counted (at most one per connection).
    return LoadResult("wrk", connections, window, counts, Counter(counts), raw["errors"], raw["p50_us"] / 1000,
                      raw["p99_us"] / 1000,
                      (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime),
                      cut_in_flight=connections)


if __name__ == "__main__" and sys.argv[1:] == ["--child"]:
    _child_main()
