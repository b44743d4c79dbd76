"""Before/after photos of a session: checked, cleaned and stored like other health data.

A photo is never stored as it came. :func:`prepare` opens it with Pillow (JPEG or PNG
only, at most :data:`MAX_FILE_BYTES` and :data:`MAX_PIXELS`), turns it upright from its
EXIF orientation (and keeps the EXIF time it was taken, as a date only the console
stores), then copies the pixels alone into a new image and encodes that as a
JPEG: the EXIF block (GPS position, camera serial number, owner name, time…), XMP, IPTC,
comments, embedded thumbnails and ICC profiles are all left behind. The long edge is cut
to :data:`MAX_EDGE` pixels; a small thumbnail is made beside it.

Where: the ``session_photo`` table, like the recordings (app/store/recording.py), so a
photo is in the database file (0600 in the 0700 data folder, or the PostgreSQL server),
in its backups and client exports, and goes with the client on erasure. Writes go through
the store's writer (:class:`AddPhoto`, :class:`DeletePhoto`); the reads below run on any
thread (each opens its own session).
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass

from sqlalchemy import Engine, delete, func, select
from sqlalchemy.orm import Session

from app.store import audit
from app.store.models import SessionPhoto, TreatmentSession, utcnow

MAX_FILE_BYTES = 30 * 1024 * 1024
MAX_PIXELS = 50_000_000  # 50 megapixels: more is not a camera photo (or a decompression bomb)
MAX_EDGE = 2048  # stored size: enough to compare skin, small in the database
THUMB_EDGE = 320
QUALITY = 88
LABELS = ("before", "after")
FORMATS = {"JPEG": "JPEG", "PNG": "PNG", "MPO": "JPEG"}  # MPO: a phone's multi-frame JPEG


class PhotoError(ValueError):
    """The file cannot be used as a photo; the message says why, in words."""


@dataclass(frozen=True, slots=True)
class PreparedPhoto:
    """A photo ready to be stored: JPEG bytes with no metadata, and its thumbnail."""

    data: bytes
    thumbnail: bytes
    width: int
    height: int
    taken_at: dt.datetime | None = None  # from the camera's EXIF time, if it had one


def _exif_time(img) -> dt.datetime | None:  # PIL.Image.Image
    """When the camera took the photo (EXIF DateTimeOriginal, else DateTime), read as
    this computer's local time, in UTC; None if absent or not a real date."""
    try:
        exif = img.getexif()
        raw = exif.get_ifd(0x8769).get(0x9003) or exif.get(0x0132)
        if not raw:
            return None
        local = dt.datetime.strptime(str(raw).strip("\x00 "), "%Y:%m:%d %H:%M:%S")
        return local.astimezone().astimezone(dt.UTC)
    except (ValueError, TypeError, OSError, OverflowError):
        return None


