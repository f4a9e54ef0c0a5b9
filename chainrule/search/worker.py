"""A search worker: ``python -m chainrule.search.worker --storage URL --study-name NAME``.

It opens the study, reads what to run from the study itself (the objective's importable name
or the config's path, the space, the method), and runs trials until the study's queue is
empty or it has its number of trials. Start several on one study (on one machine with an
SQLite file, or on many with a server database) and they share the work; each queued point
is claimed by exactly one worker.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m chainrule.search.worker``."""
    parser = argparse.ArgumentParser(prog="python -m chainrule.search.worker",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--storage", required=True, help="the study's database URL")
    parser.add_argument("--study-name", required=True)
    parser.add_argument("--worker", type=int, default=0, help="this worker's index (seeds)")
    args = parser.parse_args(argv)
    from chainrule.search._optuna import work

    work(args.storage, args.study_name, args.worker)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
