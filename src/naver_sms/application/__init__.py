"""Use cases: the scheduled run and per-event processing, written against small ports."""
