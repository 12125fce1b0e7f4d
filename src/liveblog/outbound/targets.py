"""CDN purge targets, as the operator writes them in LIVEBLOG_PURGE_TARGETS.

A JSON list of objects, one per cache to purge:

    [{"name": "edge", "method": "PURGE", "url": "https://cache.internal{path}",
      "headers": {"Fastly-Key": "${FASTLY_KEY}"}, "prefix": false}]

`url` is a template: `{path}` is the path (with its query) to purge, `{url}` the page's public
address on the site's base URL. A header value may name environment variables as `${NAME}`,
read when the request is sent, so no secret is written in the setting or the database. With
`"prefix": true` the target also receives the query families (`/blogs/x?*`) for a prefix or
wildcard purge; otherwise those are skipped.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field

_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_METHOD = re.compile(r"^[A-Z]{3,10}$")


class TargetError(ValueError):
    """The setting cannot be used; the message says which part and why."""


@dataclass(frozen=True, slots=True)
class PurgeTarget:
    name: str
    url: str
    method: str = "PURGE"
    headers: dict[str, str] = field(default_factory=dict)
    prefix: bool = False

    def request_url(self, path: str, site_base: str) -> str:
        return self.url.replace("{path}", path).replace("{url}", site_base + path)

    def request_headers(self) -> dict[str, str]:
        """The headers with each `${NAME}` read from the environment now."""
        return {
            k: _VARIABLE.sub(lambda m: os.environ.get(m[1], ""), v) for k, v in self.headers.items()
        }


def parse_targets(text: str) -> list[PurgeTarget]:
    """The targets the setting names, or TargetError saying what is wrong with it."""
    if not text.strip():
        return []
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise TargetError(f"is not JSON: {exc.msg} at character {exc.pos}") from None
    if not isinstance(raw, list):
        raise TargetError("must be a JSON list of targets")
    targets: list[PurgeTarget] = []
    for n, item in enumerate(raw, 1):
        targets.append(_target(n, item))
    names = [t.name for t in targets]
    if len(set(names)) != len(names):
        raise TargetError("two targets have the same name")
    return targets


def _target(n: int, item: object) -> PurgeTarget:
    if not isinstance(item, dict):
        raise TargetError(f"target {n} must be an object")
    unknown = set(item) - {"name", "url", "method", "headers", "prefix"}
    if unknown:
        raise TargetError(f"target {n} has unknown keys: {', '.join(sorted(unknown))}")
    name, url = item.get("name"), item.get("url")
    if not isinstance(name, str) or not _NAME.match(name):
        raise TargetError(f"target {n} needs a name of lower-case letters, digits, - or _")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise TargetError(f"target {name!r} needs an http(s) url")
    if "{path}" not in url and "{url}" not in url:
        raise TargetError(f"target {name!r}: its url must contain {{path}} or {{url}}")
    method = item.get("method", "PURGE")
    if not isinstance(method, str) or not _METHOD.match(method):
        raise TargetError(f"target {name!r}: method must be an HTTP method such as PURGE")
    headers = item.get("headers", {})
    if not isinstance(headers, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
    ):
        raise TargetError(f"target {name!r}: headers must map names to strings")
    for value in headers.values():
        for variable in _VARIABLE.findall(value):
            if variable not in os.environ:
                raise TargetError(f"target {name!r}: the variable {variable} is not set")
    prefix = item.get("prefix", False)
    if not isinstance(prefix, bool):
        raise TargetError(f"target {name!r}: prefix must be true or false")
    return PurgeTarget(name=name, url=url, method=method, headers=dict(headers), prefix=prefix)
