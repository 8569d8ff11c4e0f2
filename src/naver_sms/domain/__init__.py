"""Plain data and rules. Imports nothing from adapters, entry points or I/O libraries."""
