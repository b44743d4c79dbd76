"""The treatment engine: parameters, layered limits, the session state machine, programs
and guided runs (pure, no Qt), and the Qt adapter that wires them to the device link
(:mod:`app.engine.controller`). docs/safety.md and docs/programs.md describe them."""
