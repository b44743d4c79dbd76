"""Before/after photos: a session's photo strip, and two sessions' photos compared.

Photos are cleaned before they are stored (app/store/photos.py: orientation applied, EXIF
dropped, re-encoded); opening and cleaning a file runs off the GUI thread (a photo of a
modern phone takes a moment), the store's writer stores it, and every read runs in the
background (:meth:`RecordsStore.read`).

The camera option appears only where Qt's multimedia module can be imported: the
console installs PySide6-Essentials, which has none, so there the button is not shown.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from PySide6.QtCore import QEvent, QLineF, QObject, QRect, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QIcon,
    QImage,
    QKeyEvent,
    QKeySequence,
    QPainter,
    QPen,
    QPixmap,
    QShortcut,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QFileDialog,
    QGraphicsPixmapItem,
    QGraphicsScene,
    QGraphicsView,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app import palette
from app.store import photos
from app.ui import style
from app.ui.records.bridge import RecordsStore
from app.ui.records.format import local_date, local_datetime, program_name

LABEL_WORDS = {"before": "Before", "after": "After"}
THUMB = 96
SCENE_H = 1000.0  # every photo is drawn this tall in its scene: equal zoom = equal framing
ZOOM_STEP = 1.25
MAX_ZOOM = 16.0
GRID_DIVISIONS = 6  # the framing grid: 6 × 6 cells, centre lines drawn stronger


def camera_available() -> bool:
    """Whether Qt's multimedia module (camera capture) can be imported here."""
    try:
        return importlib.util.find_spec("PySide6.QtMultimedia") is not None
    except (ImportError, ValueError):
        return False


def zone_choices() -> list[tuple[str, str | None]]:
    """(text, zone id) for the optional zone of a photo: the whole face first."""
    from app.engine.zones import ZONES

    return [("Whole face", None)] + sorted((z.name, z.id) for z in ZONES.values())


def zone_text(zone: str | None) -> str:
    if not zone:
        return "whole face"
    from app.engine.zones import ZONES

    found = ZONES.get(zone)
    return found.name if found is not None else zone.replace("_", " ")


def caption(info: photos.PhotoInfo) -> str:
    return f"{LABEL_WORDS.get(info.label, info.label)} · {zone_text(info.zone)}"


def pixmap_of(data: bytes) -> QPixmap:
    image = QImage.fromData(data)
    return QPixmap.fromImage(image)


def _prepare_file(_engine, path: str) -> photos.PreparedPhoto | str:
    """Off the GUI thread: the file's photo cleaned, or why it cannot be used (words)."""
    p = Path(path)
    try:
        size = p.stat().st_size
        if size > photos.MAX_FILE_BYTES:
            return (
                f"{p.name} is {size / 1e6:.0f} MB: photos up to "
                f"{photos.MAX_FILE_BYTES // (1024 * 1024)} MB can be attached."
            )
        raw = p.read_bytes()
    except OSError as exc:
        return f"{p.name} cannot be read: {exc.strerror or exc}."
    try:
        return photos.prepare(raw, p.name)
    except photos.PhotoError as exc:
        return str(exc)


def _prepare_image(_engine, image: QImage) -> photos.PreparedPhoto | str:
    """A camera frame: encoded as PNG here, then cleaned like a file."""
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice

    data = QByteArray()
    buf = QBuffer(data)
    buf.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buf, b"PNG")
    buf.close()
    try:
        return photos.prepare(bytes(data.data()), "the camera's picture")
    except photos.PhotoError as exc:
        return str(exc)


