"""The project's errors, in one light module so the CLI can catch them without importing
torch, Chroma or the OpenAI SDK. Each message says what failed and what to do."""


class MmragError(Exception):
    """Base of every error the CLI reports as a clear message (exit code 2)."""


class ConfigError(MmragError, ValueError):
    """The configuration file is missing, unreadable or invalid."""


class StoreError(MmragError, RuntimeError):
    """The store cannot be reached or does not match the configuration."""


class ModelUnavailable(MmragError, RuntimeError):
    """A configured model cannot be found locally and may not be downloaded."""


class ServerError(MmragError, RuntimeError):
    """A model server could not be prepared, started or reached."""


class GeneratorError(MmragError, RuntimeError):
    """The generator server answered with an error."""


class GeneratorUnavailable(GeneratorError):
    """The generator server cannot be reached or did not answer in time."""
