"""Session-wide safety net for tests and notebooks alike.

Every container and network the tests and notebooks create carries the project label;
each removes its own at the end. If something this session created still carries the
label when the session ends (a crashed kernel, an interrupted cell), it is removed here
and reported. Older ones (a notebook open in JupyterLab meanwhile) are left alone.
"""

from __future__ import annotations

import shutil
import time

_STARTED = time.time()


def pytest_sessionfinish(session, exitstatus):
    if shutil.which("docker") is None:
        return
    from tutorial.containers import LABEL, remove

    try:
        found = remove(LABEL, echo=False, since=_STARTED)
    except (OSError, RuntimeError):
        return  # no engine answers: nothing can have been left running
    if found["containers"] or found["networks"]:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter:
            reporter.write_line(f"removed leftovers carrying {LABEL}: {found}", yellow=True)
