"""Adapters at the edge: Selenium, HTTP, AWS and NATS live here and nowhere else."""
