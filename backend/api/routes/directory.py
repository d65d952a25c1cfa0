"""/v1 the member directory: names and contacts (the operator keeps it; members see their
counterparties, auditors and regulators everyone)."""

from __future__ import annotations

from fastapi import APIRouter

from backend.api.deps import CurrentMember, MirrorDep, Operator, RuntimeDep, SessionDep
from backend.api.errors import ERROR_RESPONSES
from backend.api.params import AddressPath
from backend.schemas import EntryIn, ProfileOut
from backend.services import directory

router = APIRouter(prefix="/v1", responses=ERROR_RESPONSES, tags=["directory"])


@router.get("/directory", response_model=list[ProfileOut])
def listing(
    me: CurrentMember, session: SessionDep, mirror: MirrorDep, rt: RuntimeDep
) -> list[ProfileOut]:
    """Yourself and your counterparties (members you share a ledger event with); everyone
    for auditors, regulators and the operator. Contacts only for yourself and those three."""
    return directory.listing(session, mirror, rt, me)


@router.get("/directory/{address}", response_model=ProfileOut)
def entry(
    address: AddressPath, me: CurrentMember, session: SessionDep, mirror: MirrorDep, rt: RuntimeDep
) -> ProfileOut:
    return directory.entry(session, mirror, rt, me, address)


@router.put("/operator/members/{address}/profile", response_model=ProfileOut, tags=["operator"])
def update(
    address: AddressPath,
    body: EntryIn,
    me: Operator,
    session: SessionDep,
    mirror: MirrorDep,
    rt: RuntimeDep,
) -> ProfileOut:
    """Write a member's names and contact; its credit code is its ledger entity id and stays."""
    return directory.update(session, mirror, rt, me, address, body)
