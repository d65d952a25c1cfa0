"""The console's pictures: inline SVG drawn on the server from plain data, no script and no
third-party library. Each picture is an image to assistive technology (`role="img"`, a label and
a <title>, a text <desc>), says everything in text (colour only repeats what the words say), and
scales down with its container (a viewBox; never wider than its natural size).

Every function takes `_`, the page's gettext, so that the words are translated and extracted with
the console's catalogues; amounts are integers in fen, dates Unix seconds read in UTC as the
rest of the platform does."""

from __future__ import annotations

import calendar as _calendar
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from markupsafe import Markup, escape

from backend.console import format as fmt

Gettext = Callable[[str], str]

FONT = "system-ui, -apple-system, 'Segoe UI', 'Noto Sans CJK SC', 'Noto Sans', sans-serif"
INK = "#1a1a1a"  # body text: 16:1 on white
MUTED = "#4a4a4a"  # secondary text: 8.9:1 on white, 7.9:1 on the lightest fills used here
LINE = "#6b6b6b"
#: The widest a picture is drawn: the console's content column (main: 1200 px less padding).
MAX_WIDTH = 1160


def _same(text: str) -> str:
    return text


def money(fen: int) -> str:
    """The console's one way of showing fen: ¥1,234.56."""
    return fmt.money(fen)


def _day(timestamp: int) -> date:
    return datetime.fromtimestamp(timestamp, UTC).date()


# -- text ----------------------------------------------------------------------------------------


def text_width(text: str, size: float, *, bold: bool = False) -> float:
    """An estimate of `text`'s rendered width: CJK characters are a square em, others ~0.6 em
    (a little over the average of the sans faces the console names, so that text fits)."""
    narrow = 0.64 if bold else 0.6
    return sum(size * (1.0 if unicodedata.east_asian_width(c) in "WF" else narrow) for c in text)


def fit(text: str, width: float, size: float, *, bold: bool = False) -> str:
    """`text`, cut with an ellipsis where it would pass `width`."""
    if text_width(text, size, bold=bold) <= width:
        return text
    room = width - text_width("…", size, bold=bold)
    out = ""
    for c in text:
        if text_width(out + c, size, bold=bold) > room:
            break
        out += c
    return out + "…"


def wrap(text: str, width: float, size: float, *, bold: bool = False, rows: int = 2) -> list[str]:
    """`text` in at most `rows` rows of `width`, broken at a space where there is one (CJK text
    anywhere), the last row cut with an ellipsis if it still does not fit."""
    out: list[str] = []
    rest = text
    while rest and len(out) < rows - 1 and text_width(rest, size, bold=bold) > width:
        cut = len(fit(rest, width, size, bold=bold)) - 1  # the characters that fit
        # the last place a line may break: at a space, or beside a CJK character
        breaks = [i for i in range(1, cut + 1) if _breaks_before(rest, i)]
        if breaks:
            cut = breaks[-1]
        out.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        out.append(fit(rest, width, size, bold=bold))
    return out


def _wide(c: str) -> bool:
    return unicodedata.east_asian_width(c) in "WF"


def _breaks_before(text: str, i: int) -> bool:
    before, after = text[i - 1], text[i]
    return before == " " or after == " " or _wide(before) or _wide(after)


def _num(v: float) -> str:
    return f"{v:.1f}".removesuffix(".0")


def _text(
    x: float,
    y: float,
    content: str,
    *,
    size: float = 12,
    bold: bool = False,
    anchor: str = "start",
    fill: str = INK,
) -> str:
    weight = ' font-weight="600"' if bold else ""
    return (
        f'<text x="{_num(x)}" y="{_num(y)}" font-size="{_num(size)}"{weight} '
        f'text-anchor="{anchor}" fill="{fill}">{escape(content)}</text>'
    )


