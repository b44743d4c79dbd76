"""Teaching logic for the trainer's waveform studio: ideal waveforms, annotations, replay.

Pure numpy, no Qt: the studio widget (app.ui.trainer) only draws what these modules
compute. Measurements come from app.scope.core.measure, so the numbers a class sees
on the studio are the numbers the oscilloscope shows.
"""
