"""The session report (app/ui/records/report.py): a one-page client part laid out by
QTextDocument, every line whole; a name printed as typed; the technician page; the
versions on every page. Turned into text and images with poppler-utils when installed
(scripts/test.sh installs them)."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from store_fixtures import sqlite_url  # noqa: F401

from app import __version__
from app.store import services
from app.store.database import open_store
from app.store.models import Outcome
from app.store.validation import ClientData
from app.store.writer import StoreWriter
from app.ui.records import report

NAME = "Anna <b>Bold</b> & Co\nSecond-Line"
DOB = dt.date(1980, 3, 14)
SIX = (
    "zygomaticus_major_l,zygomaticus_major_r,levator_labii_superioris_alaeque_nasi_l,"
    "levator_labii_superioris_alaeque_nasi_r,depressor_anguli_oris_l,"
    "depressor_anguli_oris_r"
)
RATE = 1000.0
LIGATURES = {"\ufb00": "ff", "\ufb01": "fi", "\ufb02": "fl", "\ufb03": "ffi", "\ufb04": "ffl"}

needs_poppler = pytest.mark.skipif(
    shutil.which("pdftotext") is None
    or shutil.which("pdftoppm") is None
    or shutil.which("pdfinfo") is None,
    reason="poppler-utils (pdftotext, pdftoppm, pdfinfo) are not installed: "
    "scripts/test.sh installs them",
)


@pytest.fixture(autouse=True)
def _app(qapp):  # fonts and images need the (offscreen) Qt application
    return qapp


@pytest.fixture
def session(sqlite_url):  # noqa: F811
    engine, info = open_store(sqlite_url)
    w = StoreWriter(engine)
    try:
        cid = w.save_client(ClientData(NAME, date_of_birth=DOB)).result(10)
        uid = w.begin_session(
            cid,
            operator_id=info.default_operator_id,
            program="lift",
            device_serial="MC-0042",
            firmware="1.3.7-rc2",
        )
        for i in range(19):  # ordinary and long event lines
            w.add_event(
                uid,
                "parameter",
                {
                    "message": f"amplitude changed by the practitioner during step {i}",
                    "amplitude_ua": 200 + i,
                    "frequency_hz": 0.5,
                    "zones": SIX,
                    "note": "a long explanation that would run off the right margin " * 2,
                },
            )
        t = np.arange(int(12 * RATE)) / RATE
        cur = (180 * np.sign(np.sin(2 * np.pi * 2 * t)) + 40).astype(np.float32)
        w.add_sample_arrays(uid, 0, RATE, cur, cur / 100)
        w.add_step(
            uid,
            0,
            SIX,
            {"frequency_hz": 0.5},
            120.0,
            119.5,
            charge_uc=89.38,
            mean_current_ua=212.3,
            mean_impedance_ohm=14567.0,
            charge_abs_uc=176.7,
        )
        w.add_step(
            uid,
            1,
            "frontalis_l,frontalis_r",
            {},
            60.0,
            30.0,
            charge_uc=1.25,
            mean_current_ua=99.0,
            mean_impedance_ohm=21000.0,
            charge_abs_uc=20.5,
        )
        w.add_step(
            uid,
            2,
            "masseter_l",
            {},
            60.0,
            0.0,
            charge_uc=0.0,
            mean_current_ua=None,
            mean_impedance_ohm=None,
            charge_abs_uc=0.0,
        )
        w.end_session(uid, Outcome.COMPLETED)
        assert w.flush(10)
        sid = services.session_detail(engine, uid).summary.id
        yield (
            services.session_detail(engine, sid),
            services.get_client(engine, cid),
            services.recording_overview(engine, sid),
        )
    finally:
        w.close()
        engine.dispose()


def _text(pdf: Path, first: int | None = None, last: int | None = None) -> str:
    args = ["pdftotext", "-layout"]
    if first:
        args += ["-f", str(first)]
    if last:
        args += ["-l", str(last)]
    return subprocess.run(
        [*args, str(pdf), "-"], capture_output=True, text=True, check=True, timeout=60
    ).stdout


def _flat(text: str) -> str:
    for lig, letters in LIGATURES.items():  # pdftotext gives "ﬀ" for "ff"
        text = text.replace(lig, letters)
    return re.sub(r"\s+", " ", text)


def _pages(pdf: Path) -> int:
    out = subprocess.run(
        ["pdfinfo", str(pdf)], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    return int(re.search(r"Pages:\s+(\d+)", out).group(1))


def test_charge_is_stated_as_total_and_net(session):
    detail, _client, _ov = session
    text = report.charge_sentence(detail)
    assert "total 197.20 µC" in text  # 176.7 + 20.5 + 0: both phases, absolute
    assert "net charge 90.63 µC" in text
    st = detail.steps[0]
    pos, neg = st.charge_phases_uc
    assert pos == pytest.approx(133.04)
    assert neg == pytest.approx(-43.66)


def test_the_chart_is_drawn_from_the_recording_at_a_fixed_scale(session):
    _detail, _client, ov = session
    assert report.current_scale(ov) == 250.0  # peak 220 µA
    img = report.chart_image(ov)
    assert img.width() == 2000
    # the band is drawn: blue pixels inside the plot
    blue = sum(
        1
        for x in range(300, 1900, 3)
        for y in range(20, 500, 3)
        if img.pixelColor(x, y).blue() > 200 > img.pixelColor(x, y).red()
    )
    assert blue > 500


@needs_poppler
def test_the_client_page_is_one_page_with_every_line_whole(session, tmp_path):
    detail, client, ov = session
    pdf = tmp_path / "report.pdf"
    assert report.write_pdf(detail, client, pdf, ov) == 1
    assert _pages(pdf) == 1
    text = _text(pdf)
    flat = _flat(text)
    # the name as typed, markup and all, its line break kept: the date of birth shown
    assert "Anna <b>Bold</b> & Co" in text
    assert "Second-Line" in text
    assert "14 Mar 1980" in text
    assert "Practitioner" in flat  # the operator
    # the six-zone step keeps its current, charges and impedance
    for figure in (
        "212 µA",
        "133.04 µC",
        "-43.66 µC",
        "89.38 µC",
        "14.6 kΩ",
        "2:00 of 2:00",
        "0:30 of 1:00",
        "partly done",
        "skipped",
    ):
        assert figure.replace("-", "−") in flat or figure in flat, figure
    for zone in ("Zygomaticus major", "Depressor anguli oris"):
        assert zone in flat, zone
    assert "total 197.20 µC" in flat
    assert "net charge 90.63 µC" in flat
    assert "Signature" in flat
    assert "current (µA)" not in flat  # (the chart is an image: its labels are pixels)
    assert f"Microcurrent Console {__version__}" in flat
    assert "firmware 1.3.7-rc2" in flat
    # nothing runs off the page: every text line ends inside the page's width
    png = tmp_path / "page"
    subprocess.run(["pdftoppm", "-r", "40", "-png", str(pdf), str(png)], check=True, timeout=60)
    assert (tmp_path / "page-1.png").exists()
    bbox = subprocess.run(
        ["pdftotext", "-bbox", str(pdf), "-"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    page_w = float(re.search(r'<page width="([\d.]+)"', bbox).group(1))
    right = max(float(x) for x in re.findall(r'xMax="([\d.]+)"', bbox))
    assert right <= page_w - 15 / 25.4 * 72 + 1


@needs_poppler
def test_the_technician_page_carries_every_event_wrapped(session, tmp_path):
    detail, client, ov = session
    pdf = tmp_path / "report.pdf"
    pages = report.write_pdf(detail, client, pdf, ov, technician_page=True)
    assert pages == _pages(pdf) >= 2
    assert "Second-Line" in _text(pdf, 1, 1)
    tech = _flat(_text(pdf, 2, pages))
    for i in range(19):
        assert f"during step {i} —" in tech, i
    assert tech.count("a long explanation that would run off the right margin") == 38
    for page in range(1, pages + 1):  # the versions on every page
        assert f"Microcurrent Console {__version__}" in _flat(_text(pdf, page, page))
        assert "firmware 1.3.7-rc2" in _flat(_text(pdf, page, page))


def test_plain_keeps_line_breaks_and_escapes_markup():
    assert report.plain("a<b>\nc & d") == "a&lt;b&gt;<br/>c &amp; d"


def test_the_csv_export_writes_the_recording_beside_it(session, tmp_path):
    detail, _client, _ov = session
    from app.store.recording import assemble

    t = np.arange(5, dtype=np.float32)
    rec = assemble([(0, RATE, t, t / 10)])
    dest = report.write_csv(detail, tmp_path / "s.csv", rec)
    assert dest == tmp_path / "s-recording.csv"
    lines = dest.read_text(encoding="utf-8").splitlines()
    assert lines[1] == "t_s,current_ua,voltage_v"
    assert lines[2:] == [
        "0.000000,0.0000,0.00000",
        "0.001000,1.0000,0.10000",
        "0.002000,2.0000,0.20000",
        "0.003000,3.0000,0.30000",
        "0.004000,4.0000,0.40000",
    ]


def test_a_session_recorded_before_the_absolute_charge_states_its_net_charge(session):
    import dataclasses

    detail, _client, _ov = session
    old = dataclasses.replace(
        detail, steps=tuple(dataclasses.replace(st, charge_abs_uc=None) for st in detail.steps)
    )
    text = report.charge_sentence(old)
    assert text.startswith("Net charge: 90.63 µC")
    assert "total absolute charge was not recorded" in text
    assert "Charge delivered" not in text
    html_text = report.client_html(old, _client, has_chart=False)
    assert "No recording was stored" in html_text


def _signed(detail):
    """The fixture's session as signed, with notes, two amendments and a drawn consent."""
    import dataclasses

    from app.store.services import AmendmentRecord, ConsentRecord, SignatureRecord
    from app.store.signature import drawn

    at = dt.datetime(2026, 12, 5, 10, 30, tzinfo=dt.UTC)
    wave = [(20 + i * 4, 60 + 30 * np.sin(i / 3)) for i in range(100)]
    consent = ConsentRecord(
        7,
        "consent-2026-01",
        at - dt.timedelta(days=2),
        "I have been informed about microcurrent facial treatment.",
        drawn([wave, [(60, 100), (380, 96)]], 460, 130, "Anna Bold"),
        1,
    )
    return dataclasses.replace(
        detail,
        signature=SignatureRecord("Dr Maria <Ek>-Lund", at, "performed", 1),
        notes=((at, "Left cheek slightly red\nadvised cool compress"),),
        amendments=(
            AmendmentRecord(
                1,
                at + dt.timedelta(days=1),
                "Dr Maria <Ek>-Lund",
                "notes",
                "Right cheek, not left.",
                "Wrong side noted at signing.",
                1,
            ),
            AmendmentRecord(
                2, at + dt.timedelta(days=2), "Tom Technician", "outcome", "Completed", "Typo", 2
            ),
        ),
        consent=consent,
    )


