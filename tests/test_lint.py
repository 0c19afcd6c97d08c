"""The linters the project promises are clean: ruff (code and notebooks), hadolint."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent  # the tools pinned in requirements-dev.txt


def lint(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_ruff_is_clean():
    done = lint(str(BIN / "ruff"), "check", ".")
    assert done.returncode == 0, done.stdout + done.stderr


def test_hadolint_is_clean_on_every_dockerfile():
    dockerfiles = ["Dockerfile", *map(str, ROOT.glob("docker/*.Dockerfile")),
                   "bench/go-hello/Dockerfile"]
    done = lint(str(BIN / "hadolint"), *dockerfiles)
    assert done.returncode == 0, done.stdout + done.stderr
