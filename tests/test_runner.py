"""The resumable runner on a tiny fake experiment: resumed, damaged, changed, and its three stores."""

import json

import pytest

from latens.research import runner


class Powers:
    """Cells 0..count-1, each result the cell to a power; fails at the cell `kill_at`, as a killed run."""

    def __init__(self, store, count=3, power=2, kill_at=None):
        self.store, self.count, self.power, self.kill_at = store, count, power, kill_at
        self.ran = []

    def cells(self):
        return list(range(self.count))

    def cell_config(self, cell):
        return {"power": self.power, "sizes": (1, 2)}  # A tuple: stored as a list, still the same config.

    def describe(self, cell):
        return f"cell {cell}"

    def summarize(self, result):
        return f"value {result['value']}"

    def run_cell(self, cell):
        if cell == self.kill_at:
            raise KeyboardInterrupt
        self.ran.append(cell)
        return {"config": self.cell_config(cell), "value": cell**self.power}


def files(root):
    return runner.JsonFiles(lambda cell: root / f"cell{cell}.json")


def test_a_killed_run_resumes_and_a_finished_one_runs_nothing(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        runner.run(Powers(files(tmp_path), kill_at=2), desc="powers")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cell0.json", "cell1.json"]

    resumed = Powers(files(tmp_path))
    assert runner.run(resumed, desc="powers") == 1 and resumed.ran == [2]
    assert json.loads((tmp_path / "cell2.json").read_text()) == {"config": {"power": 2, "sizes": [1, 2]}, "value": 4}

    again = Powers(files(tmp_path))
    assert runner.run(again, desc="powers") == 0 and again.ran == []


def test_a_damaged_result_is_run_again_with_a_warning(tmp_path, caplog):
    runner.run(Powers(files(tmp_path)), desc="powers")
    (tmp_path / "cell1.json").write_text('{"config": {"pow')
    again = Powers(files(tmp_path))
    runner.run(again, desc="powers")
    assert again.ran == [1]
    assert "cell1.json cannot be read" in caplog.text
    assert json.loads((tmp_path / "cell1.json").read_text())["value"] == 1


def test_a_result_made_with_another_config_stops_the_run_before_any_cell(tmp_path):
    runner.run(Powers(files(tmp_path), count=1), desc="powers")
    changed = Powers(files(tmp_path), count=2, power=3)
    with pytest.raises(ValueError, match=r"cell0\.json was made with a different config \(differs in: power\)\. "
                                         "Use another --workdir"):
        runner.run(changed, desc="powers")
    assert changed.ran == []


def shared(path, **options):
    return runner.JsonFile(path, lambda cell: f"cell{cell}", section="cells", header=lambda: {"note": "new"},
                           remedy="Use another --out.", **options)


class Halves(Powers):
    """A second experiment on the same file: adds `half` to each entry, under its own config field."""

    def cell_config(self, cell):
        return {"rounding": "floor"}

    def summarize(self, result):
        return f"half {result['half']}"

    def run_cell(self, cell):
        self.ran.append(cell)
        return {"half": cell // 2}


def test_a_shared_file_holds_every_result_under_one_config_and_resumes(tmp_path):
    path = tmp_path / "all.json"
    with pytest.raises(KeyboardInterrupt):
        runner.run(Powers(shared(path), kill_at=1), desc="powers")
    resumed = Powers(shared(path))
    runner.run(resumed, desc="powers")
    assert resumed.ran == [1, 2]
    stored = json.loads(path.read_text())
    assert list(stored) == ["config", "note", "cells"] and stored["config"] == {"power": 2, "sizes": [1, 2]}
    assert stored["cells"]["cell2"]["value"] == 4

    # A second experiment adds its fields to the entries, under a config field of its own.
    halves = Halves(shared(path, config_field="halving", fields=("half",)))
    runner.run(halves, desc="halves")
    stored = json.loads(path.read_text())
    assert halves.ran == [0, 1, 2] and list(stored) == ["config", "note", "cells", "halving"]
    assert stored["cells"]["cell2"] == {"config": {"power": 2, "sizes": [1, 2]}, "value": 4, "half": 1}
    assert runner.run(Halves(shared(path, config_field="halving", fields=("half",))), desc="halves") == 0

    # A file made with another config is refused even for cells it does not hold yet.
    with pytest.raises(ValueError, match=r"differs in: power\)\. Use another --out"):
        runner.run(Powers(shared(path), count=4, power=3), desc="powers")


def test_a_damaged_shared_file_stops_the_run_and_is_kept(tmp_path):
    path = tmp_path / "all.json"
    path.write_text('{"cells": {"cell0"')
    with pytest.raises(ValueError, match="all.json cannot be read .* not replaced"):
        runner.run(Powers(shared(path)), desc="powers")
    assert path.read_text() == '{"cells": {"cell0"'


def test_the_memory_store_runs_every_cell_and_reports_after_each():
    seen = []
    experiment = Powers(runner.Memory(on_save=lambda results: seen.append([r["value"] for r in results])))
    experiment.cells = lambda: [0, 1, 1, 2]  # A cell listed twice runs once.
    assert runner.run(experiment, desc="powers") == 3
    assert seen == [[0], [0, 1], [0, 1, 4]] and experiment.store.results()[-1]["value"] == 4
