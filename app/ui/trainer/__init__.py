"""The trainer's waveform studio (widgets). Logic lives in app.teaching."""

from app.ui.trainer.studio import WaveformStudio

__all__ = ["WaveformStudio"]
