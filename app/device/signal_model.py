"""Electrode–skin load, waveform generation and ADC model of the simulated device. No Qt."""
