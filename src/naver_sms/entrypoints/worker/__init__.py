"""The NATS worker: `python -m src`."""
