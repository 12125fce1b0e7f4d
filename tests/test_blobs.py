"""The blob store contract, run against the local directory and against an S3-compatible
endpoint: moto's S3 emulator, started here as a real HTTP server process on loopback (an
emulator, not AWS: it speaks the S3 protocol and enforces bucket policies on anonymous reads)."""

from __future__ import annotations

import importlib.util
import os
import re
import stat
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from hashlib import sha256
from pathlib import Path

import httpx
import pytest

from liveblog.media import blobs as blobs_module
from liveblog.media.blobs import (
    BlobStore,
    BlobStoreError,
    LocalBlobs,
    open_blob_store,
)
from liveblog.media.memory import MemoryBlobs
from liveblog.media.s3 import PUBLIC_CACHE_CONTROL, S3_EXTRA, S3Blobs, public_read_policy

from conftest import free_port, require_or_skip
from s3emulator import PREFIX, REGION, Moto, fresh_bucket


def key_for(data: bytes, ext: str = "webp") -> str:
    return f"{sha256(data).hexdigest()}.{ext}"


PHOTO = b"RIFF\x00\x00\x00\x00WEBPVP8 pretend rendition bytes" * 50
PHOTO_KEY = key_for(PHOTO)
WEBP = "image/webp"


def s3_store(moto: Moto, bucket: str) -> S3Blobs:
    return S3Blobs(
        bucket,
        endpoint_url=moto.endpoint,
        region=REGION,
        public_base_url=f"{moto.endpoint}/{bucket}/{PREFIX}public/",
        prefix=PREFIX,
    )


# --- the contract, against both ----------------------------------------------------------------


@dataclass
class Harness:
    kind: str
    store: BlobStore
    reopen: Callable[[], BlobStore]
    raw_names: Callable[[], list[str]]
    """Every underlying file or object name, whatever the store thinks it holds."""


@pytest.fixture(params=["local", "s3", "memory"])
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> Harness:
    """An empty store of each kind: a fresh directory, a fresh bucket on the emulator, or the
    in-memory twin the tests and commands use."""
    if request.param == "memory":
        memory = MemoryBlobs()
        return Harness("memory", memory, lambda: memory, lambda: sorted(memory.files))
    if request.param == "local":
        directory = tmp_path / "media"
        return Harness(
            "local",
            LocalBlobs(directory),
            lambda: LocalBlobs(directory),
            lambda: sorted(os.listdir(directory)),
        )
    moto: Moto = request.getfixturevalue("moto")
    bucket = fresh_bucket(moto)

    def raw_names() -> list[str]:
        listed = moto.client().list_objects_v2(Bucket=bucket)
        return sorted(item["Key"] for item in listed.get("Contents", ()))

    return Harness("s3", s3_store(moto, bucket), lambda: s3_store(moto, bucket), raw_names)


def test_put_then_get_returns_the_bytes(harness: Harness) -> None:
    """What was put comes back byte for byte, and a key never put reads as None."""
    harness.store.put(PHOTO_KEY, PHOTO, WEBP)
    assert harness.store.get(PHOTO_KEY) == PHOTO
    assert harness.store.get(key_for(b"never stored", "png")) is None


def test_put_over_a_key_replaces_its_bytes(harness: Harness) -> None:
    """A second put under the same key leaves exactly one copy, with the new bytes."""
    harness.store.put(PHOTO_KEY, b"first", WEBP)
    harness.store.put(PHOTO_KEY, PHOTO, WEBP)
    assert harness.store.get(PHOTO_KEY) == PHOTO
    assert list(harness.store.keys()) == [PHOTO_KEY]


def test_published_bytes_stay_readable_and_publish_is_idempotent(harness: Harness) -> None:
    """Publishing twice is fine; get still returns the bytes and the public URL names the key."""
    harness.store.put(PHOTO_KEY, PHOTO, WEBP)
    harness.store.publish(PHOTO_KEY)
    harness.store.publish(PHOTO_KEY)
    assert harness.store.get(PHOTO_KEY) == PHOTO
    url = harness.store.public_url(PHOTO_KEY)
    if harness.kind in ("local", "memory"):
        assert url is None  # the app serves /media/{key} itself and checks who may read it
    else:
        assert url is not None and url.startswith("http") and url.endswith("/" + PHOTO_KEY)


def test_publishing_an_absent_key_is_an_error_naming_it(harness: Harness) -> None:
    """Publishing something never stored fails loudly rather than leaving a dead public URL."""
    with pytest.raises(BlobStoreError, match=PHOTO_KEY):
        harness.store.publish(PHOTO_KEY)