@needs_poppler
def test_a_signed_report_shows_the_signature_the_amendments_and_the_consent(session, tmp_path):
    from app.ui.records.format import local_datetime

    detail, client, ov = session
    signed = _signed(detail)
    pdf = tmp_path / "signed.pdf"
    assert report.write_pdf(signed, client, pdf, ov) == 1  # still one page
    flat = _flat(_text(pdf))
    sig_at = local_datetime(signed.signature.signed_at)
    assert f"Signed by Dr Maria <Ek>-Lund, {sig_at}, meaning: performed" in flat
    assert "Signature: ____" not in flat  # no blank line once signed
    assert "Left cheek slightly red" in flat
    assert "advised cool compress" in flat
    assert "Amendments" in flat
    for a in signed.amendments:
        assert local_datetime(a.made_at) in flat
        assert a.text in flat
        assert a.reason in flat
    assert "Tom Technician" in flat
    assert "corrected Session notes: Right cheek" in flat
    assert f"consent-2026-01 signed {local_datetime(signed.consent.given_at)}" in flat
    assert "Anna Bold (drawn signature)" in flat
    # the consent signature is an image of its own beside the chart
    images = subprocess.run(
        ["pdfimages", "-list", str(pdf)], capture_output=True, text=True, check=True, timeout=60
    ).stdout.splitlines()[2:]
    assert len(images) == 2
    # and it is drawn: dark ink on white in the rendered page
    img = report.consent_image(signed)
    ink = sum(
        1
        for x in range(0, img.width(), 2)
        for y in range(0, img.height(), 2)
        if img.pixelColor(x, y).red() < 100
    )
    assert ink > 50
    png = tmp_path / "signed"
    subprocess.run(["pdftoppm", "-r", "60", "-png", str(pdf), str(png)], check=True, timeout=60)
    assert (tmp_path / "signed-1.png").exists()