def _svg(width: float, height: float, label: str, desc: str, body: Iterable[str]) -> Markup:
    w, h = _num(width), _num(height)
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" class="picture" viewBox="0 0 {w} {h}" '
        f'width="100%" style="max-width:{w}px;height:auto" preserveAspectRatio="xMinYMin meet" '
        f'role="img" aria-label="{escape(label)}" font-family="{FONT}">'
        f"<title>{escape(label)}</title><desc>{escape(desc)}</desc>" + "".join(body) + "</svg>"
    )


# -- the provenance tree -------------------------------------------------------------------------


@dataclass
class Sale:
    price: int
    buyer: str
    seller: str


@dataclass
class TreeNode:
    """One piece as the tree draws it: its words, and after layout its box."""

    piece_id: int
    holder: str
    amount: int
    status: str
    frozen: bool
    paid: bool
    sales: list[Sale] = field(default_factory=list)
    payouts: list[int] = field(default_factory=list)
    children: list[TreeNode] = field(default_factory=list)
    lines: list[tuple[str, bool]] = field(default_factory=list)
    #: the lines as drawn: each wrapped to the box, at most `WRAP_ROWS` rows
    rows: list[tuple[str, bool]] = field(default_factory=list)
    level: int = 0
    x: float = 0
    y: float = 0
    width: float = 0
    height: float = 0


@dataclass(frozen=True)
class Box:
    piece_id: int
    level: int
    x: float
    y: float
    width: float
    height: float

    def overlaps(self, other: Box) -> bool:
        return (
            self.x < other.x + other.width
            and other.x < self.x + self.width
            and self.y < other.y + other.height
            and other.y < self.y + self.height
        )


NODE_FONT = 12
LINE_HEIGHT = 16
NODE_PAD = 8
H_GAP = 28  # between levels: room for the connectors
V_GAP = 10  # between neighbouring boxes of a level
NODE_MIN_WIDTH = 150
NODE_MAX_WIDTH = 240
#: Narrower boxes put the amount and the status on lines of their own.
NODE_WIDE = 200
WRAP_ROWS = 2
MARGIN = 12
HEADER = 58
SALES_SHOWN = 3


def _int(v: Any) -> int:
    return int(v)


def _events(
    history: Iterable[Mapping[str, Any]],
) -> tuple[dict[int, list[Sale]], dict[int, list[int]]]:
    """Sales (accepted offers) and payouts by piece id, from a receivable's history."""
    sales: defaultdict[int, list[Sale]] = defaultdict(list)
    payouts: defaultdict[int, list[int]] = defaultdict(list)
    for e in history:
        a = e.get("args") or {}
        if e.get("event") == "OfferAccepted":
            sales[_int(a["pieceId"])].append(
                Sale(price=_int(a["price"]), buyer=str(a["financier"]), seller=str(a["seller"]))
            )
        elif e.get("event") == "PiecePaid":
            payouts[_int(a["pieceId"])].append(_int(a["amount"]))
    return sales, payouts


def _nodes(
    pieces: Sequence[Mapping[str, Any]],
    sales: Mapping[int, list[Sale]],
    payouts: Mapping[int, list[int]],
) -> list[TreeNode]:
    out = []
    for p in pieces:
        pid = _int(p["piece_id"])
        out.append(
            TreeNode(
                piece_id=pid,
                holder=str(p["holder"]),
                amount=_int(p["amount"]),
                status=str(p["status"]),
                frozen=bool(p.get("frozen")),
                paid=bool(p.get("paid")),
                sales=list(sales.get(pid, [])),
                payouts=list(payouts.get(pid, [])),
                children=_nodes(p.get("children") or [], sales, payouts),
            )
        )
    return out


def _walk(nodes: Iterable[TreeNode]) -> Iterable[TreeNode]:
    for n in nodes:
        yield n
        yield from _walk(n.children)


def _levels(nodes: Iterable[TreeNode], level: int = 0) -> int:
    return max((max(level + 1, _levels(n.children, level + 1)) for n in nodes), default=level)


def _status_word(n: TreeNode, _: Gettext) -> str:
    words = {
        "pending": _("pending"),
        "active": _("active"),
        "split": _("split"),
        "void": _("void"),
    }
    word = _("paid") if n.paid else words.get(n.status, n.status)
    return f"{word} · {_('frozen')}" if n.frozen else word


