"""The console's pictures: each is well-formed SVG that assistive technology reads as one image
with a label, says in text every name and amount it draws, and lays its parts out without
overlap: the provenance tree of a real financed receivable, trees as deep as the ledger allows
and as wide as dozens of pieces, the bar charts, the maturity ladder and the payables calendar."""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from typing import Any

import pytest
from markupsafe import Markup
from sqlmodel import Session

from backend.console import pictures as pic
from backend.services import audit, directory
from chain.deploy import DEFAULT_MAX_DEPTH
from tests.backend.conftest import Api
from tests.backend.test_story import originate_and_finance

SVG = "{http://www.w3.org/2000/svg}"
DAY = 86_400


def parse(svg: Markup) -> ET.Element:
    assert isinstance(svg, Markup)
    root = ET.fromstring(str(svg))  # raises on anything that is not well-formed XML
    assert root.tag == f"{SVG}svg"
    assert root.get("role") == "img"
    label = root.get("aria-label")
    assert label
    title = root.find(f"{SVG}title")
    assert title is not None and title.text == label
    assert root.find(f"{SVG}desc") is not None
    return root


def texts(el: ET.Element) -> list[str]:
    return [t.text or "" for t in el.iter(f"{SVG}text")]


def all_text(el: ET.Element) -> str:
    """Everything a reader gets: the drawn words, the label, the description and the tooltips."""
    return "\n".join([el.get("aria-label") or "", *(t.text or "" for t in el.iter() if t.text)])


def piece_boxes(el: ET.Element) -> dict[int, tuple[float, float, float, float]]:
    out = {}
    for g in el.iter(f"{SVG}g"):
        if g.get("class") == "piece":
            rect = g.find(f"{SVG}rect")
            assert rect is not None
            out[int(g.get("data-piece", ""))] = tuple(
                float(rect.get(k, "")) for k in ("x", "y", "width", "height")
            )
    return out


def overlapping(boxes: dict[int, tuple[float, float, float, float]]) -> list[tuple[int, int]]:
    found = []
    for (a, (ax, ay, aw, ah)), (b, (bx, by, bw, bh)) in itertools.combinations(boxes.items(), 2):
        if ax < bx + bw and bx < ax + aw and ay < by + bh and by < ay + ah:
            found.append((a, b))
    return found


# -- a real receivable ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def financed(api: Api) -> tuple[Api, dict[str, Any], dict[str, str]]:
    """The story's first half: registered, confirmed, split in two, one piece sold to the bank;
    its provenance as the audit service reads it, and the directory's names."""
    f = originate_and_finance(api)
    with Session(api.rt.mirror) as mirror:
        tree = audit.root_tree(rt=api.rt, mirror=mirror, root_id=f.root)
    with Session(api.rt.engine) as session:
        names = directory.all_names(session)
    return api, tree, names


def test_the_tree_of_a_financed_receivable_shows_the_bank_as_holder_of_the_piece_it_bought(
    financed: tuple[Api, dict[str, Any], dict[str, str]],
) -> None:
    api, tree, names = financed
    a = {k: v.lower() for k, v in api.addresses.items()}
    svg = parse(pic.provenance_tree(tree, names=names))
    boxes = piece_boxes(svg)
    root_piece = tree["pieces"][0]
    kept, sold = (c["piece_id"] for c in root_piece["children"])
    assert sorted(boxes) == sorted([root_piece["piece_id"], kept, sold])

    def words(piece: int) -> str:
        g = next(g for g in svg.iter(f"{SVG}g") if g.get("data-piece") == str(piece))
        return " ".join(texts(g))

    bank, tier1 = names[a["bank"]], names[a["tier1"]]
    sale = next(h["args"] for h in tree["history"] if h["event"] == "OfferAccepted")
    assert f"#{sold} {bank}" in words(sold)
    assert "¥400,000.00 · active" in words(sold)
    assert f"sold for {pic.money(int(sale['price']))} to {bank}" in words(sold)
    assert f"#{kept} {tier1}" in words(kept) and "¥600,000.00 · active" in words(kept)
    assert "sold for" not in words(kept)
    assert "¥1,000,000.00 · split" in words(root_piece["piece_id"])
    heading = texts(svg)[0]
    assert names[a["core"]] in heading and tier1 in heading and "¥1,000,000.00" in heading
    assert svg.get("aria-label") == (
        f"Provenance of receivable #{tree['root']['root_id']}: 3 pieces on 2 levels"
    )
    # the root piece sits level with the middle of its two children, to their left
    (rx, ry, rw, rh), (kx, ky, _kw, kh), (_sx, sy, _sw, sh) = (
        boxes[root_piece["piece_id"]],
        boxes[kept],
        boxes[sold],
    )
    assert kx > rx + rw
    assert ry + rh / 2 == pytest.approx(((ky + kh / 2) + (sy + sh / 2)) / 2)
    assert not overlapping(boxes)


