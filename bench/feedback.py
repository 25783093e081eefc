"""Bounces and complaints in: milliseconds per feedback event recorded (`record_feedback`,
SQLite and PostgreSQL, one commit each), and the cost of verifying one provider post
(SendGrid's ECDSA P-256, SNS's RSA-SHA256 with a cached certificate, Mailgun's HMAC).

Run by hand (not in CI):

    .venv/bin/python bench/feedback.py --n 500
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from cryptography.hazmat.primitives import hashes  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec, padding  # noqa: E402

from service import create_app  # noqa: E402
from service.deliverability.feedback import FeedbackEvent, record_feedback  # noqa: E402
from service.deliverability.providers import sendgrid  # noqa: E402
from service.extensions import db  # noqa: E402
from tests.conftest import TEST_SECRET, migrate, scratch_postgres  # noqa: E402
from tests.support.providers import self_signed, sendgrid_keys  # noqa: E402


def per_call_ms(work, n: int) -> float:
    """Median milliseconds of `work(i)` over n calls."""
    times = []
    for i in range(n):
        start = time.perf_counter()
        work(i)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def record(url: str, n: int) -> float:
    app = create_app({"ENV": "test", "SQLALCHEMY_DATABASE_URI": url, "SECRET_KEYS": [TEST_SECRET]})
    migrate(app)
    with app.app_context():

        def one(i: int) -> None:
            record_feedback(
                FeedbackEvent(
                    source="ses",
                    kind="bounce",
                    provider_event_id=f"e{i}",
                    status="5.1.1",
                    recipient=f"gone{i}@gmail.com",
                )
            )

        result = per_call_ms(one, n)
        db.session.remove()
        db.engine.dispose()
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=500)
    n = parser.parse_args().n
    with tempfile.TemporaryDirectory() as folder:
        print(f"record_feedback, SQLite:      {record(f'sqlite:///{folder}/b.db', n):.2f} ms")
    with scratch_postgres() as url:
        print(f"record_feedback, PostgreSQL:  {record(url, n):.2f} ms")
    private, public = sendgrid_keys()
    body = json.dumps([{"event": "bounce", "sg_event_id": "x"}] * 10).encode()
    signature = private.sign(b"1700000000" + body, ec.ECDSA(hashes.SHA256()))
    key = sendgrid.public_key(public)
    ecdsa = per_call_ms(lambda i: key.verify(signature, b"1700000000" + body,
                                              ec.ECDSA(hashes.SHA256())), n)  # fmt: skip
    print(f"SendGrid ECDSA P-256 verify:  {ecdsa:.3f} ms")
    rsa_key, _ = self_signed()
    text = b"Message\nx\nMessageId\ny\n" * 20
    sig = rsa_key.sign(text, padding.PKCS1v15(), hashes.SHA256())
    public_rsa = rsa_key.public_key()
    rsa = per_call_ms(
        lambda i: public_rsa.verify(sig, text, padding.PKCS1v15(), hashes.SHA256()), n
    )
    print(f"SNS RSA-2048 SHA256 verify:   {rsa:.3f} ms (certificate cached)")
    mac = per_call_ms(lambda i: hmac.compare_digest(
        hmac.new(b"k" * 32, b"1700000000token", hashlib.sha256).hexdigest(), "0" * 64), n)  # fmt: skip
    print(f"Mailgun HMAC-SHA256:          {mac:.4f} ms")


if __name__ == "__main__":
    main()