def _count(n: int, one: str, many: str, **values: str) -> str:
    """`one` (already translated) for 1, else `many`, filled with the count and `values`: the
    console's languages (zh, en) have at most these two forms."""
    return (one if n == 1 else many) % {"count": n, **values}


def _root_status(status: str, _: Gettext) -> str:
    words = {
        "registered": _("registered"),
        "confirmed": _("confirmed"),
        "rejected": _("rejected"),
        "cancelled": _("cancelled"),
        "overdue": _("overdue"),
        "settled": _("settled"),
        "refused": _("refused"),
        "closed": _("closed"),
    }
    return words.get(status, status)


def _name(address: str, names: Mapping[str, str]) -> str:
    return names.get(address.lower()) or fmt.short(address)


def _describe(
    n: TreeNode, names: Mapping[str, str], _: Gettext, *, narrow: bool
) -> list[tuple[str, bool]]:
    """The node's lines in full (bold or not); the box shows each cut to its width. A narrow
    box (a deep tree) gives the amount and the status a line each."""
    lines = [(f"#{n.piece_id} {_name(n.holder, names)}", True)]
    if narrow:
        lines += [(money(n.amount), False), (_status_word(n, _), False)]
    else:
        lines.append((f"{money(n.amount)} · {_status_word(n, _)}", False))
    for s in n.sales[:SALES_SHOWN]:
        lines.append(
            (
                _("sold for %(price)s to %(buyer)s")
                % {"price": money(s.price), "buyer": _name(s.buyer, names)},
                False,
            )
        )
    if len(n.sales) > SALES_SHOWN:
        more = len(n.sales) - SALES_SHOWN
        lines.append((_count(more, _("1 more sale"), _("%(count)d more sales")), False))
    if n.payouts:
        paid = _count(
            len(n.payouts),
            _("paid out %(amount)s"),
            _("paid out %(amount)s in %(count)d payouts"),
            amount=money(sum(n.payouts)),
        )
        lines.append((paid, False))
    return lines


@dataclass
class _Sub:
    """A laid-out subtree: each node's top relative to the subtree's, and per level below its
    root the band (top, bottom) the subtree covers there."""

    placed: list[tuple[TreeNode, float]]
    contour: list[tuple[float, float]]


def _stack(subs: Sequence[_Sub]) -> tuple[list[float], list[tuple[float, float]]]:
    """Offsets that put each subtree just below its predecessors wherever they share a level
    (so a shallow subtree may sit beside a deep one's lower levels), and the joint contour."""
    offsets: list[float] = []
    joint: list[tuple[float, float]] = []
    for sub in subs:
        shift = 0.0
        if joint:
            shift = max(
                joint[i][1] + V_GAP - sub.contour[i][0]
                for i in range(min(len(joint), len(sub.contour)))
            )
        offsets.append(shift)
        for i, (top, bottom) in enumerate(sub.contour):
            if i < len(joint):
                joint[i] = (min(joint[i][0], top + shift), max(joint[i][1], bottom + shift))
            else:
                joint.append((top + shift, bottom + shift))
    return offsets, joint


def _place(n: TreeNode) -> _Sub:
    if not n.children:
        return _Sub(placed=[(n, 0.0)], contour=[(0.0, n.height)])
    subs = [_place(c) for c in n.children]
    offsets, joint = _stack(subs)
    first, last = n.children[0], n.children[-1]
    middle = (offsets[0] + first.height / 2 + offsets[-1] + last.height / 2) / 2
    top = middle - n.height / 2
    placed = [(n, top)]
    for sub, off in zip(subs, offsets, strict=True):
        placed += [(m, y + off) for m, y in sub.placed]
    return _Sub(placed=placed, contour=[(top, top + n.height), *joint])


