"""Which articles a newsletter's digest takes: its own feed or the site's, late arrivals taken
or skipped (and counted), a feed's old backlog left out."""

from __future__ import annotations

from datetime import timedelta

from service.digests.compose import DigestContent, compose, compose_report
from service.digests.selection import select_articles
from tests.unit.digests.test_compose import NOW, make_article, make_newsletter, make_send

FEED = "https://partner.example.org/feed.xml"


def test_a_newsletters_own_feed_goes_to_it_alone(sqlite_app):
    site = make_article(1)
    fed = make_article(2, source_feed=FEED)
    other_feed = make_article(3, source_feed="https://other.example.org/rss")
    own = make_newsletter(feed_url=FEED)
    everyone = make_newsletter()
    assert compose(own, now=NOW).article_ids == [fed.id]
    assert compose(everyone, now=NOW).article_ids == [site.id]
    assert other_feed.id not in compose(everyone, now=NOW).article_ids


def test_a_late_article_is_taken_by_arrival_time_by_default(sqlite_app):
    newsletter = make_newsletter()
    make_send(newsletter, NOW - timedelta(hours=5), content={"article_ids": []})
    late = make_article(6, stored_hours_ago=1)  # published before that send, stored after
    missed_long_ago = make_article(7, stored_hours_ago=6)  # stored before it: it had its turn
    content, selection = compose_report(newsletter, now=NOW)
    assert content.article_ids == [late.id] and missed_long_ago.id not in content.article_ids
    assert (selection.late_taken, dict(selection.skipped)) == (1, {})
    assert selection.skipped_text() == "" and content.skipped == {}


def test_late_articles_skip_counts_them_and_says_why(sqlite_app):
    newsletter = make_newsletter(late_articles="skip")
    make_send(newsletter, NOW - timedelta(hours=5), content={"article_ids": []})
    make_article(6, stored_hours_ago=1)
    make_article(6.5, stored_hours_ago=0.5)
    content, selection = compose_report(newsletter, now=NOW)
    assert content is None and dict(selection.skipped) == {"late": 2}
    assert selection.skipped_text() == (
        "2 article(s) skipped: 2 published before the last send started but stored after it "
        "(this newsletter's late_articles is 'skip')"
    )
    fresh = make_article(1)
    content = compose(newsletter, now=NOW)
    assert content.article_ids == [fresh.id] and content.skipped == {"late": 2}
    assert DigestContent.from_dict(content.as_dict()).skipped == {"late": 2}


def test_a_backlog_older_than_a_period_before_the_last_send_is_too_old(sqlite_app):
    newsletter = make_newsletter()  # no schedule: a 24-hour period
    make_send(newsletter, NOW - timedelta(hours=5), content={"article_ids": []})
    make_article(5 + 25, stored_hours_ago=1)
    recent_enough = make_article(5 + 23, stored_hours_ago=1)
    selection = select_articles(newsletter, NOW)
    assert [a.id for a in selection.articles] == [recent_enough.id]
    assert dict(selection.skipped) == {"too_old": 1}


def test_articles_of_other_sections_are_not_counted_as_skipped(sqlite_app):
    newsletter = make_newsletter(late_articles="skip", filters={"sections": ["Culture"]})
    make_send(newsletter, NOW - timedelta(hours=5), content={"article_ids": []})
    make_article(6, stored_hours_ago=1, section="War")
    assert dict(select_articles(newsletter, NOW).skipped) == {}


def test_a_first_digest_looks_back_one_window_whenever_articles_arrived(sqlite_app):
    newsletter = make_newsletter()
    make_article(30, stored_hours_ago=0)  # no send yet: nothing is late, this is just old
    selection = select_articles(newsletter, NOW)
    assert selection.articles == [] and dict(selection.skipped) == {}
