"""The launcher: ``python -m chainrule.distributed.launch -n N script.py args``."""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from chainrule.distributed import launch as launcher

REPORT = """
import json, os, sys
import chainrule.distributed as dist
dist.init_process_group("mpi")
folder = sys.argv[1]
with open(os.path.join(folder, f"rank{dist.get_rank()}.json"), "w") as f:
    json.dump({"argv": sys.argv[1:], "name": __name__, "size": dist.get_world_size(),
               "threads": os.environ.get("OPENBLAS_NUM_THREADS"),
               "chainrule": os.path.dirname(__import__("chainrule").__file__)}, f)
"""


def _reports(folder: Path, n: int) -> list[dict]:
    return [json.loads((folder / f"rank{r}.json").read_text()) for r in range(n)]


def test_runs_a_script_on_n_ranks_with_its_arguments(tmp_path: Path, mpi: Any) -> None:
    script = tmp_path / "report.py"
    script.write_text(textwrap.dedent(REPORT))
    done = mpi.run(["-m", "chainrule.distributed.launch", "-n", "3", "--threads", "1",
                    str(script), str(tmp_path), "--flag", "x"])
    assert done.returncode == 0, done.stderr
    reports = _reports(tmp_path, 3)
    assert all(r["argv"] == [str(tmp_path), "--flag", "x"] and r["size"] == 3
               and r["name"] == "__main__" and r["threads"] == "1" for r in reports)
    # the ranks import the launcher's chainrule (this worktree's)
    assert Path(reports[0]["chainrule"]) == Path(launcher.__file__).parent.parent


def test_runs_a_module_with_dash_m(tmp_path: Path, mpi: Any) -> None:
    (tmp_path / "report_mod.py").write_text(textwrap.dedent(REPORT))
    done = mpi.run(["-m", "chainrule.distributed.launch", "-n", "2", "-m", "report_mod",
                    str(tmp_path)], path=[str(tmp_path)])
    assert done.returncode == 0, done.stderr
    assert [r["name"] for r in _reports(tmp_path, 2)] == ["__main__", "__main__"]


def test_mpiexec_command() -> None:
    cmd = launcher.mpiexec_command(4, ["train.py", "-v"], hostfile="hosts.txt",
                                   mpiexec="/usr/bin/mpiexec", mpiexec_args=["-bind-to", "core"])
    assert cmd == ["/usr/bin/mpiexec", "-n", "4", "-hostfile", "hosts.txt", "-bind-to", "core",
                   sys.executable, "-m", "chainrule.distributed._bootstrap", "train.py", "-v"]
    assert launcher.mpiexec_command(2, ["t.py"], hosts="a,b", mpiexec="m")[3:5] == \
        ["-hosts", "a,b"]
    with pytest.raises(ValueError, match="nproc must be at least 1"):
        launcher.mpiexec_command(0, ["t.py"])
    with pytest.raises(ValueError, match="give the script"):
        launcher.mpiexec_command(2, [])


def test_threads_per_rank_default_to_cores_over_ranks(monkeypatch) -> None:
    for var in launcher._THREAD_VARIABLES:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(launcher.os, "cpu_count", lambda: 8)
    env = launcher._environment(4, None, one_machine=True)
    assert all(env[v] == "2" for v in launcher._THREAD_VARIABLES)
    assert launcher._environment(16, None, one_machine=True)["OMP_NUM_THREADS"] == "1"
    assert "OMP_NUM_THREADS" not in launcher._environment(4, None, one_machine=False)
    assert launcher._environment(4, 3, one_machine=False)["MKL_NUM_THREADS"] == "3"
    monkeypatch.setenv("OMP_NUM_THREADS", "5")  # the user's own setting wins
    assert launcher._environment(4, None, one_machine=True)["OMP_NUM_THREADS"] == "5"


def test_command_line_splits_its_options_from_the_scripts() -> None:
    assert launcher._split(["-n", "2", "--hosts", "a,b", "train.py", "-n", "7"]) == \
        (["-n", "2", "--hosts", "a,b"], ["train.py", "-n", "7"])
    assert launcher._split(["-n", "2", "-m", "pkg.mod", "--x"]) == (["-n", "2"],
                                                                     ["-m", "pkg.mod", "--x"])
    assert launcher._split(["--nproc=2", "t.py"]) == (["--nproc=2"], ["t.py"])


def test_command_line_without_a_script_is_a_usage_error(capsys) -> None:
    with pytest.raises(SystemExit) as e:
        launcher.main(["-n", "2"])
    assert e.value.code == 2 and "give the script to run" in capsys.readouterr().err


def test_abort_message_goes_to_the_launchers_notes_and_is_printed_by_rank(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    # MPI_Abort can end MPICH's proxies before they forward a rank's last stderr: under the
    # launcher the abort message goes to a file the launcher prints once the job has ended
    from chainrule.distributed import process_group as pg

    monkeypatch.delenv(pg.NOTES_VARIABLE, raising=False)
    assert not pg._leave_note("no folder\n")  # plain mpiexec: stderr, as before
    monkeypatch.setenv(pg.NOTES_VARIABLE, str(tmp_path / "gone"))
    assert not pg._leave_note("another host\n")  # the folder is on the launcher's machine
    monkeypatch.setenv(pg.NOTES_VARIABLE, str(tmp_path))
    for rank in ("10", "2"):
        monkeypatch.setattr(pg, "_rank_label", lambda rank=rank: rank)
        assert pg._leave_note(f"rank {rank} failed: boom\n")
    launcher._print_notes(str(tmp_path))
    assert capsys.readouterr().err == "rank 2 failed: boom\nrank 10 failed: boom\n"
