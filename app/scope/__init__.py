"""Oscilloscope: pure numpy core (app.scope.core) and the pyqtgraph widget."""
