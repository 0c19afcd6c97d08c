"""Property-based: whatever a client sends, a mistake is a 4xx and enqueues nothing."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tutorial.net import fetch

content_types = st.one_of(
    st.sampled_from(["text/plain", "application/json", "text/plain; charset=utf-8",
                     "APPLICATION/JSON", "application/xml", "text/html", "",
                     "multipart/form-data"]),
    st.text(st.characters(min_codepoint=33, max_codepoint=126), max_size=30),
)
bodies = st.one_of(
    st.binary(max_size=2048),
    st.text(max_size=512).map(str.encode),
    st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                 lambda kids: st.lists(kids, max_size=4)
                 | st.dictionaries(st.text(max_size=8), kids, max_size=4),
                 max_leaves=10).map(lambda v: json.dumps(v).encode()),
)


def expected_status(content_type: str, body: bytes) -> int:
    media = content_type.split(";", 1)[0].strip().lower()
    if media not in ("text/plain", "application/json"):
        return 415
    if not body:
        return 400
    try:
        text = body.decode("utf-8")
        if media == "application/json":
            json.loads(text)
    except ValueError:
        return 400
    return 202


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(content_type=content_types, body=bodies)
def test_status_is_exactly_what_the_input_deserves(service_url, redis_client, queue_key,
                                                   content_type, body):
    headers = {"Content-Type": content_type} if content_type else {}
    before = redis_client.llen(queue_key)
    reply = fetch(service_url + "/enqueue", "POST", body, headers)
    assert reply.status < 500, reply.text
    assert reply.status == expected_status(content_type, body), reply.text
    after = redis_client.llen(queue_key)
    if reply.status == 202:
        assert after == before + 1
        stored = json.loads(redis_client.lindex(queue_key, 0))
        assert stored["id"] == reply.json()["id"]
    else:
        assert after == before, "a refused request enqueued something"
        assert "error" in reply.json()
