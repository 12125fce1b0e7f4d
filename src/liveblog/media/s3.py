"""Renditions in an S3-compatible object store (AWS S3, MinIO, Ceph, Cloudflare R2, …).

The bucket holds two copies of a published rendition, under the configured prefix:

    {prefix}private/{key}   every stored rendition, read only with the app's credentials
    {prefix}public/{key}    a server-side copy made when an entry using it went public

Only public/ is readable by anyone, and that is the bucket's doing, not ours: its policy must
grant s3:GetObject on `{prefix}public/*` to everyone and nothing more (`public_read_policy()`
writes that policy). No object ACLs are set, so buckets that disable ACLs work. The public base
URL points at the public/ prefix, directly or through a CDN.

The app's credentials come from boto3's usual chain (AWS_ACCESS_KEY_ID and
AWS_SECRET_ACCESS_KEY, a profile, an instance role) and need s3:PutObject, s3:GetObject,
s3:DeleteObject and s3:ListBucket on the bucket. boto3 is an extra, `pip install
'liveblog[s3]'`, imported only when an S3Blobs is made.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from liveblog.media.blobs import (
    KEY_PATTERN,
    BlobStoreError,
    check_key,
    check_put,
    media_type_of,
)

PUBLIC_CACHE_CONTROL = "public, max-age=31536000, immutable"
"""A key names its content, so a published copy never changes: caches may keep it for a year."""

S3_EXTRA = "pip install 'liveblog[s3]'"


def public_read_policy(bucket: str, prefix: str = "") -> str:
    """The bucket policy (JSON) that lets anyone read `{prefix}public/*` and nothing else, for
    `aws s3api put-bucket-policy --bucket BUCKET --policy "$(...)"` or a console."""
    statement = {
        "Sid": "LiveblogPublishedRenditions",
        "Effect": "Allow",
        "Principal": "*",
        "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{bucket}/{normalise_prefix(prefix)}public/*",
    }
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]}, indent=2)


def normalise_prefix(prefix: str) -> str:
    """ "", or the prefix without a leading slash and with exactly one trailing one."""
    inner = prefix.strip("/")
    if inner and any(part in ("", ".", "..") for part in inner.split("/")):
        raise ValueError(f"the S3 prefix {prefix!r} has an empty, '.' or '..' segment")
    return f"{inner}/" if inner else ""


class S3Blobs:
    """The BlobStore on an S3-compatible bucket; see the module's docstring for the layout."""

    def __init__(
        self,
        bucket: str,
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        public_base_url: str,
        prefix: str = "",
        client: Any = None,
    ) -> None:
        if not bucket:
            raise ValueError("the S3 bucket name is empty (LIVEBLOG_S3_BUCKET)")
        if not public_base_url.startswith(("https://", "http://")):
            raise ValueError(
                "the public URL of published photos must be an absolute http(s) URL, not "
                f"{public_base_url!r} (LIVEBLOG_S3_PUBLIC_URL)"
            )
        self.bucket = bucket
        self.endpoint_url = endpoint_url
        self.region = region
        self.public_base_url = public_base_url.rstrip("/")
        self.prefix = normalise_prefix(prefix)
        try:
            from botocore.exceptions import BotoCoreError, ClientError
        except ImportError as exc:
            raise ValueError(
                f"LIVEBLOG_S3_BUCKET is set, but boto3 is not installed: {S3_EXTRA}"
            ) from exc
        self._failures: tuple[type[Exception], ...] = (BotoCoreError, ClientError)
        self._client = client if client is not None else self._make_client()

    def _make_client(self) -> Any:
        try:
            import boto3
            from botocore.config import Config
        except ImportError as exc:
            raise ValueError(
                f"LIVEBLOG_S3_BUCKET is set, but boto3 is not installed: {S3_EXTRA}"
            ) from exc
        options: dict[str, Any] = {
            "connect_timeout": 5,
            "read_timeout": 30,
            "retries": {"max_attempts": 4, "mode": "standard"},
        }
        if self.endpoint_url:
            # Other S3-compatible stores (MinIO, Ceph …) rarely have a wildcard DNS name per
            # bucket; every one of them answers path-style requests.
            options["s3"] = {"addressing_style": "path"}
        # A session of its own: boto3's default session is shared and not thread-safe to make.
        session = boto3.session.Session()
        return session.client(
            "s3",
            endpoint_url=self.endpoint_url or None,
            region_name=self.region or None,
            config=Config(**options),
        )

    def private_name(self, key: str) -> str:
        check_key(key)
        return f"{self.prefix}private/{key}"

    def public_name(self, key: str) -> str:
        check_key(key)
        return f"{self.prefix}public/{key}"

    def put(self, key: str, data: bytes, media_type: str) -> None:
        check_put(key, media_type)
        name = self.private_name(key)
        try:
            self._client.put_object(
                Bucket=self.bucket, Key=name, Body=bytes(data), ContentType=media_type
            )
        except self._failures as exc:
            raise self._error("PutObject", name, exc) from exc

    def get(self, key: str) -> bytes | None:
        # The private copy exists whenever a public one does; the public one is read only for
        # a bucket whose private copies were removed by hand.
        for name in (self.private_name(key), self.public_name(key)):
            try:
                response = self._client.get_object(Bucket=self.bucket, Key=name)
                body: bytes = response["Body"].read()
            except self._failures as exc:
                if _code(exc) == "NoSuchKey":
                    continue
                raise self._error("GetObject", name, exc) from exc
            return body
        return None

    def publish(self, key: str) -> None:
        source, target = self.private_name(key), self.public_name(key)
        try:
            self._client.copy_object(
                Bucket=self.bucket,
                Key=target,
                CopySource={"Bucket": self.bucket, "Key": source},
                MetadataDirective="REPLACE",
                ContentType=media_type_of(key),
                CacheControl=PUBLIC_CACHE_CONTROL,
            )
        except self._failures as exc:
            if _code(exc) == "NoSuchKey":
                raise BlobStoreError(
                    f"cannot publish {key}: there is no {source} in S3 bucket {self.bucket}"
                ) from exc
            raise self._error("CopyObject", target, exc) from exc

    def unpublish(self, key: str) -> None:
        self._delete(self.public_name(key))

    def withdraw(self, key: str) -> None:
        # Public copy first: if the second delete fails, the photo is at least no longer public.
        for name in (self.public_name(key), self.private_name(key)):
            self._delete(name)

    def _delete(self, name: str) -> None:
        try:
            self._client.delete_object(Bucket=self.bucket, Key=name)
        except self._failures as exc:
            if _code(exc) != "NoSuchKey":  # S3 answers 204 for an absent key; some do not
                raise self._error("DeleteObject", name, exc) from exc

    def public_url(self, key: str) -> str | None:
        check_key(key)
        return f"{self.public_base_url}/{key}"

    def keys(self) -> Iterator[str]:
        found: set[str] = set()
        for area in ("private/", "public/"):
            start = self.prefix + area
            try:
                pages = self._client.get_paginator("list_objects_v2").paginate(
                    Bucket=self.bucket, Prefix=start
                )
                for page in pages:
                    for item in page.get("Contents", ()):
                        name = item["Key"][len(start) :]
                        if KEY_PATTERN.fullmatch(name):
                            found.add(name)
            except self._failures as exc:
                raise self._error("ListObjectsV2", start, exc) from exc
        yield from sorted(found)

    def describe(self) -> str:
        where = self.endpoint_url or "AWS S3"
        region = f", region {self.region}" if self.region else ""
        prefix = f", prefix {self.prefix}" if self.prefix else ""
        return (
            f"S3 bucket {self.bucket} at {where}{region}{prefix}; "
            f"published photos at {self.public_base_url}/"
        )

    def _error(self, operation: str, name: str, exc: Exception) -> BlobStoreError:
        where = f" at {self.endpoint_url}" if self.endpoint_url else ""
        code = _code(exc)
        detail = f"{code}: {_message(exc)}" if code else str(exc)
        return BlobStoreError(
            f"S3 {operation} of {name} in bucket {self.bucket}{where} failed: {detail}"
        )


def _code(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return ""


def _message(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Message", "")) or str(exc)
    return str(exc)
