"""The `liveblog` command: serve, migrate, users, tokens, the audit log, demo data."""

from __future__ import annotations

import argparse
import getpass
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit

from liveblog import credentials
from liveblog.broadcast.base import NullHub
from liveblog.domain.errors import LiveblogError
from liveblog.domain.models import Role
from liveblog.logs import configure_logging
from liveblog.render.jsonview import iso
from liveblog.service import Liveblog
from liveblog.settings import SettingError, Settings
from liveblog.storage.sql import SqlStore

log = logging.getLogger("liveblog.cli")


def _settings(args: argparse.Namespace) -> Settings:
    """The command's settings, made once: what the preamble announced is what the command uses."""
    made: Settings | None = getattr(args, "settings", None)
    if made is not None:
        return made
    settings = Settings()
    if getattr(args, "data_dir", None):
        settings.data_dir = Path(args.data_dir)
    if getattr(args, "database_url", None):
        settings.database_url = args.database_url
    args.settings = settings
    return settings


def _announce(args: argparse.Namespace, settings: Settings) -> None:
    """Say on stderr which database this command works on, before it touches anything: run
    from another directory, `./data` is another database. A JSON-logging server says it as a
    log record (so `--log-level warning` hides it there), everything else as a plain line."""
    lines = [(logging.INFO, f"database: {settings.database_label()}")]
    if credentials.cheap_hashing():
        lines.append(
            (
                logging.WARNING,
                "passwords are hashed with cheap test parameters "
                f"({credentials.PROFILE_VARIABLE}={credentials.TEST_PROFILE}): never in production",
            )
        )
    if args.func is cmd_serve and settings.log_format == "json":
        try:
            configure_logging(settings.log_format, args.log_level)
        except ValueError as exc:
            raise SettingError(f"LIVEBLOG_LOG_FORMAT: {exc}") from None
        for level, line in lines:
            log.log(level, line)
        return
    for _, line in lines:
        print(line, file=sys.stderr)


def _refuse_new_database(args: argparse.Namespace, settings: Settings) -> None:
    """Only serve, migrate and demo may make a new SQLite database: any other command that
    finds none was almost certainly run from the wrong directory, and an empty database would
    answer it ("no user named rita") as if that were the truth."""
    sqlite_file = settings.sqlite_file()
    if getattr(args, "creates_database", False) or sqlite_file is None or sqlite_file.exists():
        return
    raise SettingError(
        f"there is no database at {sqlite_file}: point --data-dir or LIVEBLOG_DATA_DIR at the "
        "server's data directory (or --database-url or LIVEBLOG_DATABASE_URL at its database); "
        "`liveblog migrate` makes a new one"
    )


def _service(args: argparse.Namespace) -> Liveblog:
    from liveblog.web.reach import reach_from_settings
    from liveblog.web.site import site_from_settings

    settings = _settings(args)
    store = SqlStore(settings.resolved_database_url())
    store.migrate()
    # Writes from the CLI go to the event log; a running server's readers catch up from it,
    # and its relay sends the purges and webhooks they left in the outbox.
    site, _ = site_from_settings(settings)
    return Liveblog(store, NullHub(), reach=reach_from_settings(settings, site.base_url))


def cmd_serve(args: argparse.Namespace) -> int:
    from liveblog.web.app import create_app
    from liveblog.web.server import serve

    settings = _settings(args)
    settings.host = args.host or settings.host
    settings.port = args.port or settings.port
    if args.workers != 1:
        from liveblog.web.workers import Supervisor

        if not settings.s3_bucket:
            print(
                f"warning: {args.workers} workers keep pictures in one local directory "
                f"({settings.media_directory()}); on several machines use a shared mount or "
                "LIVEBLOG_S3_BUCKET",
                file=sys.stderr,
            )
        return Supervisor(settings, args.workers, args.log_level).run()
    app = create_app(settings)
    serve(app, settings.host, settings.port, args.log_level)
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    store = SqlStore(_settings(args).resolved_database_url())
    store.migrate()
    store.close()
    print("database is at the newest schema")
    return 0


def _read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Repeat password: ") != first:
        raise LiveblogError("the passwords do not match")
    return first


