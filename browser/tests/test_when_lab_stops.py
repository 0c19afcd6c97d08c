"""Runs last (file order): stopping the Lab leaves nothing of the run behind, although
every notebook's tab was closed without shutting its kernel down."""

from tutorial.containers import leftovers, session_label


def test_stopping_the_lab_leaves_no_process_container_or_network(lab):
    lab.stop()
    assert lab.processes() == [], "processes started by the Lab are still running"
    label = session_label()
    assert label, "the session label is set by the root conftest.py"
    assert leftovers(label) == {"containers": [], "networks": []}
