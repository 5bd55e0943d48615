"""Cold start of the packaged bundle (and of the source install, as a baseline): `serve` until
/api/ziggy/health answers, and the window until it is shown. Also prints bundle and .deb sizes.

Run by hand after `make dist`:  .venv/bin/python bench/cold_start.py [path/to/ziggy-desktop]
"""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNS = 5


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def environment(data_dir: str, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ZIGGY_", "MAX_"))}
    env.update(ZIGGY_DATA_DIR=data_dir, ZIGGY_PORT=str(port), QT_QPA_PLATFORM="offscreen")
    return env


def time_serve(command: list[str]) -> float:
    with tempfile.TemporaryDirectory() as data_dir:
        port = free_port()
        started = time.perf_counter()
        process = subprocess.Popen([*command, "serve"], env=environment(data_dir, port), stderr=subprocess.DEVNULL)
        try:
            while True:
                try:
                    with urllib.request.urlopen(f"http://localhost:{port}/api/ziggy/health", timeout=1) as answer:
                        if answer.status == 200:
                            return time.perf_counter() - started
                except OSError:
                    if process.poll() is not None:
                        raise RuntimeError("serve exited before answering") from None
                    time.sleep(0.01)
        finally:
            process.terminate()
            process.wait(30)


def time_window(command: list[str]) -> float:
    with tempfile.TemporaryDirectory() as data_dir:
        started = time.perf_counter()
        process = subprocess.Popen([*command, "--quit-after", "0.2"], env=environment(data_dir, free_port()),
                                   stderr=subprocess.PIPE, text=True)
        assert process.stderr is not None
        for line in process.stderr:
            if "window shown" in line:
                elapsed = time.perf_counter() - started
                break
        else:
            raise RuntimeError("the window was never shown")
        process.communicate(timeout=30)
        return elapsed


def size_mb(path: Path) -> float:
    if path.is_file():
        return path.stat().st_size / 1e6
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink()) / 1e6


def report(label: str, command: list[str]) -> None:
    serve = [time_serve(command) for _ in range(RUNS)]
    window = [time_window(command) for _ in range(RUNS)]
    print(f"{label:<8} serve→health  median {statistics.median(serve):.2f} s  (min {min(serve):.2f}, max {max(serve):.2f})")
    print(f"{label:<8} window shown  median {statistics.median(window):.2f} s  (min {min(window):.2f}, max {max(window):.2f})")


def main() -> None:
    bundle = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "dist" / "ziggy-desktop" / "ziggy-desktop"
    if not bundle.exists():
        sys.exit(f"no bundle at {bundle}: run 'make dist' first")
    print(f"bundle folder {size_mb(bundle.parent):.1f} MB (target <= 150 MB)")
    for package in sorted((ROOT / "dist").glob("ziggy-desktop*.deb")) + sorted((ROOT / "dist").glob("*.tar.gz")):
        print(f"{package.name} {size_mb(package):.1f} MB")
    report("bundle", [str(bundle)])
    report("source", [sys.executable, "-m", "ziggy_desktop"])
    print("target: cold start <= 3 s")


if __name__ == "__main__":
    main()