def box_width(levels: int, width: float = MAX_WIDTH) -> float:
    """The levels share the width; past the narrowest readable box the picture is drawn wider
    and scales down with its container instead."""
    room = (width - 2 * MARGIN - (levels - 1) * H_GAP) / max(levels, 1)
    return max(NODE_MIN_WIDTH, min(NODE_MAX_WIDTH, room))


def layout_tree(nodes: Sequence[TreeNode], *, width: float = MAX_WIDTH) -> tuple[float, float]:
    """Place every node (a tidy layered layout, levels left to right: a tree grows down the
    page however many pieces it has, and its depth shares the width); returns the drawing's
    size. No two boxes overlap; parents sit midway along their children."""
    levels = max(_levels(nodes), 1)
    box_w = box_width(levels, width)
    for n in _walk(nodes):
        n.width = box_w
        n.rows = [
            (row, bold)
            for text, bold in n.lines
            for row in wrap(text, box_w - 2 * NODE_PAD, NODE_FONT, bold=bold, rows=WRAP_ROWS)
        ]
        n.height = 2 * NODE_PAD + len(n.rows) * LINE_HEIGHT
    subs = [_place(n) for n in nodes]
    offsets, _joint = _stack(subs)
    placed = [(m, y + off) for sub, off in zip(subs, offsets, strict=True) for m, y in sub.placed]

    def level_of(n: TreeNode, level: int) -> None:
        n.level = level
        for c in n.children:
            level_of(c, level + 1)

    for n in nodes:
        level_of(n, 0)
    lowest = min((y for _m, y in placed), default=0.0)
    for m, y in placed:
        m.x = MARGIN + m.level * (box_w + H_GAP)
        m.y = HEADER + y - lowest
    bottom = max((m.y + m.height for m, _y in placed), default=HEADER)
    return 2 * MARGIN + levels * box_w + (levels - 1) * H_GAP, bottom + MARGIN


def boxes(nodes: Iterable[TreeNode]) -> list[Box]:
    return [Box(n.piece_id, n.level, n.x, n.y, n.width, n.height) for n in _walk(nodes)]


#: Fill, stroke, dash and text colour by what the words say; paid and frozen win over status.
_LOOK = {
    "active": ("#ffffff", "#1f5fa8", "", INK),
    "paid": ("#eaf5ec", "#2e7d32", "", INK),
    "split": ("#f1f1f1", LINE, "6 4", INK),
    "pending": ("#fff7dc", "#8a6d00", "2 3", INK),
    "void": ("#f1f1f1", "#8a8a8a", "2 3", MUTED),
}


def _box(n: TreeNode) -> str:
    fill, stroke, dash, ink = _LOOK["paid" if n.paid else n.status if n.status in _LOOK else "void"]
    width = 2.0
    if n.frozen:
        stroke, width = "#b00020", 3.0
    dashed = f' stroke-dasharray="{dash}"' if dash else ""
    out = [
        f'<g class="piece" data-piece="{n.piece_id}">',
        f"<title>{escape(' — '.join(text for text, _b in n.lines))}</title>",
        f'<rect x="{_num(n.x)}" y="{_num(n.y)}" width="{_num(n.width)}" '
        f'height="{_num(n.height)}" rx="4" fill="{fill}" stroke="{stroke}" '
        f'stroke-width="{_num(width)}"{dashed}/>',
    ]
    for i, (text, bold) in enumerate(n.rows):
        out.append(
            _text(
                n.x + NODE_PAD,
                n.y + NODE_PAD + (i + 1) * LINE_HEIGHT - 4,
                text,
                size=NODE_FONT,
                bold=bold,
                fill=ink,
            )
        )
    out.append("</g>")
    return "".join(out)


def _edges(n: TreeNode) -> Iterable[str]:
    for c in n.children:
        x0, y0 = n.x + n.width, n.y + n.height / 2
        x1, y1 = c.x, c.y + c.height / 2
        bend = x0 + H_GAP / 2
        yield (
            f'<path d="M{_num(x0)} {_num(y0)} H{_num(bend)} V{_num(y1)} H{_num(x1)}" '
            f'fill="none" stroke="{LINE}" stroke-width="1.5"/>'
        )
        yield from _edges(c)


