"""Helpers the notebooks share: small, so the notebooks show the real commands.

    run("docker build -t hello-tornado .")   # echo, stream, raise on failure
    show(service.app.HelloHandler)           # display code straight from service/
"""

from tutorial.net import fetch, free_port, wait_for_http
from tutorial.prereqs import MissingPrerequisite, require
from tutorial.shell import Background, CommandFailed, run, start
from tutorial.source import show
from tutorial.wait import wait_until

__all__ = [
    "Background",
    "CommandFailed",
    "MissingPrerequisite",
    "fetch",
    "free_port",
    "require",
    "run",
    "show",
    "start",
    "wait_for_http",
    "wait_until",
]
