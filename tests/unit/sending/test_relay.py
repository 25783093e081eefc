"""The process's pool of SMTP connections: answers and errors come back to the batch's queue."""

from __future__ import annotations

import queue

from service.mail.errors import PermanentMailError
from service.sending import relay
from tests.support.smtp_server import SMTPServer

MESSAGE = b"Subject: pool\r\n\r\nHello.\r\n"


def test_answers_and_errors_come_back_tagged_over_at_most_n_connections(sqlite_app) -> None:
    with SMTPServer() as server:
        sqlite_app.config.update(MAIL_URL=server.url, SEND_CONNECTIONS=3)
        server.fail_next(550, "5.1.1 No such user", recipient="r7@example.org")
        answers: queue.SimpleQueue = queue.SimpleQueue()
        pool = relay.pool()
        assert pool is relay.pool() and pool.size == 3
        for n in range(20):
            pool.submit(MESSAGE, "n@example.org", f"r{n}@example.org", False, answers, n)
        got = {a.tag: a for a in (answers.get(timeout=10) for _ in range(20))}

        assert sorted(got) == list(range(20))
        assert isinstance(got[7].error, PermanentMailError) and got[7].result is None
        assert all(got[n].result.startswith("250") for n in got if n != 7)
        assert len(server.wait_for(19)) == 19
        assert server.sessions <= 3


def test_an_unusable_relay_url_comes_back_as_the_error(sqlite_app) -> None:
    sqlite_app.config.update(MAIL_URL="smtp://", SEND_CONNECTIONS=1)
    answers: queue.SimpleQueue = queue.SimpleQueue()
    relay.pool().submit(MESSAGE, "n@example.org", "r@example.org", False, answers, "only")
    answer = answers.get(timeout=10)
    assert answer.tag == "only" and isinstance(answer.error, ValueError)