def provenance_tree(
    tree: Mapping[str, Any],
    *,
    names: Mapping[str, str] | None = None,
    _: Gettext = _same,
    width: float = MAX_WIDTH,
) -> Markup:
    """A receivable's provenance: the root piece, its splits and their pieces, each with its
    holder, amount, status, sales (accepted offers: price and buyer) and payouts. `tree` is what
    the audit service's `root_tree` gives (root, nested pieces, history); `names` maps lower-case
    addresses to the directory's names."""
    known = {k.lower(): v for k, v in (names or {}).items()}
    root = tree["root"]
    sales, payouts = _events(tree.get("history") or [])
    nodes = _nodes(tree.get("pieces") or [], sales, payouts)
    every = list(_walk(nodes))
    levels = _levels(nodes)
    narrow = box_width(levels, width) < NODE_WIDE
    for n in every:
        n.lines = _describe(n, known, _, narrow=narrow)
    full_w, full_h = layout_tree(nodes, width=width)
    root_id = _int(root["root_id"])
    label = _("Provenance of receivable #%(id)d: %(pieces)d pieces on %(levels)d levels") % {
        "id": root_id,
        "pieces": len(every),
        "levels": levels,
    }
    heading = _("Receivable #%(id)d: %(debtor)s owes %(face)s to %(supplier)s, due %(due)s") % {
        "id": root_id,
        "debtor": _name(str(root["debtor"]), known),
        "face": money(_int(root["face_value"])),
        "supplier": _name(str(root["supplier"]), known),
        "due": _day(_int(root["due_date"])).isoformat(),
    }
    status = _("status: %(status)s") % {"status": _root_status(str(root["status"]), _)}
    if root.get("frozen"):
        status += f" · {_('frozen')}"
    status += " · " + _("repaid %(repaid)s, outstanding %(outstanding)s") % {
        "repaid": money(_int(root.get("repaid", 0))),
        "outstanding": money(_int(root.get("outstanding", 0))),
    }
    # a small tree's drawing is still as wide as its heading needs (within `width`)
    full_w = max(full_w, min(width, text_width(heading, 14, bold=True) + 2 * MARGIN))
    outline = [heading, status] + [
        "  " * n.level + "; ".join(text for text, _b in n.lines) for n in every
    ]
    body = [
        _text(MARGIN, 22, fit(heading, full_w - 2 * MARGIN, 14, bold=True), size=14, bold=True),
        _text(MARGIN, 42, fit(status, full_w - 2 * MARGIN, 12), size=12, fill=MUTED),
    ]
    if not every:
        body.append(_text(MARGIN, HEADER + 16, _("No pieces yet."), fill=MUTED))
        full_h = HEADER + 32
    for n in nodes:
        body += list(_edges(n))
    body += [_box(n) for n in every]
    return _svg(full_w, full_h, label, "\n".join(outline), body)


# -- bar charts ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bar:
    label: str
    amount: int
    note: str = ""
    #: 0 for a bar, 1 for a bar within the group above it (drawn indented and thinner)
    level: int = 0
    #: the bar's colour; the label and amount say what it means
    color: str = "#1f5fa8"


BAR_ROW = 30
BAR_SUB_ROW = 24
BAR_FONT = 12
CHART_TOP = 34