def test_a_payout_and_a_frozen_piece_are_said_in_words(
    financed: tuple[Api, dict[str, Any], dict[str, str]],
) -> None:
    _api, tree, names = financed
    sold = tree["pieces"][0]["children"][1]
    paid = [
        {"event": "PiecePaid", "args": {"pieceId": str(sold["piece_id"]), "amount": str(a)}}
        for a in (10_000_00, 30_000_00)
    ]
    frozen_sold = {**sold, "frozen": True}
    changed = {
        **tree,
        "pieces": [
            {**tree["pieces"][0], "children": [tree["pieces"][0]["children"][0], frozen_sold]}
        ],
        "history": [*tree["history"], *paid],
    }
    svg = parse(pic.provenance_tree(changed, names=names))
    g = next(g for g in svg.iter(f"{SVG}g") if g.get("data-piece") == str(sold["piece_id"]))
    drawn = " ".join(texts(g))
    assert "active · frozen" in drawn
    assert "paid out ¥40,000.00 in 2 payouts" in drawn


# -- trees as deep and as wide as the ledger allows ----------------------------------------------


def _tree(pieces: list[dict[str, Any]], face: int) -> dict[str, Any]:
    return {
        "root": {
            "root_id": 7,
            "debtor": "0x" + "c" * 40,
            "supplier": "0x" + "5" * 40,
            "face_value": face,
            "due_date": int(datetime(2027, 3, 31, tzinfo=UTC).timestamp()),
            "status": "confirmed",
            "frozen": False,
            "repaid": 0,
            "outstanding": face,
        },
        "pieces": pieces,
        "history": [],
    }


def _deep(levels: int, ids: itertools.count[int]) -> dict[str, Any]:
    """A piece split in two, its first child split again, and so on for `levels` levels; every
    second child also split once, so that deep and shallow subtrees sit side by side."""
    pid = next(ids)
    children: list[dict[str, Any]] = []
    if levels > 1:
        children = [_deep(levels - 1, ids), _deep(min(2, levels - 1), ids)]
    return {
        "piece_id": pid,
        "holder": f"0x{pid:040x}",
        "amount": 1_000_00 * pid + pid,  # each amount different, and not a round figure
        "status": "split" if children else "active",
        "frozen": False,
        "paid": False,
        "children": children,
    }


