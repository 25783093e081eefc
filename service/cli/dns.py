"""`newsletter dns`: the DNS records to publish for authenticated mail, and what is published."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from service.mail import dns_records as dns

MARKS = {
    dns.MATCH: "match",
    dns.PRESENT: "published",
    dns.MISSING: "MISSING",
    dns.MISMATCH: "MISMATCH",
    dns.UNREACHABLE: "not checked (DNS unreachable)",
}


@click.command("dns")
@click.option("--check/--no-check", default=True, show_default=True,
              help="Look the records up (DNS_RESOLVER, else the system's resolver).")  # fmt: skip
@with_appcontext
def dns_command(check: bool) -> None:
    """Print the DKIM, SPF, DMARC (and bounce MX) records to publish, and whether DNS has them.

    Exit 1 when a record is missing or differs (a DKIM key that does not match what DNS
    publishes fails every signature)."""
    config = current_app.config
    if not config.get("DKIM_PRIVATE_KEY"):
        click.echo(
            "DKIM is not configured: set DKIM_SELECTOR, DKIM_DOMAIN and DKIM_PRIVATE_KEY\n"
            "(a key: openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out dkim.pem)\n"
        )
    ask = dns.resolver(config.get("DNS_RESOLVER", ""), config.get("DNS_TIMEOUT", 3.0))
    bad = False
    for record in dns.records(config):
        click.echo(f"; {record.why}")
        click.echo(record.zone_line())
        if check:
            found = dns.check(record, ask)
            line = f";   {MARKS[found.status]}"
            if found.status in (dns.MISMATCH, dns.PRESENT) and found.published:
                line += f": {found.published[:120]}"
            click.echo(line)
            bad = bad or found.status in (dns.MISSING, dns.MISMATCH)
        click.echo()
    for note in dns.alignment_notes(config):
        click.echo(f"warning: {note}")
    if bad:
        raise SystemExit(1)


COMMANDS = [dns_command]