def test_an_unsigned_report_keeps_a_blank_signature_line(session):
    detail, client, _ov = session
    html_text = report.client_html(detail, client, has_chart=False)
    assert "not signed in the console" in html_text
    assert "Signature: ____" in html_text
    assert "Consent:</b> none recorded" in html_text


@needs_poppler
def test_photos_on_the_client_page_are_scaled_until_it_stays_one_page(session, tmp_path):
    """Four photos (portrait, the tallest case) on the densest client page: still one
    page, every photo there, captions as typed, nothing past the margin."""
    import io

    from PIL import Image

    detail, client, ov = session
    items = []
    for k in range(5):  # one more than is printed
        buf = io.BytesIO()
        Image.new("RGB", (1536, 2048), (200, 150 + 20 * k, 120)).save(buf, "JPEG")
        items.append((f"Before <i>{k}</i> · Frontalis (client's left)", buf.getvalue()))
    pdf = tmp_path / "photos.pdf"
    assert report.write_pdf(detail, client, pdf, ov, photos=items) == 1
    assert _pages(pdf) == 1
    listed = subprocess.run(
        ["pdfimages", "-list", str(pdf)], capture_output=True, text=True, check=True, timeout=60
    ).stdout.splitlines()[2:]
    assert len(listed) == 1 + report.MAX_PHOTOS  # the chart and four photos
    flat = _flat(_text(pdf))
    for k in range(report.MAX_PHOTOS):
        assert f"Before <i>{k}</i>" in flat
    assert "Before <i>4</i>" not in flat
    assert "Signature" in flat  # the page's end is still on it
    bbox = subprocess.run(
        ["pdftotext", "-bbox", str(pdf), "-"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    page_w = float(re.search(r'<page width="([\d.]+)"', bbox).group(1))
    right = max(float(x) for x in re.findall(r'xMax="([\d.]+)"', bbox))
    assert right <= page_w - 15 / 25.4 * 72 + 1
