"""Real receivers for the notification tests: an SMTP server (aiosmtpd) and an HTTP webhook
receiver (http.server in a thread) that answers with the statuses it is scripted to."""

from __future__ import annotations

import email
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller

from backend.services.notifications import notify
from tests.backend.conftest import Api


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Mailbox:
    """What the SMTP server received: (envelope sender, recipients, parsed message)."""

    received: list[tuple[str, list[str], Message]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        content = envelope.original_content or envelope.content
        self.received.append(
            (envelope.mail_from, list(envelope.rcpt_tos), email.message_from_bytes(content))
        )
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[Message]:
        return [m for _, rcpt, m in self.received if address in rcpt]


def smtp_server() -> Iterator[tuple[Mailbox, int]]:
    box = Mailbox()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


class Receiver:
    """An HTTP server taking webhook POSTs; `script` holds the statuses to answer, in order
    (then 200). `check(headers, body)` runs on each request; a False answer makes it a 400."""

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.script: list[int] = []
        self.check: Any = None
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                got = Received(self.path, dict(self.headers.items()), body)
                outer.requests.append(got)
                code = outer.script.pop(0) if outer.script else 200
                if outer.check is not None and not outer.check(got.headers, body):
                    code = 400
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def caught_up(api: Api) -> None:
    """The mirror has every mined block, and the keeper's notify job has run over it."""
    assert api.rt.indexer is not None
    assert api.rt.indexer.wait_for_block(api.rt.conn.w3.eth.block_number, timeout=30)
    notify(api.rt)


def kinds_of(api: Api, who: str, **params: Any) -> list[str]:
    caught_up(api)
    r = api.as_(who).get("/v1/notifications", params={"limit": 500, **params})
    assert r.status_code == 200, r.text
    return [n["kind"] for n in r.json()]


def latest(api: Api, who: str, kind: str) -> dict[str, Any]:
    caught_up(api)
    r = api.as_(who).get("/v1/notifications", params={"kind": kind, "limit": 1})
    assert r.status_code == 200, r.text
    items = r.json()
    assert items, f"{who} has no {kind} notification"
    return dict(items[0])
