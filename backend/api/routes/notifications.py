"""/v1/notifications and /v1/webhooks: what a member was told and how it reached it (each
member its own only; another's is a 404)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status

from backend.api.deps import CurrentMember, RuntimeDep, SessionDep
from backend.api.errors import ERROR_RESPONSES
from backend.api.params import After, Limit, RowId
from backend.models import NotificationKind
from backend.schemas import (
    DeliveryOut,
    NotificationOut,
    PreferencesIn,
    PreferencesOut,
    ReadIn,
    ReadOut,
    WebhookCreatedOut,
    WebhookIn,
    WebhookOut,
    WebhookPatch,
)
from backend.services import inbox

router = APIRouter(prefix="/v1", responses=ERROR_RESPONSES, tags=["notifications"])

EndpointId = Annotated[str, Path(min_length=1, max_length=40)]


@router.get("/notifications/preferences", response_model=PreferencesOut)
def get_preferences(me: CurrentMember, session: SessionDep) -> PreferencesOut:
    """E-mail: on or off, to which address (by default the directory's contact), which kinds."""
    return inbox.preferences(session, me)


@router.put("/notifications/preferences", response_model=PreferencesOut)
def put_preferences(body: PreferencesIn, me: CurrentMember, session: SessionDep) -> PreferencesOut:
    return inbox.set_preferences(session, me, body)


@router.get("/notifications", response_model=list[NotificationOut])
def list_notifications(
    me: CurrentMember,
    session: SessionDep,
    unread: Annotated[bool | None, Query(description="Only unread (true) or read (false).")] = None,
    kind: NotificationKind | None = None,
    after: After = 0,
    limit: Limit = 100,
) -> list[NotificationOut]:
    """Your notifications, newest first, each with its delivery status per channel."""
    return inbox.listing(
        session,
        me,
        unread=unread,
        kind=None if kind is None else str(kind),
        after=after,
        limit=limit,
    )


@router.post("/notifications/read", response_model=ReadOut)
def mark_read(body: ReadIn, me: CurrentMember, session: SessionDep) -> ReadOut:
    """Mark these notifications read (`ids`), or all of them."""
    return ReadOut(marked=inbox.mark_read(session, me, body.ids))


@router.get("/notifications/{notification_id}", response_model=NotificationOut)
def get_notification(
    notification_id: RowId, me: CurrentMember, session: SessionDep
) -> NotificationOut:
    return inbox.one(session, me, notification_id)


@router.post("/notifications/{notification_id}/read", response_model=NotificationOut)
def read_one(notification_id: RowId, me: CurrentMember, session: SessionDep) -> NotificationOut:
    inbox.mark_read(session, me, [notification_id])
    return inbox.one(session, me, notification_id)


@router.get("/webhooks", response_model=list[WebhookOut], tags=["webhooks"])
def list_webhooks(me: CurrentMember, session: SessionDep) -> list[WebhookOut]:
    return inbox.endpoints(session, me)


@router.post(
    "/webhooks",
    response_model=WebhookCreatedOut,
    status_code=status.HTTP_201_CREATED,
    tags=["webhooks"],
)
def create_webhook(
    body: WebhookIn, me: CurrentMember, session: SessionDep, rt: RuntimeDep
) -> WebhookCreatedOut:
    """Register an endpoint for the kinds chosen (none: all). The answer carries its signing
    secret, shown this once. Outside the embedded and local profiles the URL must be https to
    a public address (422 WebhookUrlRefused)."""
    return inbox.create_endpoint(session, rt, me, body)


@router.get("/webhooks/{endpoint_id}", response_model=WebhookOut, tags=["webhooks"])
def get_webhook(endpoint_id: EndpointId, me: CurrentMember, session: SessionDep) -> WebhookOut:
    return inbox.endpoint(session, me, endpoint_id)


@router.patch("/webhooks/{endpoint_id}", response_model=WebhookOut, tags=["webhooks"])
def patch_webhook(
    endpoint_id: EndpointId,
    body: WebhookPatch,
    me: CurrentMember,
    session: SessionDep,
    rt: RuntimeDep,
) -> WebhookOut:
    """Change the URL, kinds or description; `enabled: true` takes a disabled endpoint back."""
    return inbox.update_endpoint(session, rt, me, endpoint_id, body)


@router.delete("/webhooks/{endpoint_id}", status_code=status.HTTP_204_NO_CONTENT, tags=["webhooks"])
def delete_webhook(endpoint_id: EndpointId, me: CurrentMember, session: SessionDep) -> Response:
    inbox.delete_endpoint(session, me, endpoint_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/webhooks/{endpoint_id}/deliveries", response_model=list[DeliveryOut], tags=["webhooks"]
)
def webhook_deliveries(
    endpoint_id: EndpointId, me: CurrentMember, session: SessionDep, limit: Limit = 100
) -> list[DeliveryOut]:
    """The endpoint's deliveries, newest first, each attempt with its HTTP status and time."""
    return inbox.deliveries(session, me, endpoint_id, limit=limit)
