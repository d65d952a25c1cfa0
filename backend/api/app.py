"""The FastAPI application factory."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse
from fastapi.staticfiles import StaticFiles
from sqlmodel import Session
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from swagger_ui_bundle import swagger_ui_path  # type: ignore[import-untyped]

from backend import metrics, worker
from backend.api.access import AccessLog, json_lines_by_default
from backend.api.deps import Operator
from backend.api.errors import error_response, install_handlers
from backend.api.headers import SecurityHeaders
from backend.api.names import NamesBesideAddresses
from backend.api.routes import (
    approvals,
    attachments,
    audit,
    auth,
    directory,
    financing,
    invoices,
    ledger,
    members,
    notifications,
    offers,
    payables,
    pieces,
    receivables,
    regulator,
    staff,
    statements,
    transactions,
)
from backend.errors import AttachmentTooLarge, DomainError, RequestTooLarge
from backend.runtime import Runtime, build_runtime, set_runtime
from backend.services.context import IdempotentReplay
from backend.services.tx import finish_wait, respond
from backend.settings import BackendSettings
from chain.settings import ChainSettings
from indexer.settings import IndexerSettings

log = logging.getLogger(__name__)

DESCRIPTION = """
Supply-chain finance on a permissioned ledger. Members log in by signing a challenge
(`/v1/auth/challenge`, `/v1/auth/login`) or with an API key. Every write returns **202** with a
transaction request (`GET /v1/transactions/{id}`); add `?wait=true` to return once the change is
mined and visible, and an `Idempotency-Key` header so that a retry never sends twice. Errors are
`{"code", "message", "details"}`; a refusal by the ledger is a 409 whose code is the contract's
error name. Money is integer minor units. Beside every address field of a JSON answer whose
member is in the directory stands its name: `seller_name` beside `seller` (`name` beside
`address`).
"""


class BodyTooLarge(StarletteHTTPException):
    """Raised while the body is read: FastAPI lets HTTP exceptions through its body parsing
    (any other becomes a 400), and the app's handler answers it with `error`."""

    def __init__(self, error: RequestTooLarge) -> None:
        super().__init__(413, error.message)
        self.error = error


#: What a multipart body holds besides the file (boundaries, part headers): a file of the
#: largest allowed size always fits, and the route's own check names the file's limit.
MULTIPART_SLACK = 64 * 1024


class BodyLimit:
    """Refuse a request body past `max_bytes` with the API's JSON error (413): at once when its
    Content-Length says so, else as the body arrives (the read then fails, nothing is done).
    The paths that take a file (`uploads`) allow an attachment's size instead."""

    def __init__(
        self, app: ASGIApp, max_bytes: int, uploads: tuple[str, ...] = (), upload_bytes: int = 0
    ) -> None:
        self.app, self.max_bytes = app, max_bytes
        self.uploads, self.upload_bytes = uploads, upload_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        error: RequestTooLarge
        if scope["path"] in self.uploads:
            limit, error = (
                self.upload_bytes + MULTIPART_SLACK,
                AttachmentTooLarge(self.upload_bytes),
            )
        else:
            limit, error = self.max_bytes, RequestTooLarge(self.max_bytes)
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            await error_response(error)(scope, receive, send)
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > limit:
                raise BodyTooLarge(error)
            return message

        await self.app(scope, limited, send)


def create_app(
    settings: BackendSettings | None = None,
    *,
    chain_settings: ChainSettings | None = None,
    indexer_settings: IndexerSettings | None = None,
    runtime: Runtime | None = None,
) -> FastAPI:
    """The API; its lifespan connects to the chain, deploys or attaches, and (embedded) starts
    the in-process indexer."""
    settings = settings or BackendSettings()
    worker.configure(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # sync endpoints and dependencies run on this pool (see request_threads)
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.request_threads
        rt = runtime or build_runtime(
            settings, chain_settings=chain_settings, indexer_settings=indexer_settings
        )
        app.state.runtime = rt
        # restored on the way out: an app started and stopped inside another's life (tests)
        # must not leave the outer one's eager tasks without their runtime
        outer = set_runtime(rt)
        log.info("backend ready", extra={"chain_id": rt.chain_id, "profile": settings.profile})
        try:
            yield
        finally:
            if runtime is None:
                rt.close()
            set_runtime(outer)

    app = FastAPI(
        title="scf-ledger API",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # served below from the installed assets, never a CDN
        redoc_url=None,  # ReDoc has no installable assets: Swagger UI at /docs only
    )
    install_handlers(app)
    app.add_middleware(
        BodyLimit,
        max_bytes=settings.max_request_bytes,
        uploads=attachments.UPLOAD_PATHS,
        upload_bytes=settings.max_attachment_bytes,
    )
    app.add_middleware(SecurityHeaders)
    app.add_middleware(NamesBesideAddresses)
    json_lines_by_default()
    app.add_middleware(AccessLog)  # added last: outermost, it sees every answer
    app.mount("/docs/assets", StaticFiles(directory=swagger_ui_path), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        """Swagger UI from the `swagger-ui-bundle` package: it works on an offline network."""
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} — docs",
            swagger_js_url="/docs/assets/swagger-ui-bundle.js",
            swagger_css_url="/docs/assets/swagger-ui.css",
            swagger_favicon_url="/docs/assets/favicon-32x32.png",
        )

    @app.exception_handler(BodyTooLarge)
    def _too_large(_: Request, exc: BodyTooLarge) -> JSONResponse:
        return error_response(exc.error)

    @app.exception_handler(IdempotentReplay)
    def _replay(request: Request, exc: IdempotentReplay) -> JSONResponse:
        """The request a repeated Idempotency-Key stands for, as its first answer gave it."""
        rt: Runtime = request.app.state.runtime
        wait = request.query_params.get("wait", "").lower() in ("1", "true", "yes", "on")
        with Session(rt.engine, expire_on_commit=False) as session:
            try:
                body = respond(rt, finish_wait(rt, session, exc.request_id, wait))
            except DomainError as err:
                return error_response(err)
        return JSONResponse(jsonable_encoder(body), status_code=202)

    for module in (
        auth,
        members,
        directory,
        ledger,
        invoices,
        attachments,
        receivables,
        pieces,
        financing,
        offers,
        payables,
        regulator,
        audit,
        statements,
        transactions,
        notifications,
        staff,
        approvals,
    ):
        app.include_router(module.router)

    @app.get("/healthz", tags=["ops"])
    def healthz() -> dict[str, object]:
        """Up or not, for a load balancer; the chain and the mirror's progress are for members
        (GET /v1/ops/chain)."""
        return {"ok": True}

    @app.get("/metrics", tags=["ops"], response_class=PlainTextResponse)
    def metrics_text(_: Operator) -> str:
        """Counters in the Prometheus text format, for operators only (a scraper authenticates
        with an operator's API key as its bearer token)."""
        return metrics.render()

    return app