class SessionPhotos(QWidget):
    """A session's photos as thumbnails, with adding (file, camera), removing and
    comparing. ``loaded`` after each read; ``compare_requested(session_id)``."""

    loaded = Signal()
    compare_requested = Signal(int)

    def __init__(self, store: RecordsStore, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.store = store
        self.session_id: int | None = None
        self.infos: list[photos.PhotoInfo] = []
        self.busy = False
        self.title = QLabel("Photos")
        self.title.setStyleSheet("font-weight: 600")
        self.label_box = QComboBox()
        for key, text in LABEL_WORDS.items():
            self.label_box.addItem(text, key)
        self.label_box.setToolTip("Is the next photo from before or after the treatment?")
        self.zone_box = QComboBox()
        for text, zone in zone_choices():
            self.zone_box.addItem(text, zone)
        self.zone_box.setToolTip("The zone the photo shows (optional)")
        self.zone_box.setMaximumWidth(220)
        self.zone_box.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.zone_box.setMinimumContentsLength(8)
        self.add_button = QPushButton("Add photo…")
        self.add_button.setToolTip("Attach a JPEG or PNG photo; its EXIF data is removed")
        self.camera_button = QPushButton("Camera…")
        self.camera_button.setVisible(camera_available())
        self.remove_button = QPushButton("Remove")
        self.remove_button.setToolTip("Remove the selected photo from this session")
        self.compare_button = QPushButton("Compare…")
        self.compare_button.setToolTip("Compare this session's photos with another session's")
        self.status = QLabel()
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.status.setWordWrap(True)
        self.list = QListWidget()
        self.list.setViewMode(QListWidget.ViewMode.IconMode)
        self.list.setFlow(QListWidget.Flow.LeftToRight)
        self.list.setWrapping(False)
        self.list.setIconSize(QSize(THUMB, THUMB))
        self.list.setMovement(QListWidget.Movement.Static)
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.list.setFixedHeight(THUMB + 48)
        self.list.setAccessibleName("Session photos")
        self.list.setSpacing(4)
        self.empty = QLabel("No photos for this session yet.")
        self.empty.setStyleSheet(f"color: {style.MUTED}")
        # two rows: the strip sits in the desk's records tab, about 330 px wide at 1280
        head = QHBoxLayout()
        head.addWidget(self.title)
        head.addStretch(1)
        head.addWidget(self.remove_button)
        head.addWidget(self.compare_button)
        adding = QHBoxLayout()
        adding.addWidget(self.label_box)
        adding.addWidget(self.zone_box, 1)
        adding.addWidget(self.add_button)
        adding.addWidget(self.camera_button)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(head)
        lay.addLayout(adding)
        lay.addWidget(self.status)
        lay.addWidget(self.list)
        lay.addWidget(self.empty)
        self.add_button.clicked.connect(self._ask_file)
        self.camera_button.clicked.connect(self._ask_camera)
        self.remove_button.clicked.connect(self._remove)
        self.compare_button.clicked.connect(
            lambda: self.session_id is not None and self.compare_requested.emit(self.session_id)
        )
        self.list.itemSelectionChanged.connect(self._update_buttons)
        self.list.installEventFilter(self)  # Delete removes the selected photo
        store.records_changed.connect(self.refresh)
        self._update_buttons()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt API
        if (
            watched is self.list
            and event.type() == QEvent.Type.KeyPress
            and isinstance(event, QKeyEvent)
            and event.key() in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace)
            and self.remove_button.isEnabled()
        ):
            self._remove()
            return True
        return super().eventFilter(watched, event)

    def set_session(self, session_id: int | None) -> None:
        self.session_id = session_id
        self.status.clear()
        self.refresh()

    def refresh(self) -> None:
        if self.session_id is None:
            self._show([])
            return
        sid = self.session_id
        self.store.read(
            photos.session_photos,
            sid,
            on_result=lambda infos: self._show(infos) if sid == self.session_id else None,
            what="reading the session's photos",
            key=f"session_photos_{id(self)}",
        )

    def _show(self, infos: list[photos.PhotoInfo]) -> None:
        self.infos = list(infos)
        self.list.clear()
        for info in self.infos:
            icon = QIcon(pixmap_of(info.thumbnail))
            item = QListWidgetItem(icon, f"{caption(info)}\n{local_datetime(info.taken_at)}")
            item.setData(Qt.ItemDataRole.UserRole, info.id)
            item.setToolTip(f"{caption(info)}, {local_datetime(info.taken_at)}")
            self.list.addItem(item)
        self.list.setVisible(bool(self.infos))
        self.empty.setVisible(not self.infos)
        self._update_buttons()
        self.loaded.emit()

    def _update_buttons(self) -> None:
        on = self.session_id is not None and not self.busy
        self.add_button.setEnabled(on)
        self.camera_button.setEnabled(on)
        self.remove_button.setEnabled(on and bool(self.list.selectedItems()))
        self.compare_button.setEnabled(self.session_id is not None)

    # -- adding

    def _ask_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Attach a photo", "", "Photos (*.jpg *.jpeg *.png *.JPG *.JPEG *.PNG)"
        )
        if path:
            self.add_file(path)

    def add_file(self, path: str) -> None:
        """Clean the file's photo off the GUI thread, then store it with the chosen
        label and zone; a file that cannot be used is named in the status line."""
        self._start(f"Preparing {Path(path).name}…")
        target = self._target()
        self.store.read(
            _prepare_file,
            path,
            on_result=lambda result: self._prepared(result, target),
            what="preparing the photo",
            on_error=lambda _exc: self._finish(""),
        )

    def add_image(self, image: QImage) -> None:
        self._start("Preparing the camera's picture…")
        target = self._target()
        self.store.read(
            _prepare_image,
            image,
            on_result=lambda result: self._prepared(result, target),
            what="preparing the photo",
            on_error=lambda _exc: self._finish(""),
        )

    def _start(self, text: str) -> None:
        self.busy = True
        self.status.setStyleSheet(f"color: {style.MUTED}")
        self.status.setText(text)
        self._update_buttons()

    def _finish(self, text: str, error: bool = False) -> None:
        self.busy = False
        self.status.setStyleSheet(f"color: {style.ALARM}" if error else f"color: {style.MUTED}")
        self.status.setText(text)
        self._update_buttons()

    def _target(self) -> tuple[int | None, str, str | None]:
        """Where the photo being prepared goes, as chosen when it was asked for."""
        return self.session_id, self.label_box.currentData(), self.zone_box.currentData()

    def _prepared(
        self, result: photos.PreparedPhoto | str, target: tuple[int | None, str, str | None]
    ) -> None:
        if isinstance(result, str):
            self._finish(f"Not attached: {result}", error=True)
            return
        session_id, label, zone = target
        if session_id is None:
            self._finish("")
            return
        future = photos.add_photo(
            self.store.writer,
            session_id,
            label,
            result,
            zone=zone,
            operator_id=self.store.operator_id,
        )
        self.store.when_done(
            future,
            lambda _id: self._finish(
                f"{LABEL_WORDS[label]} photo attached ({result.width} × {result.height}, "
                "EXIF data removed)."
            ),
            what="storing the photo",
            on_error=lambda _exc: self._finish("The photo was not stored.", error=True),
        )

    def _ask_camera(self) -> None:
        dialog = CameraDialog(self)
        if dialog.exec() == QDialog.DialogCode.Accepted and dialog.image is not None:
            self.add_image(dialog.image)

    # -- removing

    def _remove(self) -> None:
        items = self.list.selectedItems()
        if not items:
            return
        photo_id = items[0].data(Qt.ItemDataRole.UserRole)
        self.store.when_done(
            self.store.writer.submit(photos.DeletePhoto(photo_id, self.store.operator_id)),
            lambda _n: self._finish("Photo removed."),
            what="removing the photo",
        )


