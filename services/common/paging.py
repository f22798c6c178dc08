"""Pagination as docs/api.md fixes it for every list: ?page=1&page_size=50, max 500,
answered as {items, total, page, page_size}."""

from .errors import error_item, validation_error

MAX_PAGE_SIZE = 500
# Far beyond any list (100,000 rows a page at a time); keeps OFFSET within 64 bits.
MAX_PAGE = 10_000_000


def page_args(page, page_size, default_size=50):
    """(page, page_size) as integers: page at least 1, size 1..500."""
    try:
        page = 1 if page is None else int(page)
        page_size = default_size if page_size is None else int(page_size)
    except (TypeError, ValueError):
        raise validation_error(
            [
                error_item(
                    "page_invalid",
                    "Paginanummer en paginagrootte moeten gehele getallen zijn.",
                    field="page",
                )
            ]
        ) from None
    if page > MAX_PAGE:
        raise validation_error(
            [
                error_item(
                    "page_invalid",
                    f"Het paginanummer is te groot (hoogstens {MAX_PAGE}).",
                    field="page",
                )
            ]
        )
    return max(1, page), min(max(1, page_size), MAX_PAGE_SIZE)


def page_result(items, total, page, page_size):
    return {"items": list(items), "total": int(total), "page": page, "page_size": page_size}
