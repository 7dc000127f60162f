"""A fake OAuth 2.0 provider for tests: a small real HTTP server on 127.0.0.1 whose RFC 7662
introspection endpoint knows the tokens a test issued, checks the client's HTTP Basic
authentication, counts its calls, and can be made slow, made to answer badly, or stopped."""

import base64
import json
import secrets
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote_plus

LOCALHOST = "127.0.0.1"
PATH = "/oauth2/introspect"


class IntrospectionProvider:
    """Issues opaque tokens and introspects them. Attributes a test may change while it runs:
    `delay` (seconds before each answer), `status` and `body` (a forced answer)."""

    def __init__(self, client_id: str = "chaosgw") -> None:
        self.client_id = client_id
        # With the characters RFC 6749's form-encoding of the Basic credentials is about.
        self.client_secret = secrets.token_urlsafe(16) + ":&+ %/"
        self.answers: dict[str, dict[str, Any]] = {}
        self.delay = 0.0
        self.status: int | None = None
        self.body: bytes | None = None
        self.calls: Counter[str] = Counter()  # by token; unauthorized calls count under ""
        self.forms: list[dict[str, list[str]]] = []
        self._lock = threading.Lock()
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                form = parse_qs(self.rfile.read(length).decode())
                status, body = provider._answer(
                    self.path, self.headers.get("authorization", ""), form
                )
                if provider.delay:
                    time.sleep(provider.delay)
                try:
                    self.send_response(status)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting (a slow provider)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._http = ThreadingHTTPServer((LOCALHOST, 0), Handler)
        self._http.daemon_threads = True
        self.issuer = f"http://{LOCALHOST}:{self._http.server_address[1]}"
        self.url = self.issuer + PATH
        self._thread: threading.Thread | None = None

    def issue(self, *, lifetime: float = 600, **claims: Any) -> str:
        """A new active token; `claims` add to or override the answer's members."""
        token = secrets.token_urlsafe(24)
        self.answers[token] = {
            "active": True,
            "iss": self.issuer,
            "client_id": "game-client",
            "sub": "player-1",
            "scope": "play",
            "exp": int(time.time() + lifetime),
            **claims,
        }
        return token

    def revoke(self, token: str) -> None:
        self.answers[token] = {"active": False}

    def calls_for(self, token: str) -> int:
        with self._lock:
            return self.calls[token]

    def _answer(
        self, path: str, authorization: str, form: dict[str, list[str]]
    ) -> tuple[int, bytes]:
        token = form.get("token", [""])[0]
        authorized = path == PATH and self._authorized(authorization)
        with self._lock:
            self.calls[token if authorized else ""] += 1
            self.forms.append(form)
        if not authorized:
            return 401, b'{"error": "invalid_client"}'
        if self.status is not None or self.body is not None:
            return self.status or 200, self.body if self.body is not None else b"{}"
        return 200, json.dumps(self.answers.get(token, {"active": False})).encode()

    def _authorized(self, authorization: str) -> bool:
        scheme, _, encoded = authorization.partition(" ")
        if scheme.lower() != "basic":
            return False
        client_id, _, secret = base64.b64decode(encoded).decode().partition(":")
        given = (unquote_plus(client_id), unquote_plus(secret))
        return given == (self.client_id, self.client_secret)

    def start(self) -> "IntrospectionProvider":
        self._thread = threading.Thread(
            target=self._http.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Down: connections to its port are refused from now on."""
        self._http.shutdown()
        self._http.server_close()
        if self._thread is not None:
            self._thread.join(5)

    @contextmanager
    def running(self) -> Iterator["IntrospectionProvider"]:
        self.start()
        try:
            yield self
        finally:
            self.stop()
