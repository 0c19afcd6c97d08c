"""The service as a process: start-up line, real signals, exit status, port clash."""

from __future__ import annotations

import os
import signal
import socket
import sys
import time
from pathlib import Path

import pytest

from tutorial.net import fetch
from tutorial.shell import start
from tutorial.wait import wait_until

NO_REDIS = "redis://127.0.0.1:9/0"


@pytest.fixture
def service(start_service):
    """The service with no Redis behind it (port 9: connections refused)."""
    return lambda *args, **kw: start_service(*args, REDIS_URL=NO_REDIS, **kw)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_cleanly_with_status_0(service, signum):
    proc, url = service()
    assert fetch(url + "/").text == "Hello World"
    assert proc.stop(signum) == 0
    assert f"received {signal.Signals(signum).name}" in proc.output
    assert "shutdown complete" in proc.output
    assert "200 GET /" in proc.output  # the request log line


def test_in_flight_request_finishes_after_sigterm(service):
    proc, url = service()
    port = int(url.rsplit(":", 1)[1])
    # Start a POST whose body arrives slowly: the request is in flight when SIGTERM lands.
    body = b'{"n": 1}'
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(b"POST /enqueue HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 b"Content-Length: %d\r\n\r\n" % len(body) + body[:3])
    time.sleep(0.3)
    proc.proc.send_signal(signal.SIGTERM)
    proc.wait_for_line("received SIGTERM")
    # New connections are refused from now on...
    with pytest.raises(OSError):
        fetch(f"http://127.0.0.1:{port}/", timeout=2)
    # ...but the request in flight still gets its answer (503 here: no Redis).
    sock.sendall(body[3:])
    reply = sock.recv(65536).decode()
    sock.close()
    assert reply.startswith("HTTP/1.1 503"), reply
    assert proc.wait() == 0
    assert "shutdown complete" in proc.output


def test_port_in_use_is_a_clear_error(service):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        proc, _ = service("--port", str(port), listening=False)
        assert proc.wait() == 1
    assert f"cannot listen on 127.0.0.1:{port}" in proc.output


def test_start_up_line_names_version_address_and_instance(service):
    proc, url = service(POD_NAME="hello-pod")
    port = url.rsplit(":", 1)[1]
    assert f"hello-tornado 0.1.0 listening on http://127.0.0.1:{port} (instance hello-pod)" \
        in proc.output
    assert proc.stop() == 0


# ------------------------------------------------------ tutorial.shell.Background itself


def test_background_keeps_stderr_apart_when_asked():
    code = "import sys; print('out'); print('err', file=sys.stderr)"
    merged = start([sys.executable, "-c", code], echo=False)
    apart = start([sys.executable, "-c", code], echo=False, stderr_apart=True)
    assert (merged.wait(), apart.wait()) == (0, 0)
    assert sorted(merged.lines) == ["err\n", "out\n"] and merged.errors == ""
    assert (apart.output, apart.errors) == ("out\n", "err\n")


@pytest.mark.parametrize("group", [False, True], ids=["alone", "group"])
def test_background_group_signals_reach_the_children(group):
    """A signal to a shell alone leaves what it started running (as `make lab` would leave
    JupyterLab); with `group`, stop() reaches every process the command started."""
    shell = start(["bash", "-c", "sleep 300 & echo $!; wait"], echo=False, group=group)
    child = int(shell.wait_for_line(r"^\d+$").group())
    try:
        assert shell.stop(signal.SIGTERM) == -signal.SIGTERM
        if group:
            wait_until(lambda: not alive(child), 10, "the shell's child ends")
        else:
            assert alive(child), "SIGTERM to the shell alone reached its child"
    finally:
        if alive(child):
            os.kill(child, signal.SIGKILL)


def alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie, dead but not yet reaped by its parent, does not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_run_shows_another_directory_as_a_subshell_typed_from_the_root(capsys):
    from tutorial.shell import ROOT, run

    assert run(["pwd"], cwd=ROOT / "bench" / "go-hello", quiet=True).strip() == str(
        ROOT / "bench" / "go-hello")
    run(["true"], cwd=ROOT, quiet=True)
    start(["true"], cwd=ROOT / "bench").wait()
    assert capsys.readouterr().out.splitlines() == [
        "$ (cd bench/go-hello && pwd)", "$ true", "$ (cd bench && true) &"]
