"""Dates typed as text: read whole or refused with the reason, never changed silently."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.ui.records.date_field import DateField, parse_date

TODAY = dt.date(2026, 12, 5)


@pytest.mark.parametrize(
    ("text", "day"),
    [
        ("24.11.2026", dt.date(2026, 11, 24)),
        ("24 Nov 2026", dt.date(2026, 11, 24)),
        ("24 november 2026", dt.date(2026, 11, 24)),
        ("2026-11-24", dt.date(2026, 11, 24)),
        ("24/11/2026", dt.date(2026, 11, 24)),
        (" 1.2.1990 ", dt.date(1990, 2, 1)),
        ("24", None),
        ("24 Nov", None),
        ("24.11", None),
        ("31.02.2026", None),
        ("", None),
        ("Nov 24 2026", None),
        ("24 Xyz 2026", None),
    ],
)
def test_only_a_whole_date_is_a_date(text, day):
    assert parse_date(text) == day


@given(st.dates(dt.date(1900, 1, 1), dt.date(2100, 1, 1)))
def test_every_date_written_out_reads_back_the_same(day):
    for text in (day.strftime("%d.%m.%Y"), day.strftime("%d %b %Y"), day.isoformat()):
        assert parse_date(text) == day


def test_a_typed_date_is_never_corrected_only_refused_with_the_reason(qtbot):
    f = DateField(latest=TODAY)
    qtbot.addWidget(f)
    seen = []
    f.date_changed.connect(seen.append)
    for part in ("2", "24", "24 N", "24 Nov", "24 Nov 2"):  # typed one key at a time
        f.setText(part)
        assert f.text() == part  # what was typed stays
        assert f.value() is None
    f.setText("24 Nov 2026")
    assert f.value() == dt.date(2026, 11, 24)  # not 02 Nov
    assert seen[-1] == dt.date(2026, 11, 24)
    f.setText("24 Dec 2026")
    assert f.value() is None
    assert f.problem() == "24 Dec 2026 is in the future"
    assert "solid" in f.styleSheet()  # shown, in red
    f.setText("")
    assert f.problem() == "no date entered"