def _every(pieces: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [x for p in pieces for x in (p, *_every(p["children"]))]


def test_a_tree_as_deep_as_the_ledger_allows_has_every_piece_once_without_overlap() -> None:
    levels = DEFAULT_MAX_DEPTH + 1  # the root piece is depth 0
    pieces = [_deep(levels, itertools.count(1))]
    every = _every(pieces)
    assert len(every) > 24
    names = {p["holder"]: f"供应商 {p['piece_id']} 有限公司" for p in every}
    svg = parse(pic.provenance_tree(_tree(pieces, every[0]["amount"]), names=names))
    boxes = piece_boxes(svg)
    assert sorted(boxes) == sorted(p["piece_id"] for p in every)
    assert not overlapping(boxes)
    assert len({x for x, _y, _w, _h in boxes.values()}) == levels  # one column a level
    drawn = texts(svg)
    for p in every:
        assert pic.money(p["amount"]) in drawn, p
        assert any(t.startswith(f"#{p['piece_id']} ") for t in drawn), p
    # the drawing spans its levels: wider than the page it scales down in, never absurdly so
    width = float(svg.get("viewBox", "").split()[2])
    assert pic.MAX_WIDTH < width < 1.4 * pic.MAX_WIDTH
    assert f"{len(every)} pieces on {levels} levels" in svg.get("aria-label", "")


def test_dozens_of_pieces_grow_down_the_page_within_its_width() -> None:
    ids = itertools.count(2)
    leaves = [
        {
            "piece_id": next(ids),
            "holder": "0x" + "b" * 40,
            "amount": 10_000_00 + i,
            "status": "active",
            "children": [],
        }
        for i in range(60)
    ]
    pieces = [
        {
            "piece_id": 1,
            "holder": "0x" + "5" * 40,
            "amount": sum(p["amount"] for p in leaves),
            "status": "split",
            "children": leaves,
        }
    ]
    svg = parse(pic.provenance_tree(_tree(pieces, pieces[0]["amount"])))
    boxes = piece_boxes(svg)
    assert len(boxes) == 61 and not overlapping(boxes)
    _x, _y, width, height = (float(v) for v in svg.get("viewBox", "").split())
    assert width <= pic.MAX_WIDTH and height > 60 * 30
    leaf_ys = sorted(boxes[p["piece_id"]][1] for p in leaves)
    assert all(b - a >= pic.LINE_HEIGHT for a, b in itertools.pairwise(leaf_ys))
    # an unnamed holder is shown by its shortened address
    assert any(t.endswith("0xbbbb…bbbb") for t in texts(svg))


def test_the_layout_keeps_boxes_of_neighbouring_subtrees_apart_on_every_level() -> None:
    nodes = [
        pic.TreeNode(
            piece_id=1,
            holder="0x1",
            amount=3,
            status="split",
            frozen=False,
            paid=False,
            lines=[("a", True)],
            children=[
                pic.TreeNode(
                    piece_id=pid,
                    holder="0x1",
                    amount=1,
                    status="split",
                    frozen=False,
                    paid=False,
                    lines=[("b", True)] * lines,
                    children=[
                        pic.TreeNode(
                            piece_id=pid * 10 + k,
                            holder="0x1",
                            amount=1,
                            status="active",
                            frozen=False,
                            paid=False,
                            lines=[("c", False)] * (k + 1),
                        )
                        for k in range(kids)
                    ],
                )
                for pid, lines, kids in ((2, 1, 3), (3, 4, 0), (4, 1, 5), (5, 2, 1))
            ],
        )
    ]
    width, height = pic.layout_tree(nodes)
    boxes = pic.boxes(nodes)
    assert len(boxes) == 1 + 4 + 3 + 5 + 1
    assert not [(a, b) for a, b in itertools.combinations(boxes, 2) if a.overlaps(b)]
    for b in boxes:
        assert b.x >= 0 and b.x + b.width <= width and b.y >= 0 and b.y + b.height <= height
    by_id = {b.piece_id: b for b in boxes}
    # siblings keep their order down the page, a gap apart at least
    for upper, lower in itertools.pairwise([by_id[i] for i in (2, 3, 4, 5)]):
        assert lower.y >= upper.y + upper.height + pic.V_GAP


def test_names_and_words_are_escaped_not_markup() -> None:
    pieces = [
        {"piece_id": 1, "holder": "0x" + "a" * 40, "amount": 5, "status": "active", "children": []}
    ]
    tree = _tree(pieces, 5)
    svg = parse(pic.provenance_tree(tree, names={"0x" + "a" * 40: '<script>"A & B"</script>'}))
    assert svg.find(f".//{SVG}script") is None
    assert '#1 <script>"A & B"</script>' in texts(svg)


def test_the_words_go_through_the_pages_gettext() -> None:
    zh = {
        "active": "有效",
        "sold for %(price)s to %(buyer)s": "以 %(price)s 售予 %(buyer)s",
        "Provenance of receivable #%(id)d: %(pieces)d pieces on %(levels)d levels": (
            "应收账款 #%(id)d 的穿透图: %(pieces)d 个分片, %(levels)d 层"
        ),
    }
    pieces = [
        {"piece_id": 1, "holder": "0x" + "a" * 40, "amount": 5, "status": "active", "children": []}
    ]
    tree = {
        **_tree(pieces, 5),
        "history": [
            {
                "event": "OfferAccepted",
                "args": {
                    "pieceId": "1",
                    "price": "4",
                    "financier": "0x" + "f" * 40,
                    "seller": "0x1",
                },
            }
        ],
    }
    svg = parse(pic.provenance_tree(tree, _=lambda s: zh.get(s, s)))
    assert svg.get("aria-label") == "应收账款 #7 的穿透图: 1 个分片, 1 层"
    drawn = texts(svg)
    assert "¥0.05 · 有效" in drawn and "以 ¥0.04 售予 0xffff…ffff" in drawn


def test_a_receivable_without_pieces_says_so() -> None:
    svg = parse(pic.provenance_tree(_tree([], 100)))
    assert "No pieces yet." in texts(svg) and not piece_boxes(svg)


# -- money ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fen", "shown"),
    [
        (0, "¥0.00"),
        (5, "¥0.05"),
        (123_456, "¥1,234.56"),
        (100_000_000_00, "¥100,000,000.00"),
        (-1_50, "-¥1.50"),
        (10**30 + 1, "¥10,000,000,000,000,000,000,000,000,000.01"),
    ],
)
def test_money_is_yuan_with_separators_from_integer_fen(fen: int, shown: str) -> None:
    assert pic.money(fen) == shown


