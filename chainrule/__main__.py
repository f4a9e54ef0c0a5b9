"""``python -m chainrule``: the ``chainrule`` command (see :mod:`chainrule.cli`)."""

from __future__ import annotations

from chainrule.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