def test_unpublish_keeps_the_private_copy_only(harness: Harness) -> None:
    """Unpublishing takes a rendition off its public URL but keeps the bytes for the app (the
    same bytes wait in another upload's draft); it is idempotent and fine on an absent key."""
    harness.store.put(PHOTO_KEY, PHOTO, WEBP)
    harness.store.publish(PHOTO_KEY)
    harness.store.unpublish(PHOTO_KEY)
    harness.store.unpublish(PHOTO_KEY)
    harness.store.unpublish(key_for(b"never stored", "png"))
    assert harness.store.get(PHOTO_KEY) == PHOTO
    if harness.kind == "s3":
        assert not any("public/" in name for name in harness.raw_names())
    if harness.kind == "memory":
        assert isinstance(harness.store, MemoryBlobs) and not harness.store.published


def test_withdraw_removes_every_copy(harness: Harness) -> None:
    """After withdraw nothing of the rendition is left, private or public, and get is None."""
    other = key_for(b"another photo", "jpg")
    harness.store.put(PHOTO_KEY, PHOTO, WEBP)
    harness.store.put(other, b"another photo", "image/jpeg")
    harness.store.publish(PHOTO_KEY)
    harness.store.withdraw(PHOTO_KEY)
    assert harness.store.get(PHOTO_KEY) is None
    assert list(harness.store.keys()) == [other]
    assert not [name for name in harness.raw_names() if PHOTO_KEY in name]


def test_withdraw_is_idempotent(harness: Harness) -> None:
    """Withdrawing twice, or withdrawing a key never stored, succeeds quietly."""
    harness.store.withdraw(PHOTO_KEY)
    harness.store.put(PHOTO_KEY, PHOTO, WEBP)
    harness.store.withdraw(PHOTO_KEY)
    harness.store.withdraw(PHOTO_KEY)
    assert harness.store.get(PHOTO_KEY) is None


def test_keys_lists_each_stored_key_once(harness: Harness) -> None:
    """keys() lists private and published renditions alike, each once, sorted."""
    stored = {
        key_for(bytes([n]) * 10, ext): bytes([n]) * 10
        for n, ext in enumerate(blobs_module.MEDIA_TYPES)
    }
    assert list(harness.store.keys()) == []
    for key, data in stored.items():
        harness.store.put(key, data, blobs_module.media_type_of(key))
    harness.store.publish(next(iter(stored)))
    assert list(harness.store.keys()) == sorted(stored)


def test_a_reopened_store_sees_what_was_stored(harness: Harness) -> None:
    """A new store on the same directory or bucket (a restart) reads what the old one wrote."""
    harness.store.put(PHOTO_KEY, PHOTO, WEBP)
    harness.store.publish(PHOTO_KEY)
    again = harness.reopen()
    assert again.get(PHOTO_KEY) == PHOTO
    assert list(again.keys()) == [PHOTO_KEY]
    again.withdraw(PHOTO_KEY)
    assert harness.store.get(PHOTO_KEY) is None


BAD_KEYS = [
    "../x",
    "",
    "../" + PHOTO_KEY,
    "sub/" + PHOTO_KEY,
    PHOTO_KEY.upper(),
    PHOTO_KEY[1:],
    PHOTO_KEY + "\n",
    PHOTO_KEY.replace(".webp", ".gif"),
    PHOTO_KEY.replace(".webp", ".jpeg"),
    PHOTO_KEY.replace(".webp", ""),
    "/" + PHOTO_KEY,
]


@pytest.mark.parametrize("key", BAD_KEYS, ids=repr)
def test_bad_keys_are_refused_by_every_method(harness: Harness, key: str) -> None:
    """A key that is not `<64 hex>.<ext>` raises ValueError everywhere and stores nothing."""
    store = harness.store
    calls: list[Callable[[], object]] = [
        lambda: store.put(key, PHOTO, WEBP),
        lambda: store.get(key),
        lambda: store.publish(key),
        lambda: store.withdraw(key),
        lambda: store.unpublish(key),
        lambda: store.public_url(key),
    ]
    for call in calls:
        with pytest.raises(ValueError, match="not a rendition key"):
            call()
    assert harness.raw_names() == []


def test_a_media_type_that_contradicts_the_key_is_refused(harness: Harness) -> None:
    """put refuses a JPEG type under a .webp key, since a public copy's type comes from the key."""
    with pytest.raises(ValueError, match="does not match"):
        harness.store.put(PHOTO_KEY, PHOTO, "image/jpeg")
    assert harness.raw_names() == []


# --- the local directory ------------------------------------------------------------------------


