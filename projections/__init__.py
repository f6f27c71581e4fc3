"""The read side's builders and the projector worker: the only code that writes Redis."""
