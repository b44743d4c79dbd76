"""The clinic's limit settings (edited on the technician bench), kept in the store.

The values are the engine's :class:`~app.engine.limits.ClinicSettings`. They live in the
records store (``app.store.clinic``: one row shared by every room, each change a service
record); ``app.engine.clinic_settings`` converts them to and from the store's JSON object
(:func:`settings_to_dict`, :func:`settings_from_dict`) and checks them — the output
authority uses the same conversion for every reading of the store — and this module
re-exports those names. A value that is missing or damaged falls back to its default and
is reported.

:func:`load_clinic_settings` still reads the ``clinic/`` group of an old ``settings.ini``:
only once, to import it into a store that never had clinic settings.
"""

from __future__ import annotations

import json
from typing import Any

from PySide6.QtCore import QSettings

from app.engine.clinic_settings import (
    FIELDS,
    OTHER_FIELDS,
    SCHEMA_VERSION,
    ZONE_MIN_UA,
    ZONES_KEY,
    check_clinic_settings,
    read_settings,
    settings_from_dict,
    settings_to_dict,
)
from app.engine.limits import ClinicSettings

__all__ = [
    "FIELDS",
    "GROUP",
    "INI_PIN_KEY",
    "OTHER_FIELDS",
    "SCHEMA_VERSION",
    "ZONES_KEY",
    "ZONE_MIN_UA",
    "ClinicSettings",
    "check_clinic_settings",
    "ini_import_request",
    "ini_pin_hash",
    "load_clinic_settings",
    "save_clinic_settings",
    "settings_from_dict",
    "settings_to_dict",
    "store_clinic_settings",
]

GROUP = "clinic"
INI_PIN_KEY = "technician_pin/hash"  # where an old console kept the PIN hash


def load_clinic_settings(settings: QSettings) -> tuple[ClinicSettings, list[str]]:
    """The settings of an old ``settings.ini`` and what was wrong in the file (defaults
    used for those): read once, to import them into the store."""
    settings.beginGroup(GROUP)
    try:
        return read_settings(settings.value)
    finally:
        settings.endGroup()


def ini_pin_hash(settings: QSettings) -> str | None:
    """The PIN hash an old console kept in ``settings.ini`` (imported once)."""
    value = settings.value(INI_PIN_KEY)
    return str(value) if value else None


def save_clinic_settings(settings: QSettings, cs: ClinicSettings) -> None:
    """Write ``cs`` to an INI's ``clinic/`` group (tests of the one-time import; the
    console itself keeps the settings in the store). ValueError naming every problem."""
    problems = check_clinic_settings(cs)
    if problems:
        raise ValueError("; ".join(problems))
    settings.beginGroup(GROUP)
    try:
        settings.setValue("version", SCHEMA_VERSION)
        for name in FIELDS:
            settings.setValue(name, float(getattr(cs, name)))
        settings.setValue(
            ZONES_KEY, json.dumps({z: float(v) for z, v in sorted(cs.zone_max_ua.items())})
        )
    finally:
        settings.endGroup()
    settings.sync()


def ini_import_request(ini: QSettings, operator_id: int | None = None) -> Any:
    """The one-time import of an old ``settings.ini``'s clinic settings and PIN hash into a
    store that never had them (an ``app.store.clinic.ImportClinic`` request; a no-op on a
    store that has them). Damaged values in the file are imported as their defaults."""
    from app.store.clinic import ImportClinic

    values: dict[str, Any] = {}
    if GROUP in ini.childGroups():
        cs, _problems = load_clinic_settings(ini)
        values = settings_to_dict(cs)
    pin_hash = ini_pin_hash(ini)
    source = f"settings.ini ({ini.fileName()})" if values or pin_hash else "defaults"
    return ImportClinic(values, pin_hash, source, operator_id)


def store_clinic_settings(
    engine: Any, ini: QSettings | None = None, operator_id: int | None = None
) -> tuple[ClinicSettings, list[str]]:
    """The clinic settings in the store (read now; for commands, not the GUI thread). A
    store without them first imports ``ini``'s once."""
    from app.store.clinic import apply_now, read_clinic

    record = read_clinic(engine)
    if not record.exists and ini is not None:
        apply_now(engine, ini_import_request(ini, operator_id))
        record = read_clinic(engine)
    if not record.exists:
        return ClinicSettings(), []
    return settings_from_dict(record.settings)