def bar_chart(
    bars: Sequence[Bar],
    *,
    title: str,
    _: Gettext = _same,
    width: float = 620,
    titled: bool = True,
) -> Markup:
    """Horizontal bars, each with its label on the left and its amount (and note) on the right,
    scaled to the largest amount. `titled=False` leaves the drawn title out (the page's heading
    says it; the picture's label still does)."""
    # labels and amounts take what they need, within limits that leave the bars a quarter
    label_w = min(
        width * 0.36,
        max(
            (text_width(b.label, BAR_FONT, bold=not b.level) + 16 * b.level for b in bars),
            default=0,
        )
        + 16,
    )
    amount_w = min(
        width * 0.39,
        max((text_width(_amount_text(b), BAR_FONT) for b in bars), default=0) + 16,
    )
    track = width - label_w - amount_w - 2 * MARGIN
    top = max((b.amount for b in bars), default=0)
    chart_top = CHART_TOP if titled else 4
    y = chart_top + 6
    body = (
        [_text(MARGIN, 20, fit(title, width - 2 * MARGIN, 14, bold=True), size=14, bold=True)]
        if titled
        else [""]
    )
    for b in bars:
        row = BAR_SUB_ROW if b.level else BAR_ROW
        thick = 10 if b.level else 16
        indent = 16 * b.level
        length = track * max(b.amount, 0) / top if top > 0 else 0
        x0 = MARGIN + label_w
        mid = y + row / 2
        body.append(f'<g class="bar" data-label="{escape(b.label)}" data-amount="{b.amount}">')
        body.append(
            _text(
                MARGIN + indent,
                mid + 4,
                fit(b.label, label_w - indent - 8, BAR_FONT, bold=not b.level),
                size=BAR_FONT,
                bold=not b.level,
                fill=INK if not b.level else MUTED,
            )
        )
        body.append(
            f'<rect x="{_num(x0)}" y="{_num(mid - thick / 2)}" width="{_num(length)}" '
            f'height="{thick}" fill="{b.color}"/>'
        )
        body.append(
            _text(
                x0 + track + 8,
                mid + 4,
                fit(_amount_text(b), amount_w - 8, BAR_FONT),
                size=BAR_FONT,
            )
        )
        body.append("</g>")
        y += row
    if not bars:
        body.append(_text(MARGIN, y + 16, _("Nothing to show."), fill=MUTED))
        y += BAR_ROW
    x0 = MARGIN + label_w
    body.insert(
        1,
        f'<line x1="{_num(x0)}" y1="{chart_top}" x2="{_num(x0)}" y2="{_num(y + 2)}" '
        f'stroke="{LINE}" stroke-width="1"/>',
    )
    desc = "\n".join(f"{'  ' * b.level}{b.label}: {_amount_text(b)}" for b in bars)
    return _svg(width, y + MARGIN, title, desc or _("Nothing to show."), body)


def _amount_text(b: Bar) -> str:
    return f"{money(b.amount)} · {b.note}" if b.note else money(b.amount)


AGING_COLORS = {"current": "#2e7d32", "1-30": "#8a6d00", "31-90": "#b45309", ">90": "#b00020"}


def aging_chart(
    aging: Mapping[str, Any], *, _: Gettext = _same, width: float = 620, titled: bool = True
) -> Markup:
    """The aging buckets (`audit.aging`'s `buckets`): outstanding by days past due."""
    words = {
        "current": _("Not past due"),
        "1-30": _("1 to 30 days past due"),
        "31-90": _("31 to 90 days past due"),
        ">90": _("Over 90 days past due"),
    }
    bars = [
        Bar(
            label=words.get(b["bucket"], str(b["bucket"])),
            amount=_int(b["outstanding"]),
            note=_count(_int(b["receivables"]), _("1 receivable"), _("%(count)d receivables")),
            color=AGING_COLORS.get(b["bucket"], "#1f5fa8"),
        )
        for b in aging["buckets"]
    ]
    return bar_chart(
        bars, title=_("Aging of outstanding receivables"), _=_, width=width, titled=titled
    )


def _top(rows: list[Bar], limit: int, _: Gettext) -> list[Bar]:
    """The `limit` largest bars, the rest summed into one."""
    rows = sorted(rows, key=lambda b: (-b.amount, b.label))
    if len(rows) <= limit:
        return rows
    rest = rows[limit - 1 :]
    return [
        *rows[: limit - 1],
        Bar(
            label=_("%(count)d others") % {"count": len(rest)},  # never 1: limit - 1 are shown
            amount=sum(b.amount for b in rest),
            color=LINE,
        ),
    ]


