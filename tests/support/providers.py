"""Providers' feedback posts built with their documented signing schemes, and a local HTTPS
server standing in for SNS (the signing certificate, the subscription confirmation).

    sns = SnsStandIn()           # a self-signed certificate for 127.0.0.1, served over TLS
    with sns: message = sns.sign({...}, version="2")
    sendgrid_headers(private_key, body), mailgun_signature(key), postmark_auth(user, password)
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.server
import json
import secrets
import ssl
import threading
import time
from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Address
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

TOPIC = "arn:aws:sns:eu-central-1:123456789012:ses-feedback"


def self_signed(name: str = "127.0.0.1") -> tuple[rsa.RSAPrivateKey, bytes]:
    """An RSA key and a self-signed certificate (PEM) for `name` (an IP address)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(IPv4Address(name))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return key, cert.public_bytes(serialization.Encoding.PEM)


class SnsStandIn:
    """An HTTPS server on 127.0.0.1 serving `/cert.pem` (the key that signs messages) and
    recording GETs of `/confirm` (SubscribeURL); its certificate is self-signed: point
    SSL_CERT_FILE at `ca_file` so the service trusts it."""

    def __init__(self, folder: Path) -> None:
        self.key, self.pem = self_signed()
        self.ca_file = folder / "sns-ca.pem"
        self.ca_file.write_bytes(self.pem)
        key_file = folder / "sns-key.pem"
        key_file.write_bytes(
            self.key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        self.requests: list[str] = []
        stand_in = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                stand_in.requests.append(self.path)
                body = stand_in.pem if self.path.startswith("/cert") else b"<ok/>"
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.ca_file, key_file)
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self.host = f"127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> SnsStandIn:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def sign(self, message: dict, version: str = "1", cert_path: str = "/cert.pem") -> dict:
        """`message` with SigningCertURL, SignatureVersion and Signature as SNS makes them."""
        signed = dict(message, SignatureVersion=version)
        signed["SigningCertURL"] = f"https://{self.host}{cert_path}"
        fields = ["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"]
        if message["Type"] != "Notification":
            fields = [
                "Message",
                "MessageId",
                "SubscribeURL",
                "Timestamp",
                "Token",
                "TopicArn",
                "Type",
            ]
        text = "".join(f"{f}\n{signed[f]}\n" for f in fields if f in signed)
        algorithm = hashes.SHA1() if version == "1" else hashes.SHA256()  # noqa: S303 (SNS v1)
        signature = self.key.sign(text.encode(), padding.PKCS1v15(), algorithm)
        signed["Signature"] = base64.b64encode(signature).decode()
        return signed


def ses_notification(
    kind: str, recipients: list[tuple[str, str, str]], message_id: str = "", topic: str = TOPIC
) -> dict:
    """An SNS Notification carrying SES's `Bounce` or `Complaint` for `recipients`
    ((address, status, diagnostic) each), as SES documents it."""
    feedback_id = f"0102{secrets.token_hex(16)}-000000"
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    mail = {"messageId": secrets.token_hex(8), "commonHeaders": {"messageId": message_id}}
    if kind == "Bounce":
        detail = {
            "bounceType": "Permanent",  # SES's label: the service must not go by it
            "bouncedRecipients": [
                {"emailAddress": a, "status": s, "diagnosticCode": d, "action": "failed"}
                for a, s, d in recipients
            ],
            "timestamp": now,
            "feedbackId": feedback_id,
        }
        notice = {"notificationType": "Bounce", "bounce": detail, "mail": mail}
    else:
        detail = {
            "complainedRecipients": [{"emailAddress": a} for a, _, _ in recipients],
            "timestamp": now,
            "feedbackId": feedback_id,
            "complaintFeedbackType": "abuse",
        }
        notice = {"notificationType": "Complaint", "complaint": detail, "mail": mail}
    return {
        "Type": "Notification",
        "MessageId": secrets.token_hex(8),
        "TopicArn": topic,
        "Message": json.dumps(notice),
        "Timestamp": now,
    }


def sendgrid_keys() -> tuple[ec.EllipticCurvePrivateKey, str]:
    """A P-256 key pair; the public half as SendGrid shows it (base64 DER)."""
    key = ec.generate_private_key(ec.SECP256R1())
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return key, base64.b64encode(der).decode()


def sendgrid_headers(key: ec.EllipticCurvePrivateKey, body: bytes, at: float | None = None):
    """SendGrid's signature headers over timestamp + body."""
    timestamp = str(int(time.time() if at is None else at))
    signature = key.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    return {
        "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
        "X-Twilio-Email-Event-Webhook-Timestamp": timestamp,
        "Content-Type": "application/json",
    }


def mailgun_signature(key: str, at: float | None = None, token: str | None = None) -> dict:
    """Mailgun's `signature` object: HMAC-SHA256 of timestamp + token."""
    timestamp = str(int(time.time() if at is None else at))
    token = token or secrets.token_hex(25)
    digest = hmac.new(key.encode(), (timestamp + token).encode(), hashlib.sha256).hexdigest()
    return {"timestamp": timestamp, "token": token, "signature": digest}


def postmark_auth(user: str, password: str) -> dict:
    """HTTP Basic, as Postmark sends the credentials put in the webhook's URL."""
    pair = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {pair}"}
