"""The member directory: who a member is off the ledger, and who may see it.

The operator keeps it (at onboarding and after). A member sees its own entry and those of its
counterparties (members that share a ledger event with it); auditors, regulators and the
operator see everyone. Answers that show an address carry its name beside it (`names_for`):
they show only addresses their reader may already see."""

from __future__ import annotations

import itertools
from collections.abc import Iterable

from eth_utils.address import to_checksum_address
from sqlalchemy import and_
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from backend.errors import InvalidInput, NotFound
from backend.models import MemberProfile, utcnow
from backend.permissions import Permission
from backend.runtime import Runtime
from backend.schemas import EntryIn, ProfileIn, ProfileOut
from backend.services import action_log
from backend.services.context import Principal
from backend.services.views import member_row
from chain.consortium import entity_id
from chain.enums import Role
from indexer.models import LedgerEventParty


def display_name(profile: MemberProfile) -> str:
    return profile.short_name or profile.legal_name


def names_for(session: Session, addresses: Iterable[str]) -> dict[str, str]:
    """Lower-case address → display name, for those of `addresses` in the directory."""
    wanted = {a.lower() for a in addresses if a}
    if not wanted:
        return {}
    rows = session.exec(select(MemberProfile).where(col(MemberProfile.address).in_(wanted)))
    return {p.address: display_name(p) for p in rows}


#: Bumped by every write of this process, so that its cached names (`backend.api.names`) are
#: dropped at once; other processes' caches expire by themselves.
_generation = itertools.count()
generation = next(_generation)


def all_names(session: Session, *, legal: bool = False) -> dict[str, str]:
    """Every lower-case address in the directory → its display name (its legal name, as
    registered, with `legal`: what a Chinese page shows)."""
    rows = session.exec(select(MemberProfile))
    return {p.address: p.legal_name if legal else display_name(p) for p in rows}


def record(session: Session, address: str, body: ProfileIn, credit_code: str) -> MemberProfile:
    """Write (or overwrite) a member's entry; the caller commits."""
    profile = session.get(MemberProfile, address.lower()) or MemberProfile(
        address=address.lower(), legal_name=body.legal_name, credit_code=credit_code
    )
    profile.legal_name = body.legal_name
    profile.short_name = body.short_name
    profile.contact_email = body.contact_email
    profile.contact_phone = body.contact_phone
    profile.credit_code = credit_code
    profile.updated_at = utcnow()
    session.add(profile)
    global generation
    generation = next(_generation)
    return profile


def profile_out(profile: MemberProfile, *, contact: bool = True) -> ProfileOut:
    """`contact`: whether the reader may see how to reach the member (itself, the operator,
    auditors and regulators); counterparties see names only."""
    return ProfileOut(
        address=profile.address,
        legal_name=profile.legal_name,
        short_name=profile.short_name,
        name=display_name(profile),
        credit_code=profile.credit_code,
        entity_id="0x" + entity_id(profile.credit_code).hex(),
        contact_email=profile.contact_email if contact else None,
        contact_phone=profile.contact_phone if contact else None,
    )


def _sees_everyone(me: Principal) -> bool:
    return me.sees_all or me.has(Role.OPERATOR)


def counterparties(mirror: Session, rt: Runtime, address: str) -> set[str]:
    """Members sharing at least one ledger event with `address` (lower-case)."""
    mine, theirs = aliased(LedgerEventParty), aliased(LedgerEventParty)
    stmt = (
        select(theirs.party)
        .join(
            mine,
            and_(
                col(mine.chain_id) == col(theirs.chain_id),
                col(mine.event_id) == col(theirs.event_id),
            ),
        )
        .where(col(mine.chain_id) == rt.chain_id, col(mine.party) == address.lower())
        .distinct()
    )
    return set(mirror.exec(stmt).all())


def listing(session: Session, mirror: Session, rt: Runtime, me: Principal) -> list[ProfileOut]:
    stmt = select(MemberProfile).order_by(col(MemberProfile.legal_name))
    if not _sees_everyone(me):
        visible = counterparties(mirror, rt, me.address) | {me.address}
        stmt = stmt.where(col(MemberProfile.address).in_(visible))
    everyone = _sees_everyone(me)
    return [profile_out(p, contact=everyone or p.address == me.address) for p in session.exec(stmt)]


def entry(
    session: Session, mirror: Session, rt: Runtime, me: Principal, address: str
) -> ProfileOut:
    address = address.lower()
    profile = session.get(MemberProfile, address)
    visible = (
        _sees_everyone(me)
        or address == me.address
        or address in counterparties(mirror, rt, me.address)
    )
    if profile is None or not visible:
        raise NotFound(f"no directory entry for {address} that you may see")
    return profile_out(profile, contact=_sees_everyone(me) or address == me.address)


def update(
    session: Session, mirror: Session, rt: Runtime, me: Principal, address: str, body: EntryIn
) -> ProfileOut:
    """The operator writes an entry. An existing entry keeps its credit code (the ledger's
    entity id); a new one needs the code, and it must hash to the member's entity id."""
    me.require(Permission.OPERATE)
    profile = session.get(MemberProfile, address.lower())
    if profile is not None:
        if body.credit_code not in (None, profile.credit_code):
            raise InvalidInput(
                "a member's credit code cannot change: it is its entity id on the ledger",
                code="CreditCodeFixed",
                details={"credit_code": profile.credit_code},
            )
        code = profile.credit_code
    else:
        member = member_row(mirror, rt, address)
        if member is None:
            raise NotFound(f"no member {to_checksum_address(address)}")
        if body.credit_code is None:
            raise InvalidInput(
                "a new directory entry needs the member's credit code", code="CreditCodeMissing"
            )
        if "0x" + entity_id(body.credit_code).hex() != member.entity_id.lower():
            raise InvalidInput(
                f"credit code {body.credit_code} does not hash to the entity id "
                f"{member.entity_id} the ledger holds for {to_checksum_address(address)}",
                code="CreditCodeMismatch",
                details={"credit_code": body.credit_code, "entity_id": member.entity_id},
            )
        code = body.credit_code
    profile = record(session, address, body, code)
    action_log.record(
        session,
        member=me.address,
        user=me.login,
        action="directory.update",
        result=action_log.OK,
        source_ip=me.source_ip,
        target=address.lower(),
        details={"legal_name": body.legal_name, "short_name": body.short_name},
    )
    session.commit()
    return profile_out(profile)
