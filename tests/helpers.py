"""Small test helpers: skip marks for optional system tools, free loopback ports."""

import shutil
import socket

import pytest


def needs(tool: str, package: str) -> pytest.MarkDecorator:
    """Skip unless a system tool is installed, naming the Debian package that provides it."""
    return pytest.mark.skipif(
        shutil.which(tool) is None, reason=f"{tool} not installed (apt-get install {package})"
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
