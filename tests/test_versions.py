"""The service's pins appear twice (image lock, tutorial env); they must agree."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PIN = re.compile(r"^([A-Za-z0-9_.-]+)==([^\s;\\]+)", re.M)


def pins(path: str) -> dict[str, str]:
    text = (ROOT / path).read_text()
    return {name.lower(): version for name, version in PIN.findall(text)}


def test_service_pins_match_the_tutorial_environment():
    image, tutorial = pins("service/requirements.txt"), pins("requirements-dev.txt")
    runtime = {name: v for name, v in image.items() if name != "async-timeout"}
    assert runtime, "no pins found in service/requirements.txt"
    assert {name: tutorial.get(name) for name in runtime} == runtime


def test_image_lock_has_hashes_for_every_pin():
    text = (ROOT / "service/requirements.txt").read_text()
    blocks = re.split(r"\n(?=[A-Za-z])", text[text.index("\ntornado") + 1:])
    for block in blocks:
        assert "--hash=sha256:" in block, f"no hash for: {block.splitlines()[0]}"


def test_environment_yml_installs_the_same_file_as_the_makefile():
    assert "-r requirements-dev.txt" in (ROOT / "environment.yml").read_text()
    assert "-r requirements-dev.txt" in (ROOT / "Makefile").read_text()
