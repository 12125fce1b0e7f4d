"""Pictures kept in an S3-compatible bucket (moto's emulator, a real server process on
loopback): the app stores renditions privately, readers fetch published ones from the bucket's
public URL, and withdrawal deletes them there."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import LiveServer, Tokens, auth
from pictures import jpeg, photo
from s3emulator import PREFIX, Moto, fresh_bucket

SLUG = "storm"


@pytest.fixture
def s3_live(
    db_url: str, tmp_path: Path, tokens: Tokens, moto: Moto
) -> Iterator[tuple[LiveServer, str]]:
    bucket = fresh_bucket(moto)
    public = f"{moto.endpoint}/{bucket}/{PREFIX}public"
    server = LiveServer(
        db_url,
        tmp_path,
        s3_bucket=bucket,
        s3_endpoint_url=moto.endpoint,
        s3_public_url=public,
        s3_prefix=PREFIX,
        s3_region="us-east-1",
    ).start()
    try:
        with httpx.Client(base_url=server.url, headers=auth(tokens.editor), timeout=10) as http:
            assert http.post("/api/blogs", json={"slug": SLUG, "title": "Storm"}).status_code == 201
        yield server, public
    finally:
        server.stop()


def test_published_pictures_come_from_the_bucket_and_leave_it_when_withdrawn(
    s3_live: tuple[LiveServer, str], tokens: Tokens, tmp_path: Path
) -> None:
    """A draft's picture is fetched through the app by staff only; once published, the entry
    names the bucket's public URL, which anyone can fetch; retracting deletes the object;
    nothing is written to the local media directory."""
    server, public = s3_live
    with httpx.Client(base_url=server.url, headers=auth(tokens.editor), timeout=10) as http:
        r = http.post(
            f"/api/blogs/{SLUG}/media",
            files={"file": ("p.jpg", jpeg(photo()), "image/jpeg")},
            data={"alt": "Flooded street"},
        )
        assert r.status_code == 201, r.text
        item: dict[str, Any] = r.json()
        draft = http.post(
            f"/api/blogs/{SLUG}/entries",
            json={"body": "Water rising", "status": "draft", "media": [item["id"]]},
        ).json()
        private_url = draft["media"][0]["renditions"][0]["url"]
        assert private_url.startswith("/media/")
        assert http.get(private_url).status_code == 200
        assert httpx.get(server.url + private_url).status_code == 404  # not for the public
        r = http.patch(
            f"/api/blogs/{SLUG}/entries/{draft['id']}",
            json={"status": "published", "version": draft["version"]},
        )
        assert r.status_code == 200, r.text
        published = r.json()
    anonymous = httpx.Client(timeout=10)
    urls = [rendition["url"] for rendition in published["media"][0]["renditions"]]
    assert all(url.startswith(public + "/") for url in urls), urls
    assert public in published["html"] and "/media/" not in published["html"]
    fetched = anonymous.get(urls[0])
    assert fetched.status_code == 200 and fetched.headers["cache-control"].endswith("immutable")
    with httpx.Client(base_url=server.url, headers=auth(tokens.editor), timeout=10) as http:
        assert http.delete(f"/api/blogs/{SLUG}/entries/{published['id']}").status_code == 204
    assert all(anonymous.get(url).status_code in (403, 404) for url in urls)
    assert not (tmp_path / "media").exists() or not any((tmp_path / "media").iterdir())


def test_a_withdrawn_picture_leaves_the_bucket_s_public_side_even_when_its_bytes_wait_in_a_draft(
    s3_live: tuple[LiveServer, str], tokens: Tokens
) -> None:
    """The same photo uploaded twice, one upload published then retracted, the other in a
    draft: the public copy is deleted (readers and CDNs fetch the bucket directly), the draft's
    private copy stays for staff."""
    server, _ = s3_live
    data = jpeg(photo(colour=(120, 20, 20)))
    with httpx.Client(base_url=server.url, headers=auth(tokens.editor), timeout=10) as http:
        ids = []
        for _ in range(2):
            r = http.post(
                f"/api/blogs/{SLUG}/media",
                files={"file": ("p.jpg", data, "image/jpeg")},
                data={"alt": "Same photo"},
            )
            ids.append(r.json()["id"])
        published = http.post(
            f"/api/blogs/{SLUG}/entries", json={"body": "Live", "media": [ids[0]]}
        ).json()
        draft = http.post(
            f"/api/blogs/{SLUG}/entries",
            json={"body": "Later", "status": "draft", "media": [ids[1]]},
        ).json()
        urls = [r["url"] for r in published["media"][0]["renditions"]]
        assert httpx.get(urls[0]).status_code == 200
        assert http.delete(f"/api/blogs/{SLUG}/entries/{published['id']}").status_code == 204
        assert all(httpx.get(url).status_code in (403, 404) for url in urls), urls
        private = draft["media"][0]["renditions"][0]["url"]
        assert http.get(private).status_code == 200
