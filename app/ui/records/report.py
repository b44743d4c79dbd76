"""Session report as PDF and the session's CSV export.

The PDF is laid out by Qt's rich-text engine (QTextDocument: HTML with tables, so every
line wraps inside the page) and printed page by page with QPdfWriter onto A4:

* **the client's page** (one page): client, date of birth, date, operator, program,
  per-zone table (time done of planned and whether the zone was done, partly done or
  skipped; mean current; charge of each phase, net charge; impedance), outcome, the
  charge delivered (total absolute and net, each named), a chart drawn from the recorded
  data itself (min/max envelope, labelled axes, fixed scale), optionally the session's
  before/after photos (at most :data:`MAX_PHOTOS`, scaled down until the page holds
  them), the client's consent (version, when, the signature drawn back from its
  strokes), the practitioner's signature ("Signed by <name>, <date time>, meaning:
  performed", or a blank line when not signed in the console), the notes as signed
  and every amendment, dated, under it;
* an optional **technician page**: the session's identity and every event, wrapped.

Every page's footer gives the console's version and the device's firmware. Names and
notes are printed as plain text (escaped; line breaks kept as line breaks).
"""

from __future__ import annotations

import csv
import html
import json
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PySide6.QtCore import QMarginsF, QPointF, QRectF, QSizeF, Qt, QUrl
from PySide6.QtGui import (
    QColor,
    QFont,
    QImage,
    QPageLayout,
    QPageSize,
    QPainter,
    QPainterPath,
    QPdfWriter,
    QPen,
    QTextDocument,
)

from app import APP_NAME, __version__, palette, paths
from app.engine.zones import step_outcome
from app.store.recording import Recording
from app.store.services import ClientRecord, RecordingOverview, SessionDetail
from app.store.vocabulary import AMENDABLE, ended_early_text
from app.ui.records.format import (
    clock,
    duration,
    event_details,
    local_date,
    local_datetime,
    local_time,
    number,
    program_name,
    zone_names,
)
from app.ui.records.history import outcome_text
from app.ui.records.signature_pad import render_signature

STEP_WORDS = {"done": "done", "partial": "partly done", "skipped": "skipped"}
# the chart's fixed current scales (µA, ±): the smallest that holds the recording
CURRENT_SCALES = (100.0, 250.0, 500.0, 1000.0, 2000.0)
DPI = 300  # the PDF's resolution
MARGIN_MM = 15.0
FOOTER_PT = 22.0  # room for the footer at the bottom of every page
MAX_PHOTOS = 4  # photos on the client's page (before ones first)
PHOTO_FRACTIONS = (0.24, 0.19, 0.15, 0.11)  # of the page width, tried until it fits


def kohm(ohm: float | None) -> str:
    return number(None if ohm is None else ohm / 1000, "kΩ")


def plain(text: str | None) -> str:
    """Plain text for the report's HTML: escaped, its line breaks kept."""
    return html.escape(text or "").replace("\r\n", "\n").replace("\r", "\n").replace("\n", "<br/>")


# ---------------------------------------------------------------- CSV


def recording_csv_path(path: Path) -> Path:
    """Where the session's recording goes beside its CSV: ``NAME-recording.csv``."""
    path = Path(path)
    return path.with_name(f"{path.stem}-recording{path.suffix or '.csv'}")


