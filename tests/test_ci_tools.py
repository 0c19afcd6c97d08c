"""Every command the project runs on the host is provisioned by .ci/run, or is optional.

The tests run as an ordinary user who cannot `apt-get`: a tool that `.ci/run` does not
install as root is missing on a brand-new CI machine, however green a warm one is. The
scan below finds the commands the tests, notebooks, bench/, browser/ and tutorial/ run or
look up; each must be one of:
- a Debian package in .ci/run's CI_PACKAGES list,
- provided by a script .ci/run calls,
- optional: the code that needs it skips with a reason where it is absent,
- part of every Debian system (coreutils, git, iproute2, ...).
"""

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# (debootstrap, qemu-user-static, binfmt-support and python3-venv are in CI_PACKAGES too:
# root's provisioning uses them before the tests start.)
FROM_PACKAGE = {  # command -> the Debian package .ci/run installs it from
    "redis-server": "redis-server", "redis-cli": "redis-server", "make": "make",
    "chromium": "chromium", "wrk": "wrk", "go": "golang-go",
    "strip": "binutils",
}
FROM_SCRIPT = {  # command -> the script .ci/run calls that provides it
    "docker": "scripts/provision-docker.sh", "dockerd": "scripts/provision-docker.sh",
    "kubectl": "scripts/trixie-apt.sh kubectl kind", "kind": "scripts/trixie-apt.sh kubectl kind",
}
OPTIONAL = {  # command -> what happens without it
    "shellcheck": "tests/test_cluster_helpers.py skips its shellcheck test",
    "minikube": "notebook 06: one of the cluster flavours it detects",
    "k3d": "notebook 06: one of the cluster flavours it detects",
}
SUBCOMMANDS = {"run"}  # argv lists of `docker` subcommands (tests/lab.py)
BASE = {  # on every Debian system (Essential or Priority: required/important)
    "bash", "cat", "find", "git", "ip", "ldconfig", "dpkg", "ls", "readlink", "sed", "tar",
    "python3", "env", "id", "chroot", "diff",  # diff: diffutils, Essential in Debian
}

# Where commands are named: argv lists passed to subprocess (or our run helpers),
# shutil.which, absolute paths, and the first word of a notebook's shell lines.
ARGV = re.compile(r'(?:run|Popen|check_output|check_call|argv\s*=|command\s*=|cmd\s*=|return)'
                  r'\s*\(?\s*\[\s*"([a-z][\w.+-]*)",')
WHICH = re.compile(r'shutil\.which\(\s*"([^"]+)"')
ABSOLUTE = re.compile(r'"/usr/s?bin/([\w.+-]+)"')
SHELL_WORD = re.compile(r"^\s*(?:[A-Z_]+=\S*\s+)*([a-z][\w.+-]*)")


def shell_commands(script: str) -> set[str]:
    found = set()
    for line in script.splitlines():
        line = line.split("#", 1)[0]
        for part in re.split(r"\|\||&&|[|;]|\$\(", line):
            if (match := SHELL_WORD.match(part)) and not part.startswith((" ", "\t")):
                found.add(match.group(1))
    return found


def commands_used() -> dict[str, set[str]]:
    used: dict[str, set[str]] = {}
    sources = [p for folder in ("tests", "bench", "browser", "notebooks/tutorial", "scripts")
               for p in (ROOT / folder).rglob("*.py")] + [ROOT / "conftest.py"]
    texts = [(p, p.read_text(encoding="utf-8")) for p in sources if p.name != Path(__file__).name]
    for path in sorted((ROOT / "notebooks").glob("[0-9]*.ipynb")):
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
            if cell["cell_type"] != "code":
                continue
            source = "".join(cell["source"])
            texts.append((path, source))
            if source.startswith("%%bash"):
                for command in shell_commands(source.split("\n", 1)[1]):
                    used.setdefault(command, set()).add(path.name)
            for line in source.splitlines():
                if line.startswith("!"):
                    for command in shell_commands(line[1:]):
                        used.setdefault(command, set()).add(path.name)
    for path, text in texts:
        for pattern in (ARGV, WHICH, ABSOLUTE):
            for command in pattern.findall(text):
                used.setdefault(command, set()).add(path.name)
    return used


def ci_packages(ci_run: str) -> set[str]:
    listed = re.search(r"^CI_PACKAGES=\(([^)]*)\)", ci_run, re.M)
    assert listed, ".ci/run has no CI_PACKAGES=(...) list"
    return set(listed.group(1).split())


def unprovisioned(ci_run: str) -> list[str]:
    """What the scan finds that `ci_run` (the text of .ci/run) would leave missing."""
    packages, problems = ci_packages(ci_run), []
    for command, where in sorted(commands_used().items()):
        if command in FROM_PACKAGE:
            if FROM_PACKAGE[command] not in packages:
                problems.append(f"{command} (used in {', '.join(sorted(where))}): package "
                                f"{FROM_PACKAGE[command]} is not in .ci/run's CI_PACKAGES")
        elif command in FROM_SCRIPT:
            if f"bash {FROM_SCRIPT[command]}" not in ci_run:
                problems.append(f"{command}: .ci/run no longer runs {FROM_SCRIPT[command]}")
        elif command not in OPTIONAL and command not in BASE | SUBCOMMANDS:
            problems.append(f"{command} (used in {', '.join(sorted(where))}): not provisioned "
                            "by .ci/run; add its package to CI_PACKAGES, or list it here")
    return problems


CI_RUN = (ROOT / ".ci/run").read_text(encoding="utf-8")


def test_every_command_used_is_provisioned_by_ci_or_optional():
    assert unprovisioned(CI_RUN) == []


def test_the_scan_finds_the_tools_this_issue_was_about():
    used = commands_used()
    for command in ("docker", "kubectl", "wrk", "go", "redis-server", "chromium"):
        assert command in used, f"the scan no longer sees {command}"


@pytest.mark.parametrize("package", sorted(set(FROM_PACKAGE.values())))
def test_a_copy_of_ci_run_without_one_package_fails(package):
    copy = re.sub(rf"(^CI_PACKAGES=\([^)]*?)\b{re.escape(package)}\b", r"\1", CI_RUN,
                  flags=re.M)
    assert ci_packages(copy) == ci_packages(CI_RUN) - {package}
    assert any(f"package {package} is not in" in p for p in unprovisioned(copy))


@pytest.mark.parametrize("script", sorted(set(FROM_SCRIPT.values())))
def test_a_copy_of_ci_run_without_one_script_fails(script):
    copy = CI_RUN.replace(f"bash {script}", "true")
    assert any(script in p for p in unprovisioned(copy))
