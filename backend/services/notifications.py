"""What members are told, derived from the mirror's ledger events (and, for maturity reminders,
from the ledger clock), once per event.

A pass reads the events after a cursor kept in the backend's own database, in id order, and
writes the notifications and the cursor in one transaction: a pass that dies leaves both as
they were, and a restart takes up where the last commit left off. Each notification is keyed
by (member, kind, ref), ref being the event's stable identity — its transaction hash and its
ordinal among that transaction's ledger logs, never the block (a transaction re-mined in
another block after a reorg keeps it) — so that a pass over events already seen adds nothing.

Reorgs: a rollback cuts the mirror's events above the fork (on SQLite their ids are then
reused). A pass first checks that the event at its cursor is still the one it saw; if not, it
goes back to the last final block (`indexer_state.final_block`) and reads the events above it
again, which the keys make harmless. Only events `notify_confirmations` blocks below the
mirror's cursor are read: 0 on QBFT (no forks); on a chain that forks, set it above the deepest
fork expected, since a member once told cannot be untold of an event that never comes back.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from backend.models import (
    InvoiceDocument,
    MemberProfile,
    Notification,
    NotificationDelivery,
    NotificationPreference,
    NotifyCursor,
    WebhookEndpoint,
    utcnow,
)
from backend.models import (
    NotificationKind as Kind,
)
from backend.runtime import Runtime
from backend.services.directory import names_for
from chain.enums import MemberStatus, PieceStatus, RootStatus
from indexer.models import Holding, IndexerState, LedgerEvent, Piece, Root

log = logging.getLogger(__name__)

ZERO_ADDRESS = "0x" + "00" * 20
DAY = 86_400


#: Reminders before maturity, tightest last: (days before the due date, kind).
DUE_REMINDERS: tuple[tuple[int, Kind], ...] = ((7, Kind.DUE_IN_7_DAYS), (1, Kind.DUE_IN_1_DAY))


@dataclass(frozen=True)
class Draft:
    """A notification not yet stored."""

    member: str
    kind: Kind
    ref: str
    title: str
    message: str
    data: dict[str, Any] = field(default_factory=dict)
    tx_hash: str | None = None
    block_number: int | None = None


def money(amount: int, currency: str) -> str:
    """Minor units as a person reads them: 1,234,567.89 CNY (integer arithmetic only)."""
    sign = "-" if amount < 0 else ""
    amount = abs(amount)
    return f"{sign}{amount // 100:,}.{amount % 100:02d} {currency}"


def _day(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, UTC).date().isoformat()


# -- reading the mirror for one pass --------------------------------------------------------------


class Facts:
    """What a pass needs besides the events: receivables, holders as of a block, names and
    invoice numbers (cached for the pass)."""

    def __init__(self, rt: Runtime, session: Session, mirror: Session) -> None:
        self.rt, self.session, self.mirror = rt, session, mirror
        self.currency = rt.settings.settlement_currency
        self._roots: dict[int, Root | None] = {}
        self._names: dict[str, str] = {}
        self._invoices: dict[int, str | None] = {}

    def root(self, root_id: int) -> Root | None:
        if root_id not in self._roots:
            self._roots[root_id] = self.mirror.get(Root, (self.rt.chain_id, root_id))
        return self._roots[root_id]

    def root_of_piece(self, piece_id: int) -> int | None:
        piece = self.mirror.get(Piece, (self.rt.chain_id, piece_id))
        return None if piece is None else piece.root_id

    def _held_at(self, block: int) -> Any:
        return (col(Holding.from_block) <= block) & (
            col(Holding.to_block).is_(None) | (col(Holding.to_block) > block)
        )

    def holder_at(self, piece_id: int, block: int) -> str | None:
        """Who held the piece at the end of `block` (after the event's transaction)."""
        return self.mirror.exec(
            select(Holding.holder)
            .where(
                Holding.chain_id == self.rt.chain_id,
                Holding.piece_id == piece_id,
                self._held_at(block),
            )
            .order_by(col(Holding.from_block).desc(), col(Holding.from_log_index).desc())
        ).first()

    def last_holder(self, piece_id: int) -> str | None:
        """The piece's last holder (a split or burnt piece's, before it left the ledger)."""
        return self.mirror.exec(
            select(Holding.holder)
            .where(Holding.chain_id == self.rt.chain_id, Holding.piece_id == piece_id)
            .order_by(col(Holding.from_block).desc(), col(Holding.from_log_index).desc())
        ).first()

    def holders_of_root_at(self, root_id: int, block: int) -> set[str]:
        stmt = (
            select(Holding.holder)
            .join(
                Piece,
                (col(Piece.chain_id) == col(Holding.chain_id))
                & (col(Piece.piece_id) == col(Holding.piece_id)),
            )
            .where(
                Holding.chain_id == self.rt.chain_id,
                Piece.root_id == root_id,
                self._held_at(block),
            )
        )
        return set(self.mirror.exec(stmt).all())

    def current_holders(self, root_id: int) -> set[str]:
        stmt = select(Piece.holder).where(
            Piece.chain_id == self.rt.chain_id,
            Piece.root_id == root_id,
            Piece.status == int(PieceStatus.ACTIVE),
        )
        return set(self.mirror.exec(stmt).all())

    def name(self, address: str | None) -> str:
        """The directory's name, else the address as it stands."""
        if not address:
            return "the ledger"
        address = address.lower()
        if address not in self._names:
            self._names.update(names_for(self.session, [address]))
            self._names.setdefault(address, address)
        return self._names[address]

    def receivable(self, root_id: int) -> str:
        """`receivable #7 (invoice INV-2026-0001)`: the invoice number when the backend
        holds the invoice's document."""
        if root_id not in self._invoices:
            self._invoices[root_id] = self.session.exec(
                select(InvoiceDocument.number).where(InvoiceDocument.root_id == root_id)
            ).first()
        number = self._invoices[root_id]
        return f"receivable #{root_id}" + (f" (invoice {number})" if number else "")


# -- events → drafts (one function per meaning) ---------------------------------------------------


@dataclass(frozen=True)
class Event:
    """A ledger event, its args with integers as ints, and its stable identity."""

    id: int
    name: str
    args: dict[str, Any]
    tx_hash: str
    block_number: int
    ordinal: int  # among the transaction's ledger logs
    tx: tuple[tuple[str, dict[str, Any]], ...]  # (name, args) of every log of its transaction

    @property
    def ref(self) -> str:
        return f"{self.tx_hash}:{self.ordinal}"

    def num(self, key: str) -> int:
        return int(self.args[key])

    def addr(self, key: str) -> str:
        return str(self.args[key]).lower()

    def in_tx(self, name: str, **match: Any) -> bool:
        return any(
            n == name and all(str(a.get(k)).lower() == str(v).lower() for k, v in match.items())
            for n, a in self.tx
        )


Rule = Callable[[Event, Facts], Iterable[Draft]]
RULES: dict[str, Rule] = {}


def _rule(*names: str) -> Callable[[Rule], Rule]:
    def register(fn: Rule) -> Rule:
        for name in names:
            RULES[name] = fn
        return fn

    return register


def _draft(ev: Event, member: str, kind: Kind, title: str, message: str, **data: Any) -> Draft:
    return Draft(
        member=member.lower(),
        kind=kind,
        ref=ev.ref,
        title=title,
        message=message,
        data={k: v for k, v in data.items() if v is not None},
        tx_hash=ev.tx_hash,
        block_number=ev.block_number,
    )


def _root_terms(f: Facts, root: Root) -> str:
    return f"{money(root.face_value, f.currency)} due on {_day(root.due_date)}"


@_rule("ReceivableRegistered")
def _registered(ev: Event, f: Facts) -> Iterable[Draft]:
    rid = ev.num("rootId")
    if ev.in_tx("ReceivableConfirmed", rootId=rid):
        return  # issued by the debtor itself: confirmed at once
    supplier, debtor = ev.addr("supplier"), ev.addr("debtor")
    what = f.receivable(rid)
    yield _draft(
        ev,
        debtor,
        Kind.INVOICE_AWAITING_CONFIRMATION,
        f"{f.name(supplier)} asks you to confirm {what}",
        f"{f.name(supplier)} registered {what} on you: "
        f"{money(ev.num('faceValue'), f.currency)} due on {_day(ev.num('dueDate'))}. "
        "It awaits your confirmation or rejection.",
        root_id=rid,
        counterparty=supplier,
        counterparty_name=f.name(supplier),
        amount=ev.num("faceValue"),
    )


@_rule("ReceivableConfirmed")
def _confirmed(ev: Event, f: Facts) -> Iterable[Draft]:
    rid, debtor = ev.num("rootId"), ev.addr("debtor")
    root = f.root(rid)
    if root is None:
        return
    what = f.receivable(rid)
    issued = ev.in_tx("ReceivableRegistered", rootId=rid)
    verb = "issued you" if issued else "confirmed"
    yield _draft(
        ev,
        root.supplier,
        Kind.INVOICE_CONFIRMED,
        f"{f.name(debtor)} {verb} {what}",
        f"{f.name(debtor)} {verb} {what}: {_root_terms(f, root)}. "
        "It is now a receivable on the ledger that you hold.",
        root_id=rid,
        counterparty=debtor,
        counterparty_name=f.name(debtor),
        amount=root.face_value,
        issued=issued,
    )


@_rule("ReceivableRejected")
def _rejected(ev: Event, f: Facts) -> Iterable[Draft]:
    rid, debtor = ev.num("rootId"), ev.addr("debtor")
    root = f.root(rid)
    if root is None:
        return
    what = f.receivable(rid)
    yield _draft(
        ev,
        root.supplier,
        Kind.INVOICE_REJECTED,
        f"{f.name(debtor)} rejected {what}",
        f"{f.name(debtor)} rejected {what} ({_root_terms(f, root)}): "
        f"{ev.args.get('reason') or 'no reason given'}.",
        root_id=rid,
        counterparty=debtor,
        counterparty_name=f.name(debtor),
        reason=ev.args.get("reason"),
    )


@_rule("ReceivableRefused")
def _refused(ev: Event, f: Facts) -> Iterable[Draft]:
    rid, supplier, debtor = ev.num("rootId"), ev.addr("supplier"), ev.addr("debtor")
    what = f.receivable(rid)
    yield _draft(
        ev,
        debtor,
        Kind.PAYABLE_REFUSED,
        f"{f.name(supplier)} refused {what}",
        f"{f.name(supplier)} refused the payable {what} you issued to it: "
        f"{ev.args.get('reason') or 'no reason given'}. Your credit for it is released.",
        root_id=rid,
        counterparty=supplier,
        counterparty_name=f.name(supplier),
        reason=ev.args.get("reason"),
    )


def _piece_received(
    ev: Event, f: Facts, piece_id: int, amount: int, to: str, sender: str
) -> Draft | None:
    if to in (ZERO_ADDRESS, sender):
        return None
    rid = f.root_of_piece(piece_id)
    what = f"piece #{piece_id}" + (f" of {f.receivable(rid)}" if rid is not None else "")
    root = f.root(rid) if rid is not None else None
    terms = f", owed by {f.name(root.debtor)}, due on {_day(root.due_date)}" if root else ""
    return _draft(
        ev,
        to,
        Kind.PIECE_RECEIVED,
        f"{f.name(sender)} transferred {what} to you",
        f"{f.name(sender)} transferred {what} to you: {money(amount, f.currency)}{terms}.",
        piece_id=piece_id,
        root_id=rid,
        counterparty=sender,
        counterparty_name=f.name(sender),
        amount=amount,
    )


@_rule("TransferSingle", "TransferBatch")
def _transferred(ev: Event, f: Facts) -> Iterable[Draft]:
    sender, to = ev.addr("from"), ev.addr("to")
    if ZERO_ADDRESS in (sender, to):
        return  # mints and burns: confirmation, splits, refusals tell their own story
    if ev.in_tx("OfferAccepted"):
        return  # a sale: the financier is told its offer was accepted
    if ev.name == "TransferSingle":
        ids, values = [ev.args["id"]], [ev.args["value"]]
    else:
        ids, values = ev.args["ids"], ev.args["values"]
    for piece_id, amount in zip(ids, values, strict=True):
        draft = _piece_received(ev, f, int(piece_id), int(amount), to, sender)
        if draft is not None:
            yield Draft(**{**draft.__dict__, "ref": f"{ev.ref}:{piece_id}"})


@_rule("PieceSplit")
def _split(ev: Event, f: Facts) -> Iterable[Draft]:
    splitter = f.last_holder(ev.num("parentId"))
    if splitter is None:
        return
    for cid, holder, amount in zip(
        ev.args["childIds"], ev.args["holders"], ev.args["amounts"], strict=True
    ):
        draft = _piece_received(ev, f, int(cid), int(amount), str(holder).lower(), splitter)
        if draft is not None:
            yield Draft(**{**draft.__dict__, "ref": f"{ev.ref}:{cid}"})


@_rule("OfferPosted")
def _offer_posted(ev: Event, f: Facts) -> Iterable[Draft]:
    piece_id, financier = ev.num("pieceId"), ev.addr("financier")
    holder = f.holder_at(piece_id, ev.block_number)
    if holder is None or holder == financier:
        return
    rid = f.root_of_piece(piece_id)
    what = f"piece #{piece_id}" + (f" of {f.receivable(rid)}" if rid is not None else "")
    yield _draft(
        ev,
        holder,
        Kind.OFFER_RECEIVED,
        f"{f.name(financier)} offers {money(ev.num('price'), f.currency)} for {what}",
        f"{f.name(financier)} posted offer #{ev.num('offerId')} for {what}: "
        f"{money(ev.num('price'), f.currency)}, in escrow, open until {_day(ev.num('expiry'))}.",
        offer_id=ev.num("offerId"),
        piece_id=piece_id,
        root_id=rid,
        counterparty=financier,
        counterparty_name=f.name(financier),
        amount=ev.num("price"),
    )


@_rule("OfferAccepted")
def _offer_accepted(ev: Event, f: Facts) -> Iterable[Draft]:
    piece_id, seller, financier = ev.num("pieceId"), ev.addr("seller"), ev.addr("financier")
    rid = f.root_of_piece(piece_id)
    what = f"piece #{piece_id}" + (f" of {f.receivable(rid)}" if rid is not None else "")
    yield _draft(
        ev,
        financier,
        Kind.OFFER_ACCEPTED,
        f"{f.name(seller)} accepted your offer #{ev.num('offerId')}",
        f"{f.name(seller)} accepted your offer #{ev.num('offerId')} of "
        f"{money(ev.num('price'), f.currency)}: {what} is now yours.",
        offer_id=ev.num("offerId"),
        piece_id=piece_id,
        root_id=rid,
        counterparty=seller,
        counterparty_name=f.name(seller),
        amount=ev.num("price"),
    )


@_rule("OfferCancelled")
def _offer_cancelled(ev: Event, f: Facts) -> Iterable[Draft]:
    offer_id, financier, refund = ev.num("offerId"), ev.addr("financier"), ev.num("refund")
    expired = bool(ev.args.get("expired"))
    piece_id = ev.num("pieceId")
    holder = f.holder_at(piece_id, ev.block_number)
    kind, how = (
        (Kind.OFFER_EXPIRED, "expired") if expired else (Kind.OFFER_REFUNDED, "was cancelled")
    )
    yield _draft(
        ev,
        financier,
        kind,
        f"Your offer #{offer_id} {how}: {money(refund, f.currency)} refunded",
        f"Your offer #{offer_id} for piece #{piece_id}"
        + (f" held by {f.name(holder)}" if holder else "")
        + f" {how}; its escrow of {money(refund, f.currency)} is back in your account.",
        offer_id=offer_id,
        piece_id=piece_id,
        counterparty=holder,
        counterparty_name=f.name(holder) if holder else None,
        amount=refund,
    )


@_rule("PiecePaid")
def _paid(ev: Event, f: Facts) -> Iterable[Draft]:
    piece_id, rid, holder = ev.num("pieceId"), ev.num("rootId"), ev.addr("holder")
    root = f.root(rid)
    debtor = root.debtor if root else None
    yield _draft(
        ev,
        holder,
        Kind.PAYOUT_RECEIVED,
        f"Payout of {money(ev.num('amount'), f.currency)} for piece #{piece_id}",
        f"{money(ev.num('amount'), f.currency)} reached you for piece #{piece_id} of "
        f"{f.receivable(rid)}, repaid by {f.name(debtor)}; "
        f"{money(ev.num('paidOut'), f.currency)} paid out on it so far.",
        piece_id=piece_id,
        root_id=rid,
        counterparty=debtor,
        counterparty_name=f.name(debtor) if debtor else None,
        amount=ev.num("amount"),
        paid_out=ev.num("paidOut"),
    )


@_rule("ReceivableOverdue")
def _overdue(ev: Event, f: Facts) -> Iterable[Draft]:
    rid, outstanding = ev.num("rootId"), ev.num("outstanding")
    root = f.root(rid)
    if root is None:
        return
    what = f.receivable(rid)
    yield _draft(
        ev,
        root.debtor,
        Kind.RECEIVABLE_OVERDUE,
        f"{what} is overdue",
        f"You owe {money(outstanding, f.currency)} on {what}, due on {_day(root.due_date)}; "
        "it is overdue.",
        root_id=rid,
        amount=outstanding,
    )
    for holder in sorted(f.holders_of_root_at(rid, ev.block_number) - {root.debtor}):
        yield _draft(
            ev,
            holder,
            Kind.RECEIVABLE_OVERDUE,
            f"{what} owed by {f.name(root.debtor)} is overdue",
            f"{f.name(root.debtor)} still owes {money(outstanding, f.currency)} on {what}, "
            f"due on {_day(root.due_date)}; it is overdue.",
            root_id=rid,
            counterparty=root.debtor,
            counterparty_name=f.name(root.debtor),
            amount=outstanding,
        )


@_rule("RootFrozen", "RootUnfrozen")
def _root_freeze(ev: Event, f: Facts) -> Iterable[Draft]:
    rid, regulator = ev.num("rootId"), ev.addr("regulator")
    root = f.root(rid)
    if root is None:
        return
    frozen = ev.name == "RootFrozen"
    kind, verb = (Kind.FROZEN, "froze") if frozen else (Kind.UNFROZEN, "unfroze")
    what = f.receivable(rid)
    reason = ev.args.get("reason") or "no reason given"
    for member in sorted(f.holders_of_root_at(rid, ev.block_number) | {root.debtor}):
        yield _draft(
            ev,
            member,
            kind,
            f"{f.name(regulator)} {verb} {what}",
            f"{f.name(regulator)} {verb} {what} ({_root_terms(f, root)}): {reason}.",
            root_id=rid,
            counterparty=regulator,
            counterparty_name=f.name(regulator),
            reason=ev.args.get("reason"),
        )


@_rule("PieceFrozen", "PieceUnfrozen")
def _piece_freeze(ev: Event, f: Facts) -> Iterable[Draft]:
    piece_id, rid, regulator = ev.num("pieceId"), ev.num("rootId"), ev.addr("regulator")
    holder = f.holder_at(piece_id, ev.block_number)
    if holder is None:
        return
    frozen = ev.name == "PieceFrozen"
    kind, verb = (Kind.FROZEN, "froze") if frozen else (Kind.UNFROZEN, "unfroze")
    what = f"piece #{piece_id} of {f.receivable(rid)}"
    yield _draft(
        ev,
        holder,
        kind,
        f"{f.name(regulator)} {verb} {what}",
        f"{f.name(regulator)} {verb} your {what}: {ev.args.get('reason') or 'no reason given'}.",
        piece_id=piece_id,
        root_id=rid,
        counterparty=regulator,
        counterparty_name=f.name(regulator),
        reason=ev.args.get("reason"),
    )


@_rule("MemberStatusChanged")
def _status(ev: Event, f: Facts) -> Iterable[Draft]:
    if ev.num("status") != int(MemberStatus.SUSPENDED):
        return
    account = ev.addr("account")
    yield _draft(
        ev,
        account,
        Kind.MEMBERSHIP_SUSPENDED,
        "Your membership is suspended",
        f"The consortium's operator suspended {f.name(account)}: you can take no new position "
        "(no registration, transfer, offer or acceptance); repayments and payouts owed still "
        "go through.",
    )


def drafts_for(events: Sequence[Event], facts: Facts) -> list[Draft]:
    """What the events mean to whom (pure over the mirror's facts)."""
    out: list[Draft] = []
    for ev in events:
        rule = RULES.get(ev.name)
        if rule is not None:
            out.extend(rule(ev, facts))
    return out


# -- storing, and fanning out to channels ---------------------------------------------------------


def _wants(kinds: Sequence[str], kind: str) -> bool:
    return not kinds or kind in kinds


def record(
    session: Session, rt: Runtime, drafts: Sequence[Draft], *, skip_endpoint: str | None = None
) -> list[Notification]:
    """Store the drafts not stored before, each with a delivery per channel it goes to (its
    member's enabled endpoints that chose its kind; e-mail unless turned off). The caller
    commits, so notifications and their deliveries are written together."""
    if not drafts:
        return []
    refs = {d.ref for d in drafts}
    seen = set(
        session.exec(
            select(Notification.member, Notification.kind, Notification.ref).where(
                col(Notification.ref).in_(refs)
            )
        ).all()
    )
    made: list[Notification] = []
    for d in drafts:
        key = (d.member, str(d.kind), d.ref)
        if key in seen:
            continue
        seen.add(key)
        n = Notification(
            member=d.member,
            kind=str(d.kind),
            ref=d.ref,
            chain_id=rt.chain_id,
            title=d.title,
            message=d.message,
            data=d.data,
            tx_hash=d.tx_hash,
            block_number=d.block_number,
        )
        session.add(n)
        made.append(n)
    if not made:
        return made
    session.flush()
    now = utcnow()
    members = {n.member for n in made}
    endpoints: dict[str, list[WebhookEndpoint]] = defaultdict(list)
    for e in session.exec(
        select(WebhookEndpoint).where(
            col(WebhookEndpoint.member).in_(members),
            WebhookEndpoint.enabled == True,  # noqa: E712
        )
    ):
        if e.id != skip_endpoint:
            endpoints[e.member].append(e)
    mail_to = _email_addresses(session, rt, members)
    for n in made:
        assert n.id is not None
        for e in endpoints[n.member]:
            if _wants(e.kinds, n.kind):
                session.add(
                    NotificationDelivery(
                        notification_id=n.id,
                        member=n.member,
                        channel="webhook",
                        endpoint_id=e.id,
                        recipient=e.url,
                        next_attempt_at=now,
                    )
                )
        address, kinds = mail_to.get(n.member, (None, []))
        if address is not None and _wants(kinds, n.kind):
            session.add(
                NotificationDelivery(
                    notification_id=n.id,
                    member=n.member,
                    channel="email",
                    recipient=address,
                    next_attempt_at=now,
                )
            )
    return made


def _email_addresses(
    session: Session, rt: Runtime, members: set[str]
) -> dict[str, tuple[str | None, list[str]]]:
    """member → (address mail goes to, kinds it wants): its preference's address, else its
    directory contact; none where e-mail is off or no SMTP server is configured."""
    if rt.settings.smtp_host is None:
        return {}
    prefs = {
        p.member: p
        for p in session.exec(
            select(NotificationPreference).where(col(NotificationPreference.member).in_(members))
        )
    }
    contacts = dict(
        session.exec(
            select(MemberProfile.address, MemberProfile.contact_email).where(
                col(MemberProfile.address).in_(members)
            )
        ).all()
    )
    out: dict[str, tuple[str | None, list[str]]] = {}
    for m in members:
        pref = prefs.get(m)
        if pref is not None and not pref.email_enabled:
            continue
        address = (pref.email if pref else None) or contacts.get(m)
        out[m] = (address, list(pref.kinds) if pref else [])
    return out


# -- the passes -----------------------------------------------------------------------------------


def _events(mirror: Session, rt: Runtime, rows: Sequence[LedgerEvent]) -> list[Event]:
    """The rows as `Event`s, each with its transaction's logs and its ordinal among them."""
    hashes = {r.tx_hash for r in rows}
    tx_logs: dict[tuple[str, str], list[LedgerEvent]] = defaultdict(list)
    for r in mirror.exec(
        select(LedgerEvent)
        .where(LedgerEvent.chain_id == rt.chain_id, col(LedgerEvent.tx_hash).in_(hashes))
        .order_by(col(LedgerEvent.log_index))
    ):
        tx_logs[(r.tx_hash, r.block_hash)].append(r)
    out = []
    for r in rows:
        logs = tx_logs[(r.tx_hash, r.block_hash)]
        ordinal = next(i for i, x in enumerate(logs) if x.log_index == r.log_index)
        assert r.id is not None
        out.append(
            Event(
                id=r.id,
                name=r.event,
                args=r.args,
                tx_hash=r.tx_hash,
                block_number=r.block_number,
                ordinal=ordinal,
                tx=tuple((x.event, x.args) for x in logs),
            )
        )
    return out


def _rewound(session: Session, mirror: Session, rt: Runtime, state: IndexerState) -> NotifyCursor:
    """The cursor, moved back to the last final block if a rollback cut the event it is at."""
    cursor = session.get(NotifyCursor, rt.chain_id)
    if cursor is None:
        cursor = NotifyCursor(chain_id=rt.chain_id, event_id=0)
        session.add(cursor)
        return cursor
    if cursor.event_id == 0:
        return cursor
    at = mirror.get(LedgerEvent, cursor.event_id)
    if at is not None and (at.block_hash, at.log_index) == (cursor.block_hash, cursor.log_index):
        return cursor
    back = mirror.exec(
        select(func.max(LedgerEvent.id)).where(
            LedgerEvent.chain_id == rt.chain_id, col(LedgerEvent.block_number) <= state.final_block
        )
    ).first()
    log.warning(
        "ledger events under the notification cursor were rolled back; reading again",
        extra={"from_event": cursor.event_id, "to_event": back or 0},
    )
    cursor.event_id, cursor.block_hash, cursor.log_index = back or 0, None, None
    if back:
        row = mirror.get(LedgerEvent, back)
        assert row is not None
        cursor.block_hash, cursor.log_index = row.block_hash, row.log_index
    return cursor


def derive(rt: Runtime) -> int:
    """Turn the ledger events since the cursor into notifications; returns how many were made."""
    made = 0
    for _ in range(1000):  # bounded: a long backlog is taken up over several keeper runs
        with Session(rt.engine) as session, Session(rt.mirror) as mirror:
            state = mirror.get(IndexerState, rt.chain_id)
            if state is None:
                return made
            cursor = _rewound(session, mirror, rt, state)
            safe = state.cursor_block - rt.settings.notify_confirmations
            rows = mirror.exec(
                select(LedgerEvent)
                .where(
                    LedgerEvent.chain_id == rt.chain_id,
                    col(LedgerEvent.id) > cursor.event_id,
                    col(LedgerEvent.block_number) <= safe,
                )
                .order_by(col(LedgerEvent.id))
                .limit(rt.settings.notify_batch_events)
            ).all()
            if not rows:
                session.commit()
                return made
            last = rows[-1]
            assert last.id is not None
            cursor.event_id, cursor.block_hash, cursor.log_index = (
                last.id,
                last.block_hash,
                last.log_index,
            )
            cursor.updated_at = utcnow()
            session.add(cursor)
            try:
                drafts = drafts_for(_events(mirror, rt, rows), Facts(rt, session, mirror))
                new = len(record(session, rt, drafts))
                session.commit()
            except IntegrityError:
                # a concurrent pass (an overlapping keeper run) stored these first: it carries on
                log.info("notifications already made by a concurrent pass")
                return made
            made += new
    return made


def remind_due(rt: Runtime) -> int:
    """Tell the debtor and the holders of each confirmed receivable due within 7 days, and
    within 1 day, once per receivable and threshold (by the ledger clock: the latest block's
    timestamp). A receivable first seen inside the tighter threshold gets only that one."""
    now = rt.conn.latest_timestamp()
    widest = DUE_REMINDERS[0][0] * DAY
    with Session(rt.engine) as session, Session(rt.mirror) as mirror:
        roots = mirror.exec(
            select(Root).where(
                Root.chain_id == rt.chain_id,
                Root.status == int(RootStatus.CONFIRMED),
                col(Root.due_date) > now,
                col(Root.due_date) <= now + widest,
            )
        ).all()
        facts = Facts(rt, session, mirror)
        drafts: list[Draft] = []
        for root in roots:
            left = root.due_date - now
            days, kind = min(
                ((d, k) for d, k in DUE_REMINDERS if left <= d * DAY), key=lambda dk: dk[0]
            )
            drafts.extend(_due_drafts(facts, root, days, kind))
        try:
            made = record(session, rt, drafts)
            session.commit()
        except IntegrityError:
            log.info("reminders already made by a concurrent pass")
            return 0
    return len(made)


def _due_drafts(f: Facts, root: Root, days: int, kind: Kind) -> Iterable[Draft]:
    what = f.receivable(root.root_id)
    ref = f"due:{root.root_id}:{root.due_date}"
    when = f"in {days} day{'s' if days > 1 else ''}"
    outstanding = root.face_value - root.repaid
    common: dict[str, Any] = {"root_id": root.root_id, "due_date": root.due_date, "days": days}
    yield Draft(
        member=root.debtor,
        kind=kind,
        ref=ref,
        title=f"{what} is due {when}",
        message=f"{what} falls due on {_day(root.due_date)} ({when}); you still owe "
        f"{money(outstanding, f.currency)} of {money(root.face_value, f.currency)}.",
        data={**common, "amount": outstanding},
    )
    for holder in sorted(f.current_holders(root.root_id) - {root.debtor}):
        yield Draft(
            member=holder,
            kind=kind,
            ref=ref,
            title=f"{what} owed by {f.name(root.debtor)} is due {when}",
            message=f"{what}, owed by {f.name(root.debtor)}, falls due on "
            f"{_day(root.due_date)} ({when}); your pieces of it will be paid as it is repaid.",
            data={**common, "counterparty": root.debtor, "counterparty_name": f.name(root.debtor)},
        )


def notify(rt: Runtime) -> dict[str, int]:
    """The keeper's job: events into notifications, then maturity reminders."""
    return {"from_events": derive(rt), "reminders": remind_due(rt)}