def cmd_user_create(args: argparse.Namespace) -> int:
    svc = _service(args)
    user = svc.create_user(args.name, Role(args.role), _read_password(args))
    print(f"created {user.role.value} {user.name}")
    return 0


def _ended(count: int) -> str:
    return f"; {count} session{'s' if count != 1 else ''} ended" if count else ""


def cmd_user_list(args: argparse.Namespace) -> int:
    users = _service(args).users()
    width = max((len(u.name) for u in users), default=4)
    for user in users:
        state = "disabled" if user.disabled else "active"
        print(f"{user.name:<{width}}  {user.role.value:<11}  {state}")
    return 0


def cmd_user_disable(args: argparse.Namespace) -> int:
    ended = _service(args).set_disabled(args.name, True)
    print(f"disabled {args.name}: logged out everywhere, API tokens refused{_ended(ended)}")
    return 0


def cmd_user_enable(args: argparse.Namespace) -> int:
    _service(args).set_disabled(args.name, False)
    print(f"enabled {args.name}")
    return 0


def cmd_user_password(args: argparse.Namespace) -> int:
    ended = _service(args).set_password(args.name, _read_password(args))
    print(f"password of {args.name} changed{_ended(ended)}")
    return 0


def cmd_token_create(args: argparse.Namespace) -> int:
    token = _service(args).create_token(args.name)
    print(f"API token for {args.name} (shown once; store it safely):", file=sys.stderr)
    print(token)
    return 0


def cmd_token_revoke(args: argparse.Namespace) -> int:
    # Read from stdin, not argv: a token on the command line ends up in shell history.
    token = sys.stdin.readline().strip()
    if not token:
        raise LiveblogError("paste the token to revoke on standard input")
    _service(args).revoke_token(token)
    print("token revoked")
    return 0


