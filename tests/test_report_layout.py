"""The report's tables never wrap a number: every cell whose text is a number (or an interval of
numbers) is in a cell the stylesheet keeps on one line, and wide tables scroll in their box with
the first column held in place (an HTML check; no browser on CI machines)."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[1] / "reports" / "example" / "report.html"
NUMBER = re.compile(
    r"^[\[(]?[−\-+]?[\d.,]+(e[−\-+]?\d+)?%?(\s*[,–]\s*[−\-+]?[\d.,]+(e[−\-+]?\d+)?%?)?[\])]?$"
)


class _Cells(HTMLParser):
    def __init__(self):
        super().__init__()
        self.cells: list[tuple[str, str]] = []
        self._open: list | None = None

    def handle_starttag(self, tag, attrs):
        if tag in ("td", "th"):
            self._open = [dict(attrs).get("class", ""), ""]

    def handle_data(self, data):
        if self._open is not None:
            self._open[1] += data

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._open is not None:
            self.cells.append((self._open[0], self._open[1].strip()))
            self._open = None


def _numeric_cells(html: str) -> list[tuple[str, str]]:
    p = _Cells()
    p.feed(html)
    return [(cls, text) for cls, text in p.cells if text and NUMBER.match(text)]


def test_numbers_never_wrap_and_wide_tables_scroll():
    html = EXAMPLE.read_text()
    style = html[html.index("<style>") : html.index("</style>")]
    assert "td, th { white-space: nowrap; }" in style and ".nowrap { white-space: nowrap; }" in style
    assert "overflow-x: auto" in style and "position: sticky" in style
    cells = _numeric_cells(html)
    assert len(cells) > 50
    # a left-aligned cell (class "l") may wrap its words; a number must never sit in one
    wrapping = [(c, t) for c, t in cells if "l" in c.split() and "nowrap" not in c.split()]
    assert not wrapping, wrapping[:10]


def test_the_check_catches_a_wrapping_number():
    cells = _numeric_cells('<table><tr><td class="l">0.644</td><td>[0.1, 0.2]</td></tr></table>')
    assert cells == [("l", "0.644"), ("", "[0.1, 0.2]")]