# -- bar charts ----------------------------------------------------------------------------------


def bars(el: ET.Element) -> list[tuple[str, int, float, list[str]]]:
    """Each bar: its label, amount, drawn length and words."""
    out = []
    for g in el.iter(f"{SVG}g"):
        if g.get("class") == "bar":
            rect = g.find(f"{SVG}rect")
            assert rect is not None
            out.append(
                (
                    g.get("data-label", ""),
                    int(g.get("data-amount", "")),
                    float(rect.get("width", "")),
                    texts(g),
                )
            )
    return out


def test_aging_draws_every_bucket_with_its_amount_and_count(
    financed: tuple[Api, dict[str, Any], dict[str, str]],
) -> None:
    api, _, _ = financed
    with Session(api.rt.mirror) as mirror:
        aging = audit.aging(rt=api.rt, mirror=mirror)
    svg = parse(pic.aging_chart(aging))
    drawn = bars(svg)
    assert [d[0] for d in drawn] == [
        "Not past due",
        "1 to 30 days past due",
        "31 to 90 days past due",
        "Over 90 days past due",
    ]
    assert [d[1] for d in drawn] == [b["outstanding"] for b in aging["buckets"]]
    assert drawn[0][3][-1] == "¥1,000,000.00 · 1 receivable"
    assert drawn[1][3][-1] == "¥0.00 · 0 receivables" and drawn[1][2] == 0
    assert svg.get("aria-label") == "Aging of outstanding receivables"


def test_exposure_by_debtor_is_largest_first_and_proportional() -> None:
    exposure = {
        "by_debtor": [
            {"debtor": "0x" + "1" * 40, "outstanding": 250_00, "receivables": 2},
            {"debtor": "0x" + "2" * 40, "outstanding": 1_000_00, "receivables": 1},
            {"debtor": "0x" + "3" * 40, "outstanding": 500_00, "receivables": 3},
        ]
    }
    names = {"0x" + "2" * 40: "East China Motors", "0x" + "3" * 40: "华东汽车制造有限公司"}
    drawn = bars(parse(pic.exposure_by_debtor(exposure, names=names)))
    assert [d[0] for d in drawn] == ["East China Motors", "华东汽车制造有限公司", "0x1111…1111"]
    assert [d[1] for d in drawn] == [1_000_00, 500_00, 250_00]
    longest = drawn[0][2]
    assert drawn[1][2] == pytest.approx(longest / 2, abs=0.1)  # drawn to a tenth of a pixel
    assert drawn[2][2] == pytest.approx(longest / 4, abs=0.1)
    assert drawn[1][3][-1] == "¥500.00 · 3 receivables"


