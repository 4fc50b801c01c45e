from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination


class Pages(PageNumberPagination):
    """`?page=N&page_size=M` (default 100, at most 1000). A page or page size that is not a
    positive whole number is a 400 naming it; a page past the last one stays DRF's 404."""

    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000

    def get_page_number(self, request, paginator):
        given = request.query_params.get(self.page_query_param)
        if given in self.last_page_strings:
            return paginator.num_pages
        return _positive(self.page_query_param, given) if given else 1

    def get_page_size(self, request):
        given = request.query_params.get(self.page_size_query_param)
        if not given:
            return self.page_size
        return min(_positive(self.page_size_query_param, given), self.max_page_size)


def _positive(name, text):
    if not (text.isascii() and text.isdigit() and len(text) <= 9 and int(text) > 0):
        raise ValidationError({name: [f"{text[:20]!r} is not a positive whole number (1, 2, …)"]})
    return int(text)
