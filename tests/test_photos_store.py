"""Session photos: EXIF really gone, orientation applied, bad files refused in words,
stored in the 0600 database through the writer, exported, erased with the client."""

from __future__ import annotations

import datetime as dt
import io
import json
import stat
import zipfile
from pathlib import Path

import pytest
from photo_helpers import OWNER, SERIAL, jpeg_with_exif, png_bytes
from PIL import Image
from store_fixtures import pg_cluster, sqlite_url, store_url  # noqa: F401

from app.__main__ import main
from app.store import audit, maintenance, photos
from app.store.database import open_store
from app.store.models import SessionPhoto
from app.store.validation import ClientData
from app.store.writer import StoreWriter, count_rows


def test_exif_gps_serial_and_owner_are_gone_and_the_photo_is_upright():
    raw = jpeg_with_exif(200, 100, orientation=6)
    with Image.open(io.BytesIO(raw)) as src:  # the test can fail: they are there before
        assert src.getexif().get_ifd(0x8825)[1] == "N"
        assert SERIAL.encode() in raw
        assert OWNER.encode() in raw
    out = photos.prepare(raw, "face.jpg")
    for data in (out.data, out.thumbnail):
        assert SERIAL.encode() not in data
        assert OWNER.encode() not in data
        assert b"Exif" not in data
        assert b"PhoneMaker" not in data
        with Image.open(io.BytesIO(data)) as img:
            assert img.format == "JPEG"
            assert len(img.getexif()) == 0
            assert "exif" not in img.info
            assert "icc_profile" not in img.info
    # the time it was taken is kept (as the console's own field), read as local time
    assert out.taken_at == dt.datetime(2026, 11, 24, 9, 15, 30).astimezone().astimezone(dt.UTC)
    assert b"2026:11:24" not in out.data
    # orientation 6 (turn 90° clockwise to view) applied: 200 × 100 became 100 × 200,
    # and the red top-left quarter is now at the top right
    assert (out.width, out.height) == (100, 200)
    with Image.open(io.BytesIO(out.data)) as img:
        assert img.size == (100, 200)
        r, g, b = img.convert("RGB").getpixel((80, 20))
        assert r > 200
        assert b < 60
        r, g, b = img.convert("RGB").getpixel((20, 20))
        assert b > 200
        assert r < 60


def test_large_photos_are_scaled_down_and_png_transparency_goes_on_white():
    big = photos.prepare(jpeg_with_exif(3000, 1500, orientation=1))
    assert max(big.width, big.height) == photos.MAX_EDGE
    with Image.open(io.BytesIO(big.thumbnail)) as t:
        assert max(t.size) == photos.THUMB_EDGE
    clear = photos.prepare(png_bytes(colour=(0, 0, 0, 0)), "clear.png")
    with Image.open(io.BytesIO(clear.data)) as img:
        assert img.mode == "RGB"
        assert min(img.getpixel((10, 10))) > 240  # transparent → white, not black


def _gif() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (40, 40)).save(buf, "GIF")
    return buf.getvalue()


def _huge_png() -> bytes:
    buf = io.BytesIO()
    Image.new("1", (9000, 6000)).save(buf, "PNG")  # 54 megapixels, a few kB
    return buf.getvalue()


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        (b"%PDF-1.7 not a photo at all", "notes.pdf is not a JPEG or PNG image"),
        (b"", "notes.pdf is empty"),
        (_gif(), "notes.pdf is a GIF image: attach a JPEG or PNG photo"),
        (_huge_png(), "notes.pdf is 9000 × 6000 pixels (54 megapixels)"),
        (jpeg_with_exif()[:400], "notes.pdf is damaged"),
        (png_bytes(8, 8), "only 8 × 8 pixels"),
    ],
)
def test_files_that_are_not_usable_photos_are_refused_in_words(raw, words):
    with pytest.raises(photos.PhotoError) as err:
        photos.prepare(raw, "notes.pdf")
    assert words in str(err.value)


def test_a_file_over_the_size_limit_is_refused_before_it_is_opened(monkeypatch):
    monkeypatch.setattr(photos, "MAX_FILE_BYTES", 1000)
    with pytest.raises(photos.PhotoError, match="face.jpg is 0 MB: photos up to 0 MB"):
        photos.prepare(b"\xff" * 1001, "face.jpg")


