"""Every colour of the console, in one place.

A colour literal (``#rrggbb``, ``rgb(…)``, ``QColor(r, g, b)``, a colour name such as
``white`` used as a colour) anywhere else under ``app/`` fails
``tests/test_architecture.py``: name the colour here and use the name.

Pure (no Qt), so every layer that draws can use it: the widgets in ``app/ui``, the scope
widget (``app/scope``, below ``app/ui`` in the layers) and the service reports. Colours
are CSS/Qt colour strings; a translucent colour is an ``(r, g, b, alpha)`` tuple (pass it
to pyqtgraph as is, or to ``QColor(*TUPLE)``). :func:`css` fills ``@NAME@`` in a style
sheet with the colour of that name.
"""

from __future__ import annotations

import re

# -- the console's light theme (the application style sheet, app/ui/style.py) ----------
WHITE = "white"
TRANSPARENT = "transparent"
WINDOW = "#f6f7f9"  # main window and dialog background
TITLE_BAR = "#e9ecf1"  # dock titles, the status bar
BORDER_LIGHT = "#d6dae1"  # group boxes, dividers, cards
BORDER = "#c9ced6"  # buttons, inputs
TEXT = "#1f2937"  # button text
TEXT_SECONDARY = "#374151"  # toolbar buttons, explanations
HOVER = "#eef2f7"
PRESSED = "#dde3ec"
CHECKED = "#dbe7fd"
ACCENT = "#1f6feb"  # primary buttons, selection, the chosen workspace
ACCENT_HOVER = "#1a5fd0"
ACCENT_DISABLED = "#9db8e8"
DISABLED_TEXT = "#9aa1ab"
DISABLED_BACKGROUND = "#f3f4f6"
DISABLED_BORDER = "#e1e4e8"
FOCUS = "#0b3d91"  # the keyboard focus ring: dark blue, visible on white and light buttons
FOCUS_ON_ACCENT = "#111827"  # ... on a blue (primary) button: near black, 3.8:1 against it
ESTOP = "#c62828"  # the STOP button
ESTOP_BORDER = "#7f0000"
ESTOP_HOVER = "#e53935"
ESTOP_PRESSED = "#8e0000"

# -- meaning -----------------------------------------------------------------------------
OK = "#2e9e5b"
WARN = "#d98c00"
ALARM = "#d32f2f"
MUTED = "#6b7280"  # secondary text
GREY = "#9aa0a6"  # disabled text on cards, the face map's neutral outline
MESSAGE_OK = "#1b5e20"  # the output panel's confirmation text
MESSAGE_ERROR = "#b71c1c"  # ... its error text
VALUE_TEXT = "#1f2328"  # a limit that does not bind
NOTE_BACKGROUND = "#e8f0fe"  # an information note (program editor)
NOTE_TEXT = "#1a3d7c"
PROBLEM_BACKGROUND = "#fdecea"  # a problem note (program editor)
PROBLEM_CELL = "#fde2e1"  # a table cell with a problem

# -- alarm banners (main window): background, text; the flash's lighter background -----
ALARM_HIGH = "#b71c1c"
ALARM_HIGH_TEXT = "#ffffff"
ALARM_HIGH_FLASH = "#e53935"
ALARM_MEDIUM = "#ffc107"
ALARM_MEDIUM_TEXT = "#1f1300"
ALARM_MEDIUM_FLASH = "#ffe082"
ALARM_LOW = "#e0f7fa"
ALARM_LOW_TEXT = "#00474f"

# -- guided run (the practitioner's step card) -------------------------------------------
CARD_CUE = "#fff4d6"  # the card while it asks for attention
CARD_BUTTON_BORDER = "#c5cad3"
STOP_RUN = "#c62828"  # the card's stop button

# -- traces (desk, records, technician plots) ---------------------------------------------
CURRENT = "#ffb000"  # delivered current trace (amber)
VOLTAGE = "#3fb6ff"  # electrode voltage trace (sky blue)
REFERENCE = "#9aa0a6"  # commanded waveform (grey)
PLOT_LIGHT = "w"  # white plot background (pyqtgraph's name)
PLOT_LEGEND_TEXT = "#333"

# -- the oscilloscope (app/scope/widget.py): dark ----------------------------------------
SCOPE_BACKGROUND = "#0d1117"
SCOPE_TEXT = "#e6edf3"
SCOPE_TITLE = "#c9d1d9"  # plot titles on the dark background (recorded session)
SCOPE_CURRENT = "#ffd23f"
SCOPE_VOLTAGE = "#3fc8ff"
SCOPE_REFERENCE = (200, 130, 255, 170)
SCOPE_MASK = (255, 80, 80, 110)
SCOPE_CURSOR = "#9eff9e"
SCOPE_TRIGGER = "#ff9f43"
SCOPE_GRID = "#2b3440"
SCOPE_PERSISTENCE = (255, 210, 63)  # persistence: the current's colour, where it often was
SCOPE_PERSISTENCE_RARE = (150, 90, 20)  # ... dim amber where it rarely was
SCOPE_PERSISTENCE_ALWAYS = (255, 250, 220)  # ... near white where it always was
SCOPE_PERSISTENCE_VOLTAGE = (63, 200, 255)  # the voltage's persistence: its cyan, often
SCOPE_PERSISTENCE_VOLTAGE_RARE = (20, 100, 130)  # ... dim teal where it rarely was
SCOPE_PERSISTENCE_VOLTAGE_ALWAYS = (225, 250, 255)  # ... near white where it always was
SCOPE_FROZEN = "#5aa9ff"
SCOPE_MUTED_TEXT = "#8b949e"  # secondary lines on the dark scope (what was measured)
SCOPE_RUNNING = "#9eff9e"  # ROLL, TRIG'D
SCOPE_STOPPED = "#ff9f43"
SCOPE_WAITING = "#ffd23f"  # AUTO (no trigger), WAITING
SCOPE_MASK_OFF = "gray"
SCOPE_MASK_FAIL = "#c0392b"
SCOPE_MASK_FAIL_TEXT = "white"
SCOPE_BENCH_VOLTAGE = "c"  # the baseline PlotWidget of bench scope (pyqtgraph's cyan)

