"""Prints [project] version from pyproject.toml: the one place the version is written."""

import pathlib
import tomllib

pyproject = pathlib.Path(__file__).resolve().parents[2] / "pyproject.toml"
print(tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["version"])
