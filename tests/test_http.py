"""The HTTP surface of the service, in-process with Tornado's own test tools."""

import json

from tornado.testing import AsyncHTTPTestCase

from service.app import make_app
from service.config import Settings

# A port nothing listens on: the Redis-independent endpoints must not care.
NO_REDIS = Settings(redis_url="redis://127.0.0.1:9/0", instance="test-instance")


class HelloTest(AsyncHTTPTestCase):
    def get_app(self):
        return make_app(NO_REDIS)

    def test_root_says_hello_world_as_plain_text(self):
        response = self.fetch("/")
        self.assertEqual(response.code, 200)
        self.assertEqual(response.body, b"Hello World")
        self.assertTrue(response.headers["Content-Type"].startswith("text/plain"))

    def test_healthz_is_json_and_independent_of_redis(self):
        response = self.fetch("/healthz")
        self.assertEqual(response.code, 200)
        self.assertEqual(json.loads(response.body), {"status": "ok", "instance": "test-instance"})

    def test_unknown_path_is_a_json_404(self):
        response = self.fetch("/no/such/thing")
        self.assertEqual(response.code, 404)
        self.assertEqual(response.headers["Content-Type"], "application/json")
        body = json.loads(response.body)
        self.assertEqual(body["status"], 404)
        self.assertIn("/no/such/thing", body["error"])

    def test_wrong_method_is_a_json_405_with_allow(self):
        for method, path, allow in [("POST", "/", "GET"), ("DELETE", "/healthz", "GET"),
                                    ("GET", "/enqueue", "POST")]:
            body = b"x" if method == "POST" else None
            response = self.fetch(path, method=method, body=body, allow_nonstandard_methods=True)
            self.assertEqual(response.code, 405, (method, path))
            self.assertEqual(response.headers["Allow"], allow)
            self.assertEqual(json.loads(response.body)["status"], 405)

    def test_readyz_is_503_when_redis_is_unreachable(self):
        response = self.fetch("/readyz")
        self.assertEqual(response.code, 503)
        self.assertEqual(response.headers["Retry-After"], "1")
        self.assertEqual(json.loads(response.body)["status"], "unavailable")

    def test_every_request_is_finished_and_untracked(self):
        self.fetch("/")
        self.fetch("/nope")
        self.assertEqual(len(self._app.in_flight), 0)
