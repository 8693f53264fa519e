"""Rasters read where they live: GDAL's network file systems as inputs.

A raster given as a URL (`https://...`, `s3://bucket/key`, `gs://...`) or a GDAL network path
(`/vsicurl/https://...`, `/vsis3/bucket/key`, ...) is read by GDAL on every machine that runs
the job (the local runner, each Ray worker), with GDAL's own credentials and options
(AWS_*, GS_*, GDAL_HTTP_*). It is never mounted or copied. An http(s) URL is kept in GDAL's
`/vsicurl?url=<escaped URL>` form: one path segment that `pathlib` keeps whole, where
`/vsicurl/https://host` would lose a slash.
"""

from __future__ import annotations

import os
import re
import urllib.parse
from pathlib import Path

from dlpk.spec.choices import NETWORK_PREFIXES

_SCHEMES = {"s3": "/vsis3/", "gs": "/vsigs/", "az": "/vsiaz/"}
_HTTP = re.compile(r"^https?://", re.IGNORECASE)
_CURL_URL = "/vsicurl?url="


def raster_location(given: str | os.PathLike[str]) -> Path:
    """A raster as the user named it, as dlpk keeps it: a local path, or a GDAL network path
    (URLs turned into one)."""
    text = os.fspath(given)
    if _HTTP.match(text):
        return Path(_CURL_URL + urllib.parse.quote(text, safe=""))
    if text.startswith("/vsicurl/") and _HTTP.match(text[len("/vsicurl/") :]):
        return Path(_CURL_URL + urllib.parse.quote(text[len("/vsicurl/") :], safe=""))
    scheme, _, rest = text.partition("://")
    if scheme.lower() in _SCHEMES and rest:
        return Path(_SCHEMES[scheme.lower()] + rest)
    return Path(text)


def is_remote(path: str | os.PathLike[str]) -> bool:
    """Whether GDAL reads `path` over the network (it is not a file on this machine)."""
    return os.fspath(path).startswith(NETWORK_PREFIXES)


def shown(path: str | os.PathLike[str]) -> str:
    """A remote path as the user wrote it (the URL of a /vsicurl?url= path), for messages."""
    text = os.fspath(path)
    if text.startswith(_CURL_URL):
        return urllib.parse.unquote(text[len(_CURL_URL) :])
    return text


def check_readable(path: Path, what: str) -> None:
    """Open a remote raster once before any work: one line naming it and GDAL's reason."""
    import rasterio
    from rasterio.errors import RasterioIOError

    from dlpk.errors import BadInputError

    try:
        with rasterio.open(path):
            pass
    except RasterioIOError as exc:
        raise BadInputError(
            f"cannot read {what} {shown(path)}: {str(exc).splitlines()[0]}",
            hint="check the URL, and GDAL's network settings (AWS_*, GS_*, GDAL_HTTP_*)",
        ) from None