def test_exposure_beyond_the_limit_is_summed_into_others() -> None:
    exposure = {
        "by_debtor": [
            {"debtor": f"0x{i:040x}", "outstanding": i * 100, "receivables": 1}
            for i in range(1, 21)
        ]
    }
    drawn = bars(parse(pic.exposure_by_debtor(exposure, limit=5)))
    assert len(drawn) == 5
    assert drawn[-1][0] == "16 others" and drawn[-1][1] == sum(i * 100 for i in range(1, 17))
    assert sum(d[1] for d in drawn) == sum(i * 100 for i in range(1, 21))


def test_exposure_by_financier_groups_each_financiers_debtors_under_its_total(
    financed: tuple[Api, dict[str, Any], dict[str, str]],
) -> None:
    api, _, names = financed
    a = {k: v.lower() for k, v in api.addresses.items()}
    with Session(api.rt.mirror) as mirror:
        exposure = audit.exposure(rt=api.rt, mirror=mirror)
    exposure = {
        **exposure,
        "by_financier": [
            *exposure["by_financier"],
            {"financier": a["bank"], "debtor": a["tier1"], "exposure": 1_234_56},
            {"financier": "0x" + "9" * 40, "debtor": a["core"], "exposure": 5_00},
        ],
    }
    drawn = bars(parse(pic.exposure_by_financier(exposure, names=names)))
    assert [(d[0], d[1]) for d in drawn] == [
        (names[a["bank"]], 400_000_00 + 1_234_56),
        (names[a["core"]], 400_000_00),
        (names[a["tier1"]], 1_234_56),
        ("0x9999…9999", 5_00),
        (names[a["core"]], 5_00),
    ]
    assert drawn[0][3][-1] == "¥401,234.56 · 2 debtors"
    assert drawn[3][3][-1] == "¥5.00 · 1 debtor"


def test_a_chart_with_nothing_says_so() -> None:
    svg = parse(pic.exposure_by_debtor({"by_debtor": []}))
    assert "Nothing to show." in texts(svg) and not bars(svg)


# -- the maturity ladder -------------------------------------------------------------------------

NOW = int(datetime(2026, 12, 3, 10, tzinfo=UTC).timestamp())  # a Thursday


def test_the_ladder_has_a_rung_a_week_empty_ones_included_and_the_past_due_apart() -> None:
    maturities = [
        (NOW + 1 * DAY, 100_00),  # this week (from Monday 30 November)
        (NOW + 2 * DAY, 50_00),  # this week too
        (NOW + 15 * DAY, 300_00),  # the week of 14 December
        (NOW - 3 * DAY, 7_00),  # past due
    ]
    drawn = bars(parse(pic.maturity_ladder(maturities, now=NOW)))
    assert [(d[0], d[1]) for d in drawn] == [
        ("Past due", 7_00),
        ("week of 2026-11-30", 150_00),
        ("week of 2026-12-07", 0),
        ("week of 2026-12-14", 300_00),
    ]
    assert drawn[1][3][-1] == "¥150.00 · 2 pieces" and drawn[2][3][-1] == "¥0.00"


def test_a_long_ladder_is_by_month() -> None:
    maturities = [(NOW + k * 40 * DAY, 1_000_00) for k in range(1, 7)]
    svg = parse(pic.maturity_ladder(maturities, now=NOW))
    assert svg.get("aria-label") == "Expected repayments by month"
    drawn = bars(svg)
    assert drawn[0][0] == "2026-12" and drawn[-1][0] == "2027-07"
    assert len(drawn) == 8 and sum(d[1] for d in drawn) == 6_000_00
    with pytest.raises(ValueError, match="week, month or auto"):
        pic.maturity_ladder(maturities, now=NOW, by="day")