def cmd_audit(args: argparse.Namespace) -> int:
    page = _service(args).audit_log(args.blog, args.limit)
    for r in page.records:
        where = f"blog={r.blog_slug or '-'}" + (f" entry={r.entry_id}" if r.entry_id else "")
        print(f"{iso(r.at)}  {r.actor}  {r.action}  {where}  {r.detail}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from liveblog.demo import ensure_demo

    svc = _service(args)
    created, token = ensure_demo(svc)
    base = f"http://{args.host}:{args.port}"
    print("Demo data was created." if created else "Database already has data; left it as it is.")
    print(f"  reader page:  {base}/blogs/demo-storm")
    print(f"  front page:   {base}/")
    print(f"  API docs:     {base}/api/docs")
    print(f"  the desk:     {base}/desk/blogs/demo-storm")
    print("  demo editor:  demo-editor (password: demo-password)")
    print("  a fresh API token for demo-editor:")
    print(f"  curl -H 'Authorization: Bearer {token}' -H 'Content-Type: application/json' \\")
    print(f'       -d \'{{"body": "Hello from the API"}}\' {base}/api/blogs/demo-storm/entries')
    print(token)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from functools import partial

    from liveblog.domain.site import blog_path
    from liveblog.export import copy_feeds, export_blog, summary, watch
    from liveblog.web.app import media_library
    from liveblog.web.site import site_from_settings
    from liveblog.web.templating import render

    settings = _settings(args)
    store = SqlStore(settings.resolved_database_url())
    store.migrate()
    # The real picture store: the copy carries the renditions themselves.
    svc = Liveblog(store, NullHub(), library=media_library(settings))
    site, _ = site_from_settings(settings)
    page = partial(
        render,
        "mirror.html",
        mirror=True,
        canonical=site.url(blog_path(args.slug)),
        site_name=site.name,
    )
    out = Path(args.out)
    feeds = copy_feeds(site, args.copy_url)
    if args.watch:
        watch(svc, args.slug, out, page, feeds, args.interval)
        return 0
    print(summary(export_blog(svc, args.slug, out, page, feeds)))
    return 0


def _copy_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise argparse.ArgumentTypeError(
            "must be an http(s) address with no query, e.g. https://mirror.example/storm"
        )
    return value.rstrip("/")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="liveblog", description="Live blogs for newsrooms.")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-dir", help="where the SQLite database lives (LIVEBLOG_DATA_DIR)")
    common.add_argument("--database-url", help="database URL (LIVEBLOG_DATABASE_URL)")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", parents=[common], help="run the web server")
    serve.add_argument("--host", default=os.environ.get("LIVEBLOG_HOST", "127.0.0.1"))
    serve.add_argument("--port", type=int, default=int(os.environ.get("LIVEBLOG_PORT", "8000")))
    serve.add_argument("--log-level", default="info")
    serve.add_argument(
        "--workers",
        type=int,
        default=int(os.environ.get("LIVEBLOG_WORKERS", "1")),
        help="server processes on this port (LIVEBLOG_WORKERS; more than 1 needs PostgreSQL)",
    )
    serve.set_defaults(func=cmd_serve, creates_database=True)

    migrate = sub.add_parser("migrate", parents=[common], help="apply schema migrations")
    migrate.set_defaults(func=cmd_migrate, creates_database=True)

    user = sub.add_parser("user", help="manage users").add_subparsers(dest="action", required=True)
    create = user.add_parser("create", parents=[common], help="create a user")
    create.add_argument("name")
    create.add_argument("--role", choices=[r.value for r in Role], required=True)
    create.add_argument(
        "--password-stdin", action="store_true", help="read the password from stdin"
    )
    create.set_defaults(func=cmd_user_create)
    listing = user.add_parser("list", parents=[common], help="list users, roles and state")
    listing.set_defaults(func=cmd_user_list)
    disable = user.add_parser(
        "disable", parents=[common], help="refuse a user's logins and tokens; end their sessions"
    )
    disable.add_argument("name")
    disable.set_defaults(func=cmd_user_disable)
    enable = user.add_parser("enable", parents=[common], help="let a disabled user in again")
    enable.add_argument("name")
    enable.set_defaults(func=cmd_user_enable)
    password = user.add_parser(
        "password", parents=[common], help="set a new password (ends the user's sessions)"
    )
    password.add_argument("name")
    password.add_argument(
        "--password-stdin", action="store_true", help="read the password from stdin"
    )
    password.set_defaults(func=cmd_user_password)

    token = sub.add_parser("token", help="manage API tokens").add_subparsers(
        dest="action", required=True
    )
    tcreate = token.add_parser("create", parents=[common], help="print a new API token for a user")
    tcreate.add_argument("name", help="the user the token acts as")
    tcreate.set_defaults(func=cmd_token_create)
    trevoke = token.add_parser(
        "revoke", parents=[common], help="revoke the API token read from standard input"
    )
    trevoke.set_defaults(func=cmd_token_revoke)

    audit = sub.add_parser(
        "audit", parents=[common], help="who did what and when, newest first, a line each"
    )
    audit.add_argument("--blog", help="only this blog's (its slug)")
    audit.add_argument("--limit", type=int, default=100, help="how many lines (at most 500)")
    audit.set_defaults(func=cmd_audit)

    export = sub.add_parser(
        "export",
        parents=[common],
        help="write a static copy of a blog (pages, JSON, pictures) for any static host",
    )
    export.add_argument("slug")
    export.add_argument("--out", required=True, help="the directory to write the copy into")
    export.add_argument(
        "--watch", action="store_true", help="keep the copy in step with the blog until stopped"
    )
    export.add_argument(
        "--interval", type=float, default=5.0, help="seconds between checks with --watch"
    )
    export.add_argument(
        "--copy-url",
        type=_copy_url,
        help="the address the copy is served at (https://mirror.example/storm): its feeds then "
        "link to the copy and carry its pictures instead of the main site's",
    )
    export.set_defaults(func=cmd_export)

    demo = sub.add_parser(
        "demo", parents=[common], help="seed a demo blog if the database is empty"
    )
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--port", type=int, default=8000)
    demo.set_defaults(func=cmd_demo, creates_database=True)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = _settings(args)
        _announce(args, settings)
        _refuse_new_database(args, settings)
        return int(args.func(args))
    except LiveblogError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    except SettingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