def prepare(raw: bytes, name: str = "the file") -> PreparedPhoto:
    """``raw`` (a file's bytes) as a clean, upright, re-encoded JPEG; PhotoError (naming
    ``name`` and what is wrong) for anything that is not a usable JPEG or PNG photo."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    if len(raw) > MAX_FILE_BYTES:
        raise PhotoError(
            f"{name} is {len(raw) / 1e6:.0f} MB: photos up to "
            f"{MAX_FILE_BYTES // (1024 * 1024)} MB can be attached."
        )
    if not raw:
        raise PhotoError(f"{name} is empty.")
    try:
        with Image.open(io.BytesIO(raw)) as img:
            kind = FORMATS.get(img.format or "")
            if kind is None:
                raise PhotoError(
                    f"{name} is a {img.format or 'unknown'} image: attach a JPEG or PNG photo."
                )
            w, h = img.size
            if w * h > MAX_PIXELS:
                raise PhotoError(
                    f"{name} is {w} × {h} pixels ({w * h / 1e6:.0f} megapixels): photos up to "
                    f"{MAX_PIXELS // 1_000_000} megapixels can be attached."
                )
            if w < 16 or h < 16:
                raise PhotoError(f"{name} is only {w} × {h} pixels: too small to be a photo.")
            img.load()
            taken = _exif_time(img)
            upright = ImageOps.exif_transpose(img)
            rgb = _flatten(upright)
    except PhotoError:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError) as exc:
        if isinstance(exc, Image.DecompressionBombError):
            raise PhotoError(f"{name} is too large an image to be a photo.") from exc
        raise PhotoError(f"{name} is not a JPEG or PNG image.") from exc
    except (OSError, SyntaxError, ValueError) as exc:  # truncated or damaged image data
        raise PhotoError(f"{name} is damaged: its image data cannot be read.") from exc
    # the pixels alone, into an image that never had any metadata
    clean = Image.frombytes("RGB", rgb.size, rgb.tobytes())
    clean.thumbnail((MAX_EDGE, MAX_EDGE), Image.Resampling.LANCZOS)
    thumb = clean.copy()
    thumb.thumbnail((THUMB_EDGE, THUMB_EDGE), Image.Resampling.LANCZOS)
    return PreparedPhoto(_jpeg(clean, QUALITY), _jpeg(thumb, 80), clean.width, clean.height, taken)


def _flatten(img):  # PIL.Image.Image -> RGB (transparency over white)
    from PIL import Image

    if img.mode in ("RGBA", "LA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        back = Image.new("RGB", rgba.size, (255, 255, 255))
        back.paste(rgba, mask=rgba.getchannel("A"))
        return back
    return img.convert("RGB")


def _jpeg(img, quality: int) -> bytes:
    buf = io.BytesIO()
    # no exif=, icc_profile= or comment=: Pillow writes none of them then
    img.save(buf, "JPEG", quality=quality, optimize=True)
    return buf.getvalue()


# ---------------------------------------------------------------- writes (the writer's)


@dataclass(frozen=True, slots=True)
class AddPhoto:
    """Store a prepared photo on session ``session_id``; the future gives its id."""

    session_id: int
    label: str
    zone: str | None
    photo: PreparedPhoto
    taken_at: dt.datetime
    operator_id: int | None = None

    def apply(self, s: Session, st: object, tentative: dict[str, int]) -> int:
        if self.label not in LABELS:
            raise ValueError(f"a photo is labelled before or after, not {self.label!r}")
        client_id = s.scalar(
            select(TreatmentSession.client_id).where(TreatmentSession.id == self.session_id)
        )
        if client_id is None:
            raise ValueError(
                f"session {self.session_id} is no longer in the records (its client may "
                "have been erased): the photo was not stored"
            )
        row = SessionPhoto(
            session_id=self.session_id,
            client_id=client_id,
            label=self.label,
            zone=self.zone or None,
            taken_at=self.taken_at,
            operator_id=self.operator_id,
            width=self.photo.width,
            height=self.photo.height,
            data=self.photo.data,
            thumbnail=self.photo.thumbnail,
        )
        s.add(row)
        s.flush()
        # in the same transaction: a photo is never stored without its audit entry
        audit.append(
            s,
            "add_photo",
            f"session:{self.session_id}",
            {"photo": row.id, "label": self.label, "zone": self.zone or None},
            operator_id=self.operator_id,
        )
        return row.id


@dataclass(frozen=True, slots=True)
class DeletePhoto:
    """Remove a photo attached by mistake; the future gives the rows deleted (0 or 1).
    The removal is audited (who, which photo of which session) in the same transaction."""

    photo_id: int
    operator_id: int | None = None  # who removes it (the writer names the one signed in)

    def apply(self, s: Session, st: object, tentative: dict[str, int]) -> int:
        found = s.execute(
            select(SessionPhoto.session_id, SessionPhoto.label).where(
                SessionPhoto.id == self.photo_id
            )
        ).first()
        if found is None:
            return 0
        result = s.execute(delete(SessionPhoto).where(SessionPhoto.id == self.photo_id))
        audit.append(
            s,
            "remove_photo",
            f"session:{found.session_id}",
            {"photo": self.photo_id, "label": found.label},
            operator_id=self.operator_id,
        )
        return int(getattr(result, "rowcount", 0) or 0)


def add_photo(
    writer,
    session_id: int,
    label: str,
    photo: PreparedPhoto,
    zone: str | None = None,
    taken_at: dt.datetime | None = None,
    operator_id: int | None = None,
):
    """Submit :class:`AddPhoto` to ``writer`` (a StoreWriter); returns its Future. The
    photo's time: ``taken_at``, else the camera's (EXIF, read before it was dropped),
    else now."""
    when = taken_at or photo.taken_at or utcnow()
    return writer.submit(AddPhoto(session_id, label, zone, photo, when, operator_id))


# ---------------------------------------------------------------- reads (any thread)


@dataclass(frozen=True, slots=True)
class PhotoInfo:
    id: int
    session_id: int
    label: str
    zone: str | None
    taken_at: dt.datetime
    width: int
    height: int
    thumbnail: bytes


@dataclass(frozen=True, slots=True)
class Photo:
    info: PhotoInfo
    data: bytes


@dataclass(frozen=True, slots=True)
class PhotoSession:
    """A session of a client that has photos (for choosing what to compare)."""

    session_id: int
    started_at: dt.datetime
    program: str
    photos: int


_INFO = (
    SessionPhoto.id,
    SessionPhoto.session_id,
    SessionPhoto.label,
    SessionPhoto.zone,
    SessionPhoto.taken_at,
    SessionPhoto.width,
    SessionPhoto.height,
    SessionPhoto.thumbnail,
)


def _order():
    # before first, then by time
    return (SessionPhoto.label.desc(), SessionPhoto.taken_at, SessionPhoto.id)


def session_photos(engine: Engine, session_id: int) -> list[PhotoInfo]:
    """A session's photos (thumbnails only), before ones first."""
    with Session(engine) as s:
        rows = s.execute(
            select(*_INFO).where(SessionPhoto.session_id == session_id).order_by(*_order())
        ).all()
    return [PhotoInfo(*r) for r in rows]


