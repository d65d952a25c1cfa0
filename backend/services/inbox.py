"""A member's own notifications, e-mail preference and webhook endpoints. Everything here is
the caller's own: another member's notification or endpoint is not found (404), whoever asks."""

from __future__ import annotations

import secrets
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import update
from sqlmodel import Session, col, select

from backend.errors import NotFound
from backend.models import (
    DeliveryAttempt,
    DeliveryStatus,
    MemberProfile,
    Notification,
    NotificationDelivery,
    NotificationPreference,
    WebhookEndpoint,
    as_utc,
    utcnow,
)
from backend.permissions import Permission
from backend.runtime import Runtime
from backend.schemas import (
    AttemptOut,
    ChannelStatusOut,
    DeliveryOut,
    NotificationOut,
    PreferencesIn,
    PreferencesOut,
    WebhookCreatedOut,
    WebhookIn,
    WebhookOut,
    WebhookPatch,
)
from backend.services.context import Principal
from backend.services.delivery import check_webhook_url

SECRET_PREFIX = "whsec_"


def _utc(moment: datetime | None) -> datetime | None:
    return None if moment is None else as_utc(moment)


# -- notifications --------------------------------------------------------------------------------


def _channel(d: NotificationDelivery) -> ChannelStatusOut:
    return ChannelStatusOut(
        channel="webhook" if d.channel == "webhook" else "email",
        endpoint_id=d.endpoint_id,
        recipient=d.recipient,
        status=d.status,
        attempts=d.attempts,
        last_status=d.last_status,
        last_error=d.last_error,
        next_attempt_at=_utc(d.next_attempt_at),
        delivered_at=_utc(d.delivered_at),
    )


def _out(n: Notification, deliveries: Sequence[NotificationDelivery]) -> NotificationOut:
    assert n.id is not None
    return NotificationOut(
        id=n.id,
        kind=n.kind,
        created_at=as_utc(n.created_at),
        title=n.title,
        message=n.message,
        data=n.data,
        tx_hash=n.tx_hash,
        block_number=n.block_number,
        read=n.read_at is not None,
        read_at=_utc(n.read_at),
        deliveries=[_channel(d) for d in deliveries],
    )


def listing(
    session: Session,
    me: Principal,
    *,
    unread: bool | None,
    kind: str | None,
    after: int,
    limit: int,
) -> list[NotificationOut]:
    """Newest first; `after`: only ids above it (to poll for what is new)."""
    stmt = select(Notification).where(
        Notification.member == me.address, col(Notification.id) > after
    )
    if unread is not None:
        stmt = stmt.where(
            col(Notification.read_at).is_(None)
            if unread
            else col(Notification.read_at).is_not(None)
        )
    if kind is not None:
        stmt = stmt.where(Notification.kind == kind)
    rows = session.exec(stmt.order_by(col(Notification.id).desc()).limit(limit)).all()
    by_notification: dict[int, list[NotificationDelivery]] = defaultdict(list)
    ids = [n.id for n in rows]
    for d in session.exec(
        select(NotificationDelivery)
        .where(col(NotificationDelivery.notification_id).in_(ids))
        .order_by(col(NotificationDelivery.id))
    ):
        by_notification[d.notification_id].append(d)
    return [_out(n, by_notification[n.id or 0]) for n in rows]


def _own(session: Session, me: Principal, notification_id: int) -> Notification:
    n = session.get(Notification, notification_id)
    if n is None or n.member != me.address:
        raise NotFound(f"you have no notification {notification_id}")
    return n


def one(session: Session, me: Principal, notification_id: int) -> NotificationOut:
    n = _own(session, me, notification_id)
    deliveries = session.exec(
        select(NotificationDelivery)
        .where(NotificationDelivery.notification_id == notification_id)
        .order_by(col(NotificationDelivery.id))
    ).all()
    return _out(n, deliveries)


def mark_read(session: Session, me: Principal, ids: Sequence[int] | None) -> int:
    """Mark the member's notifications read (these, or all); unknown ids are a 404."""
    stmt = update(Notification).where(
        col(Notification.member) == me.address, col(Notification.read_at).is_(None)
    )
    if ids is not None:
        owned = set(
            session.exec(
                select(Notification.id).where(
                    col(Notification.id).in_(ids), Notification.member == me.address
                )
            ).all()
        )
        missing = sorted(set(ids) - owned)
        if missing:
            raise NotFound(f"you have no notification {', '.join(map(str, missing))}")
        stmt = stmt.where(col(Notification.id).in_(ids))
    marked = int(session.execute(stmt.values(read_at=utcnow())).rowcount)  # type: ignore[attr-defined]
    session.commit()
    return marked


# -- the e-mail preference ------------------------------------------------------------------------


def preferences(session: Session, me: Principal) -> PreferencesOut:
    pref = session.get(NotificationPreference, me.address)
    profile = session.get(MemberProfile, me.address)
    contact = profile.contact_email if profile else None
    chosen = pref.email if pref else None
    return PreferencesOut(
        email_enabled=pref.email_enabled if pref else True,
        email=chosen or contact,
        email_is_directory_contact=chosen is None,
        kinds=list(pref.kinds) if pref else [],
    )


