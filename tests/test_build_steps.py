"""tutorial.containers.build_steps: BuildKit's plain log reduced to one line per step."""

from __future__ import annotations

from tutorial.containers import build_steps, print_build_steps

LOG = """\
#0 building with "default" instance using docker driver
#1 [internal] load build definition from Dockerfile
#1 DONE 0.0s
#4 [builder 1/3] FROM docker.io/library/python:3.11-slim-bookworm
#4 DONE 0.0s
#7 [builder 3/3] RUN pip install --no-index \\
#7 1.234 Successfully installed tornado-6.6.1
#7 DONE 3.2s
#6 [builder 2/3] COPY requirements.txt ./
#6 CACHED
#9 [stage-1 1/1] COPY --from=builder /rootfs/ /
#9 DONE 0.1s
#10 exporting to image
"""


def test_steps_in_dockerfile_order_with_cache_hits():
    assert build_steps(LOG) == [
        ("[builder 1/3] FROM docker.io/library/python:3.11-slim-bookworm", False),
        ("[builder 2/3] COPY requirements.txt ./", True),
        ("[builder 3/3] RUN pip install --no-index \\", False),
        ("[stage-1 1/1] COPY --from=builder /rootfs/ /", False),
    ]


def test_a_single_unnamed_stage():
    log = "#3 [2/2] RUN true\n#3 CACHED\n#2 [1/2] FROM scratch\n"
    assert build_steps(log) == [("[1/2] FROM scratch", False), ("[2/2] RUN true", True)]


def test_the_legacy_builders_log_has_no_steps():
    assert build_steps("Step 1/9 : ARG PYTHON_IMAGE\n ---> Using cache\n") == []


def test_printed_summary(capsys):
    print_build_steps(LOG, width=40)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("       [builder 1/3] FROM")  # a FROM has no status
    assert lines[1] == "CACHED [builder 2/3] COPY requirements.txt ./"
    assert lines[2].startswith("built  [builder 3/3] RUN") and lines[2].endswith("...")