class CameraDialog(QDialog):
    """One picture from a camera, through Qt's multimedia module (only built where it
    can be imported: see :func:`camera_available`)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        from PySide6 import QtMultimedia, QtMultimediaWidgets

        self.setWindowTitle("Take a photo")
        self.image: QImage | None = None
        self.info = QLabel()
        self.info.setWordWrap(True)
        devices = QtMultimedia.QMediaDevices.videoInputs()
        self.take = QPushButton("Take photo")
        cancel = QPushButton("Cancel")
        lay = QVBoxLayout(self)
        if not devices:
            self.info.setText("No camera was found: attach the photo from a file instead.")
            self.take.setEnabled(False)
            lay.addWidget(self.info)
        else:
            self._session = QtMultimedia.QMediaCaptureSession(self)
            self._camera = QtMultimedia.QCamera(devices[0], self)
            self._capture = QtMultimedia.QImageCapture(self)
            self._session.setCamera(self._camera)
            self._session.setImageCapture(self._capture)
            view = QtMultimediaWidgets.QVideoWidget()
            view.setMinimumSize(640, 480)
            self._session.setVideoOutput(view)
            self._capture.imageCaptured.connect(self._captured)
            self._capture.errorOccurred.connect(
                lambda _id, _err, text: self.info.setText(f"The camera failed: {text}")
            )
            self._camera.start()
            lay.addWidget(view, 1)
            lay.addWidget(self.info)
            self.take.clicked.connect(self._capture.capture)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.take)
        row.addWidget(cancel)
        lay.addLayout(row)
        cancel.clicked.connect(self.reject)

    def _captured(self, _id: int, image: QImage) -> None:
        self.image = image
        self._camera.stop()
        self.accept()


# ---------------------------------------------------------------- compare


class PhotoPane(QGraphicsView):
    """One photo, scaled to :data:`SCENE_H` scene units tall, with an optional framing
    grid drawn over it (not into it)."""

    zoom_requested = Signal(float)  # a factor (the wheel, + and -)
    fit_requested = Signal()

    def __init__(self, name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self.setBackgroundBrush(QColor(palette.PHOTO_BACKGROUND))
        self.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setAccessibleName(name)
        self.item: QGraphicsPixmapItem | None = None
        self.grid = True
        self.message = ""

    def set_photo(self, pixmap: QPixmap | None, message: str = "") -> None:
        self.scene().clear()
        self.item = None
        self.message = message
        if pixmap is not None and not pixmap.isNull():
            self.item = self.scene().addPixmap(pixmap)
            self.item.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
            self.item.setScale(SCENE_H / pixmap.height())
            self.scene().setSceneRect(self.item.sceneBoundingRect())
        else:
            self.scene().setSceneRect(QRectF(0, 0, SCENE_H * 0.75, SCENE_H))
        self.viewport().update()

    def photo_rect(self) -> QRectF | None:
        return None if self.item is None else self.item.sceneBoundingRect()

    def drawForeground(self, painter: QPainter, rect: QRectF | QRect) -> None:  # noqa: N802
        area = self.photo_rect()
        if area is None:
            painter.save()
            painter.resetTransform()
            painter.setPen(QColor(palette.PHOTO_EMPTY_TEXT))
            painter.drawText(
                self.viewport().rect(), Qt.AlignmentFlag.AlignCenter, self.message or "No photo"
            )
            painter.restore()
            return
        if not self.grid:
            return
        painter.save()
        thin = QPen(QColor(*palette.PHOTO_GRID_THIN))
        thin.setCosmetic(True)
        thick = QPen(QColor(*palette.PHOTO_GRID_THICK))
        thick.setCosmetic(True)
        thick.setWidthF(1.5)
        for k in range(1, GRID_DIVISIONS):
            painter.setPen(thick if 2 * k == GRID_DIVISIONS else thin)
            x = area.left() + area.width() * k / GRID_DIVISIONS
            y = area.top() + area.height() * k / GRID_DIVISIONS
            painter.drawLine(QLineF(x, area.top(), x, area.bottom()))
            painter.drawLine(QLineF(area.left(), y, area.right(), y))
        painter.restore()

    def wheelEvent(self, event) -> None:  # noqa: N802
        self.zoom_requested.emit(ZOOM_STEP if event.angleDelta().y() > 0 else 1 / ZOOM_STEP)
        event.accept()

    def keyPressEvent(self, event) -> None:  # noqa: N802
        key = event.key()
        if key in (Qt.Key.Key_Plus, Qt.Key.Key_Equal):
            self.zoom_requested.emit(ZOOM_STEP)
        elif key == Qt.Key.Key_Minus:
            self.zoom_requested.emit(1 / ZOOM_STEP)
        elif key == Qt.Key.Key_0:
            self.fit_requested.emit()
        else:
            super().keyPressEvent(event)  # the arrow keys pan (the scroll bars move)


class PhotoCompareView(QWidget):
    """Two sessions' photos side by side: the same zoom and pan on both (each photo is
    the same height in its scene, so equal transforms frame the same part of the face),
    and a framing grid to check the pose matches. Keys: + and − zoom, 0 fits, the arrow
    keys pan, G shows or hides the grid, Tab moves between the controls and the photos.
    ``loaded`` once both photos are shown."""

    loaded = Signal()

    def __init__(self, store: RecordsStore, client_id: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        # a window of its own, closed with the console (it is the records' child)
        self.setWindowFlag(Qt.WindowType.Window)
        self.setWindowTitle("Compare photos")
        self.store = store
        self.client_id = client_id
        self.sessions: list[photos.PhotoSession] = []
        self.photos: dict[int, list[photos.Photo]] = {}  # session id → its photos
        self.zoom = 1.0
        self._syncing = False
        self.session_boxes = (QComboBox(), QComboBox())
        self.photo_boxes = (QComboBox(), QComboBox())
        self.panes = (PhotoPane("Left photo"), PhotoPane("Right photo"))
        self.grid_box = QCheckBox("Framing grid (G)")
        self.grid_box.setChecked(True)
        self.fit_button = QPushButton("Fit (0)")
        self.help = QLabel("+ / − zoom both photos · arrow keys or drag pan both · 0 fits · G grid")
        self.help.setStyleSheet(f"color: {style.MUTED}")
        top = QHBoxLayout()
        columns = QHBoxLayout()
        for i, side in enumerate(("Left", "Right")):
            col = QVBoxLayout()
            row = QHBoxLayout()
            row.addWidget(QLabel(f"{side}:"))
            row.addWidget(self.session_boxes[i], 1)
            row.addWidget(self.photo_boxes[i], 1)
            self.photo_boxes[i].setSizeAdjustPolicy(
                QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
            )
            self.photo_boxes[i].setMinimumContentsLength(26)
            self.session_boxes[i].setAccessibleName(f"{side} session")
            self.photo_boxes[i].setAccessibleName(f"{side} photo")
            col.addLayout(row)
            col.addWidget(self.panes[i], 1)
            columns.addLayout(col, 1)
        top.addWidget(self.grid_box)
        top.addWidget(self.fit_button)
        top.addStretch(1)
        top.addWidget(self.help)
        lay = QVBoxLayout(self)
        lay.addLayout(top)
        lay.addLayout(columns, 1)
        for i in (0, 1):
            self.session_boxes[i].currentIndexChanged.connect(
                lambda _n, i=i: self._session_chosen(i)
            )
            self.photo_boxes[i].currentIndexChanged.connect(lambda _n, i=i: self._show_pane(i))
            pane = self.panes[i]
            pane.zoom_requested.connect(self.zoom_by)
            pane.fit_requested.connect(self.fit)
            for bar in (pane.horizontalScrollBar(), pane.verticalScrollBar()):
                bar.valueChanged.connect(lambda _v, i=i: self._pan_from(i))
        self.grid_box.toggled.connect(self.set_grid)
        self.fit_button.clicked.connect(self.fit)
        QShortcut(QKeySequence("G"), self, self.grid_box.toggle)
        self.setTabOrder(self.grid_box, self.fit_button)
        self.setTabOrder(self.fit_button, self.session_boxes[0])
        self.setTabOrder(self.session_boxes[0], self.photo_boxes[0])
        self.setTabOrder(self.photo_boxes[0], self.panes[0])
        self.setTabOrder(self.panes[0], self.session_boxes[1])
        self.setTabOrder(self.session_boxes[1], self.photo_boxes[1])
        self.setTabOrder(self.photo_boxes[1], self.panes[1])
        self._wanted: tuple[int | None, int | None] = (None, None)

    def open(self, left_session: int | None = None, right_session: int | None = None) -> None:
        """Read the client's sessions with photos; show ``left_session`` (default: the
        first) beside ``right_session`` (default: the last other one)."""
        self._wanted = (left_session, right_session)
        self.store.read(
            photos.client_photo_sessions,
            self.client_id,
            on_result=self._sessions_read,
            what="reading the client's photos",
            key=f"compare_sessions_{id(self)}",
        )

    def _sessions_read(self, sessions: list[photos.PhotoSession]) -> None:
        self.sessions = list(sessions)
        ids = [s.session_id for s in self.sessions]
        left, right = self._wanted
        if left not in ids:
            left = ids[0] if ids else None
        if right not in ids:
            others = [x for x in ids if x != left]
            right = others[-1] if others else left
        for i, chosen in enumerate((left, right)):
            box = self.session_boxes[i]
            box.blockSignals(True)
            box.clear()
            for s in self.sessions:
                n = "1 photo" if s.photos == 1 else f"{s.photos} photos"
                box.addItem(
                    f"{local_date(s.started_at.astimezone().date())} · "
                    f"{program_name(s.program)} · {n}",
                    s.session_id,
                )
            box.setCurrentIndex(max(0, box.findData(chosen)))
            box.blockSignals(False)
        if not self.sessions:
            for pane in self.panes:
                pane.set_photo(None, "This client has no photos yet")
            self.loaded.emit()
            return
        self._session_chosen(0, prefer="before")
        self._session_chosen(1, prefer="after")

    def _session_chosen(self, i: int, prefer: str | None = None) -> None:
        sid = self.session_boxes[i].currentData()
        if sid is None:
            return
        if prefer is None:
            prefer = "before" if i == 0 else "after"
        if sid in self.photos:
            self._fill_photos(i, prefer)
            return

        def read(got: list[photos.Photo]) -> None:
            self._photos_read(i, sid, got, prefer)

        self.store.read(
            photos.photos_of,
            sid,
            on_result=read,
            what="reading the photos",
            key=f"compare_photos_{i}_{id(self)}",
        )

    def _photos_read(self, i: int, sid: int, got: list[photos.Photo], prefer: str) -> None:
        self.photos[sid] = list(got)
        if self.session_boxes[i].currentData() == sid:
            self._fill_photos(i, prefer)

    def _fill_photos(self, i: int, prefer: str) -> None:
        sid = self.session_boxes[i].currentData()
        box = self.photo_boxes[i]
        box.blockSignals(True)
        box.clear()
        for p in self.photos.get(sid, []):
            box.addItem(f"{caption(p.info)} · {local_datetime(p.info.taken_at)}", p.info.id)
        # the first photo with the preferred label, else the first
        labels = [p.info.label for p in self.photos.get(sid, [])]
        chosen = labels.index(prefer) if prefer in labels else 0
        box.setCurrentIndex(chosen)
        box.blockSignals(False)
        self._show_pane(i)

    def current_photo(self, i: int) -> photos.Photo | None:
        sid = self.session_boxes[i].currentData()
        pid = self.photo_boxes[i].currentData()
        return next((p for p in self.photos.get(sid, []) if p.info.id == pid), None)

    def _show_pane(self, i: int) -> None:
        photo = self.current_photo(i)
        self.panes[i].set_photo(pixmap_of(photo.data) if photo is not None else None)
        self.fit()
        if all(self.current_photo(k) is not None for k in (0, 1)):
            self.loaded.emit()

    # -- zoom, pan and grid: always both panes

    def fit(self) -> None:
        """Both photos whole in their panes, at the same scale."""
        scales = []
        for pane in self.panes:
            r = pane.sceneRect()
            vp = pane.viewport().size()
            if r.width() > 0 and r.height() > 0:
                scales.append(min(vp.width() / r.width(), vp.height() / r.height()))
        base = min(scales) if scales else 1.0
        self.zoom = 1.0
        self._base = max(base * 0.98, 1e-4)
        self._apply()

    def zoom_by(self, factor: float) -> None:
        self.zoom = min(MAX_ZOOM, max(1.0, self.zoom * factor))
        self._apply()

    def _apply(self) -> None:
        scale = getattr(self, "_base", 1.0) * self.zoom
        self._syncing = True
        try:
            for pane in self.panes:
                pane.resetTransform()
                pane.scale(scale, scale)
        finally:
            self._syncing = False
        self._pan_from(0)

    def _pan_from(self, i: int) -> None:
        """Pane ``i`` moved: the other shows the same part (as a fraction of the photo)."""
        if self._syncing:
            return
        src, dst = self.panes[i], self.panes[1 - i]
        self._syncing = True
        try:
            for a, b in (
                (src.horizontalScrollBar(), dst.horizontalScrollBar()),
                (src.verticalScrollBar(), dst.verticalScrollBar()),
            ):
                span = a.maximum() - a.minimum()
                frac = (a.value() - a.minimum()) / span if span > 0 else 0.5
                b.setValue(round(b.minimum() + frac * (b.maximum() - b.minimum())))
        finally:
            self._syncing = False

    def set_grid(self, on: bool) -> None:
        for pane in self.panes:
            pane.grid = on
            pane.viewport().update()

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        if hasattr(self, "_base"):
            zoom = self.zoom
            self.fit()
            self.zoom_by(zoom)
