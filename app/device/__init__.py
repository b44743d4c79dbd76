"""Device layer: wire protocol, firmware simulator and threaded driver."""
