"""Client record validation: pure, shared by the editor (live feedback) and the writer."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

MAX_CLIENT_LIMIT_UA = 1000.0  # the device's absolute output ceiling
NAME_MAX = 200
CONTACT_MAX = 300


@dataclass(frozen=True, slots=True)
class ClientData:
    """What the client editor saves. ``id`` None creates a new client. ``version``: the
    version the edit started from; the save is refused if the record changed since
    (None: no check, for scripts)."""

    name: str
    date_of_birth: dt.date | None = None
    contact: str = ""
    skin_notes: str = ""
    current_limit_ua: float | None = None
    id: int | None = None
    version: int | None = None


def validate_client(data: ClientData, today: dt.date) -> list[str]:
    """Problems with ``data``, each naming the field and what is wrong (empty if valid)."""
    problems: list[str] = []
    name = data.name.strip()
    if not name:
        problems.append("Name: enter the client's name.")
    elif len(name) > NAME_MAX:
        problems.append(f"Name: at most {NAME_MAX} characters.")
    if data.date_of_birth is not None:
        if data.date_of_birth > today:
            problems.append("Date of birth: lies in the future.")
        elif today.year - data.date_of_birth.year > 120:
            problems.append("Date of birth: more than 120 years ago — check the year.")
    if len(data.contact.strip()) > CONTACT_MAX:
        problems.append(f"Contact: at most {CONTACT_MAX} characters.")
    limit = data.current_limit_ua
    if limit is not None and not (0 < limit <= MAX_CLIENT_LIMIT_UA):
        problems.append(
            f"Current limit: must be above 0 and at most "
            f"{MAX_CLIENT_LIMIT_UA:.0f} µA (or left empty for the program's)."
        )
    return problems
