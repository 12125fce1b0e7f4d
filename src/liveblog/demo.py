"""A demo live blog for `make run`: our own invented sample story, seeded only into an empty
database, so running it twice never duplicates or overwrites anything."""

from __future__ import annotations

from liveblog.domain.models import Role
from liveblog.service import Liveblog, Version

DEMO_USER = "demo-editor"
DEMO_PASSWORD = "demo-password"

ENTRIES = [
    (
        "Storm warning issued",
        "The national weather office has raised its warning for the "
        "coast to **red**. Gusts of up to 130 km/h are expected from this evening.",
        False,
        True,
    ),
    (
        "Ferries suspended",
        "All ferry crossings to the islands are cancelled until tomorrow "
        "morning, the operator says. Travellers should check before leaving home.",
        False,
        False,
    ),
    (
        "",
        "Our reporter on the harbour wall describes waves breaking over the promenade:\n\n"
        "> The spray reaches the second-floor windows of the old customs house.",
        False,
        False,
    ),
    (
        "Schools closed tomorrow",
        "The regional council has closed all schools for Thursday.\n\n"
        "- Nurseries stay open where staff can reach them\n- Exams are moved to next week",
        False,
        True,
    ),
    (
        "How to follow this live blog",
        "We update this page as the storm moves inland. New "
        "updates appear at the top without reloading. Times are shown in your time zone.",
        True,
        False,
    ),
]


def ensure_demo(svc: Liveblog) -> tuple[bool, str]:
    """Seed the demo if the database has no users; always return a fresh token for the demo
    editor (or for the first admin/editor when the demo was not created by us)."""
    created = False
    if svc.user_count() == 0:
        editor = svc.create_user(DEMO_USER, Role.EDITOR, DEMO_PASSWORD)
        svc.create_blog(
            editor,
            slug="demo-storm",
            title="Storm Aurelia hits the coast — live",
            description="Live coverage of the storm as it makes landfall. (Demo content.)",
            key_points=[
                "Red warning for the whole coast until Friday",
                "Ferries and coastal trains suspended",
                "Schools closed on Thursday",
            ],
            timezone="Europe/Lisbon",
        )
        ids = [
            svc.create_entry(
                editor,
                "demo-storm",
                headline=headline,
                body=body,
                pinned=pinned,
                key_event=key_event,
            ).id
            for headline, body, pinned, key_event in ENTRIES
        ]
        svc.edit_entry(
            editor,
            "demo-storm",
            ids[1],
            {"correction": "An earlier version said the crossings resume tonight."},
            Version(1, from_header=False),
        )
        created = True
    return created, svc.create_token(DEMO_USER)