def exposure_by_debtor(
    exposure: Mapping[str, Any],
    *,
    names: Mapping[str, str] | None = None,
    _: Gettext = _same,
    width: float = 620,
    titled: bool = True,
    limit: int = 12,
) -> Markup:
    """Outstanding per debtor (`audit.exposure`'s `by_debtor`), largest first."""
    known = {k.lower(): v for k, v in (names or {}).items()}
    bars = [
        Bar(
            label=_name(str(r["debtor"]), known),
            amount=_int(r["outstanding"]),
            note=_count(_int(r["receivables"]), _("1 receivable"), _("%(count)d receivables")),
        )
        for r in exposure.get("by_debtor", [])
    ]
    return bar_chart(
        _top(bars, limit, _), title=_("Exposure by debtor"), _=_, width=width, titled=titled
    )


def exposure_by_financier(
    exposure: Mapping[str, Any],
    *,
    names: Mapping[str, str] | None = None,
    _: Gettext = _same,
    width: float = 620,
    titled: bool = True,
    limit: int = 12,
) -> Markup:
    """What each financier's pieces are still owed (`audit.exposure`'s `by_financier`): its
    total, and under it one thinner bar per debtor."""
    known = {k.lower(): v for k, v in (names or {}).items()}
    per: defaultdict[str, list[Bar]] = defaultdict(list)
    for r in exposure.get("by_financier", []):
        per[str(r["financier"]).lower()].append(
            Bar(
                label=_name(str(r["debtor"]), known),
                amount=_int(r["exposure"]),
                level=1,
                color="#5b8fd0",
            )
        )
    groups = sorted(per.items(), key=lambda kv: (-sum(b.amount for b in kv[1]), kv[0]))
    bars: list[Bar] = []
    for financier, debtors in groups:
        bars.append(
            Bar(
                label=_name(financier, known),
                amount=sum(b.amount for b in debtors),
                note=_count(len(debtors), _("1 debtor"), _("%(count)d debtors")),
            )
        )
        bars += _top(debtors, limit, _)
    return bar_chart(bars, title=_("Exposure by financier"), _=_, width=width, titled=titled)


# -- the maturity ladder -------------------------------------------------------------------------


def _week_start(d: date) -> date:
    return d - timedelta(days=d.weekday())


def _month_start(d: date) -> date:
    return d.replace(day=1)


