"""Write the package's .dist-info (name and version from pyproject.toml) into a directory on sys.path,
so importlib.metadata answers there as for an installed package: the Lambda image copies src/ as its
task root instead of installing a wheel. Usage: package-metadata.py PYPROJECT TARGET_DIR"""

import pathlib
import sys
import tomllib

pyproject, target = map(pathlib.Path, sys.argv[1:3])
project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
name, version = project["name"], project["version"]
info = target / f"{name.replace('-', '_')}-{version}.dist-info"
info.mkdir(parents=True)
(info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n", encoding="utf-8")
