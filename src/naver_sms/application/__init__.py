"""Use cases: the scheduled run, the one delivery core and the worker's settlement, against small ports."""
