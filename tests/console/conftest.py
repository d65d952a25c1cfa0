"""The browser-test harness: the console served by `scf serve`'s app (uvicorn, in a thread, on
a free port) with the demo consortium seeded over HTTP, and Debian's Chromium driven by
Playwright — each party in a browser context of its own. Without Chromium the browser tests
skip, except under CI=true, where they fail."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import uvicorn

from backend.config import Config
from backend.settings import BackendSettings
from backend.tools.serve import Seeded, build_app, seed
from chain.connection import dev_account
from chain.settings import REPO_ROOT, ChainSettings
from indexer.settings import IndexerSettings

if TYPE_CHECKING:
    from playwright.sync_api import Browser, ConsoleMessage, Page, Request, Response

SCREENSHOTS = REPO_ROOT / "artifacts" / "screenshots"
WIDTH = 1280
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class ConsoleServer:
    base_url: str
    seeded: Seeded

    def key(self, who: str) -> str:
        return self.seeded.members[who]["api_key"]

    def address(self, who: str) -> str:
        return self.seeded.members[who]["address"]

    def http(self, who: str) -> httpx.Client:
        """The HTTP API as `who` (for what another helper's pages will do: a bank's offer)."""
        return httpx.Client(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {self.key(who)}"},
            timeout=120,
        )


@pytest.fixture(scope="session")
def console_server() -> Iterator[ConsoleServer]:
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    config = Config(
        backend=BackendSettings(profile="embedded", wait_timeout_seconds=60, public_url=base_url),
        chain=ChainSettings(profile="tester"),
        indexer=IndexerSettings(),
    )
    app = build_app(config, keeper=False)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=server.run, name="console-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 120
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the console's server did not start")
        time.sleep(0.1)
    try:
        with httpx.Client(base_url=base_url, timeout=120) as http:
            seeded = seed(http, operator=dev_account(0), base_url=base_url, seed_file=None)
        yield ConsoleServer(base_url=base_url, seeded=seeded)
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        reason = "Chromium is not installed (apt-get install -y chromium fonts-noto-cjk)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{reason}: the browser tests must run under CI")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield launched
        finally:
            launched.close()


@dataclass
class Watch:
    """What went wrong on a page: console errors, failed requests, error answers to its
    resources. A test that expects an error page says so with `expect_status`."""

    problems: list[str] = field(default_factory=list)
    expected: set[int] = field(default_factory=set)
    downloads: set[str] = field(default_factory=set)

    def expect_status(self, *statuses: int) -> None:
        self.expected.update(statuses)

    def on_console(self, msg: ConsoleMessage) -> None:
        if msg.type == "error":
            text = msg.text
            # Chromium reports a document answered 4xx as a failed load; an expected refusal is not
            if any(f"status of {s}" in text for s in self.expected):
                return
            self.problems.append(f"console error: {text} ({msg.location.get('url')})")

    def on_failed(self, request: Request) -> None:
        if request.url in self.downloads and request.failure == "net::ERR_ABORTED":
            return  # Chromium ends the navigation to a file it saves as a download
        self.problems.append(f"request failed: {request.method} {request.url} {request.failure}")

    def on_response(self, response: Response) -> None:
        if response.headers.get("content-disposition", "").startswith("attachment"):
            self.downloads.add(response.url)
        if response.status >= 400 and response.status not in self.expected:
            self.problems.append(
                f"{response.status} answer: {response.request.method} {response.url}"
            )


@dataclass
class Party:
    """A member's browser: its own context, logged in to the console with its API key."""

    name: str
    page: Page
    watch: Watch
    base_url: str

    def goto(self, path: str) -> Response | None:
        return self.page.goto(self.base_url + path)

    def expect_status(self, *statuses: int) -> None:
        self.watch.expect_status(*statuses)


@pytest.fixture
def party(browser: Browser, console_server: ConsoleServer) -> Iterator[Callable[..., Party]]:
    """`party("tier1")`: a logged-in page for that member; the test fails on any console error
    or failed request any of its pages saw."""
    opened: list[tuple[Any, Party]] = []

    def open_party(name: str, *, lang: str = "en") -> Party:
        context = browser.new_context(
            viewport={"width": WIDTH, "height": 900}, base_url=console_server.base_url
        )
        if lang != "en":
            context.add_cookies(
                [{"name": "scf_lang", "value": lang, "url": console_server.base_url + "/console/"}]
            )
        page = context.new_page()
        watch = Watch()
        page.on("console", watch.on_console)
        page.on("requestfailed", watch.on_failed)
        page.on("response", watch.on_response)
        who = Party(name=name, page=page, watch=watch, base_url=console_server.base_url)
        opened.append((context, who))
        who.goto("/console/login")
        # by id, not by label: the page may be in Chinese
        page.locator("#api_key").fill(console_server.key(name))
        page.locator("form[action='/console/login'] button[type=submit]").click()
        page.wait_for_url("**/console/")
        return who

    yield open_party
    problems = [f"{who.name}: {p}" for _, who in opened for p in who.watch.problems]
    for context, _ in opened:
        context.close()
    assert problems == [], "\n".join(problems)


def screenshot(who: Party, name: str) -> Path:
    """Save `artifacts/screenshots/<name>.png` and check the page needs no horizontal scroll
    at 1280 px."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    who.page.screenshot(path=str(path), full_page=True)
    width = who.page.evaluate("document.scrollingElement.scrollWidth")
    assert width <= WIDTH, f"{name}: the page is {width} px wide, wider than {WIDTH} px"
    return path
