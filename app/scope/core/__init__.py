"""Pure numpy core of the oscilloscope: buffer, trigger, decimation, measurements. No Qt."""
