from django.core.management.base import BaseCommand

from datapoints.command_examples import commands_markdown


class Command(BaseCommand):
    help = "Print docs/commands.md, every command with an example, generated from datapoints/command_examples.py."

    def handle(self, **options):
        self.stdout.write(commands_markdown(), ending="")