# -- the payables calendar -----------------------------------------------------------------------


def days(el: ET.Element) -> dict[int, tuple[float, float, int, list[str]]]:
    out = {}
    for g in el.iter(f"{SVG}g"):
        if g.get("class") == "day":
            rect = g.find(f"{SVG}rect")
            assert rect is not None
            out[int(g.get("data-day", ""))] = (
                float(rect.get("x", "")),
                float(rect.get("y", "")),
                int(g.get("data-amount", "")),
                texts(g),
            )
    return out


def test_the_calendar_is_a_month_grid_with_each_days_payables() -> None:
    def at(day: int, month: int = 12) -> int:
        return int(datetime(2026, month, day, 15, tzinfo=UTC).timestamp())

    payables = [(at(8), 1_000_00), (at(8), 234_56), (at(31), 5_00), (at(2, 11), 9_99)]
    svg = parse(pic.calendar(payables, year=2026, month=12, today=at(3)))
    cells = days(svg)
    assert sorted(cells) == list(range(1, 32))
    # 1 December 2026 is a Tuesday: the second column, Monday first
    x1, y1 = cells[1][:2]
    x7, y7 = cells[7][:2]
    assert x1 == pytest.approx(pic.MARGIN + pic.CELL_W) and x7 == pytest.approx(pic.MARGIN)
    assert y7 == pytest.approx(y1 + pic.CELL_H)
    assert cells[8][2] == 1_234_56 and cells[8][3] == ["8", "¥1,234.56", "2 payables"]
    assert cells[31][3] == ["31", "¥5.00", "1 payable"]
    assert cells[3][3] == ["3", "today"] and cells[4][3] == ["4"]
    assert sum(c[2] for c in cells.values()) == 1_239_56  # November's is not December's
    assert svg.get("aria-label") == "Payables due in 2026-12: ¥1,239.56 in 3 payables"
    grid = [(x, y) for x, y, _a, _w in cells.values()]
    assert len(set(grid)) == 31


def test_a_month_starting_on_monday_fills_its_first_column() -> None:
    zh = {"Mon": "周一", "Sun": "周日", "Payables due in %(month)s": "%(month)s 到期应付"}
    svg = parse(pic.calendar([], year=2027, month=2, _=lambda s: zh.get(s, s)))
    cells = days(svg)  # 1 February 2027 is a Monday
    assert len(cells) == 28 and cells[1][0] == pytest.approx(pic.MARGIN)
    assert cells[28][0] == pytest.approx(pic.MARGIN + 6 * pic.CELL_W)
    assert {"周一", "周日"} <= set(texts(svg))
    assert svg.get("aria-label") == "2027-02 到期应付: ¥0.00 in 0 payables"


@pytest.mark.parametrize(
    ("text", "width", "rows"),
    [
        (
            "sold for ¥394,000.00 to Bank of Ningbo Supply Chain Finance",
            224,
            ["sold for ¥394,000.00 to Bank", "of Ningbo Supply Chain Finance"],
        ),
        (
            "以 ¥295,500.00 售予 Pujiang Commercial Bank",
            224,
            ["以 ¥295,500.00 售予 Pujiang", "Commercial Bank"],
        ),
        (
            "#3 华东汽车制造有限公司华东汽车制造有限公司",
            120,
            ["#3 华东汽车制造有", "限公司华东汽车制造…"],
        ),
        ("#3 Pujiang", 224, ["#3 Pujiang"]),
    ],
)
def test_a_line_wraps_at_a_space_or_beside_cjk_and_the_last_row_is_cut(
    text: str, width: float, rows: list[str]
) -> None:
    assert pic.wrap(text, width, 12) == rows
    assert all(pic.text_width(r, 12) <= width for r in rows)
