"""The articles in the console, read-only: newest published first, by section and
publication time, a page at a time (what the digests are made from; they come in by the API
and the feeds). The same service functions as `GET /api/v1/articles`, filters and cursor
alike."""

from __future__ import annotations

from flask import request

from service.console import bp
from service.console.pages import render
from service.digests import article_list
from service.lists.browse import FilterInvalid
from service.paging import BadPage, decode_cursor, page_of

PAGE = 50


@bp.get("/articles")
def articles():
    """Articles matching the section and times (a date is its midnight UTC), newest
    published first, fifty a page."""
    args = {name: request.args[name] for name in article_list.FILTERS if request.args.get(name)}
    problem = None
    try:
        after = decode_cursor(request.args.get("cursor"), str, int)
        before = article_list.before_key(after) if after else None  # type: ignore[arg-type]
        rows = article_list.browse_articles(article_list.article_filter(args), before, PAGE + 1)
    except (BadPage, FilterInvalid) as exc:
        rows, problem = [], str(exc)
    shown, cursor = page_of(rows, PAGE, article_list.cursor_key)
    return render(
        "console/articles.html",
        status=400 if problem else 200,
        articles=shown,
        problem=problem,
        args=args,
        cursor=cursor,
    )
