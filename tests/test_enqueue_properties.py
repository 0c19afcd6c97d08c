"""Property-based: whatever a client sends, a mistake is a 4xx and enqueues nothing,
every 202 is stored exactly once, and nothing is ever a 5xx while Redis is up."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from service.enqueue import MAX_JSON_DEPTH
from tests.redis_server import stored
from tutorial.net import fetch

charsets = st.sampled_from(["utf-8", "UTF-8", '"utf-8"', "us-ascii", "latin-1", "utf-16",
                            "x-unknown", ""])
content_types = st.one_of(
    st.sampled_from(["text/plain", "application/json", "text/plain; charset=utf-8",
                     "APPLICATION/JSON", "application/xml", "text/html", "",
                     "multipart/form-data"]),
    st.builds(lambda media, charset: f"{media}; charset={charset}",
              st.sampled_from(["text/plain", "application/json"]), charsets),
    st.text(st.characters(min_codepoint=33, max_codepoint=126), max_size=30),
)
# Arrays or objects nested 1 to 3 x MAX_JSON_DEPTH deep.
nested = st.builds(lambda depth, shape: (shape[0] * depth + shape[1] + shape[2] * depth).encode(),
                   st.integers(1, 3 * MAX_JSON_DEPTH),
                   st.sampled_from([("[", "", "]"), ('{"a":', "1", "}")]))
bodies = st.one_of(
    st.binary(max_size=2048),
    st.text(max_size=512).map(str.encode),
    st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                 lambda kids: st.lists(kids, max_size=4)
                 | st.dictionaries(st.text(max_size=8), kids, max_size=4),
                 max_leaves=10).map(lambda v: json.dumps(v).encode()),
    nested,
    st.sampled_from([b"NaN", b"[Infinity]", b"-Infinity", b"1e999", b"[1.5e3]"]),
)


def depth(value) -> int:
    if isinstance(value, dict | list):
        children = value.values() if isinstance(value, dict) else value
        return 1 + max((depth(child) for child in children), default=0)
    return 0


def not_json_constant(name: str):
    raise ValueError(name)


def expected_status(content_type: str, body: bytes) -> int:
    media, _, params = content_type.partition(";")
    if media.strip().lower() not in ("text/plain", "application/json"):
        return 415
    charset = params.partition("charset=")[2].strip().strip('"').lower() if params else None
    if charset is not None and charset not in ("utf-8", "utf8", "us-ascii"):
        return 415
    if not body:
        return 400
    try:
        text = body.decode("utf-8")
        if media.strip().lower() == "application/json":
            value = json.loads(text, parse_constant=not_json_constant)
            json.dumps(value, allow_nan=False)  # ValueError: a number overflowed (1e999)
            if depth(value) > MAX_JSON_DEPTH:
                return 400
    except (ValueError, RecursionError):
        return 400
    return 202


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(content_type=content_types, body=bodies)
# Found by a CI run: a *string* "Infinity" is valid JSON (only the number is not).
@example(content_type="application/json", body=b'{"Infinity": null}')
def test_status_is_exactly_what_the_input_deserves(service_url, redis_client, queue_key,
                                                   content_type, body):
    headers = {"Content-Type": content_type} if content_type else {}
    before = redis_client.xlen(queue_key)
    reply = fetch(service_url + "/enqueue", "POST", body, headers)
    assert reply.status < 500, reply.text
    assert reply.status == expected_status(content_type, body), reply.text
    after = redis_client.xlen(queue_key)
    if reply.status == 202:
        assert after == before + 1
        newest = json.loads(stored(redis_client, queue_key)[-1])
        assert newest["id"] == reply.json()["id"]
        # Sent again under its id (a client retry): still stored once.
        again = fetch(service_url + "/enqueue", "POST", body,
                      {**headers, "Idempotency-Key": newest["id"]})
        assert again.status == 202 and redis_client.xlen(queue_key) == after
    else:
        assert after == before, "a refused request enqueued something"
        assert "error" in reply.json()
