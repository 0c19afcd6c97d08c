"""Bodies built to hurt: deep nesting, non-JSON numbers, foreign charsets. 4xx, never 5xx."""

from __future__ import annotations

import json

import pytest

from service.enqueue import MAX_JSON_DEPTH
from tests.redis_server import stored
from tutorial.net import fetch

JSON = {"Content-Type": "application/json"}


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 1_000, 100_000])
def test_too_deep_json_is_a_400(start_service, redis_server, redis_client, queue_key, depth):
    # A body limit large enough for 100,000 levels (200,000 bytes): depth is refused
    # as such, not as size.
    _, url = start_service(REDIS_URL=redis_server.url, QUEUE_KEY=queue_key,
                           MAX_BODY_BYTES=str(256 * 1024))
    reply = fetch(url + "/enqueue", "POST", nested(depth), JSON, timeout=10)
    assert reply.status == 400, reply.text[:300]
    assert f"nested deeper than {MAX_JSON_DEPTH}" in reply.json()["error"]
    assert redis_client.xlen(queue_key) == 0


def test_deep_objects_count_too(service_url, redis_client, queue_key):
    body = '{"a":' * (MAX_JSON_DEPTH + 1) + "1" + "}" * (MAX_JSON_DEPTH + 1)
    assert fetch(service_url + "/enqueue", "POST", body, JSON).status == 400
    assert redis_client.xlen(queue_key) == 0


def test_the_maximum_depth_itself_is_accepted(service_url, redis_client, queue_key):
    reply = fetch(service_url + "/enqueue", "POST", nested(MAX_JSON_DEPTH), JSON)
    assert reply.status == 202, reply.text
    [message] = [json.loads(raw) for raw in stored(redis_client, queue_key)]
    assert message["body"] == json.loads(nested(MAX_JSON_DEPTH))


@pytest.mark.parametrize("body", ["NaN", "[Infinity]", '{"x": -Infinity}'])
def test_nan_and_infinity_are_not_json(service_url, redis_client, queue_key, body):
    reply = fetch(service_url + "/enqueue", "POST", body, JSON)
    assert reply.status == 400, reply.text
    assert "not valid JSON" in reply.json()["error"]
    assert redis_client.xlen(queue_key) == 0


@pytest.mark.parametrize("content_type", [
    "text/plain; charset=utf-8", "text/plain; charset=UTF-8", 'text/plain; charset="utf-8"',
    "text/plain; charset=us-ascii", "application/json;charset=utf-8",
])
def test_utf8_and_ascii_charsets_are_accepted(service_url, redis_client, queue_key,
                                              content_type):
    body = '"h\u00e9"' if "json" in content_type else "ascii"
    reply = fetch(service_url + "/enqueue", "POST", body, {"Content-Type": content_type})
    assert reply.status == 202, reply.text
    assert redis_client.xlen(queue_key) == 1


@pytest.mark.parametrize("charset", ["latin-1", "utf-16", "iso-8859-1", "nonsense"])
def test_other_charsets_are_a_415_not_silently_misread(service_url, redis_client, queue_key,
                                                       charset):
    reply = fetch(service_url + "/enqueue", "POST", "caf\u00e9".encode("latin-1"),
                  {"Content-Type": f"text/plain; charset={charset}"})
    assert reply.status == 415, reply.text
    assert "charset" in reply.json()["error"]
    assert redis_client.xlen(queue_key) == 0


def test_no_server_header_names_the_software(service_url):
    for path in ("/", "/healthz", "/nope"):
        assert "Server" not in fetch(service_url + path).headers


def test_503_bodies_do_not_name_the_redis_host(start_service, queue_key):
    _, url = start_service(REDIS_URL="redis://127.0.0.1:9/0", QUEUE_KEY=queue_key)
    for path, method, body in [("/enqueue", "POST", "x"), ("/readyz", "GET", None)]:
        reply = fetch(url + path, method, body, {"Content-Type": "text/plain"})
        assert reply.status == 503
        assert "127.0.0.1" not in reply.text and ":9" not in reply.text, reply.text
