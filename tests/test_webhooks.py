"""Outgoing webhooks through the real app over loopback: editors manage them, the relay running
in the server delivers each event signed, in order, never to a refused address, never following
a redirect — and the desk's delivery log says what happened."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import ssl
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import trustme

from liveblog.outbound.relay import Relay
from liveblog.service import Liveblog
from receiver import Received, Receiver

from conftest import LiveServer, Team, Tokens, auth

SLUG = "flood-watch"
EVENTS = ["entry-published", "entry-updated", "entry-retracted", "blog-ended"]
SECRET = "a-shared-secret-of-some-length"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r


@pytest.fixture
def open_live(db_url: str, tmp_path: Path, team: Team) -> Iterator[LiveServer]:
    """The app allowed to call loopback addresses, as a newsroom's own network would be."""
    server = LiveServer(db_url, tmp_path, webhook_allow_private=True).start()
    yield server
    server.stop()


def make_blog(url: str, token: str) -> httpx.Client:
    client = httpx.Client(base_url=url, headers=auth(token), timeout=10)
    response = client.post("/api/blogs", json={"slug": SLUG, "title": "Flood watch"})
    assert response.status_code == 201, response.text
    return client


def verified(req: Received, secret: str) -> dict[str, Any]:
    """The body, once its signature checks out as a receiver would check it."""
    fields = dict(part.split("=", 1) for part in req.headers["liveblog-signature"].split(","))
    stamp = int(fields["t"])
    assert abs(time.time() - stamp) < 60
    expected = hmac.new(secret.encode(), f"{stamp}.".encode() + req.body, hashlib.sha256)
    assert hmac.compare_digest(fields["v1"], expected.hexdigest()), "bad signature"
    body: dict[str, Any] = json.loads(req.body)
    return body


def test_who_may_manage_webhooks_and_what_they_may_point_at(
    live: LiveServer, tokens: Tokens
) -> None:
    """Anonymous callers get 401 and contributors 403; an editor's webhook answers with its
    secret once and lists without it; loopback, link-local and private targets, user names in
    the URL and unknown events are refused with 422 and a reason; removal is 204, then 404."""
    editor = make_blog(live.url, tokens.editor)
    path = f"/api/blogs/{SLUG}/webhooks"
    hook = {"url": "https://example.com/hook", "events": ["entry-published"]}
    assert httpx.post(live.url + path, json=hook).status_code == 401
    as_contributor = httpx.post(live.url + path, json=hook, headers=auth(tokens.contributor))
    assert as_contributor.status_code == 403
    refused = {
        "http://127.0.0.1:9/hook": "loopback",
        "http://[::1]/hook": "loopback",
        "http://169.254.169.254/latest/meta-data": "link-local",
        "http://10.1.2.3/hook": "private",
        "http://100.100.100.200/latest/meta-data": "not a public address",
        "http://[fec0::1]/hook": "not a public address",
        "http://[::ffff:127.0.0.1]/hook": "loopback",
        "http://1.1.1.1/\x7f": "non-printable",
        "http://bücher.example/hook": "ASCII",
        "http://localhost/hook": "loopback",
        "https://user:pw@example.com/hook": "user name",
        "ftp://example.com/hook": "http",
    }
    for url, reason in refused.items():
        response = editor.post(path, json={"url": url, "events": ["entry-published"]})
        assert response.status_code == 422, (url, response.text)
        assert reason in response.json()["error"], (url, response.json())
    unknown = editor.post(path, json={"url": hook["url"], "events": ["entry-drafted"]})
    assert unknown.status_code == 422 and "entry-drafted" in unknown.json()["error"]
    for weak in (" " * 16, "a" * 20):
        hook = {"url": "http://93.184.215.14/hook", "events": EVENTS, "secret": weak}
        assert editor.post(path, json=hook).status_code == 422, repr(weak)
    # example.com is not resolvable here (no network): even a public name must resolve.
    created = editor.post(path, json={"url": "http://93.184.215.14/hook", "events": EVENTS})
    assert created.status_code == 201, created.text
    assert len(created.json()["secret"]) >= 16
    listed = editor.get(path).json()["webhooks"]
    assert [h["url"] for h in listed] == ["http://93.184.215.14/hook"]
    assert "secret" not in listed[0]
    assert editor.delete(f"{path}/{created.json()['id']}").status_code == 204
    assert editor.delete(f"{path}/{created.json()['id']}").status_code == 404