def test_local_write_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """While a rendition is being written, its key shows the old bytes and the new ones sit
    whole under a temporary name that keys() ignores."""
    store = LocalBlobs(tmp_path / "media")
    store.put(PHOTO_KEY, b"old bytes", WEBP)
    seen: list[tuple[bytes | None, list[str], list[bytes]]] = []
    real_fsync = os.fsync

    def observing_fsync(fd: int) -> None:
        if not seen:  # the data file's sync, just before the rename
            others = [p for p in (tmp_path / "media").iterdir() if p.name != PHOTO_KEY]
            seen.append(
                (store.get(PHOTO_KEY), list(store.keys()), [p.read_bytes() for p in others])
            )
        real_fsync(fd)

    monkeypatch.setattr(blobs_module.os, "fsync", observing_fsync)
    store.put(PHOTO_KEY, PHOTO, WEBP)
    assert seen == [(b"old bytes", [PHOTO_KEY], [PHOTO])]
    assert store.get(PHOTO_KEY) == PHOTO
    assert os.listdir(tmp_path / "media") == [PHOTO_KEY]


def test_local_failed_write_keeps_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write that fails midway (a full disk) raises BlobStoreError, keeps the old bytes and
    leaves no temporary file behind."""
    store = LocalBlobs(tmp_path / "media")
    store.put(PHOTO_KEY, b"old bytes", WEBP)

    def full_disk(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(blobs_module.os, "fsync", full_disk)
    with pytest.raises(BlobStoreError, match=f"{PHOTO_KEY}.*No space left"):
        store.put(PHOTO_KEY, PHOTO, WEBP)
    monkeypatch.undo()
    assert store.get(PHOTO_KEY) == b"old bytes"
    assert os.listdir(tmp_path / "media") == [PHOTO_KEY]


def test_local_keys_ignore_leftovers_of_a_crash(tmp_path: Path) -> None:
    """A temporary file left by a crashed write, or any stray file, is not listed as a key."""
    directory = tmp_path / "media"
    store = LocalBlobs(directory)
    (directory / f".{PHOTO_KEY[:16]}-abc.part").write_bytes(PHOTO[:10])
    (directory / "README").write_text("not a rendition")
    assert list(store.keys()) == []
    assert store.get(PHOTO_KEY) is None


def test_local_directory_and_file_modes(tmp_path: Path) -> None:
    """The directory is made (with parents) for the app's user and group only; files likewise."""
    directory = tmp_path / "var" / "media"
    store = LocalBlobs(directory)
    store.put(PHOTO_KEY, PHOTO, WEBP)
    assert stat.S_IMODE(directory.stat().st_mode) & 0o007 == 0
    assert stat.S_IMODE((directory / PHOTO_KEY).stat().st_mode) == 0o640
    assert store.describe() == f"local directory {directory.resolve()}"


def test_local_unusable_directory_is_a_clear_error(tmp_path: Path) -> None:
    """A media directory path that is a file raises BlobStoreError naming the path."""
    blocker = tmp_path / "media"
    blocker.write_text("a file where the directory should be")
    with pytest.raises(BlobStoreError, match=str(blocker)):
        LocalBlobs(blocker)


# --- the S3 store ------------------------------------------------------------------------------


def test_s3_private_until_published_over_plain_http(moto: Moto) -> None:
    """Before publish no one can fetch the rendition without credentials; after, its public URL
    answers 200 with the bytes, its type and a year of immutable caching."""
    bucket = fresh_bucket(moto)
    store = s3_store(moto, bucket)
    store.put(PHOTO_KEY, PHOTO, WEBP)
    url = store.public_url(PHOTO_KEY)
    assert url == f"{moto.endpoint}/{bucket}/{PREFIX}public/{PHOTO_KEY}"
    private_url = f"{moto.endpoint}/{bucket}/{PREFIX}private/{PHOTO_KEY}"
    assert httpx.get(url).status_code in (403, 404)
    assert httpx.get(private_url).status_code == 403  # the policy covers public/ only
    store.publish(PHOTO_KEY)
    response = httpx.get(url)
    assert response.status_code == 200
    assert response.content == PHOTO
    assert response.headers["content-type"] == WEBP
    assert response.headers["cache-control"] == PUBLIC_CACHE_CONTROL
    assert httpx.get(private_url).status_code == 403
    store.withdraw(PHOTO_KEY)
    assert httpx.get(url).status_code in (403, 404)


def test_s3_publish_is_a_copy_under_public(moto: Moto) -> None:
    """The public object exists only after publish, as a copy with Content-Type and
    Cache-Control, beside the private one under the configured prefix."""
    bucket = fresh_bucket(moto)
    store = s3_store(moto, bucket)
    client = moto.client()
    store.put(PHOTO_KEY, PHOTO, WEBP)
    listed = client.list_objects_v2(Bucket=bucket)["Contents"]
    assert [item["Key"] for item in listed] == [f"{PREFIX}private/{PHOTO_KEY}"]
    store.publish(PHOTO_KEY)
    public = client.get_object(Bucket=bucket, Key=f"{PREFIX}public/{PHOTO_KEY}")
    assert public["Body"].read() == PHOTO
    assert public["ContentType"] == WEBP
    assert public["CacheControl"] == PUBLIC_CACHE_CONTROL
    private = client.head_object(Bucket=bucket, Key=f"{PREFIX}private/{PHOTO_KEY}")
    assert private["ContentType"] == WEBP


