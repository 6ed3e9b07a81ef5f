"""JWTs of LTI 1.3 (RS256): the platform's messages checked against its published keys, the tool's signed with its
own key (whose public half /lti/jwks publishes). PyJWT does the JOSE work; nothing here is hand-made crypto."""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt import PyJWKClient

from .config import Platform

ALGORITHM = "RS256"
LEEWAY = 60  # seconds of clock difference tolerated between the platform and the tool
CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"


class LtiError(Exception):
    """A refused LTI message: an HTTP status, a stable code and a message naming what was wrong."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class ToolKey:
    """The tool's signing key, its key id (the RFC 7638 thumbprint) and its JWKS."""

    def __init__(self, key: rsa.RSAPrivateKey):
        self.key = key
        public = jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
        self.kid = _thumbprint(public)
        self.public_jwk = {**public, "kid": self.kid, "alg": ALGORITHM, "use": "sig"}

    def jwks(self) -> dict:
        return {"keys": [self.public_jwk]}

    def sign(self, claims: dict, lifetime: float = 300) -> str:
        now = int(time.time())
        body = {"iat": now, "exp": now + int(lifetime), "jti": uuid.uuid4().hex, **claims}
        return jwt.encode(body, self.key, algorithm=ALGORITHM, headers={"kid": self.kid})


def _thumbprint(jwk: dict) -> str:
    """RFC 7638: the SHA-256 of the key's required members in lexicographic order, base64url."""
    canonical = json.dumps({k: jwk[k] for k in ("e", "kty", "n")}, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=").decode()


class PlatformKeys:
    """Each platform's JWKS, fetched when a key id is first seen and kept for a while (PyJWKClient)."""

    def __init__(self):
        self.clients: dict[str, PyJWKClient] = {}

    def key_for(self, platform: Platform, token: str):
        client = self.clients.get(platform.jwks_url)
        if client is None:
            client = self.clients[platform.jwks_url] = PyJWKClient(platform.jwks_url, cache_keys=True, lifespan=600,
                                                                   timeout=10)
        try:
            return client.get_signing_key_from_jwt(token).key
        except jwt.exceptions.PyJWKClientConnectionError as e:
            raise LtiError(502, "platform_keys_unavailable", f"the platform's keys could not be fetched from "
                                                             f"{platform.jwks_url}: {e}") from None
        except jwt.exceptions.PyJWKClientError as e:
            raise LtiError(401, "unknown_key", f"the message is signed with a key the platform does not publish: "
                                               f"{e}") from None


def unverified_claims(token: str) -> dict:
    """The claims, read before the signature is checked, only to know which platform to check it against."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.exceptions.DecodeError:
        raise LtiError(400, "malformed_token", "id_token is not a JWT") from None
    if not isinstance(claims.get("iss"), str):
        raise LtiError(400, "malformed_token", "id_token has no issuer (iss)")
    return claims


def verify_platform_message(token: str, platform: Platform, keys: PlatformKeys) -> dict:
    """A platform's id_token, signature, issuer, audience, expiry and issue time checked; its claims."""
    key = keys.key_for(platform, token)
    try:
        claims = jwt.decode(token, key, algorithms=[ALGORITHM], audience=platform.client_id, issuer=platform.issuer,
                            leeway=LEEWAY, options={"require": ["iss", "aud", "exp", "iat", "nonce"]})
    except jwt.exceptions.ExpiredSignatureError:
        raise LtiError(401, "expired", "the id_token has expired (exp); start the launch again") from None
    except jwt.exceptions.InvalidAudienceError:
        raise LtiError(401, "wrong_audience", f"the id_token is not for this tool: its aud does not name the "
                                              f"client id {platform.client_id!r}") from None
    except jwt.exceptions.InvalidIssuerError:
        raise LtiError(401, "wrong_issuer", "the id_token's issuer is not the registered platform") from None
    except jwt.exceptions.InvalidSignatureError:
        raise LtiError(401, "bad_signature", "the id_token's signature does not verify with the platform's keys") from None
    except jwt.exceptions.MissingRequiredClaimError as e:
        raise LtiError(400, "missing_claim", f"the id_token lacks the claim {e.claim}") from None
    except jwt.exceptions.ImmatureSignatureError:
        raise LtiError(401, "not_yet_valid", "the id_token is not valid yet (iat or nbf in the future)") from None
    except jwt.exceptions.InvalidTokenError as e:
        raise LtiError(401, "invalid_token", f"the id_token is not valid: {e}") from None
    aud = claims["aud"]
    if isinstance(aud, list) and len(aud) > 1 and claims.get("azp") != platform.client_id:
        raise LtiError(401, "wrong_audience", "an id_token for several audiences must name this tool in azp")
    if claims.get(CLAIM + "version") != "1.3.0":
        raise LtiError(400, "unsupported_version", "only LTI 1.3.0 messages are accepted")
    deployment = claims.get(CLAIM + "deployment_id")
    if deployment not in platform.deployment_ids:
        raise LtiError(403, "unknown_deployment", f"deployment {deployment!r} is not registered for this platform "
                                                  "(BACKPROP_LTI_PLATFORMS deployment_ids)")
    return claims