def test_every_event_is_delivered_signed_and_in_order(
    open_live: LiveServer, receiver: Receiver, team: Team
) -> None:
    """Publish, edit, retract and end reach the receiver in that order, each signed with the
    hook's secret, each body the event exactly as `/events` lists it (plus the blog's slug)."""
    token = open_live.svc.create_token(team.editor.name)
    editor = make_blog(open_live.url, token)
    hook = {"url": receiver.url + "/hook", "events": EVENTS, "secret": SECRET}
    assert editor.post(f"/api/blogs/{SLUG}/webhooks", json=hook).status_code == 201
    entry = editor.post(f"/api/blogs/{SLUG}/entries", json={"body": "River at 6.1 m"}).json()
    editor.patch(
        f"/api/blogs/{SLUG}/entries/{entry['id']}", json={"body": "River at 6.4 m", "version": 1}
    )
    editor.request("DELETE", f"/api/blogs/{SLUG}/entries/{entry['id']}", json={})
    editor.patch(f"/api/blogs/{SLUG}", json={"status": "ended"})
    got = receiver.wait_for(lambda r: len(r) >= 4, "four deliveries")
    bodies = [verified(req, SECRET) for req in got]
    assert [b["type"] for b in bodies] == EVENTS
    assert [req.headers["liveblog-event"] for req in got] == EVENTS
    assert all(req.path == "/hook" and req.method == "POST" for req in got)
    log = editor.get(f"/api/blogs/{SLUG}/events").json()
    by_seq = {e["seq"]: e for e in log["events"]}
    for body in bodies[2:]:  # after the retraction, the log's copies are the redacted ones
        assert {k: v for k, v in body.items() if k != "blog"} == by_seq[body["seq"]]
        assert body["blog"] == SLUG
    deliveries = editor.get(f"/api/blogs/{SLUG}/deliveries").json()["deliveries"]
    assert sorted(d["event"] for d in deliveries) == sorted(EVENTS)
    assert all(d["state"] == "sent" and d["kind"] == "webhook" for d in deliveries)


def test_a_redirect_is_not_followed(open_live: LiveServer, receiver: Receiver, team: Team) -> None:
    """A receiver answering 302 does not send the delivery elsewhere: the place it names gets
    nothing, and the delivery log shows the refusal while it waits for its retry."""
    token = open_live.svc.create_token(team.editor.name)
    editor = make_blog(open_live.url, token)
    with Receiver() as elsewhere:
        receiver.status, receiver.location = 302, elsewhere.url + "/stolen"
        hook = {"url": receiver.url + "/hook", "events": ["entry-published"]}
        editor.post(f"/api/blogs/{SLUG}/webhooks", json=hook)
        editor.post(f"/api/blogs/{SLUG}/entries", json={"body": "Levee holds"})
        receiver.wait_for(lambda r: len(r) == 1, "the first attempt")
        deadline = time.monotonic() + 5
        while True:
            [d] = editor.get(f"/api/blogs/{SLUG}/deliveries").json()["deliveries"]
            if d["attempts"]:
                break
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert d["state"] == "pending" and "redirects are not followed" in d["last_error"]
        assert elsewhere.received() == []


def test_an_address_is_checked_again_when_sending(
    svc: Liveblog, team: Team, receiver: Receiver
) -> None:
    """A hook accepted while private targets were allowed is refused at delivery by a relay
    that does not allow them (as a name that starts resolving to loopback would be)."""
    svc.allow_private_targets = True
    svc.create_blog(team.editor, slug=SLUG, title="Flood watch")
    svc.add_webhook(team.editor, SLUG, receiver.url + "/hook", ["entry-published"], None)
    svc.create_entry(team.editor, SLUG, body="Sandbags at the town hall")
    relay = Relay(svc, [], "", "node-a", allow_private=False)

    async def one_round() -> None:
        async with httpx.AsyncClient() as client:
            assert await relay._hold_lease()
            await relay.send_due(client)

    asyncio.run(one_round())
    assert receiver.received() == []
    [d] = svc.deliveries(team.editor, SLUG)
    assert "loopback" in d.item.last_error and d.item.attempts == 1


def test_a_delivery_keeps_the_hooks_name_for_host_and_tls(svc: Liveblog, team: Team) -> None:
    """The relay connects to the address it vetted, yet an https hook named `localhost` is
    reached with `Host: localhost:PORT` and a certificate checked against that name (httpcore's
    `sni_hostname` extension, the contract httpx is pinned for); a certificate for another name
    is refused."""
    ca = trustme.CA()
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost").configure_cert(server_tls)
    client_tls = ssl.create_default_context()
    ca.configure_trust(client_tls)
    svc.allow_private_targets = True
    svc.create_blog(team.editor, slug=SLUG, title="Flood watch")
    relay = Relay(svc, [], "", "node-a", allow_private=True)

    async def one_round() -> None:
        async with httpx.AsyncClient(verify=client_tls) as client:
            assert await relay._hold_lease()
            await relay.send_due(client)

    with Receiver(tls=server_tls) as good:
        url = f"https://localhost:{good.port}/hook"
        svc.add_webhook(team.editor, SLUG, url, ["entry-published"], SECRET)
        svc.create_entry(team.editor, SLUG, body="Pumps running")
        asyncio.run(one_round())
        [req] = good.received()
        assert req.headers["host"] == f"localhost:{good.port}"
        assert verified(req, SECRET)["type"] == "entry-published"
    wrong_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("elsewhere.example").configure_cert(wrong_tls)
    with Receiver(tls=wrong_tls) as impostor:
        hook = svc.webhooks(team.editor, SLUG)[0]
        svc.remove_webhook(team.editor, SLUG, hook.id)
        url = f"https://localhost:{impostor.port}/hook"
        svc.add_webhook(team.editor, SLUG, url, ["entry-published"], SECRET)
        svc.create_entry(team.editor, SLUG, body="Pumps stopped")
        asyncio.run(one_round())
        assert impostor.received() == []
        latest = svc.deliveries(team.editor, SLUG)[0]
        assert "CERTIFICATE_VERIFY_FAILED" in latest.item.last_error or "certificate" in (
            latest.item.last_error.lower()
        ), latest.item.last_error
