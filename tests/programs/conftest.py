"""The programs here are scripts run by tests/test_programs.py through _runner.py, each in its
own process; pytest must not import them (doctest collection would run them)."""

collect_ignore_glob = ["*.py"]
