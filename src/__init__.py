"""Source root. Its contents are the Lambda task root; `python -m src` runs the installed worker."""
