"""Microcurrent Console: operator console for professional cosmetic microcurrent devices."""

__version__ = "0.1.0"
APP_NAME = "Microcurrent Console"
ORG_NAME = "Microcurrent"
