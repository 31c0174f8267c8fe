"""Schemathesis hooks for Keyward's API (tests/e2e/schemathesis.rs): every generated POST is
signed as the officer whose TLS client certificate the run uses, as the RA client signs.

The signature (keyward-proto `signed_message`, checked by keyward-server `api/auth.rs`) is over
b"keyward-request-v1\\n" + path + b"\\n" + the exact body bytes, made with the key of the TLS
client certificate: ECDSA with SHA-256 up to 320-bit curves, SHA-384 up to 384, SHA-512 above
(keyward-crypto `message_digest_for`); RSA PKCS#1 v1.5 with SHA-256. It travels base64
(standard alphabet) in the `keyward-signature` header.

Signing happens on the prepared request (a `requests` auth), so it covers the bytes that are
sent, whatever Schemathesis serialized. Before that, a body's `timestamp` and `nonce`, when
they have the schema's types, are made fresh: otherwise nearly every case would stop at the
freshness and nonce checks and the handlers behind them would never be reached. For the same
reason three generated procedure names in four are replaced by one the installation has (the
generated one picked which), so that issuance and PIN letter creation run their own checks on
the rest of the body. A body of the wrong shape is sent as generated, for the server to refuse.

Every response is also written, one line `METHOD PATH STATUS`, to the file named by
KEYWARD_SCHEMATHESIS_CALLS: the test counts the cases and the routes reached from it, apart
from Schemathesis' own summary.

Environment: KEYWARD_OFFICER_KEY, the officer's private key (PEM, unencrypted);
KEYWARD_SCHEMATHESIS_CALLS, the call log; KEYWARD_TOKEN_PROCEDURES and
KEYWARD_PIN_PROCEDURES, the installation's procedure names (comma-separated).
"""

import base64
import os
import secrets
import time
import zlib
from urllib.parse import urlsplit

import requests
import schemathesis
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

SIGNATURE_HEADER = "keyward-signature"
LABEL = b"keyward-request-v1\n"

with open(os.environ["KEYWARD_OFFICER_KEY"], "rb") as f:
    KEY = serialization.load_pem_private_key(f.read(), password=None)
CALLS = os.environ["KEYWARD_SCHEMATHESIS_CALLS"]
KNOWN = {
    "token_procedure": os.environ["KEYWARD_TOKEN_PROCEDURES"].split(","),
    "pin_procedure": os.environ["KEYWARD_PIN_PROCEDURES"].split(","),
}


def sign(message: bytes) -> bytes:
    """The officer's signature over `message`, as keyward-crypto's `sign_message` makes it."""
    if isinstance(KEY, ec.EllipticCurvePrivateKey):
        bits = KEY.curve.key_size
        digest = hashes.SHA256() if bits <= 320 else hashes.SHA384() if bits <= 384 else hashes.SHA512()
        return KEY.sign(message, ec.ECDSA(digest))
    if isinstance(KEY, rsa.RSAPrivateKey):
        return KEY.sign(message, padding.PKCS1v15(), hashes.SHA256())
    raise TypeError(f"officer keys of type {type(KEY).__name__} are not supported here")


class OfficerSignature(requests.auth.AuthBase):
    """Adds the officer signature over the prepared request's path and body."""

    def __call__(self, request):
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode("utf-8")
        path = urlsplit(request.url).path.encode("ascii")
        signature = sign(LABEL + path + b"\n" + body)
        request.headers[SIGNATURE_HEADER] = base64.b64encode(signature).decode("ascii")
        return request


@schemathesis.hook
def before_call(context, case, kwargs):
    if case.method.upper() != "POST":
        return
    if isinstance(case.body, dict):
        if isinstance(case.body.get("timestamp"), int) and not isinstance(case.body["timestamp"], bool):
            case.body["timestamp"] = int(time.time())
        if isinstance(case.body.get("nonce"), str):
            case.body["nonce"] = secrets.token_hex(16)
        for field, names in KNOWN.items():
            generated = case.body.get(field)
            if isinstance(generated, str):
                pick = zlib.crc32(generated.encode("utf-8", "surrogatepass"))
                if pick % 4 != 3:
                    case.body[field] = names[pick % len(names)]
    kwargs["auth"] = OfficerSignature()


@schemathesis.hook
def after_call(context, case, response):
    path = urlsplit(response.request.url).path
    with open(CALLS, "a", encoding="utf-8") as log:
        log.write(f"{response.request.method} {path} {response.status_code}\n")