def set_preferences(session: Session, me: Principal, body: PreferencesIn) -> PreferencesOut:
    me.require(Permission.ADMINISTER)
    pref = session.get(NotificationPreference, me.address) or NotificationPreference(
        member=me.address
    )
    pref.email_enabled = body.email_enabled
    pref.email = body.email
    pref.kinds = [str(k) for k in body.kinds]
    pref.updated_at = utcnow()
    session.add(pref)
    session.commit()
    return preferences(session, me)


# -- webhook endpoints ----------------------------------------------------------------------------


def _endpoint_out(e: WebhookEndpoint) -> WebhookOut:
    return WebhookOut(
        id=e.id,
        url=e.url,
        kinds=list(e.kinds),
        description=e.description,
        enabled=e.enabled,
        failures_in_a_row=e.failures_in_a_row,
        disabled_at=_utc(e.disabled_at),
        disabled_reason=e.disabled_reason,
        created_at=as_utc(e.created_at),
    )


def _own_endpoint(session: Session, me: Principal, endpoint_id: str) -> WebhookEndpoint:
    e = session.get(WebhookEndpoint, endpoint_id)
    if e is None or e.member != me.address:
        raise NotFound(f"you have no webhook endpoint {endpoint_id}")
    return e


def create_endpoint(
    session: Session, rt: Runtime, me: Principal, body: WebhookIn
) -> WebhookCreatedOut:
    """A new endpoint and its signing secret, which only this answer shows."""
    me.require(Permission.ADMINISTER)
    check_webhook_url(body.url, rt.settings)
    endpoint_id = "whe_" + secrets.token_hex(8)
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    nonce, ciphertext = rt.vault.seal_secret(label=f"webhook:{endpoint_id}", secret=secret.encode())
    e = WebhookEndpoint(
        id=endpoint_id,
        member=me.address,
        url=body.url,
        kinds=[str(k) for k in body.kinds],
        description=body.description,
        secret_nonce=nonce,
        secret_ciphertext=ciphertext,
    )
    session.add(e)
    session.commit()
    return WebhookCreatedOut(**_endpoint_out(e).model_dump(), secret=secret)


def endpoints(session: Session, me: Principal) -> list[WebhookOut]:
    rows = session.exec(
        select(WebhookEndpoint)
        .where(WebhookEndpoint.member == me.address)
        .order_by(col(WebhookEndpoint.created_at))
    )
    return [_endpoint_out(e) for e in rows]


def endpoint(session: Session, me: Principal, endpoint_id: str) -> WebhookOut:
    return _endpoint_out(_own_endpoint(session, me, endpoint_id))


def update_endpoint(
    session: Session, rt: Runtime, me: Principal, endpoint_id: str, body: WebhookPatch
) -> WebhookOut:
    me.require(Permission.ADMINISTER)
    e = _own_endpoint(session, me, endpoint_id)
    if body.url is not None:
        check_webhook_url(body.url, rt.settings)
        e.url = body.url
    if body.kinds is not None:
        e.kinds = [str(k) for k in body.kinds]
    if body.description is not None:
        e.description = body.description
    if body.enabled is True and not e.enabled:
        e.enabled, e.failures_in_a_row, e.disabled_at, e.disabled_reason = True, 0, None, None
    elif body.enabled is False:
        e.enabled, e.disabled_at, e.disabled_reason = False, utcnow(), "disabled by its member"
    session.add(e)
    session.commit()
    return _endpoint_out(e)


def delete_endpoint(session: Session, me: Principal, endpoint_id: str) -> None:
    """Remove an endpoint; what still waited for it is abandoned (its history stays)."""
    me.require(Permission.ADMINISTER)
    e = _own_endpoint(session, me, endpoint_id)
    session.execute(
        update(NotificationDelivery)
        .where(
            col(NotificationDelivery.endpoint_id) == endpoint_id,
            col(NotificationDelivery.status) == DeliveryStatus.PENDING,
        )
        .values(status=DeliveryStatus.ABANDONED, last_error="the endpoint was removed")
    )
    session.delete(e)
    session.commit()


def deliveries(
    session: Session, me: Principal, endpoint_id: str, *, limit: int
) -> list[DeliveryOut]:
    """An endpoint's deliveries, newest first, each with its attempts."""
    _own_endpoint(session, me, endpoint_id)
    rows = session.exec(
        select(NotificationDelivery, Notification.kind)
        .join(Notification, col(Notification.id) == col(NotificationDelivery.notification_id))
        .where(NotificationDelivery.endpoint_id == endpoint_id)
        .order_by(col(NotificationDelivery.id).desc())
        .limit(limit)
    ).all()
    history: dict[int, list[AttemptOut]] = defaultdict(list)
    for a in session.exec(
        select(DeliveryAttempt)
        .where(col(DeliveryAttempt.delivery_id).in_([d.id for d, _ in rows]))
        .order_by(col(DeliveryAttempt.id))
    ):
        history[a.delivery_id].append(
            AttemptOut(
                attempted_at=as_utc(a.attempted_at),
                status=a.status,
                error=a.error,
                duration_ms=a.duration_ms,
            )
        )
    out = []
    for d, kind in rows:
        assert d.id is not None
        out.append(
            DeliveryOut(
                id=d.id,
                notification_id=d.notification_id,
                kind=kind,
                status=d.status,
                attempts=d.attempts,
                last_status=d.last_status,
                last_error=d.last_error,
                next_attempt_at=_utc(d.next_attempt_at),
                delivered_at=_utc(d.delivered_at),
                created_at=as_utc(d.created_at),
                history=history[d.id],
            )
        )
    return out
