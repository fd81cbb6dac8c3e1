from django.core.management.base import BaseCommand, CommandError

from baton.core import clock
from baton.notifications import services
from baton.notifications.models import Channel


class Command(BaseCommand):
    help = "Notifications: `notify test <channel>` sends a test message; `notify deliver` drains the outbox."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        test = sub.add_parser("test", help="Send a test message to a channel (id or name).")
        test.add_argument("channel")
        test.add_argument("--to", action="append", default=[], help="E-mail address (e-mail channels).")
        deliver = sub.add_parser("deliver", help="Deliver the messages owed now.")
        deliver.add_argument("--now", help="ISO date-time")

    def handle(self, *args, action, **options):
        if action == "deliver":
            now = clock.parse_now(options["now"]) if options.get("now") else clock.now()
            self.stdout.write(str(services.outbox_deliver(now)))
            return
        ref = options["channel"]
        channel = Channel.objects.filter(pk=int(ref)).first() if ref.isdigit() else None
        channel = channel or Channel.objects.filter(name=ref).first()
        if channel is None:
            raise CommandError(f"no channel {ref!r}")
        outcome = services.channel_test(channel=channel, to=options["to"])
        if not outcome.ok:
            raise CommandError(f"{channel}: {outcome.error}")
        self.stdout.write(f"{channel}: sent")