# -- the trainer's teaching plot (app/ui/trainer/plot.py): dark, high contrast -----------
TRAINER_BACKGROUND = "#0b0f14"
TRAINER_FOREGROUND = "#e6edf3"
TRAINER_DELIVERED = "#ffc400"  # amber: what the device delivers
TRAINER_IDEAL = "#ffffff"  # white dashed: what was commanded
TRAINER_VOLTAGE = "#4fc3ff"
TRAINER_OVERLAYS = ("#00e5ff", "#ff4fd8", "#7dff5a")  # cyan, magenta, green
TRAINER_POS_FILL = (255, 196, 0, 70)
TRAINER_NEG_FILL = (79, 195, 255, 80)
TRAINER_ANNOTATION = "#ffffff"
TRAINER_GRID = "#1e2631"
TRAINER_TEXT_BACKGROUND = (0, 0, 0, 190)  # behind annotation text: legible over a waveform
TRAINER_LABEL_BACKGROUND = (0, 0, 0, 170)  # behind the flip and ramp labels
TRAINER_FLIP = "#ff6e6e"
TRAINER_RAMP = "#7dff5a"
TRAINER_EVENT = "#c9a7ff"
TRAINER_ZERO_LINE = "#5c6773"
TRAINER_AXIS = "#8b949e"

# -- the face map (app/ui/face_map.py): soft skin, muscle-chart red, calm states ---------
FACE_BACKGROUND = "#f7f4f1"
FACE_MUSCLE = "#c8574d"
FACE_MUSCLE_LINE = "#a8453d"
FACE_SELECT = "#1f6feb"
FACE_ARROW = "#1559c9"
FACE_TEXT = "#1f2933"
FACE_MUTED_TEXT = "#5b6470"
FACE_PENDING = "#6d8ab5"
FACE_ACTIVE = "#f0a020"
FACE_DONE = "#2e9e5b"
FACE_PARTIAL = "#b7791f"
FACE_SKIPPED = "#8a8f98"
FACE_HEAT_LOW = "#fff1b8"  # the heat map: no charge ... most charge
FACE_HEAT_MIDDLE = "#f59e0b"
FACE_HEAT_HIGH = "#b91c1c"
FACE_HEAT_LINE = "#7a2e12"
FACE_UNAVAILABLE = "#5f6670"
FACE_ZONE_EXCLUDED = "#9b1c1c"  # a zone the client's screening excludes (cross-hatched)
FACE_ZONE_OVERRIDDEN = "#b45309"  # an exclusion lifted by an acknowledged override
FACE_ZONE_CEILING = "#1f2933"  # a zone under a client ceiling (dashed outline)
FACE_FRAME = "#d9dde3"
FACE_HIGHLIGHT = (255, 255, 255, 70)
FACE_HALO = (255, 255, 255, 230)
FACE_SHADOW = (0, 0, 0, 40)
FACE_TOOLTIP = (31, 41, 51, 225)
FACE_PAPER = (255, 255, 255)

# -- printed records (app/ui/records/report.py) ------------------------------------------
REPORT_PAPER = "white"
REPORT_TEXT = "#111"
REPORT_KEY = "#444"
REPORT_FOOTER = "#555"
REPORT_HEADER_CELL = "#eaeef2"
REPORT_TABLE_BORDER = "#c0c6cc"
REPORT_GRID = "#d0d7de"
REPORT_AXIS = "#24292f"
REPORT_TRACE = "#1f6feb"
REPORT_BAND = (31, 111, 235, 110)

# -- the photo compare view (app/ui/records/photos.py) -----------------------------------
PHOTO_BACKGROUND = "#111418"  # behind the photos
PHOTO_EMPTY_TEXT = "#c9d1d9"  # "no photo" on that background
PHOTO_GRID_THIN = (255, 255, 255, 110)  # the framing grid: thirds
PHOTO_GRID_THICK = (255, 214, 0, 200)  # the framing grid: centre lines

# -- the signature pad (app/ui/records/signature_pad.py) --------------------------------
SIGNATURE_INK = "#0b1f4d"  # a dark blue ink, drawn and printed

# -- service reports and the frame log (app/service) -------------------------------------
SERVICE_PASS = "#1b7f3b"
SERVICE_FAIL = "#b3261e"
SERVICE_NOT_RUN = "#8a5a00"

_NAME = re.compile(r"@([A-Z][A-Z0-9_]*)@")


def css(template: str) -> str:
    """``template`` with every ``@NAME@`` replaced by this module's colour ``NAME``
    (KeyError for a name that is not here)."""
    colours = globals()
    return _NAME.sub(lambda m: str(colours[m.group(1)]), template)
