"""Where model files live on a device, and resolution of a request to one file.

Search order: directories given by the caller, `$EDGE_BODYPIX_MODELS` (a
`os.pathsep`-separated list), the user cache, `/var/lib/edge-bodypix/models`.
Inside each directory a model is found at its catalogue path
(`coral/<file>.tflite`) or directly by file name.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Union

from edge_bodypix.errors import ModelFormatError, ModelNotFoundError

from .catalogue import DEFAULT_ARCHITECTURE, DEFAULT_MULTIPLIER, DEFAULT_OUTPUT_STRIDE, Catalogue, ModelSpec, load_catalogue

ENV_VAR = "EDGE_BODYPIX_MODELS"
SYSTEM_DIR = Path("/var/lib/edge-bodypix/models")
METADATA_SUFFIX = ".meta.json"

PathLike = Union[str, "os.PathLike[str]"]


def user_cache_dir() -> Path:
    """Per-user model cache: `$XDG_CACHE_HOME/edge-bodypix/models` or `~/.cache/edge-bodypix/models`."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "edge-bodypix" / "models"


def search_dirs(extra: Optional[Sequence[PathLike]] = None) -> List[Path]:
    """Model directories in search order (duplicates removed)."""
    dirs: List[Path] = [Path(d) for d in (extra or [])]
    env = os.environ.get(ENV_VAR, "")
    dirs += [Path(d) for d in env.split(os.pathsep) if d]
    dirs += [user_cache_dir(), SYSTEM_DIR]
    unique: List[Path] = []
    for directory in dirs:
        if directory not in unique:
            unique.append(directory)
    return unique


def default_fetch_dir() -> Path:
    """Where `fetch` writes: the first directory of `$EDGE_BODYPIX_MODELS`, else the user cache."""
    env = [d for d in os.environ.get(ENV_VAR, "").split(os.pathsep) if d]
    return Path(env[0]) if env else user_cache_dir()


def locate(spec: ModelSpec, dirs: Optional[Sequence[PathLike]] = None) -> Optional[Path]:
    """The installed file of a catalogue entry, or None.

    A model is found at its catalogue path or, for single-file formats, by its file name
    directly in a directory; a tfjs checkpoint only at its path (every one is a model-strideN.json).
    """
    for directory in search_dirs(dirs):
        candidates = [directory / spec.file] + ([directory / spec.filename] if spec.format != "tfjs" else [])
        for candidate in candidates:
            if candidate.is_file():
                return candidate
    return None


def read_metadata(model_path: PathLike) -> Dict[str, Any]:
    """The sidecar `<stem>.meta.json` of a model file (written by the converters), or {}."""
    path = Path(model_path)
    sidecar = path.with_name(path.stem + METADATA_SUFFIX)
    if not sidecar.is_file():
        return {}
    try:
        with open(sidecar, "r", encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError) as exc:
        raise ModelFormatError(f"{sidecar}: unreadable model metadata ({exc})") from exc
    if not isinstance(data, dict):
        raise ModelFormatError(f"{sidecar}: model metadata must be a JSON object")
    return data


@dataclass(frozen=True)
class ResolvedModel:
    """A model file and what is known about it (catalogue entry and/or sidecar metadata)."""

    path: Path
    spec: Optional[ModelSpec]
    metadata: Dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.spec.name if self.spec else self.path.stem

    def describe(self, key: str, fallback: Any = None) -> Any:
        """A property from the metadata, else the catalogue entry, else `fallback`."""
        if key in self.metadata:
            return self.metadata[key]
        if self.spec is not None and hasattr(self.spec, key):
            return getattr(self.spec, key)
        return fallback


def _not_found(spec: ModelSpec, dirs: Sequence[Path]) -> ModelNotFoundError:
    looked = ", ".join(str(d) for d in dirs)
    return ModelNotFoundError(
        f"model {spec.name} ({spec.file}) is not installed; looked in {looked}. "
        f"Get it with: {spec.fetch_command}"
        + (f" (or set {ENV_VAR} to a directory holding it)" if spec.url else "")
    )


def _has_directory(text: str) -> bool:
    return os.sep in text or "/" in text


def resolve(
    model: Optional[PathLike] = None,
    architecture: str = DEFAULT_ARCHITECTURE,
    multiplier: float = DEFAULT_MULTIPLIER,
    output_stride: int = DEFAULT_OUTPUT_STRIDE,
    quant_bytes: Optional[int] = None,
    dirs: Optional[Sequence[PathLike]] = None,
    catalogue: Optional[Catalogue] = None,
    format: str = "tflite",
    runtime: str = "cpu",
) -> ResolvedModel:
    """Resolve a path, a catalogue name, or a configuration (of a format and runtime) to an installed file."""
    catalogue = catalogue or load_catalogue()
    directories = search_dirs(dirs)
    if model is not None:
        text = os.fspath(model)
        path = Path(text).expanduser()
        if path.is_file():
            return ResolvedModel(path, catalogue.by_filename(path.name), read_metadata(path))
        if path.is_dir():
            raise ModelNotFoundError(f"{text} is a directory, not a model file")
        if not _has_directory(text) and (text in catalogue or catalogue.by_filename(text) is not None):
            spec = catalogue.get(text)
            found = locate(spec, dirs)
            if found is None:
                raise _not_found(spec, directories)
            return ResolvedModel(found, spec, read_metadata(found))
        if _has_directory(text) or text.endswith((".tflite", ".onnx", ".json")):
            raise ModelNotFoundError(f"model file {text} does not exist")
        catalogue.get(text)  # raises with suggestions
    candidates = catalogue.candidates(architecture, multiplier, output_stride, quant_bytes, runtime, format)
    for spec in candidates:
        found = locate(spec, dirs)
        if found is not None:
            return ResolvedModel(found, spec, read_metadata(found))
    if not candidates:
        raise ModelNotFoundError(
            f"the catalogue has no {format} model for {architecture} multiplier {multiplier} "
            f"stride {output_stride} quant_bytes {quant_bytes}"
        )
    raise _not_found(candidates[0], directories)
