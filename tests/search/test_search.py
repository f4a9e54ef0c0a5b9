"""Search through Optuna: two workers complete every grid point once; pruning; configs."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from chainrule import search

HERE = Path(__file__).resolve().parent


@pytest.fixture(autouse=True)
def _objectives_importable(monkeypatch):
    monkeypatch.syspath_prepend(str(HERE))  # the workers inherit sys.path as PYTHONPATH


def test_two_workers_complete_every_grid_point_exactly_once(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("CHAINRULE_TEST_SLEEP", "0.05")
    (tmp_path / "barrier").mkdir()
    monkeypatch.setenv("CHAINRULE_TEST_BARRIER", str(tmp_path / "barrier"))
    space = {"lr": search.Float(1e-4, 1.0, log=True), "width": [16, 32, 64]}
    study = search.run("search_objectives:quadratic", space, method="grid", grid=3, n_jobs=2,
                       storage=f"sqlite:///{tmp_path / 's.db'}", study_name="grid",
                       verbose=False)
    trials = study.trials
    expected = search.grid_points(space, 3)
    seen = [json.dumps(t.params, sort_keys=True) for t in trials]
    assert sorted(seen) == sorted(json.dumps(p, sort_keys=True) for p in expected)
    assert all(t.state.name == "COMPLETE" for t in trials)
    workers = {t.user_attrs["worker"].split("#")[-1] for t in trials}
    assert workers == {"0)", "1)"}  # both processes took points
    assert len({t.user_attrs["metrics"]["pid"] for t in trials}) == 2
    assert study.best_params == {"lr": pytest.approx(0.01), "width": 32}
    assert all(t.user_attrs["seed"] == 0 and t.user_attrs["duration_s"] >= 0 for t in trials)
    # running the same grid again finds nothing left to do
    monkeypatch.delenv("CHAINRULE_TEST_BARRIER")
    again = search.run("search_objectives:quadratic", space, method="grid", grid=3,
                       storage=f"sqlite:///{tmp_path / 's.db'}", study_name="grid",
                       verbose=False)
    assert len(again.trials) == len(trials)


def test_random_and_tpe_in_process(tmp_path) -> None:
    from search_objectives import quadratic

    space = {"lr": search.Float(1e-4, 1.0, log=True)}
    study = search.run(quadratic, space, method="random", n_trials=6,
                       storage=f"sqlite:///{tmp_path / 'r.db'}", verbose=False)
    assert len(study.trials) == 6
    assert len({t.params["lr"] for t in study.trials}) == 6
    tpe = search.run(quadratic, space, method="tpe", n_trials=8, study_name="tpe",
                     storage=f"sqlite:///{tmp_path / 'r.db'}", startup_trials=4, verbose=False)
    assert len(tpe.trials) == 8 and tpe.best_value < 0.5


def test_median_pruning_stops_bad_trials(tmp_path) -> None:
    study = search.run("search_objectives:curve", {"offset": [0.0, 0.1, 0.2, 5.0, 6.0]},
                       method="grid", storage=f"sqlite:///{tmp_path / 'p.db'}",
                       startup_trials=2, warmup_epochs=0, verbose=False)
    states = {t.params["offset"]: t.state.name for t in study.trials}
    assert states[0.0] == "COMPLETE" and states[5.0] == "PRUNED" and states[6.0] == "PRUNED"
    rows = {r["params"]["offset"]: r for r in search.results(study)}
    assert rows[5.0]["value"] == pytest.approx(6.0)  # its last reported value


CONFIG = """\
seed: 0
data: {dataset: FakeData, size: 48, image_size: [1, 4, 4], splits: [0.75, 0.25], batch_size: 12}
model:
  - {name: flat, type: Flatten}
  - {name: fc1, type: Linear, out_features: 4}
  - {name: act, type: ReLU}
  - {name: fc2, type: Linear, out_features: 10}
optimizer: {type: SGD, lr: 0.1}
epochs: 2
output_dir: OUT
search:
  method: coarse_to_fine
  metric: val_accuracy
  trials: 4
  rounds: 2
  params:
    optimizer.lr: {type: float, low: 0.001, high: 1.0, log: true}
    model.fc1.out_features: [4, 8]
"""


def test_a_config_search_records_every_trial(tmp_path, capsys) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(CONFIG.replace("OUT", str(tmp_path / "out")))
    study = search.run_config(path)
    assert study.direction.name == "MAXIMIZE" and len(study.trials) == 4
    out = capsys.readouterr().out
    assert "round 0: best" in out and "round 1: best" in out
    rows = search.results(study)
    assert [r["round"] for r in rows] == [0, 0, 1, 1]
    best_round0 = max((r for r in rows if r["round"] == 0), key=lambda r: r["value"])
    assert {r["params"]["model.fc1.out_features"] for r in rows if r["round"] == 1} == \
        {best_round0["params"]["model.fc1.out_features"]}  # categorical fixed to the best
    for r in rows:
        assert r["seed"] == 0 and r["metrics"]["epoch"] >= 1
        assert Path(r["checkpoint"] + ".json").exists()
    table = search.format_results(study)
    assert table.splitlines()[0].split() == ["#", "state", "value", "optimizer.lr",
                                             "model.fc1.out_features", "seconds"]
    png = search.plot(study, tmp_path / "search.png")
    assert png.read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "out" / "search" / "search.db").exists()


def test_objectives_for_workers_must_be_importable() -> None:
    with pytest.raises(ValueError, match="pass it as 'module:function'"):
        search.run(lambda trial: 0.0, {"x": [1]}, n_jobs=2)
    with pytest.raises(ValueError, match="unknown search method 'bayes'"):
        search.run("search_objectives:quadratic", {"lr": [0.1]}, method="bayes",
                   storage="sqlite:///unused.db")
    with pytest.raises(ValueError, match="an in-memory database cannot be shared"):
        search.run("search_objectives:quadratic", {"lr": [0.1]}, storage="sqlite:///:memory:")


def test_a_clear_error_without_optuna(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "optuna", None)
    monkeypatch.delitem(sys.modules, "chainrule.search._optuna", raising=False)
    monkeypatch.delattr(search, "_optuna", raising=False)
    with pytest.raises(ImportError, match=r"needs Optuna: pip install 'chainrule\[search\]'"):
        search.run("search_objectives:quadratic", {"lr": [0.1]}, storage="sqlite:///x.db")
    with pytest.raises(ImportError, match="needs Optuna"):
        getattr(search, "format_results")  # noqa: B009
    assert search.grid_points({"a": [1, 2]}) == [{"a": 1}, {"a": 2}]  # spaces work without it


def test_the_worker_module_runs_a_queue(tmp_path) -> None:
    from chainrule.search import _optuna
    from chainrule.search.worker import main

    storage = f"sqlite:///{tmp_path / 'w.db'}"
    study = _optuna.create_study(
        objective={"kind": "function", "target": "search_objectives:quadratic"},
        space={"lr": [0.1, 0.01]}, method="grid", direction="minimize", storage=storage,
        study_name="w", n_trials=2, seed=0, pruner="none", startup_trials=0, warmup_epochs=0,
        grid=2, rounds=1, shrink=0.5, output_dir=None)
    _optuna.enqueue(study, search.grid_points({"lr": [0.1, 0.01]}))
    assert main(["--storage", storage, "--study-name", "w"]) == 0
    assert sorted(t.params["lr"] for t in study.trials) == [0.01, 0.1]
