"""Session-wide safety net for tests and notebooks alike.

Every container and network the tests and notebooks create carries the project label
and removes itself at the end. Under pytest they also carry this session's own label
(the session id travels in an environment variable, which notebook kernels inherit); if
anything with it is still there when the session ends (a crashed kernel, an interrupted
cell), it is removed here and reported. Nothing another session or a notebook open in
JupyterLab started is touched.
"""

from __future__ import annotations

import os
import shutil
import uuid

from tutorial.containers import SESSION_ENV, remove, session_label


def pytest_configure(config):
    os.environ.setdefault(SESSION_ENV, uuid.uuid4().hex[:12])


def pytest_sessionfinish(session, exitstatus):
    label = session_label()
    if label is None or shutil.which("docker") is None:
        return
    try:
        found = remove(label, echo=False)
    except (OSError, RuntimeError):
        return  # no engine answers: nothing can have been left running
    if found["containers"] or found["networks"]:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter:
            reporter.write_line(f"removed leftovers of this session: {found}", yellow=True)
