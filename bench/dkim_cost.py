"""What DKIM signing adds per reader, against one RSA-2048 signature in the same run.

    .venv/bin/python bench/dkim_cost.py                  # a 47 KB digest (the message), rsa-sha256
    .venv/bin/python bench/dkim_cost.py --ed25519        # plus the second, Ed25519 signature

`bench/send.py --dkim on|both` uses `dkim_env` to send signed (with VERP addresses) and
prints this figure too. The signing cost is the time `personalize` takes for one reader with
a signer minus without one (so it counts the header parsing, the body hash and the private
key operation), in CPU time of the measuring thread (waiting for a core on a shared
machine is not a cost of the code), the median of interleaved blocks; the baseline is `cryptography`'s
RSA-2048 PKCS#1 v1.5 SHA-256 signature of a 600-byte header block, measured alongside.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def write_keys(directory: Path, ed25519: bool = False) -> dict[str, str]:
    """Fresh DKIM keys as PEM files in `directory`; the settings naming them."""
    from cryptography.hazmat.primitives.asymmetric import ed25519 as ed
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.hazmat.primitives.serialization import (
        Encoding,
        NoEncryption,
        PrivateFormat,
    )

    def pem(key) -> bytes:
        return key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())

    (directory / "dkim.pem").write_bytes(pem(rsa.generate_private_key(65537, 2048)))
    env = {
        "DKIM_SELECTOR": "bench",
        "DKIM_DOMAIN": "news-bench.org",
        "DKIM_PRIVATE_KEY": str(directory / "dkim.pem"),
    }
    if ed25519:
        (directory / "dkim-ed.pem").write_bytes(pem(ed.Ed25519PrivateKey.generate()))
        env["DKIM_ED25519_PRIVATE_KEY"] = str(directory / "dkim-ed.pem")
    return env


def dkim_env(directory: Path, ed25519: bool = False) -> dict[str, str]:
    """The environment of a signed send: DKIM keys and a VERP bounce domain."""
    return {**write_keys(directory, ed25519), "BOUNCE_DOMAIN": "bounces.news-bench.org"}


def _timed(function, count: int) -> float:
    """CPU seconds of this thread per call: on a shared machine, time spent waiting for a
    core is not the cost of the code."""
    start = time.thread_time()
    for _ in range(count):
        function()
    return (time.thread_time() - start) / count


def signing_cost(app, size: int = 47_000, blocks: int = 60, count: int = 40) -> dict:
    """Microseconds of CPU per reader: signing (signed minus unsigned personalize) and one
    RSA-2048 signature, medians of interleaved blocks, and their ratio."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    from service.mail import RenderedEmail, dkim, feedback_id, newsletter_sender
    from service.models import Newsletter
    from service.sending import personalize as p

    with app.app_context():
        news = Newsletter(id=1, slug="bench", name="Ukraine Daily")
        story = "<p>What happened today in Kyiv, and why it matters. &#8212; a paragraph.</p>\n"
        content = size * 3 // 4  # the parts are base64: 4 bytes sent for 3
        html = story * (content * 3 // 4 // len(story))
        footer = f"<a href='https://n.example/u/{p.LEGACY.unsubscribe}'>Unsubscribe</a>"
        text = "What happened today in Kyiv.\n" * (content // 4 // 29)
        rendered = RenderedEmail("Ukraine Daily", text + p.LEGACY.unsubscribe + "\n", html + footer)
        signer = dkim.signer()
        plain, signed = (
            p.build_template(
                rendered,
                sender=newsletter_sender(news),
                newsletter_id=1,
                placeholders=p.LEGACY,
                feedback_id=feedback_id(1, "bench"),
                signer=key,
            )
            for key in (None, signer)
        )
        reader = p.Recipient(7, "r7@news-bench.org", "Olena", False, "u" * 90, "p" * 60)
        message = p.personalize(signed, 1, reader)
        rsa_key = signer.keys[0].private
        header = bytes(message[:600])
        results: dict[str, list[float]] = {"unsigned": [], "signed": [], "rsa": []}
        for _ in range(blocks):
            results["unsigned"].append(_timed(lambda: p.personalize(plain, 1, reader), count))
            results["signed"].append(_timed(lambda: p.personalize(signed, 1, reader), count))
            results["rsa"].append(
                _timed(lambda: rsa_key.sign(header, padding.PKCS1v15(), hashes.SHA256()), count)
            )
    median = {name: statistics.median(values) * 1e6 for name, values in results.items()}
    sign = median["signed"] - median["unsigned"]
    return {
        "size": len(message),
        "keys": len(signer.keys),
        "sign_us": sign,
        "rsa_us": median["rsa"],
        "ratio": sign / median["rsa"],
        "personalize_us": median["unsigned"],
    }


def report(cost: dict) -> str:
    """One line: the signing cost per reader against one RSA-2048 signature."""
    keys = "rsa-sha256" if cost["keys"] == 1 else "rsa-sha256 + ed25519-sha256"
    return (
        f"DKIM ({keys}) on a {cost['size']} byte digest: {cost['sign_us']:.0f} us per reader; "
        f"one RSA-2048 signature {cost['rsa_us']:.0f} us in the same run: "
        f"{cost['ratio']:.2f}x (goal <= 1.3x); personalize unsigned {cost['personalize_us']:.0f} us"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ed25519", action="store_true", help="add the Ed25519 signature")
    parser.add_argument("--size", type=int, default=47_000)
    args = parser.parse_args()
    from service import create_app

    with tempfile.TemporaryDirectory() as tmp:
        os.environ.setdefault("APP_ENV", "test")
        config = {"ENV": "test", "INSTANCE_PATH": tmp, "SECRET_KEYS": ["bench-secret"]}
        config.update(write_keys(Path(tmp), args.ed25519))
        config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{tmp}/bench.db"
        app = create_app(config)
        print(report(signing_cost(app, args.size)), flush=True)


if __name__ == "__main__":
    main()
