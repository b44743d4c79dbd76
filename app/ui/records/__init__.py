"""Client records UI: client list, editor, screening and consent, history, session detail."""
