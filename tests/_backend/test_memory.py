"""The allocator tuning applied on import (chainrule/_backend/memory.py)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

_GLIBC = sys.platform.startswith("linux") and (os.confstr("CS_GNU_LIBC_VERSION") or "").startswith(
    "glibc")


def _tuned(env_value: str | None) -> str:
    env = dict(os.environ)
    env.pop("CHAINRULE_MALLOC_TUNING", None)
    if env_value is not None:
        env["CHAINRULE_MALLOC_TUNING"] = env_value
    code = "import chainrule; from chainrule._backend import memory; print(memory.TUNED)"
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          check=True).stdout.strip()


@pytest.mark.skipif(not _GLIBC, reason="malloc tuning applies to glibc only")
def test_import_tunes_glibc_malloc_unless_refused():
    assert _tuned(None) == "True"
    assert _tuned("0") == "False"


def test_refusal_is_respected_in_process(monkeypatch):
    from chainrule._backend import memory

    monkeypatch.setenv("CHAINRULE_MALLOC_TUNING", "0")
    assert memory.tune_allocator() is False


def _faults_over_steps(env_value: str) -> int:
    # A step that allocates 80 MB in ten arrays and frees them all, as a training step does.
    code = (
        "import resource, numpy as np, chainrule\n"
        "def step():\n"
        "    arrays = [np.ones(2_000_000, np.float32) for _ in range(10)]\n"
        "for _ in range(3): step()\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt\n"
        "for _ in range(20): step()\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)\n")
    env = dict(os.environ, CHAINRULE_MALLOC_TUNING=env_value)
    return int(subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                              text=True, check=True).stdout)


@pytest.mark.skipif(not _GLIBC, reason="malloc tuning applies to glibc only")
def test_freed_memory_serves_the_next_step_without_page_faults():
    # Untuned, glibc trims most of the freed 80 MB and each step faults ~5,000 pages back in.
    untuned, tuned = _faults_over_steps("0"), _faults_over_steps("1")
    assert untuned > 20 * 2_000
    assert tuned < untuned // 20
