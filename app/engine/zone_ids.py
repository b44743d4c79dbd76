"""Face-map zone ids as the engine needs them: which exist, which lie in the eye area.

Zone ids are ``<muscle>_<side>`` with side ``l`` or ``r``; the midline muscles
(procerus, orbicularis oris) have the id ``<muscle>`` alone. The face map
(app.engine.zones) owns the drawing and the records; this module only names the ids
so programs and limits can be validated without it.
"""

from __future__ import annotations

BILATERAL_MUSCLES: tuple[str, ...] = (
    "frontalis",
    "corrugator_supercilii",
    "orbicularis_oculi",
    "nasalis",
    "levator_labii_superioris_alaeque_nasi",
    "levator_labii_superioris",
    "zygomaticus_minor",
    "zygomaticus_major",
    "levator_anguli_oris",
    "risorius",
    "buccinator",
    "depressor_anguli_oris",
    "depressor_labii_inferioris",
    "mentalis",
    "masseter",
    "platysma",
)
MIDLINE_MUSCLES: tuple[str, ...] = ("procerus", "orbicularis_oris")
MUSCLES: tuple[str, ...] = BILATERAL_MUSCLES + MIDLINE_MUSCLES

# Muscles whose zones lie around the eye: the eye-area zone limit applies to them.
EYE_AREA_MUSCLES: frozenset[str] = frozenset({"orbicularis_oculi", "corrugator_supercilii"})

SIDES: dict[str, tuple[str, ...]] = {
    "left": ("l",),
    "right": ("r",),
    "both": ("l", "r"),
    "midline": (),
}

ZONE_IDS: frozenset[str] = frozenset(
    [f"{m}_{s}" for m in BILATERAL_MUSCLES for s in ("l", "r")] + list(MIDLINE_MUSCLES)
)


def muscle_of(zone_id: str) -> str:
    if zone_id in MIDLINE_MUSCLES:
        return zone_id
    return zone_id.rsplit("_", 1)[0]


def is_known_zone(zone_id: str) -> bool:
    return zone_id in ZONE_IDS


def is_eye_area(zone_id: str) -> bool:
    return muscle_of(zone_id) in EYE_AREA_MUSCLES


def zone_ids_for(muscle: str, side: str) -> list[str]:
    """The zone ids a step on ``muscle`` at ``side`` covers; ValueError if impossible."""
    if muscle not in MUSCLES:
        raise ValueError(f"unknown muscle {muscle!r}")
    if side not in SIDES:
        raise ValueError(f"unknown side {side!r} (use left, right, both or midline)")
    if muscle in MIDLINE_MUSCLES:
        if side not in ("midline", "both"):
            raise ValueError(f"{muscle} is a midline muscle: side must be midline")
        return [muscle]
    if side == "midline":
        raise ValueError(f"{muscle} has a left and a right side: side must be left, right or both")
    return [f"{muscle}_{s}" for s in SIDES[side]]
