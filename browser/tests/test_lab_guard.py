"""The Lab `make lab` starts is for this machine's user only."""


def test_lab_listens_on_loopback_only(lab):
    assert lab.listening_addresses() == {"127.0.0.1"}


def test_lab_refuses_the_contents_api_without_its_token(lab):
    assert lab.api("/api/contents", token=False).status == 403
    assert lab.api("/api/contents").status == 200
