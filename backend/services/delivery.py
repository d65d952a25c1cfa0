"""Delivering notifications: signed webhooks and e-mail, retried with exponential backoff.

Every delivery is a row (`notification_delivery`) with the time of its next attempt; the
keeper's `deliver` job (Celery beat in production, the keeper thread when tasks are eager)
sends those due. A restart loses nothing: what was due is still due. A delivery is claimed by
moving its next attempt past the attempt's own timeout before it is sent, so two sweeps never
send one delivery at once.

Webhooks are signed the way Stripe signs its own: `SCF-Signature: t=<unix time>,v1=<hex
HMAC-SHA256 of "<t>.<body>" under the endpoint's secret>` (docs/notifications.md shows how a
receiver checks it). An endpoint failing `webhook_disable_after` attempts in a row is disabled
and its member told, by e-mail and as a notification.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import logging
import smtplib
import socket
import ssl
import time
from datetime import datetime, timedelta
from email.message import EmailMessage
from urllib.parse import urlsplit

import httpx
from sqlalchemy import update
from sqlmodel import Session, col, select

from backend.errors import InvalidInput
from backend.models import (
    DeliveryAttempt,
    DeliveryStatus,
    Notification,
    NotificationDelivery,
    NotificationKind,
    WebhookEndpoint,
    as_utc,
    utcnow,
)
from backend.runtime import Runtime
from backend.services.notifications import Draft, record
from backend.settings import BackendSettings

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "SCF-Signature"
SWEEP_LIMIT = 200


# -- signing --------------------------------------------------------------------------------------


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The `SCF-Signature` header's value for `body` sent at `timestamp`."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def endpoint_secret(rt: Runtime, endpoint: WebhookEndpoint) -> str:
    return rt.vault.open_secret(
        label=f"webhook:{endpoint.id}",
        nonce=endpoint.secret_nonce,
        ciphertext=endpoint.secret_ciphertext,
    ).decode()


# -- where a webhook may point --------------------------------------------------------------------


def check_webhook_url(url: str, settings: BackendSettings) -> None:
    """Refuse a URL a member could use to reach the platform's own network (SSRF): outside
    the embedded and local profiles, only https, and only to public addresses (each address
    the host resolves to; checked again before every attempt, as DNS may change)."""
    parts = urlsplit(url)
    private_ok = settings.webhooks_reach_private
    schemes = ("https", "http") if private_ok else ("https",)
    if parts.scheme not in schemes or not parts.hostname:
        raise InvalidInput(
            f"a webhook URL must be an absolute {' or '.join(schemes)} URL, not {url!r}",
            code="WebhookUrlRefused",
            details={"url": url},
        )
    if parts.username or parts.password:
        raise InvalidInput(
            "a webhook URL carries no user name or password: the signature authenticates us",
            code="WebhookUrlRefused",
            details={"url": url},
        )
    if private_ok:
        return
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise InvalidInput(
            f"the webhook host {parts.hostname} cannot be resolved",
            code="WebhookUrlRefused",
            details={"url": url},
        ) from exc
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global or address.is_multicast:
            raise InvalidInput(
                f"the webhook host {parts.hostname} resolves to {address}, a loopback, private "
                "or reserved address that webhooks may not reach",
                code="WebhookUrlRefused",
                details={"url": url, "address": str(address)},
            )


# -- the sweep ------------------------------------------------------------------------------------


def backoff(settings: BackendSettings, attempts: int) -> float:
    """Seconds before the next attempt after `attempts` failed ones: 1, 2, 4... times the base."""
    return float(
        min(
            settings.webhook_backoff_seconds * 2 ** (attempts - 1),
            settings.webhook_backoff_max_seconds,
        )
    )


def deliver_due(rt: Runtime, *, now: datetime | None = None) -> dict[str, int]:
    """Send every delivery due at `now` (default: the present); returns counts by outcome."""
    now = now or utcnow()
    with Session(rt.engine) as session:
        due = session.exec(
            select(NotificationDelivery.id)
            .where(
                NotificationDelivery.status == DeliveryStatus.PENDING,
                col(NotificationDelivery.next_attempt_at) <= now,
            )
            .order_by(col(NotificationDelivery.next_attempt_at))
            .limit(SWEEP_LIMIT)
        ).all()
    outcome = {"delivered": 0, "retrying": 0, "failed": 0, "abandoned": 0}
    lease = now + timedelta(
        seconds=max(rt.settings.webhook_timeout_seconds, rt.settings.smtp_timeout_seconds) * 3
    )
    for delivery_id in due:
        with rt.engine.begin() as conn:
            claimed = conn.execute(
                update(NotificationDelivery)
                .where(
                    col(NotificationDelivery.id) == delivery_id,
                    col(NotificationDelivery.status) == DeliveryStatus.PENDING,
                    col(NotificationDelivery.next_attempt_at) <= now,
                )
                .values(next_attempt_at=lease)
            ).rowcount
        if claimed:
            assert delivery_id is not None
            outcome[attempt(rt, delivery_id, now=now)] += 1
    return outcome


def attempt(rt: Runtime, delivery_id: int, *, now: datetime) -> str:
    """One try of a claimed delivery, recorded; returns delivered / retrying / failed /
    abandoned."""
    with Session(rt.engine, expire_on_commit=False) as session:
        delivery = session.get(NotificationDelivery, delivery_id)
        assert delivery is not None
        notification = session.get(Notification, delivery.notification_id)
        assert notification is not None
        endpoint = (
            session.get(WebhookEndpoint, delivery.endpoint_id) if delivery.endpoint_id else None
        )
        if delivery.channel == "webhook" and (endpoint is None or not endpoint.enabled):
            delivery.status = DeliveryStatus.ABANDONED
            delivery.last_error = "the endpoint was disabled or removed"
            session.add(delivery)
            session.commit()
            return "abandoned"
        started = time.monotonic()
        if endpoint is not None:
            status, error = _post(rt, endpoint, notification, delivery)
        else:
            status, error = _mail(rt, notification, delivery)
        took = int((time.monotonic() - started) * 1000)
        ok = error is None
        session.add(
            DeliveryAttempt(
                delivery_id=delivery_id,
                attempted_at=now,
                status=status,
                error=error,
                duration_ms=took,
            )
        )
        delivery.attempts += 1
        delivery.last_status, delivery.last_error = status, error
        if ok:
            delivery.status, delivery.delivered_at, delivery.next_attempt_at = (
                DeliveryStatus.DELIVERED,
                now,
                None,
            )
            result = "delivered"
        elif delivery.attempts >= rt.settings.webhook_max_attempts:
            delivery.status, delivery.next_attempt_at = DeliveryStatus.FAILED, None
            result = "failed"
        else:
            delivery.next_attempt_at = now + timedelta(
                seconds=backoff(rt.settings, delivery.attempts)
            )
            result = "retrying"
        session.add(delivery)
        if endpoint is not None:
            endpoint.failures_in_a_row = 0 if ok else endpoint.failures_in_a_row + 1
            session.add(endpoint)
            if endpoint.failures_in_a_row >= rt.settings.webhook_disable_after:
                _disable(session, rt, endpoint, now=now)
                if result == "retrying":
                    result = "abandoned"
        session.commit()
    log.info(
        "notification delivery attempt",
        extra={
            "delivery": delivery_id,
            "channel": delivery.channel,
            "result": result,
            "status": status,
        },
    )
    return result


def _disable(session: Session, rt: Runtime, endpoint: WebhookEndpoint, *, now: datetime) -> None:
    """Disable a dead endpoint, abandon what still waits for it, and tell its member."""
    endpoint.enabled = False
    endpoint.disabled_at = now
    endpoint.disabled_reason = f"{endpoint.failures_in_a_row} failed deliveries in a row"
    session.add(endpoint)
    session.execute(
        update(NotificationDelivery)
        .where(
            col(NotificationDelivery.endpoint_id) == endpoint.id,
            col(NotificationDelivery.status) == DeliveryStatus.PENDING,
        )
        .values(
            status=DeliveryStatus.ABANDONED,
            last_error="the endpoint was disabled",
            next_attempt_at=None,
        )
    )
    session.flush()
    record(
        session,
        rt,
        [
            Draft(
                member=endpoint.member,
                kind=NotificationKind.WEBHOOK_DISABLED,
                ref=f"webhook:{endpoint.id}:{as_utc(now).isoformat()}",
                title=f"Your webhook endpoint {endpoint.url} was disabled",
                message=f"Your webhook endpoint {endpoint.url} failed "
                f"{endpoint.failures_in_a_row} deliveries in a row and was disabled; "
                "notifications no longer go to it. Fix the receiver and enable it again "
                f"(PATCH /v1/webhooks/{endpoint.id} with enabled true).",
                data={"endpoint_id": endpoint.id, "url": endpoint.url},
            )
        ],
        skip_endpoint=endpoint.id,
    )
    log.warning(
        "webhook endpoint disabled", extra={"endpoint": endpoint.id, "member": endpoint.member}
    )


# -- the channels ---------------------------------------------------------------------------------


def payload(notification: Notification) -> dict[str, object]:
    """The JSON a webhook receives (and what the API lists)."""
    return {
        "id": notification.id,
        "kind": notification.kind,
        "created_at": as_utc(notification.created_at).isoformat(),
        "member": notification.member,
        "title": notification.title,
        "message": notification.message,
        "data": notification.data,
        "chain_id": notification.chain_id,
        "tx_hash": notification.tx_hash,
        "block_number": notification.block_number,
    }


def _post(
    rt: Runtime,
    endpoint: WebhookEndpoint,
    notification: Notification,
    delivery: NotificationDelivery,
) -> tuple[int | None, str | None]:
    """POST the signed payload; (HTTP status, error or None when a 2xx came back)."""
    try:
        check_webhook_url(endpoint.url, rt.settings)
    except InvalidInput as exc:
        return None, exc.message
    body = json.dumps(payload(notification), separators=(",", ":"), sort_keys=True).encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "scf-ledger-webhooks/1",
        SIGNATURE_HEADER: signature(endpoint_secret(rt, endpoint), int(time.time()), body),
        "SCF-Event": notification.kind,
        "SCF-Delivery": str(delivery.id),
    }
    try:
        with httpx.Client(
            timeout=rt.settings.webhook_timeout_seconds, follow_redirects=False
        ) as client:
            resp = client.post(endpoint.url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        return None, f"{type(exc).__name__}: {exc}"[:500]
    if 200 <= resp.status_code < 300:
        return resp.status_code, None
    return resp.status_code, f"the receiver answered {resp.status_code}"


def email_message(settings: BackendSettings, notification: Notification, to: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = settings.smtp_from
    msg["To"] = to
    msg["Subject"] = f"[scf-ledger] {notification.title}"
    lines = [notification.message, ""]
    if notification.tx_hash:
        lines.append(
            f"Ledger transaction: {notification.tx_hash} (block {notification.block_number})"
        )
    lines.append(f"Notification {notification.id} ({notification.kind}).")
    msg.set_content("\n".join(lines))
    return msg


def _mail(
    rt: Runtime, notification: Notification, delivery: NotificationDelivery
) -> tuple[int | None, str | None]:
    """Send by SMTP; (the server's reply code, error or None once it accepted the message)."""
    s = rt.settings
    if s.smtp_host is None:
        return None, "no SMTP server is configured"
    try:
        with smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.smtp_timeout_seconds) as smtp:
            if s.smtp_starttls:
                smtp.starttls(context=ssl.create_default_context())
            if s.smtp_user:
                password = s.smtp_password.get_secret_value() if s.smtp_password else ""
                smtp.login(s.smtp_user, password)
            refused = smtp.send_message(email_message(s, notification, delivery.recipient))
    except smtplib.SMTPResponseException as exc:
        return exc.smtp_code, f"the SMTP server answered {exc.smtp_code}: {exc.smtp_error!r}"[:500]
    except (smtplib.SMTPException, OSError) as exc:
        return None, f"{type(exc).__name__}: {exc}"[:500]
    if refused:
        return None, f"the SMTP server refused {', '.join(refused)}"
    return 250, None
