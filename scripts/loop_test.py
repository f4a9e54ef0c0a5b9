"""Run some tests many times, each time in a fresh pytest process, and count the clean runs.

A flaky test passes five times in a row and still blocks a landing on the sixth; one run
proves little about a race. This runs the same selection N times and prints how many runs
passed, and the tail of each run that did not (or that hung past ``--timeout``).

Usage (from the repository root)::

    python scripts/loop_test.py tests/utils/test_dataloader_workers.py -k ctrl_c -n 200 -j 2
    python scripts/loop_test.py tests/utils/test_dataloader_workers.py -k ctrl_c -n 50 \
        --sigint-ignored --load 2

``--sigint-ignored`` starts pytest with SIGINT ignored, as a background job of a
non-interactive shell (``cmd &`` in a script), ``nohup`` and some CI runners do: tests that send
SIGINT must not depend on how they were launched. ``--load K`` keeps K busy processes running
meanwhile, since races show up on a loaded machine. Every other argument goes to pytest.
The exit status is 0 only when every run passed.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _burn() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    x = 0
    while True:
        x = (x * 31 + 7) % 1000003


def run_once(pytest_args: list[str], timeout: float, sigint_ignored: bool) -> tuple[str, str]:
    """One fresh pytest process: ('pass' | 'fail' | 'hang', the tail of its output)."""
    def preexec() -> None:
        os.setsid()  # a stray SIGINT to this run's group never reaches the loop itself
        if sigint_ignored:
            signal.signal(signal.SIGINT, signal.SIG_IGN)

    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *pytest_args]
    env = dict(os.environ, PYTHONPATH=ROOT)
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, preexec_fn=preexec)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        return "hang", out[-4000:]
    return ("pass" if proc.returncode == 0 else "fail"), out[-4000:]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--runs", type=int, default=200, help="how many runs (200)")
    parser.add_argument("-j", "--jobs", type=int, default=1, help="runs at a time (1)")
    parser.add_argument("--timeout", type=float, default=300.0,
                        help="seconds before a run counts as hung (300)")
    parser.add_argument("--sigint-ignored", action="store_true",
                        help="start pytest with SIGINT ignored")
    parser.add_argument("--load", type=int, default=0, help="busy processes meanwhile (0)")
    args, pytest_args = parser.parse_known_args(argv)
    if not pytest_args:
        parser.error("give the tests to run (a path, a node id, -k EXPR, ...)")

    burners = [multiprocessing.Process(target=_burn, daemon=True) for _ in range(args.load)]
    for b in burners:
        b.start()
    counts = {"pass": 0, "fail": 0, "hang": 0}
    failures: list[tuple[int, str, str]] = []
    start = time.monotonic()
    try:
        with ThreadPoolExecutor(args.jobs) as pool:
            futures = [pool.submit(run_once, pytest_args, args.timeout, args.sigint_ignored)
                       for _ in range(args.runs)]
            for i, f in enumerate(futures, 1):
                result, tail = f.result()
                counts[result] += 1
                if result != "pass":
                    failures.append((i, result, tail))
                    print(f"run {i}: {result}\n{tail}\n", flush=True)
                if i % 10 == 0 or i == args.runs:
                    print(f"{i}/{args.runs} runs: {counts['pass']} passed, "
                          f"{counts['fail']} failed, {counts['hang']} hung", flush=True)
    finally:
        for b in burners:
            b.terminate()
    elapsed = time.monotonic() - start
    print(f"{counts['pass']}/{args.runs} clean runs of {' '.join(pytest_args)} "
          f"({'SIGINT ignored at start, ' if args.sigint_ignored else ''}"
          f"{args.jobs} at a time, load {args.load}, {elapsed:.0f} s)")
    return 0 if counts["pass"] == args.runs else 1


if __name__ == "__main__":
    sys.exit(main())
