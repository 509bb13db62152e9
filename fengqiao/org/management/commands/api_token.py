"""`fengqiao api_token create USERNAME --name NAME [--days N]`: print a new personal API token once.

Also `api_token list [USERNAME]` and `api_token revoke PREFIX`. Only the token's hash is stored: a
lost token cannot be shown again; revoke it and create another.
"""

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils.timezone import localtime

from fengqiao.core import clock
from fengqiao.core.errors import DomainError


class Command(BaseCommand):
    help = "Personal tokens for the REST API: create (printed once), list, revoke."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="subcommand", required=True)
        create = sub.add_parser("create", help="create a token for USERNAME and print it once")
        create.add_argument("username")
        create.add_argument("--name", required=True, help="what or who uses the token")
        create.add_argument("--days", type=int, default=None, help="expire after this many days (default: never)")
        listing = sub.add_parser("list", help="list tokens (prefixes only)")
        listing.add_argument("username", nargs="?")
        revoke = sub.add_parser("revoke", help="revoke the token with this prefix")
        revoke.add_argument("prefix")

    def handle(self, *args, subcommand, **options):
        getattr(self, f"_{subcommand}")(**options)

    def _create(self, *, username, name, days, **options):
        from fengqiao.api.tokens import api_token_create

        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user {username!r}.")
        if days is not None and days < 1:
            raise CommandError("--days must be at least 1.")
        expires_at = clock.now() + timedelta(days=days) if days else None
        try:
            created = api_token_create(user=user, name=name, expires_at=expires_at)
        except DomainError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(created.plain)
        self.stderr.write(f"Token {created.token.prefix}… for {username}: keep it now, it is not shown again.")

    def _list(self, *, username=None, **options):
        from fengqiao.org.models import ApiToken

        tokens = ApiToken.objects.select_related("user").order_by("user__username", "-created_at")
        if username:
            tokens = tokens.filter(user__username=username)
        now = clock.now()
        for token in tokens:
            expired = token.expires_at is not None and token.expires_at <= now
            state = "revoked" if token.revoked else ("expired" if expired else "active")
            used = f"{localtime(token.last_used_at):%Y-%m-%d %H:%M}" if token.last_used_at else "never"
            self.stdout.write(f"{token.prefix}…  {token.user.get_username():<20} {token.name:<30} {state:<8} "
                              f"created {localtime(token.created_at):%Y-%m-%d}  last used {used}")

    def _revoke(self, *, prefix, **options):
        from fengqiao.api.tokens import api_token_revoke
        from fengqiao.org.models import ApiToken

        tokens = list(ApiToken.objects.filter(prefix=prefix, revoked=False))
        if not tokens:
            raise CommandError(f"No active token with prefix {prefix!r}.")
        if len(tokens) > 1:
            raise CommandError(f"{len(tokens)} active tokens share the prefix {prefix!r}; revoke them in the admin.")
        api_token_revoke(token=tokens[0])
        self.stdout.write(f"Revoked {prefix}… ({tokens[0].name}).")
