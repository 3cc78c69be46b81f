"""Model catalogue, on-device store and fetching (installed as `edge_bodypix.models`)."""

from .catalogue import (
    ARCHITECTURES,
    Catalogue,
    ModelSpec,
    check_configuration,
    converted_name,
    load_catalogue,
)
from .fetch import Verification, download, fetch, sha256_file, verify
from .integrity import Integrity, check_integrity
from .store import (
    ENV_VAR,
    SYSTEM_DIR,
    ResolvedModel,
    default_fetch_dir,
    locate,
    read_metadata,
    resolve,
    search_dirs,
    user_cache_dir,
)

__all__ = [
    "ARCHITECTURES", "Catalogue", "ModelSpec", "check_configuration", "converted_name", "load_catalogue",
    "Integrity", "check_integrity", "Verification", "download", "fetch", "sha256_file", "verify",
    "ENV_VAR", "SYSTEM_DIR", "ResolvedModel", "default_fetch_dir", "locate", "read_metadata",
    "resolve", "search_dirs", "user_cache_dir",
]
