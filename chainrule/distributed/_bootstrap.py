"""Run one rank's script for :mod:`chainrule.distributed.launch`, guarded from the first line.

``init_process_group`` installs the hook that aborts the job when a rank raises; a script can
fail before it gets there (a bad argument, a missing file), and MPI would then leave the other
ranks waiting forever. Under the launcher each rank runs its script through this module, which
installs the same hook before the script's first line, and treats ``sys.exit(nonzero)`` as a
failure too::

    python -m chainrule.distributed._bootstrap script.py args...
    python -m chainrule.distributed._bootstrap -m package.module args...
"""

from __future__ import annotations

import os
import runpy
import sys

from chainrule.distributed.process_group import _abort_on_uncaught, _rank_label, abort_job


def main(argv: list[str]) -> None:
    """Run ``argv`` (``script.py args...`` or ``-m module args...``) as ``__main__``."""
    if not argv or (argv[0] == "-m" and len(argv) < 2):
        sys.stderr.write("usage: python -m chainrule.distributed._bootstrap "
                         "(script.py | -m module) [args...]\n")
        raise SystemExit(2)
    sys.excepthook = _abort_on_uncaught
    try:
        if argv[0] == "-m":
            sys.argv = [argv[1], *argv[2:]]
            runpy.run_module(argv[1], run_name="__main__", alter_sys=True)
        else:
            sys.argv = list(argv)
            sys.path[0] = os.path.dirname(os.path.abspath(argv[0]))  # as `python script.py`
            runpy.run_path(argv[0], run_name="__main__")
    except SystemExit as e:
        code = e.code
        if code is None or code == 0:
            return
        if not isinstance(code, int):  # sys.exit("message"): Python prints it, status 1
            abort_job(f"rank {_rank_label()} failed: {code}", 1)
        abort_job(f"rank {_rank_label()} failed: exited with status {code}", code)


if __name__ == "__main__":
    main(sys.argv[1:])
