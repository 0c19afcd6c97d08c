"""Run a command the way a learner would type it: echo it, stream its output, fail loudly.

A bare `!cmd` in a notebook ignores the exit status, so a broken step would pass the
test. `run` raises instead, and the cell (and nbval) fail with the command's output.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import shlex
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import ClassVar

from tutorial.wait import wait_until

ROOT = Path(__file__).resolve().parents[2]  # where the printed commands are typed


def _display(command: str | Sequence[str], cwd: str | os.PathLike | None) -> str:
    """How the command reads when typed at the repository root: `python`, not this
    machine's interpreter path; another directory as `(cd DIR && command)`."""
    shown = command if isinstance(command, str) else shlex.join(
        "python" if arg == sys.executable else arg for arg in command)
    if cwd is not None and Path(cwd).resolve() != ROOT:
        shown = f"(cd {shlex.quote(os.path.relpath(cwd, ROOT))} && {shown})"
    return shown


def _assignments(argv: Sequence[str]) -> tuple[dict[str, str], list[str]]:
    """`NAME=value cmd ...` as a shell reads it: leading assignments go to cmd's environment.

    So a cell can show `BUILDX_NO_DEFAULT_ATTESTATIONS=1 docker build ...` exactly as a
    learner types it in a terminal, and run exactly that.
    """
    argv = list(argv)
    assignments = {}
    while argv and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", argv[0]):
        name, _, value = argv.pop(0).partition("=")
        assignments[name] = value
    return assignments, argv


class CommandFailed(RuntimeError):
    def __init__(self, command: str, returncode: int, output: str) -> None:
        tail = "\n".join(output.rstrip().splitlines()[-20:])
        super().__init__(f"`{command}` exited with status {returncode}. Last output:\n{tail}")
        self.command, self.returncode, self.output = command, returncode, output


def run(
    command: str | Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike | None = None,
    timeout: float | None = 600,
    quiet: bool = False,
    check: bool = True,
) -> str:
    """Run `command`, print `$ command` and its merged stdout/stderr live; return the output.

    `env` adds to (does not replace) the current environment, and so do leading
    `NAME=value` words of a string command, as in a shell. A `cwd` other than the
    repository root (where printed commands are typed) shows as `(cd DIR && command)`.
    Raises CommandFailed on a non-zero exit when `check` is true, TimeoutExpired after
    `timeout` seconds.
    """
    argv = shlex.split(command) if isinstance(command, str) else list(command)
    shown = _display(command, cwd)
    print(f"$ {shown}", flush=True)
    assignments, argv = _assignments(argv)
    proc = subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
        cwd=cwd,
        env={**os.environ, **(env or {}), **assignments},
    )
    lines = []
    try:
        for line in proc.stdout:
            lines.append(line)
            if not quiet:
                sys.stdout.write(line)
                sys.stdout.flush()
        proc.wait(timeout=timeout)
    except BaseException:  # KeyboardInterrupt (Jupyter's stop button) included
        proc.kill()
        proc.wait()
        raise
    output = "".join(lines)
    if check and proc.returncode != 0:
        raise CommandFailed(shown, proc.returncode, output)
    return output


class Background:
    """A command running in the background, its output collected as it arrives.

    Every Background is killed when the Python process exits (kernel restart included),
    so a failed cell cannot leave a server listening.
    """

    _alive: ClassVar[set[Background]] = set()

    def __init__(self, command: str | Sequence[str], *, env: Mapping[str, str] | None = None,
                 echo: bool = True, cwd: str | os.PathLike | None = None,
                 group: bool = False, stderr_apart: bool = False) -> None:
        """`group`: a process group of its own, and stop()/kill() signal all of it (for a
        command such as `make lab`, whose children a signal to it alone may not reach).
        `stderr_apart`: stderr is kept in `error_lines`, not merged into `lines`."""
        argv = shlex.split(command) if isinstance(command, str) else list(command)
        self.command = _display(command, cwd)
        if echo:
            print(f"$ {self.command} &", flush=True)
        self.group = group
        # stdin from /dev/null, as a shell gives it to `command &`.
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE if stderr_apart else subprocess.STDOUT, text=True,
            errors="replace", cwd=cwd, env={**os.environ, **(env or {})},
            start_new_session=group,
        )
        self.lines: list[str] = []
        self.error_lines: list[str] = []
        self._readers = [threading.Thread(target=self._read, args=(stream, sink), daemon=True)
                         for stream, sink in ((self.proc.stdout, self.lines),
                                              (self.proc.stderr, self.error_lines)) if stream]
        for reader in self._readers:
            reader.start()
        Background._alive.add(self)

    @staticmethod
    def _read(stream, sink: list[str]) -> None:
        for line in stream:
            sink.append(line)

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def output(self) -> str:
        return "".join(self.lines)

    @property
    def errors(self) -> str:
        """What the command wrote to stderr, when started with `stderr_apart`."""
        return "".join(self.error_lines)

    def wait_for_line(self, pattern: str, timeout: float = 15.0) -> re.Match:
        """The first output line matching `pattern`; AssertionError with the output if none."""
        regex = re.compile(pattern)

        def found() -> re.Match | bool | None:
            match = next(filter(None, map(regex.search, list(self.lines))), None)
            return match or (self.proc.poll() is not None
                             and not any(r.is_alive() for r in self._readers))

        match = None
        with contextlib.suppress(TimeoutError):
            match = wait_until(found, timeout, f"a line matching {pattern!r}", interval=0.02)
        if isinstance(match, re.Match):
            return match
        raise AssertionError(f"no output line matching {pattern!r} from `{self.command}`; "
                             f"output so far:\n{self.output}")

    def wait(self, timeout: float = 15.0) -> int:
        code = self.proc.wait(timeout=timeout)
        for reader in self._readers:
            reader.join(timeout=5)
        Background._alive.discard(self)
        return code

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 15.0) -> int:
        """Send `signum` (SIGTERM, like `docker stop`), wait, return the exit status."""
        self.send_signal(signum)
        return self.wait(timeout)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)
        self.wait()

    def send_signal(self, signum: int) -> None:
        """Send `signum` to the command, or with `group` to every process in its group
        (also when the command itself has exited and its children have not)."""
        if self.group:
            with contextlib.suppress(ProcessLookupError):  # the whole group is gone
                os.killpg(self.proc.pid, signum)
        elif self.proc.poll() is None:
            self.proc.send_signal(signum)

    @classmethod
    def kill_all(cls) -> int:
        """Kill every background command still running; return how many there were."""
        alive = [bg for bg in cls._alive if bg.proc.poll() is None]
        for bg in list(cls._alive):
            bg.kill()
        return len(alive)


def start(command: str | Sequence[str], *, env: Mapping[str, str] | None = None,
          echo: bool = True, cwd: str | os.PathLike | None = None, group: bool = False,
          stderr_apart: bool = False) -> Background:
    """Start `command` in the background (like `command &` in a shell); see Background."""
    return Background(command, env=env, echo=echo, cwd=cwd, group=group,
                      stderr_apart=stderr_apart)


atexit.register(Background.kill_all)
