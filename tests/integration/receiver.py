"""A notification receiver on loopback: what apprise's json:// URLs post, kept for the tests."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest


class Hook(http.server.BaseHTTPRequestHandler):
    """Keeps every JSON document POSTed to it: what apprise's json:// sends."""

    received: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        Hook.received.append(json.loads(self.rfile.read(length)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        del args


@pytest.fixture
def webhook() -> Iterator[str]:
    Hook.received = []
    server = http.server.HTTPServer(("127.0.0.1", 0), Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"json://127.0.0.1:{server.server_port}/opsrun"
    finally:
        server.shutdown()
        server.server_close()
