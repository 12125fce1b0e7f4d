"""moto's S3 emulator in server mode, for the tests that need an S3-compatible endpoint: a real
HTTP server process on a free loopback port. It is an emulator, not AWS."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from liveblog.media.s3 import public_read_policy

from conftest import free_port, require_or_skip

REGION = "us-east-1"
PREFIX = "newsroom/"


@dataclass
class Moto:
    endpoint: str

    def client(self, **config: Any) -> Any:
        import boto3
        from botocore.config import Config

        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=REGION,
            config=Config(s3={"addressing_style": "path"}, **config),
        )


def run_moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Moto]:
    """moto's S3 emulator in server mode on a free loopback port, until the generator is
    closed (conftest's `moto` fixture: one per test module)."""
    require_or_skip(
        importlib.util.find_spec("moto") is not None
        and importlib.util.find_spec("flask") is not None
        and importlib.util.find_spec("boto3") is not None,
        "the S3 contract needs boto3 and moto's server (pip install 'moto[server]' boto3)",
    )
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    with pytest.MonkeyPatch.context() as env:
        # boto3's normal chain reads these, as it would a deployment's; moto accepts any.
        env.setenv("AWS_ACCESS_KEY_ID", "emulator-key")
        env.setenv("AWS_SECRET_ACCESS_KEY", "emulator-secret")
        env.delenv("AWS_PROFILE", raising=False)
        env.setenv("AWS_CONFIG_FILE", os.devnull)
        env.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
        with log.open("wb") as output:
            server = subprocess.Popen(
                [sys.executable, "-m", "moto.server", "-p", str(port), "-H", "127.0.0.1"],
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        try:
            deadline = time.monotonic() + 20
            while True:
                try:
                    httpx.get(f"{endpoint}/moto-api/", timeout=1)
                    break
                except httpx.TransportError:
                    if server.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(f"moto did not start: {log.read_text()}") from None
                    time.sleep(0.05)
            yield Moto(endpoint)
        finally:
            server.terminate()
            try:
                server.wait(timeout=5)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def fresh_bucket(moto: Moto) -> str:
    """A new bucket whose policy is the documented one: only public/ readable by anyone."""
    bucket = f"liveblog-{uuid.uuid4().hex[:12]}"
    client = moto.client()
    client.create_bucket(Bucket=bucket)
    client.put_bucket_policy(Bucket=bucket, Policy=public_read_policy(bucket, PREFIX))
    return bucket