def photos_of(engine: Engine, session_id: int) -> list[Photo]:
    """A session's photos at full (stored) size, before ones first."""
    with Session(engine) as s:
        rows = s.execute(
            select(*_INFO, SessionPhoto.data)
            .where(SessionPhoto.session_id == session_id)
            .order_by(*_order())
        ).all()
    return [Photo(PhotoInfo(*r[:-1]), r[-1]) for r in rows]


def client_photo_sessions(engine: Engine, client_id: int) -> list[PhotoSession]:
    """The client's sessions that have photos, oldest first."""
    with Session(engine) as s:
        rows = s.execute(
            select(
                TreatmentSession.id,
                TreatmentSession.started_at,
                TreatmentSession.program,
                func.count(SessionPhoto.id),
            )
            .join(SessionPhoto, SessionPhoto.session_id == TreatmentSession.id)
            .where(TreatmentSession.client_id == client_id)
            .group_by(TreatmentSession.id, TreatmentSession.started_at, TreatmentSession.program)
            .order_by(TreatmentSession.started_at, TreatmentSession.id)
        ).all()
    return [PhotoSession(*r) for r in rows]


def client_photo_infos(engine: Engine, client_id: int) -> list[PhotoInfo]:
    """Every photo of a client (thumbnails), in time order."""
    with Session(engine) as s:
        rows = s.execute(
            select(*_INFO)
            .where(SessionPhoto.client_id == client_id)
            .order_by(SessionPhoto.taken_at, SessionPhoto.id)
        ).all()
    return [PhotoInfo(*r) for r in rows]
