"""The "your turn" cells of notebooks 01-04 and 07: each check fails a wrong answer in one
sentence, without a traceback, and passes the folded solution.

The judges (notebooks/your_turn.py) take the answer, or what a learner's command left
behind (Docker's data, a tar's size), so a wrong answer costs no Docker run here: the
notebooks themselves, under nbval, run the real commands and the solutions.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import nbformat
import pytest

import your_turn
from tutorial.check import NOT_ANSWERED, Wrong, check

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ["01-hello-tornado.ipynb", "02-multi-stage-image.ipynb",
             "03-run-the-container.ipynb", "04-redis-queue-and-replicas.ipynb",
             "07-measure-it.ipynb"]
# Judges made for a measured number: the arguments a test gives them.
FACTORY_ARGS = {"replicas_for": (170.0,)}  # 5,000 GET/s x 170 µs = 0.85 cores -> 4 x 0.25


def judge(name: str):
    made = getattr(your_turn, name)
    return made(*FACTORY_ARGS[name]) if name in FACTORY_ARGS else made


def web(image="hello-tornado:latest", running=True, host_ip="127.0.0.1"):
    """The parts of `docker container inspect hello-web` the judge reads."""
    bindings = {"8080/tcp": [{"HostIp": host_ip, "HostPort": ""}]} if host_ip is not None else {}
    return {"Config": {"Image": image},
            "State": {"Running": running, "Status": "running" if running else "exited"},
            "HostConfig": {"PortBindings": bindings}}


def ps(hello=3, worker=2, health="healthy"):
    """The parts of `docker compose ps -a --format json` the judge reads."""
    rows = [{"Name": "hello-microservices-redis-1", "Service": "redis", "State": "running",
             "Health": "healthy"}]
    for service, count in (("hello", hello), ("worker", worker)):
        rows += [{"Name": f"hello-microservices-{service}-{n}", "Service": service,
                  "State": "running", "Health": health} for n in range(1, count + 1)]
    return rows


def export(tar_bytes=19_400_000, left=False):
    return {"files": 90, "tar_bytes": tar_bytes, "image_bytes": 19_400_000,
            "container_left": left}


# judge -> (a wrong answer, what the one sentence must say, the solution's answer or result)
CASES = {
    "greeting": (b"Hello", "not a str", "Hello from my first edit"),
    "sigterm_status": (143, "minus the signal's number", -15),
    "route": (r"/hello/(.*)", "empty name", r"/hello/([^/]+)"),
    "venv_size": ("a", "whole base image", "b"),
    "export": (export(tar_bytes=191_900_000), "export a container created from", export()),
    "web_container": (web(host_ip=""), "every network interface", web()),
    "oom_exit": (143, "SIGKILL, signal 9", 137),
    "missing_after_stop": (3, "only once Redis has it", 0),
    "workers_up": (ps(hello=1), "keep --scale hello=3", ps()),
    "costlier_path": ("direct", "adds a process, docker-proxy", "published"),
    "replicas_for": (3, "round up", 4),
}
MORE_WRONG = [
    ("greeting", "Hello World", "step 1's own greeting"),
    ("greeting", "  ", "empty body"),
    ("sigterm_status", 0, "no SIGTERM handler"),
    ("sigterm_status", "-15", "whole number"),
    ("route", r"/hello/(.+)", "keep / out of the name"),
    ("route", r"/hello/[^/]+", "exactly one group"),
    ("route", r"/hello/([^/]+", "not a valid regular expression"),
    ("venv_size", "c", "cannot be larger"),
    ("venv_size", "B", "one letter"),
    ("export", export(left=True), "docker rm hello-export"),
    ("web_container", web(image="hello-tornado:naive"), "not hello-tornado:latest"),
    ("web_container", web(running=False), "not running"),
    ("web_container", web(host_ip=None), "publishes no port 8080"),
    ("web_container", web(host_ip="0.0.0.0"), "every network interface"),
    ("oom_exit", 1, "before Python can do anything"),
    ("missing_after_stop", -1, "below 0"),
    ("missing_after_stop", "0", "whole number"),
    ("workers_up", ps(worker=0), "add --scale worker=2"),
    ("workers_up", ps(worker=1), "not 2"),
    ("workers_up", ps(health="starting"), "add --wait"),
    ("costlier_path", "proxy", '"direct" or "published"'),
    ("replicas_for", 1, "divide by the limit"),
    ("replicas_for", 4.0, "whole number"),
]


def your_turn_cells():
    """(notebook, index, your-turn cell, check cell, solution cell) for every your-turn."""
    for name in NOTEBOOKS:
        cells = nbformat.read(ROOT / "notebooks" / name, as_version=4).cells
        for i, cell in enumerate(cells):
            if "your-turn" in cell.metadata.get("tags", []):
                yield name, i, cell, cells[i + 1], cells[i + 2]


def judge_of(cell) -> str:
    return re.search(r"your_turn\.(\w+)", cell.source).group(1)


def one_sentence(text: str) -> bool:
    return "\n" not in text and text.endswith(".") and "Traceback" not in text


def test_every_notebook_has_two_your_turns_each_checked_then_solved_folded():
    found = list(your_turn_cells())
    for name in NOTEBOOKS:
        assert sum(n == name for n, *_ in found) >= 2, name
    for name, i, _, check_cell, solution in found:
        where = f"{name} cell {i}"
        assert check_cell.cell_type == "code" and "check(" in check_cell.source, where
        assert "strict" not in check_cell.source, where
        assert judge_of(check_cell) in CASES, f"{where}: no wrong answer is tested for it"
        assert solution.metadata.get("jupyter", {}).get("source_hidden") is True, where
        assert re.search(rf"your_turn\.{judge_of(check_cell)}\b.*, strict=True\)",
                         solution.source), where
    judges = {judge_of(check_cell) for *_, check_cell, _ in found}
    assert judges == set(CASES), "every judge tested here is used by a notebook"


def test_at_least_one_prediction_per_notebook():
    for name in NOTEBOOKS:
        cells = nbformat.read(ROOT / "notebooks" / name, as_version=4).cells
        intro = [cells[i - 1].source for i, cell in enumerate(cells)
                 if "your-turn" in cell.metadata.get("tags", [])]
        assert any("predict" in text.lower() for text in intro), name


def test_the_committed_placeholders_are_not_answered():
    for name, i, _cell, check_cell, _ in your_turn_cells():
        stdout = "".join(o.get("text", "") for o in check_cell.outputs
                         if o.output_type == "stream" and o.name == "stdout")
        assert "Not answered yet: " in stdout, f"{name} cell {i + 1}"
        assert all(o.output_type == "stream" and o.name == "stdout"
                   for o in check_cell.outputs), f"{name} cell {i + 1}: stdout only"


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_wrong_answer_gets_one_sentence_and_the_solution_passes(name, capsys):
    wrong, says, right = CASES[name]
    with pytest.raises(Wrong) as failure:
        check(wrong, judge(name))
    sentence = str(failure.value)
    assert says in sentence and one_sentence(sentence), sentence
    assert failure.value._render_traceback_() == [sentence]  # what IPython shows instead
    check(right, judge(name), strict=True)
    printed = capsys.readouterr().out
    assert printed.startswith("Right: ") and one_sentence(printed.strip()), printed


@pytest.mark.parametrize(("name", "wrong", "says"), MORE_WRONG)
def test_more_wrong_answers(name, wrong, says):
    with pytest.raises(Wrong, match=re.escape(says)) as failure:
        judge(name)(wrong)
    assert one_sentence(str(failure.value)), failure.value


def test_the_placeholder_is_not_answered_yet_and_strict_refuses_it(capsys):
    check(NOT_ANSWERED, your_turn.route)
    assert capsys.readouterr().out.startswith("Not answered yet: set `route` to")
    with pytest.raises(Wrong, match=r"^Not answered: set `route` to"):
        check(NOT_ANSWERED, your_turn.route, strict=True)


def test_python_solutions_run_as_stored():
    """The folded solutions of the Python-answer exercises, executed as they are stored."""
    for _name, _i, cell, _, solution in your_turn_cells():
        if cell.source.startswith("%%bash") or "run(" in solution.source:
            continue  # runs Docker: the notebook run under nbval proves it
        # Notebook 07's solutions read its measurements: a stand-in for them.
        measured = {"load": {"get_direct": {"cpu_us": 170.0}}, "math": math}
        exec(solution.source, {"check": check, "your_turn": your_turn, **measured})


def test_in_a_kernel_a_wrong_answer_shows_its_sentence_and_no_traceback():
    """What a learner sees in JupyterLab: the error output is the sentence alone."""
    from jupyter_client.manager import start_new_kernel

    # Started where JupyterLab starts a notebook's kernel: in the notebook's folder.
    manager, client = start_new_kernel(kernel_name="python3", cwd=str(ROOT / "notebooks"))
    try:
        outputs = []

        def keep(msg):
            if msg["msg_type"] in ("stream", "error"):
                outputs.append(msg["content"])

        client.execute_interactive(
            "import your_turn\nfrom tutorial.check import check\n"
            "check(143, your_turn.oom_exit)", output_hook=keep, timeout=60)
        with pytest.raises(Wrong) as expected:
            your_turn.oom_exit(143)
        assert len(outputs) == 1 and outputs[0]["ename"] == "Wrong", outputs
        assert outputs[0]["traceback"] == [str(expected.value)], outputs
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
