"""Composition roots: settings in, adapters and use cases out. One module per image, plus what both share.

Entry points call these and only translate their input and output; nothing else builds adapters (the
operators' commands too: `make claims` reads the sent log each root builds for it).
"""