def _next_month(d: date) -> date:
    return date(d.year + d.month // 12, d.month % 12 + 1, 1)


def maturity_ladder(
    maturities: Iterable[tuple[int, int]],
    *,
    now: int,
    by: str = "auto",
    _: Gettext = _same,
    width: float = 620,
    titled: bool = True,
) -> Markup:
    """Expected repayments by maturity (`(due date, amount still owed)` pairs): one rung per week
    or month from now to the last maturity, empty rungs included, what is already past due in a
    rung of its own. `by`: "week", "month" or "auto" (weeks while they make at most 16 rungs)."""
    today = _day(now)
    past = 0
    past_count = 0
    ahead: list[tuple[date, int]] = []
    for due, amount in maturities:
        d = _day(due)
        if d < today:
            past += amount
            past_count += 1
        else:
            ahead.append((d, amount))
    last = max((d for d, _a in ahead), default=today)
    if by == "auto":
        by = "week" if (last - _week_start(today)).days < 16 * 7 else "month"
    if by not in ("week", "month"):
        raise ValueError(f"by must be week, month or auto, not {by!r}")
    start, step = (
        (_week_start, lambda d: d + timedelta(days=7))
        if by == "week"
        else (_month_start, _next_month)
    )
    sums: defaultdict[date, list[int]] = defaultdict(lambda: [0, 0])
    for d, amount in ahead:
        sums[start(d)][0] += amount
        sums[start(d)][1] += 1
    bars = []
    if past_count:
        bars.append(
            Bar(
                label=_("Past due"),
                amount=past,
                note=_count(past_count, _("1 piece"), _("%(count)d pieces")),
                color="#b00020",
            )
        )
    if ahead:
        rung = start(today)
        while rung <= start(last):
            amount, count = sums.get(rung, [0, 0])
            label = (
                _("week of %(date)s") % {"date": rung.isoformat()}
                if by == "week"
                else f"{rung.year}-{rung.month:02d}"
            )
            note = _count(count, _("1 piece"), _("%(count)d pieces")) if count else ""
            bars.append(Bar(label=label, amount=amount, note=note))
            rung = step(rung)
    title = _("Expected repayments by week") if by == "week" else _("Expected repayments by month")
    return bar_chart(bars, title=title, _=_, width=width, titled=titled)


# -- the payables calendar -----------------------------------------------------------------------

CELL_W = 140
CELL_H = 76
CAL_TOP = 64


def calendar(
    payables: Iterable[tuple[int, int]],
    *,
    year: int,
    month: int,
    today: int | None = None,
    _: Gettext = _same,
) -> Markup:
    """A month's grid, Monday first, with what falls due on each day (`(due date, amount)`
    pairs; those outside the month are left out): the day's total and how many payables."""
    due: defaultdict[int, list[int]] = defaultdict(list)
    for when, amount in payables:
        d = _day(when)
        if (d.year, d.month) == (year, month):
            due[d.day].append(amount)
    on = _day(today) if today is not None else None
    weeks = _calendar.Calendar(firstweekday=0).monthdayscalendar(year, month)
    width = 7 * CELL_W + 2 * MARGIN
    height = CAL_TOP + len(weeks) * CELL_H + MARGIN
    total = sum(sum(v) for v in due.values())
    count = sum(len(v) for v in due.values())
    title = _("Payables due in %(month)s") % {"month": f"{year}-{month:02d}"}
    summary = _count(
        count, _("%(total)s in 1 payable"), _("%(total)s in %(count)d payables"), total=money(total)
    )
    body = [
        _text(MARGIN, 20, title, size=14, bold=True),
        _text(width - MARGIN, 20, summary, size=12, anchor="end", fill=MUTED),
    ]
    days = (_("Mon"), _("Tue"), _("Wed"), _("Thu"), _("Fri"), _("Sat"), _("Sun"))
    for i, name in enumerate(days):
        body.append(_text(MARGIN + i * CELL_W + CELL_W / 2, CAL_TOP - 10, name, anchor="middle"))
    desc = [f"{title}: {summary}"]
    for r, week in enumerate(weeks):
        for c, day in enumerate(week):
            x, y = MARGIN + c * CELL_W, CAL_TOP + r * CELL_H
            if not day:
                body.append(
                    f'<rect x="{x}" y="{y}" width="{CELL_W}" height="{CELL_H}" '
                    f'fill="#f7f7f7" stroke="#d0d0d0"/>'
                )
                continue
            amounts = due.get(day, [])
            is_today = on == date(year, month, day)
            fill = "#e8f0fa" if amounts else "#ffffff"
            stroke, sw = ("#1a1a1a", 2.5) if is_today else ("#b8b8b8", 1.0)
            body.append(f'<g class="day" data-day="{day}" data-amount="{sum(amounts)}">')
            body.append(
                f'<rect x="{x}" y="{y}" width="{CELL_W}" height="{CELL_H}" fill="{fill}" '
                f'stroke="{stroke}" stroke-width="{_num(sw)}"/>'
            )
            body.append(_text(x + 8, y + 18, str(day), bold=is_today))
            if is_today:
                body.append(_text(x + CELL_W - 8, y + 18, _("today"), anchor="end", size=11))
            if amounts:
                body.append(
                    _text(
                        x + 8,
                        y + 44,
                        fit(money(sum(amounts)), CELL_W - 16, 13, bold=True),
                        size=13,
                        bold=True,
                    )
                )
                n = _count(len(amounts), _("1 payable"), _("%(count)d payables"))
                body.append(_text(x + 8, y + 62, n, size=11, fill=MUTED))
                desc.append(f"{year}-{month:02d}-{day:02d}: {money(sum(amounts))} ({n})")
            body.append("</g>")
    return _svg(width, height, f"{title}: {summary}", "\n".join(desc), body)