def _client_with_session(w: StoreWriter, name: str) -> tuple[int, int]:
    from app.store import services

    cid = w.save_client(ClientData(name, dt.date(1980, 5, 5))).result(5)
    uid = w.begin_session(cid, program="lift")
    w.add_step(uid, 0, "forehead", {}, 60, 60, charge_uc=1.0, charge_abs_uc=30.0)
    w.end_session(uid, "completed")
    assert w.flush(5)
    [summary] = services.session_history(w._engine, cid)  # noqa: SLF001
    return cid, summary.id


def test_photos_are_stored_in_the_private_database_read_back_exported_and_erased(
    sqlite_url,  # noqa: F811
    tmp_path,
):
    engine, info = open_store(sqlite_url)
    w = StoreWriter(engine)
    try:
        cid, sid = _client_with_session(w, "Photo Person")
        other, other_sid = _client_with_session(w, "Other Person")
        prepared = photos.prepare(jpeg_with_exif(), "face.jpg")
        before = photos.add_photo(w, sid, "before", prepared, zone="forehead").result(5)
        after = photos.add_photo(w, sid, "after", prepared).result(5)
        photos.add_photo(w, other_sid, "before", prepared).result(5)
        with pytest.raises(ValueError, match="labelled before or after"):
            photos.add_photo(w, sid, "during", prepared).result(5)
        assert photos.session_photos(engine, sid)[0].taken_at == prepared.taken_at
        infos = photos.session_photos(engine, sid)
        assert [(p.id, p.label, p.zone) for p in infos] == [
            (before, "before", "forehead"),
            (after, "after", None),
        ]
        assert infos[0].thumbnail == prepared.thumbnail
        assert [p.data for p in photos.photos_of(engine, sid)] == [prepared.data] * 2
        [ps] = photos.client_photo_sessions(engine, cid)
        assert (ps.session_id, ps.photos) == (sid, 2)
        db = Path(engine.url.database)
        assert stat.S_IMODE(db.stat().st_mode) == 0o600
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        marker = prepared.data[200:264]
        assert marker in db.read_bytes()  # the test can fail: the photo is in the file

        dest = maintenance.export_client(engine, cid, tmp_path / "export.zip")
        assert stat.S_IMODE(dest.stat().st_mode) == 0o600
        with zipfile.ZipFile(dest) as zf:
            [session] = json.loads(zf.read("client.json"))["sessions"]
            assert [p["label"] for p in session["photos"]] == ["before", "after"]
            assert zf.read(session["photos"][0]["file"]) == prepared.data

        assert w.submit(photos.DeletePhoto(after, operator_id=None)).result(5) == 1
        assert [p.id for p in photos.session_photos(engine, sid)] == [before]
        assert w.submit(photos.DeletePhoto(after)).result(5) == 0  # gone: nothing audited

        # every photo added or removed is in the audit trail (never the picture)
        added = audit.entries(engine, "add_photo", f"session:{sid}")
        assert [(e.details["photo"], e.details["label"], e.details["zone"]) for e in added] == [
            (before, "before", "forehead"),
            (after, "after", None),
        ]
        [removed] = audit.entries(engine, "remove_photo")
        assert (removed.subject, removed.details) == (
            f"session:{sid}",
            {"photo": after, "label": "after"},
        )
        assert len(audit.entries(engine, "add_photo")) == 3
        assert audit.verify(engine).ok
    finally:
        w.close()
        engine.dispose()
    assert main(["db", "erase-client", str(cid), "--yes", "--database-url", sqlite_url]) == 0
    engine, _ = open_store(sqlite_url)
    try:
        assert count_rows(engine, SessionPhoto, client_id=cid) == 0
        assert count_rows(engine, SessionPhoto, client_id=other) == 1  # others' are kept
    finally:
        engine.dispose()
    data = b"".join(p.read_bytes() for p in db.parent.glob(db.name + "*") if p.is_file())
    assert data.count(marker) == 1  # the other client's copy only


def test_a_photo_for_a_session_erased_meanwhile_is_refused_in_words(store_url):  # noqa: F811
    engine, _ = open_store(store_url)
    w = StoreWriter(engine)
    try:
        cid, sid = _client_with_session(w, "Gone Soon")
        counts = maintenance.erase_client(engine, cid)
        assert counts["client"] == 1
        with pytest.raises(ValueError, match="no longer in the records"):
            photos.add_photo(w, sid, "after", photos.prepare(png_bytes())).result(5)
    finally:
        w.close()
        engine.dispose()
