"""`make lab` starts JupyterLab on loopback, protected by a token (run headless here)."""

import os
import re
import signal
import subprocess
import time
from pathlib import Path

from tutorial.net import fetch, free_port

ROOT = Path(__file__).resolve().parents[1]


def test_make_lab_serves_on_loopback_with_a_token():
    port = free_port()
    proc = subprocess.Popen(["make", "--no-print-directory", "lab", f"LAB_PORT={port}"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)
    try:
        deadline, api = time.monotonic() + 60, None
        while time.monotonic() < deadline:
            try:
                api = fetch(f"http://127.0.0.1:{port}/api", timeout=2)
                break
            except OSError:
                time.sleep(0.3)
        assert api is not None and api.status == 200, "JupyterLab did not answer within 60 s"
        assert "version" in api.json()
        # Without the token the contents API is closed...
        assert fetch(f"http://127.0.0.1:{port}/api/contents").status == 403
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        output, _ = proc.communicate(timeout=30)
    # ...and the URL it prints carries one.
    assert re.search(rf"http://127\.0\.0\.1:{port}/lab\?token=[0-9a-f]{{16,}}", output), output
