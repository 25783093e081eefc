"""A session lost after the message was sent may have delivered it; one lost before cannot."""

from types import SimpleNamespace

from service.mail.errors import TransientMailError, connection_lost


def test_lost_after_data_may_have_delivered_and_before_cannot():
    after = connection_lost("connection lost", SimpleNamespace(data_started=True))
    before = connection_lost("connection lost", SimpleNamespace(data_started=False))
    assert isinstance(after, TransientMailError) and after.maybe_delivered
    assert not before.maybe_delivered
    assert not connection_lost("refused", object()).maybe_delivered  # no session at all
    assert str(after) == "connection lost"
