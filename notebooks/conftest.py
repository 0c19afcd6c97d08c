"""pytest glue for the notebooks (collected by `pytest --nbval`).

- A notebook declares what it needs in its metadata, `"tutorial": {"requires": [...]}`;
  when something is missing the whole notebook is skipped, with the same sentence the
  notebook's first cell shows a learner.
- CI sets TUTORIAL_REQUIRE (e.g. "docker"): a missing thing named there fails the
  notebook instead of skipping it, so CI cannot go green by skipping what it provides.
- stderr is not compared: warnings and progress bars vary from run to run. A failing
  command still fails its cell, because `tutorial.run` raises.
"""

from __future__ import annotations

import json

import nbval.plugin
import pytest

from tutorial.prereqs import problems, promised

_compare_outputs = nbval.plugin.IPyNbCell.compare_outputs


def _without_stderr(outputs):
    return [o for o in outputs
            if not (o.get("output_type") == "stream" and o.get("name") == "stderr")]


def _compare_outputs_without_stderr(self, test, ref, skip_compare=None):
    return _compare_outputs(self, _without_stderr(test), _without_stderr(ref), skip_compare)


nbval.plugin.IPyNbCell.compare_outputs = _compare_outputs_without_stderr


def pytest_collection_modifyitems(config, items):
    required = promised()
    reasons: dict[str, list[str]] = {}
    for item in items:
        path = str(item.path)
        if not path.endswith(".ipynb"):
            continue
        if path not in reasons:
            with open(path, encoding="utf-8") as f:
                needs = json.load(f).get("metadata", {}).get("tutorial", {}).get("requires", [])
            missing = problems(*needs)
            fatal = [m for m in missing if m.split(":", 1)[0] in required]
            if fatal:
                raise pytest.UsageError(f"{item.path.name} needs what TUTORIAL_REQUIRE promises: "
                                        + "; ".join(fatal))
            reasons[path] = missing
        if reasons[path]:
            item.add_marker(pytest.mark.skip(reason="; ".join(reasons[path])))
