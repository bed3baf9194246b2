"""Skip marks for tests that need an optional system tool."""

import shutil

import pytest


def needs(tool: str, package: str) -> pytest.MarkDecorator:
    """Skip unless a system tool is installed, naming the Debian package that provides it."""
    return pytest.mark.skipif(
        shutil.which(tool) is None, reason=f"{tool} not installed (apt-get install {package})"
    )
