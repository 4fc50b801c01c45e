from django.core.management.base import BaseCommand

from datapoints.docs import datapoints_markdown


class Command(BaseCommand):
    help = "Print docs/datapoints.md, the element list, generated from datapoints/elements.py."

    def handle(self, **options):
        self.stdout.write(datapoints_markdown(), ending="")
