"""A missing prerequisite skips a test, unless CI promised it: then it fails."""

import pytest

from tests.prereq import need
from tutorial.prereqs import promised


def test_promised_reads_the_comma_separated_list(monkeypatch):
    monkeypatch.setenv("TUTORIAL_REQUIRE", "docker, redis")
    assert promised() == {"docker", "redis"}  # so "red" is not promised by "redis"


def test_need_passes_skips_or_fails(monkeypatch):
    monkeypatch.setenv("TUTORIAL_REQUIRE", "docker")
    need("docker", None)  # nothing missing: no effect
    with pytest.raises(pytest.skip.Exception, match="no emulator"):
        need("arm64", "no emulator")
    with pytest.raises(pytest.fail.Exception, match="promises docker, but no engine"):
        need("docker", "no engine")
