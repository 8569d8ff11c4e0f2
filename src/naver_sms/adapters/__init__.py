"""Adapters at the edge: each wraps one outside system (Selenium, HTTP, DynamoDB, NATS, SENS, Slack) and
takes plain values from a composition root. (The worker's entry points handle NATS messages too, and
settings/secrets.py reads AWS's secret stores.)"""
