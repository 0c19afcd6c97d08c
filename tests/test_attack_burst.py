"""2,000 POSTs opened at once against a healthy Redis: accepted, stored once, still ready.

Latency is measured by `python -m bench.burst`, not asserted here (a shared CI machine's
load decides it); what must hold under any load is asserted: no false 503s, every 202
stored exactly once, /readyz never says "not ready" while Redis is fine, and past
MAX_PENDING a fast 503 that stored nothing.
"""

from __future__ import annotations

import json
from collections import Counter

from bench.burst import burst
from tests.redis_server import stored


def stored_ids(redis_client, key) -> Counter:
    return Counter(json.loads(raw)["id"] for raw in stored(redis_client, key))


def test_a_burst_of_2000_posts_is_accepted_and_stored_once(start_service, redis_server,
                                                          redis_client, queue_key):
    _, url = start_service(REDIS_URL=redis_server.url, QUEUE_KEY=queue_key)
    result = burst(int(url.rsplit(":", 1)[1]), 2000)
    assert result.accepted_share >= 0.99, dict(result.statuses)
    stored = stored_ids(redis_client, queue_key)
    missing_or_twice = [i for i in result.accepted_ids if stored[i] != 1]
    assert not missing_or_twice, f"{len(missing_or_twice)} accepted messages not stored once"
    assert max(stored.values()) == 1
    assert result.readyz_seconds, "/readyz was never probed during the burst"
    assert set(result.readyz_statuses) == {200}, dict(result.readyz_statuses)


def test_past_max_pending_the_answer_is_a_fast_503_that_stored_nothing(
        start_service, redis_server, redis_client, queue_key):
    _, url = start_service(REDIS_URL=redis_server.url, QUEUE_KEY=queue_key,
                           MAX_PENDING="50")
    result = burst(int(url.rsplit(":", 1)[1]), 600)
    assert set(result.statuses) <= {202, 503}, dict(result.statuses)
    assert result.statuses[202] >= 50 and result.statuses[503] > 0, dict(result.statuses)
    stored = stored_ids(redis_client, queue_key)
    # Every 503 here is certain: only accepted messages are in Redis, each once.
    assert sorted(stored) == sorted(result.accepted_ids)
