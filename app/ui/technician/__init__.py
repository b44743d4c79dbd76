"""The technician's bench (widgets). Logic lives in :mod:`app.service`."""

from app.ui.technician.bench import TechnicianBench
from app.ui.technician.pin_dialog import PinDialog

__all__ = ["PinDialog", "TechnicianBench"]