def write_csv(detail: SessionDetail, path: Path, rec: Recording | None = None) -> Path | None:
    """Steps and events of a session, one row each (a ``section`` column tells which);
    the recording (``rec``: t_s, current_ua, voltage_v) in its own file beside it,
    :func:`recording_csv_path`. Both are readable by their owner only. Returns the
    recording's file (None: nothing was recorded)."""
    with paths.open_private(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(
            [
                "section",
                "time_utc",
                "position",
                "zone_or_kind",
                "planned_s",
                "actual_s",
                "charge_uc",
                "mean_current_ua",
                "mean_impedance_ohm",
                "details",
                "charge_abs_uc",
            ]
        )
        for st in detail.steps:
            w.writerow(
                [
                    "step",
                    "",
                    st.position,
                    st.zone,
                    st.planned_s,
                    st.actual_s,
                    st.charge_uc,
                    st.mean_current_ua,
                    st.mean_impedance_ohm,
                    json.dumps(st.parameters, sort_keys=True),
                    st.charge_abs_uc,
                ]
            )
        for ev in detail.events:
            w.writerow(
                [
                    "event",
                    ev.timestamp.isoformat(),
                    "",
                    ev.kind,
                    "",
                    "",
                    "",
                    "",
                    "",
                    json.dumps(ev.payload, sort_keys=True),
                    "",
                ]
            )
    if rec is None or not rec.n_samples:
        return None
    dest = recording_csv_path(path)
    with paths.open_private(dest, "w", newline="", encoding="utf-8") as fh:
        fh.write(
            f"# session {detail.summary.id}; sample rate {rec.sample_rate:g} Hz; "
            "t_s: seconds since the first sample; gaps are left out\n"
        )
        fh.write("t_s,current_ua,voltage_v\n")
        keep = np.isfinite(rec.t_s)
        block = np.column_stack([rec.t_s[keep], rec.current_ua[keep], rec.voltage_v[keep]])
        np.savetxt(fh, block, fmt=("%.6f", "%.4f", "%.5f"), delimiter=",")
    return dest


# ---------------------------------------------------------------- chart


def _nice_step(span: float, target: int = 6) -> float:
    raw = span / max(1, target)
    mag = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1.0
    for m in (1, 2, 5, 10):
        if raw <= m * mag:
            return m * mag
    return 10 * mag


def current_scale(overview: RecordingOverview) -> float:
    """The chart's fixed ± current scale: the smallest of CURRENT_SCALES that holds it."""
    values = np.r_[overview.current_min, overview.current_max]
    values = values[np.isfinite(values)]
    peak = float(np.abs(values).max()) if values.size else 0.0
    return next((s for s in CURRENT_SCALES if peak <= s), CURRENT_SCALES[-1])


def chart_image(overview: RecordingOverview, width: int = 2000, height: int = 560) -> QImage:
    """The delivered current over the session, drawn from the recording's min/max
    envelope: time axis in minutes:seconds, current axis fixed at ±CURRENT_SCALES µA."""
    img = QImage(width, height, QImage.Format.Format_RGB32)
    img.fill(QColor(palette.REPORT_PAPER))
    p = QPainter(img)
    try:
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        font = QFont("Sans Serif")
        font.setPixelSize(int(height / 20))
        p.setFont(font)
        fm = p.fontMetrics()
        left = fm.horizontalAdvance("−2000") + fm.height() * 2
        right, top, bottom = 20, fm.height(), int(fm.height() * 3.4)
        plot = QRectF(left, top, width - left - right, height - top - bottom)
        scale = current_scale(overview)
        duration_s = max(overview.duration_s, 1.0)
        grid = QPen(QColor(palette.REPORT_GRID), 2)
        axis = QPen(QColor(palette.REPORT_AXIS), 3)
        ink = QColor(palette.REPORT_AXIS)

        def x_of(t: float) -> float:
            return plot.left() + plot.width() * t / duration_s

        def y_of(v: float) -> float:
            return plot.center().y() - plot.height() / 2 * v / scale

        ystep = scale / 2
        for k in range(-2, 3):
            v = k * ystep
            p.setPen(grid if k else axis)
            p.drawLine(QPointF(plot.left(), y_of(v)), QPointF(plot.right(), y_of(v)))
            p.setPen(ink)
            p.drawText(
                QRectF(0, y_of(v) - fm.height(), left - 10, fm.height() * 2),
                Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                f"{v:.0f}".replace("-", "−"),
            )
        tstep = _nice_step(duration_s)
        if tstep >= 60:
            tstep = max(60.0, round(tstep / 60) * 60)
        t = 0.0
        while t <= duration_s + 1e-9:
            p.setPen(grid)
            p.drawLine(QPointF(x_of(t), plot.top()), QPointF(x_of(t), plot.bottom()))
            p.setPen(ink)
            p.drawText(
                QRectF(x_of(t) - 100, plot.bottom() + fm.height() * 0.6, 200, fm.height()),
                Qt.AlignmentFlag.AlignHCenter,
                clock(t),
            )
            t += tstep
        p.setPen(axis)
        p.drawRect(plot)
        p.setPen(ink)
        p.drawText(
            QRectF(plot.left(), height - fm.height() * 1.5, plot.width(), fm.height() * 1.5),
            Qt.AlignmentFlag.AlignHCenter,
            "time since the start of the recording (min:s)",
        )
        p.save()
        p.translate(fm.height() * 0.2, plot.center().y())
        p.rotate(-90)
        p.drawText(
            QRectF(-plot.height() / 2, 0, plot.height(), fm.height() * 1.2),
            Qt.AlignmentFlag.AlignHCenter,
            "current (µA)",
        )
        p.restore()
        # the envelope: a filled band between each bucket's lowest and highest current
        p.setClipRect(plot)
        lo, hi, ts = overview.current_min, overview.current_max, overview.t_s
        band = QPainterPath()
        run: list[int] = []
        for i in range(len(ts) + 1):
            if i < len(ts) and np.isfinite(lo[i]) and np.isfinite(hi[i]):
                run.append(i)
                continue
            if run:  # one polygon per stretch without a gap
                pts = [QPointF(x_of(float(ts[j])), y_of(float(hi[j]))) for j in run]
                pts += [QPointF(x_of(float(ts[j])), y_of(float(lo[j]))) for j in reversed(run)]
                band.moveTo(pts[0])
                for q in pts[1:]:
                    band.lineTo(q)
                band.closeSubpath()
                run = []
        p.setPen(QPen(QColor(palette.REPORT_TRACE), 2))
        p.setBrush(QColor(*palette.REPORT_BAND))
        p.drawPath(band)
    finally:
        p.end()
    return img


# ---------------------------------------------------------------- HTML

STYLE = palette.css("""
body { font-family: 'DejaVu Sans', sans-serif; font-size: 9pt; color: @REPORT_TEXT@; }
h1 { font-size: 15pt; margin: 0 0 4pt 0; }
h2 { font-size: 11pt; margin: 8pt 0 3pt 0; }
td, th { padding: 2pt 4pt; vertical-align: top; }
th { background-color: @REPORT_HEADER_CELL@; text-align: left; font-weight: 600; }
.k { color: @REPORT_KEY@; }
.sig { margin-top: 8pt; }
.am { margin: 0 0 3pt 0; }
""")


def charge_sentence(detail: SessionDetail) -> str:
    """The charge delivered, stated unambiguously: the total absolute charge (both
    phases) and the net charge, each named (a charge-balanced waveform nets near zero)."""
    steps = detail.steps
    net = (
        sum(st.charge_uc for st in steps if st.charge_uc is not None)
        if any(st.charge_uc is not None for st in steps)
        else None
    )
    phases = [st.charge_phases_uc for st in steps]
    if net is None:
        return "Charge delivered: not recorded."
    if steps and all(ph is not None for ph in phases):
        pos = sum(ph[0] for ph in phases if ph is not None)
        neg = sum(ph[1] for ph in phases if ph is not None)
        return (
            f"Charge delivered: total {abs(pos) + abs(neg):.2f} µC (absolute, both "
            f"phases: positive {pos:.2f} µC, negative {neg:.2f} µC); net charge "
            f"{net:.2f} µC."
        )
    return (
        f"Net charge: {net:.2f} µC (positive minus negative phase; the total absolute "
        "charge was not recorded for this session)."
    )


def skip_reason(parameters: dict) -> str:
    """': Mentalis (client's right) is excluded …' for a step skipped on an excluded
    zone, ': ended early (emergency stop)' for a step its session's end cut short
    (escaped), else ''."""
    why = parameters.get("skipped_reason") if isinstance(parameters, dict) else None
    if not isinstance(why, str) or not why:
        early = ended_early_text(parameters)
        return ": " + plain(early) if early else ""
    return ": " + plain(why.split(" skipped: ", 1)[-1])


def _phase(st, which: int) -> str:
    ph = st.charge_phases_uc
    return "—" if ph is None else f"{ph[which]:.2f} µC"


CONSENT_SIG = "consent_signature.png"
CONSENT_SIG_PX = (600, 170)  # the consent signature's image (printed 45 mm wide)
CONSENT_SIG_MM = 45.0


def signature_line(detail: SessionDetail) -> str:
    """The practitioner's signature as printed (plain text)."""
    sig = detail.signature
    if sig is None:
        return ""
    return f"Signed by {sig.printed_name}, {local_datetime(sig.signed_at)}, meaning: {sig.meaning}"


def consent_image(detail: SessionDetail) -> QImage | None:
    c = detail.consent
    if c is None or c.signature is None:
        return None
    return render_signature(c.signature, *CONSENT_SIG_PX)


def record_html(detail: SessionDetail, has_consent_image: bool) -> str:
    """The consent, the practitioner's signature, the notes as signed and the
    amendments under them (all user text escaped, line breaks kept)."""
    parts = []
    c = detail.consent
    if c is None:
        parts.append("<p><b>Consent:</b> none recorded.</p>")
    else:
        how = ""
        if c.signature is not None:
            how = (f" by {plain(c.signature.name)}" if c.signature.name else "") + (
                " (drawn signature)" if c.signature.kind == "drawn" else " (typed signature)"
            )
        image = f"<br/><img src='{CONSENT_SIG}' width='{{SIG_W}}'/>" if has_consent_image else ""
        parts.append(
            f"<p><b>Consent</b> {plain(c.text_version)} signed {local_datetime(c.given_at)}"
            f"{how}.{image}</p>"
        )
    if detail.notes:
        notes = "<br/>".join(plain(text) for _, text in detail.notes)
        parts.append(f"<p><b>Session notes (as signed):</b> {notes}</p>")
    if detail.signature is not None:
        parts.append(
            f"<p class='sig'><b>Practitioner's signature:</b> {plain(signature_line(detail))}.</p>"
        )
    else:
        parts.append(
            f"<p class='sig'>Practitioner: {plain(detail.operator_name or '—')} (not signed "
            "in the console)<br/><br/>"
            "Signature: ______________________________ &nbsp;&nbsp; Date: ________________</p>"
        )
    if detail.amendments:
        items = "".join(
            f"<p class='am'><b>{local_datetime(a.made_at)}</b>, {plain(a.author_name)} "
            f"corrected <i>{plain(AMENDABLE.get(a.field, a.field))}</i>: {plain(a.text)}"
            f"<br/>Reason: {plain(a.reason)}</p>"
            for a in detail.amendments
        )
        parts.append(
            "<h2>Amendments</h2><p>Made after signing; the record above stays as signed.</p>"
            + items
        )
    return "".join(parts)


def photos_html(captions: list[str]) -> str:
    """The photos' row: images ``photo0.png``… at ``{PHOTO_W}`` pixels wide, captioned."""
    if not captions:
        return ""
    cells = "".join(
        f"<td align='center'><img src='photo{i}.png' width='{{PHOTO_W}}'/><br/>{plain(c)}</td>"
        for i, c in enumerate(captions)
    )
    return (
        f"<h2>Photos</h2><table cellspacing='4'><tr>{cells}</tr></table>"
        "<p style='margin-top: 6pt'></p>"
    )


def client_html(
    detail: SessionDetail,
    client: ClientRecord,
    has_chart: bool,
    has_consent_image: bool = False,
    photo_captions: list[str] | None = None,
) -> str:
    s = detail.summary
    rows = []
    for st in detail.steps:
        rows.append(
            "<tr>"
            f"<td>{st.position + 1}</td><td>{plain(zone_names(st.zone))}</td>"
            f"<td>{clock(st.actual_s)} of {clock(st.planned_s)}<br/>"
            f"{STEP_WORDS[step_outcome(st.actual_s, st.planned_s)]}"
            f"{skip_reason(st.parameters)}</td>"
            f"<td>{number(st.mean_current_ua, 'µA', 0)}</td>"
            f"<td>{_phase(st, 0)}</td><td>{_phase(st, 1)}</td>"
            f"<td>{number(st.charge_uc, 'µC', 2)}</td>"
            f"<td>{kohm(st.mean_impedance_ohm)}</td></tr>"
        )
    steps = (
        "<table width='100%' border='1' cellspacing='0' cellpadding='2' "
        f"style='border-color:{palette.REPORT_TABLE_BORDER}; border-collapse: collapse'>"
        "<tr><th width='3%'>#</th><th width='25%'>Zone</th>"
        "<th width='13%'>Time done of planned</th><th width='10%'>Mean current</th>"
        "<th width='12%'>Charge + phase</th><th width='12%'>Charge − phase</th>"
        "<th width='11%'>Net charge</th><th width='14%'>Impedance</th></tr>"
        + "".join(rows)
        + "</table>"
        if rows
        else "<p>No zones recorded.</p>"
    )
    operator = detail.operator_name or "—"
    chart = (
        "<h2>Delivered current</h2><p>From the recorded samples: the band spans the "
        "lowest and highest current of each moment.</p>"
        "<img src='chart.png' width='{CHART_W}'/>"
        if has_chart
        else "<h2>Delivered current</h2><p>No recording was stored for this session.</p>"
    )
    return f"""<html><head><style>{STYLE}</style></head><body>
<h1>Microcurrent treatment report</h1>
<table width='100%' cellspacing='0'>
<tr><td class='k' width='22%'>Client</td><td>{plain(client.name)}</td></tr>
<tr><td class='k'>Date of birth</td><td>{local_date(client.date_of_birth)}</td></tr>
<tr><td class='k'>Date</td><td>{local_datetime(s.started_at)} – {local_time(s.ended_at)}
 ({duration(s.duration_s)})</td></tr>
<tr><td class='k'>Operator</td><td>{plain(operator)}</td></tr>
<tr><td class='k'>Program</td><td>{plain(program_name(s.program))}</td></tr>
<tr><td class='k'>Outcome</td><td><b>{plain(outcome_text(s.outcome, s.training))}</b></td></tr>
</table>
<h2>Zones</h2>
{steps}
<p>{plain(charge_sentence(detail))} Mean current {number(s.mean_current_ua, "µA", 0)};
mean impedance {kohm(s.mean_impedance_ohm)}.</p>
{chart}
{photos_html(photo_captions or [])}
{record_html(detail, has_consent_image)}
</body></html>"""


def technician_html(detail: SessionDetail) -> str:
    s = detail.summary
    rows = "".join(
        f"<tr><td>{local_time(ev.timestamp)}</td><td>{plain(ev.kind)}</td>"
        f"<td>{plain(event_details(ev.payload))}</td></tr>"
        for ev in detail.events
    )
    events = (
        "<table width='100%' border='1' cellspacing='0' cellpadding='2' "
        f"style='border-color:{palette.REPORT_TABLE_BORDER}'><tr><th width='12%'>Time</th>"
        "<th width='18%'>Event</th><th>Details</th></tr>" + rows + "</table>"
        if rows
        else "<p>No events recorded.</p>"
    )
    return f"""<html><head><style>{STYLE}</style></head><body>
<h1>Technician page — session {s.id}</h1>
<p>Session {plain(s.uid)} · device {plain(s.device_serial or "—")} · firmware
{plain(s.firmware or "—")} · recording: {detail.recorded_samples} samples in
{detail.chunks} chunk(s).</p>
<h2>Event log</h2>
{events}
</body></html>"""


# ---------------------------------------------------------------- PDF


def _document(
    html_text: str,
    device: QPdfWriter,
    width: float,
    chart: QImage | None,
    consent_signature: QImage | None = None,
    photo_images: list[QImage] | None = None,
    photo_fraction: float = PHOTO_FRACTIONS[0],
) -> QTextDocument:
    doc = QTextDocument()
    doc.documentLayout().setPaintDevice(device)
    doc.setDocumentMargin(0)
    font = QFont("DejaVu Sans")
    font.setPointSizeF(9)
    doc.setDefaultFont(font)
    if chart is not None:
        doc.addResource(QTextDocument.ResourceType.ImageResource, QUrl("chart.png"), chart)
        # an image's HTML size is in screen pixels (96 per inch), scaled to the device
        html_text = html_text.replace("{CHART_W}", str(int(width * 96 / device.logicalDpiX())))
    if consent_signature is not None:
        doc.addResource(
            QTextDocument.ResourceType.ImageResource, QUrl(CONSENT_SIG), consent_signature
        )
        html_text = html_text.replace("{SIG_W}", str(int(CONSENT_SIG_MM / 25.4 * 96)))
    for i, image in enumerate(photo_images or []):
        doc.addResource(QTextDocument.ResourceType.ImageResource, QUrl(f"photo{i}.png"), image)
    html_text = html_text.replace(
        "{PHOTO_W}", str(int(width * photo_fraction * 96 / device.logicalDpiX()))
    )
    doc.setHtml(html_text)
    doc.setTextWidth(width)
    return doc


def open_pdf(
    path: Path, title: str, orientation: QPageLayout.Orientation = QPageLayout.Orientation.Portrait
) -> tuple[QPdfWriter, float, float]:
    """A new A4 PDF at ``path`` (created readable by its owner only: health data), laid out
    for the PDF itself: sizes in points stay points, the rest in the writer's device
    pixels. Returns the writer, the page's width and the height above the footer."""
    paths.create_private(path, truncate=True)
    writer = QPdfWriter(str(path))
    writer.setPageLayout(
        QPageLayout(
            QPageSize(QPageSize.PageSizeId.A4),
            orientation,
            QMarginsF(MARGIN_MM, MARGIN_MM, MARGIN_MM, MARGIN_MM),
            QPageLayout.Unit.Millimeter,
        )
    )
    writer.setResolution(DPI)
    writer.setTitle(title)
    writer.setCreator(f"{APP_NAME} {__version__}")
    return writer, float(writer.width()), float(writer.height()) - FOOTER_PT * DPI / 72.0


def print_pages(
    writer: QPdfWriter, docs: list[QTextDocument], footer: Callable[[int, int], str]
) -> int:
    """Every page of ``docs`` (each laid out at the page's width) onto ``writer``, each
    with the footer ``footer(page, pages)`` (1-based); the number of pages."""
    page_w = float(writer.width())
    footer_h = FOOTER_PT * DPI / 72.0
    body_h = float(writer.height()) - footer_h
    pages: list[tuple[QTextDocument, int]] = []
    for doc in docs:
        doc.setPageSize(QSizeF(page_w, body_h))
        pages += [(doc, i) for i in range(max(1, doc.pageCount()))]
    footer_font = QFont("DejaVu Sans")
    footer_font.setPointSizeF(7.5)
    p = QPainter(writer)
    try:
        for n, (doc, i) in enumerate(pages):
            if n:
                writer.newPage()
            p.save()
            p.translate(0, -i * body_h)
            doc.drawContents(p, QRectF(0, i * body_h, page_w, body_h))
            p.restore()
            p.setFont(footer_font)
            p.setPen(QColor(palette.REPORT_FOOTER))
            p.drawText(
                QRectF(0, body_h + footer_h / 3, page_w, footer_h * 2 / 3),
                Qt.AlignmentFlag.AlignLeft | Qt.TextFlag.TextWordWrap,
                footer(n + 1, len(pages)),
            )
    finally:
        p.end()
    return len(pages)


def write_pdf(
    detail: SessionDetail,
    client: ClientRecord,
    path: Path,
    overview: RecordingOverview | None = None,
    technician_page: bool = False,
    photos: list[tuple[str, bytes]] | None = None,
) -> int:
    """The report on A4 (see the module docstring); returns the number of pages. The file
    (health data) is created readable by its owner only. ``photos``: (caption, JPEG)
    for the client's page; the first :data:`MAX_PHOTOS` are shown, as large as the one
    page allows."""
    writer, page_w, body_h = open_pdf(path, f"Session report {detail.summary.id}")
    chart = chart_image(overview) if overview is not None and overview.n_samples else None
    consent_sig = consent_image(detail)
    chosen = (photos or [])[:MAX_PHOTOS]
    images = [_photo_image(data, page_w * PHOTO_FRACTIONS[0]) for _, data in chosen]
    captions = [c for c, _ in chosen]
    html_text = client_html(detail, client, chart is not None, consent_sig is not None, captions)
    for fraction in PHOTO_FRACTIONS:  # the client's part stays one page: smaller photos
        first = _document(html_text, writer, page_w, chart, consent_sig, images, fraction)
        first.setPageSize(QSizeF(page_w, body_h))
        if not images or first.pageCount() <= 1:
            break
    docs = [first]
    if technician_page:
        docs.append(_document(technician_html(detail), writer, page_w, None))
    s = detail.summary
    return print_pages(
        writer,
        docs,
        lambda n, total: (
            f"{APP_NAME} {__version__} · device firmware {s.firmware or '—'} · "
            f"session {s.id} · page {n} of {total}"
        ),
    )


def _photo_image(data: bytes, width_px: float) -> QImage:
    """A stored photo scaled to the report's size (a few hundred kB in the PDF, not MB)."""
    image = QImage.fromData(data)
    if image.width() > width_px:
        image = image.scaledToWidth(int(width_px), Qt.TransformationMode.SmoothTransformation)
    return image
