"""One pure-ASGI middleware for what every request needs: request id, body limit, metrics,
access log and security headers. Pure ASGI (not BaseHTTPMiddleware) keeps it cheap."""

from __future__ import annotations

import itertools
import os
import re
import time
from collections.abc import Callable
from typing import Any

import msgspec
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mainplatform.errors import PayloadTooLarge
from mainplatform.logs import AccessLog
from mainplatform.metrics import Metrics

_REQUEST_ID = re.compile(rb"[A-Za-z0-9._:-]{1,128}")
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
    (b"cross-origin-resource-policy", b"same-origin"),
]
NO_STORE = (b"cache-control", b"no-store")
CLIENT_CLOSED_REQUEST = 499  # nginx's status for a client that left before the response


class Observe:
    def __init__(
        self,
        app: ASGIApp,
        *,
        metrics: Metrics,
        routes: Callable[[Any], str | None],
        max_body: int,
        access_log: AccessLog | None = None,
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.routes = routes
        self.max_body = max_body
        self.access_log = access_log
        # Generated request ids: this worker's random prefix and a counter, 32 hex digits.
        # Unique (not secret), and no getrandom() system call per request.
        self._id_prefix = os.urandom(8).hex()
        self._ids = itertools.count()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        request_id = b""
        length = b""
        for name, value in scope["headers"]:
            if name == b"x-request-id" and _REQUEST_ID.fullmatch(value):
                request_id = value
            elif name == b"content-length":
                length = value
        if not request_id:
            request_id = f"{self._id_prefix}{next(self._ids):016x}".encode()
        scope["mainplatform.request_id"] = request_id
        status = 500
        response_started = False

        async def send_wrapper(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status = message["status"]
                response_started = True
                headers = message.setdefault("headers", [])
                headers.append((b"x-request-id", request_id))
                headers.extend(SECURITY_HEADERS)
                if not any(k == b"cache-control" for k, _ in headers):
                    headers.append(NO_STORE)
            await send(message)

        metrics = self.metrics
        metrics.in_flight_now += 1
        try:
            if length and (not length.isdigit() or len(length) > 18 or int(length) > self.max_body):
                await _too_large(send_wrapper, self.max_body)
            else:
                await self.app(scope, receive, send_wrapper)
        except ClientDisconnect:
            # The client went away while its body was read: not a server error. Nothing can
            # be sent; record it as nginx does, 499 "client closed request".
            if not response_started:
                status = CLIENT_CLOSED_REQUEST
        finally:
            metrics.in_flight_now -= 1
            elapsed = time.perf_counter() - start
            method = scope["method"] if scope["method"] in METHODS else "OTHER"
            route = self.routes(scope.get("endpoint")) or "unmatched"
            self.metrics.observe(method, route, status, elapsed)
            if self.access_log is not None:
                line = {
                    "event": "request",
                    "request_id": request_id.decode(),
                    "method": method,
                    "route": route,
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 2),
                }
                user_id = scope.get("mainplatform.user_id")
                if user_id is not None:
                    line["user_id"] = user_id
                client = scope.get("mainplatform.client_ip")
                if client is not None:
                    line["client_ip"] = client
                self.access_log.write(line)


async def _too_large(send: Send, limit: int) -> None:
    error = PayloadTooLarge(f"The request body is larger than {limit} bytes.")
    body = msgspec.json.encode(error.body())
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