def test_s3_missing_bucket_is_a_clear_error(moto: Moto) -> None:
    """Every operation on a bucket that does not exist raises BlobStoreError naming bucket and
    object, and get does not mistake it for an absent rendition."""
    store = s3_store(moto, "no-such-bucket-here")
    for call in (
        lambda: store.put(PHOTO_KEY, PHOTO, WEBP),
        lambda: store.get(PHOTO_KEY),
        lambda: store.publish(PHOTO_KEY),
        lambda: store.withdraw(PHOTO_KEY),
        lambda: list(store.keys()),
    ):
        with pytest.raises(
            BlobStoreError,
            match=r"of newsroom/p\w+/\S* in bucket no-such-bucket-here.*NoSuchBucket",
        ):
            call()


def test_s3_unreachable_endpoint_is_a_clear_error(moto: Moto) -> None:
    """A store whose endpoint does not answer raises BlobStoreError naming bucket and key."""
    dead = Moto(f"http://127.0.0.1:{free_port()}")
    client = dead.client(retries={"max_attempts": 1}, connect_timeout=1)
    store = S3Blobs(
        "photos",
        endpoint_url=dead.endpoint,
        public_base_url="https://cdn.example/photos/",
        client=client,
    )
    with pytest.raises(BlobStoreError, match=f"PutObject of private/{PHOTO_KEY} in bucket photos"):
        store.put(PHOTO_KEY, PHOTO, WEBP)


def test_s3_describe_names_bucket_endpoint_and_public_url(moto: Moto) -> None:
    """The startup line says which bucket, where, under which prefix, and where readers go."""
    store = s3_store(moto, "photos")
    assert store.describe() == (
        f"S3 bucket photos at {moto.endpoint}, region {REGION}, prefix {PREFIX}; "
        f"published photos at {moto.endpoint}/photos/{PREFIX}public/"
    )


def test_public_read_policy_opens_only_public() -> None:
    """The documented bucket policy grants anonymous GetObject on the prefix's public/ only."""
    policy = public_read_policy("photos", "/newsroom")
    assert '"Resource": "arn:aws:s3:::photos/newsroom/public/*"' in policy
    assert '"Action": "s3:GetObject"' in policy


# --- choosing a store --------------------------------------------------------------------------


def test_factory_defaults_to_the_local_directory(tmp_path: Path) -> None:
    """With no bucket configured the store is the local directory."""
    store = open_blob_store(tmp_path / "media", None, None, None, "", None)
    assert isinstance(store, LocalBlobs)
    assert store.describe() == f"local directory {(tmp_path / 'media').resolve()}"


def test_factory_refuses_a_bucket_without_a_public_url(tmp_path: Path) -> None:
    """A bucket without the public URL is refused, naming LIVEBLOG_S3_PUBLIC_URL."""
    with pytest.raises(ValueError, match="LIVEBLOG_S3_PUBLIC_URL is not set"):
        open_blob_store(tmp_path / "media", "photos", None, None, "", None)


def test_factory_opens_s3_with_the_settings(tmp_path: Path) -> None:
    """A bucket with its public URL opens the S3 store, prefix normalised, without a request."""
    require_or_skip(importlib.util.find_spec("boto3") is not None, "boto3 is not installed")
    store = open_blob_store(
        tmp_path / "media", "photos", "http://127.0.0.1:9", "https://cdn.example/p", "lb", "eu-1"
    )
    assert isinstance(store, S3Blobs)
    assert store.public_url(PHOTO_KEY) == f"https://cdn.example/p/{PHOTO_KEY}"
    assert store.private_name(PHOTO_KEY) == f"lb/private/{PHOTO_KEY}"
    assert not (tmp_path / "media").exists()


def test_factory_without_boto3_names_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """S3 configured on an install without boto3 stops with the pip command to run."""
    for name in ("boto3", "botocore", "botocore.exceptions", "botocore.config"):
        monkeypatch.setitem(sys.modules, name, None)  # makes `import` of it fail
    with pytest.raises(ValueError, match=re.escape(f"boto3 is not installed: {S3_EXTRA}")):
        open_blob_store(tmp_path, "photos", None, "https://cdn.example/p", "", None)


def test_the_media_package_imports_without_boto3() -> None:
    """Importing the blob modules loads no boto3, so a plain install imports them."""
    code = (
        "import sys, liveblog.media.blobs, liveblog.media.s3; "
        "assert 'boto3' not in sys.modules and 'botocore' not in sys.modules, 'boto loaded'"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
