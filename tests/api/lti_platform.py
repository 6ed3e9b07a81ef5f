"""A learning platform for the LTI tests, served for real on 127.0.0.1: its own RSA key and JWKS, an OAuth 2 token
endpoint that checks the tool's signed assertion against the tool's JWKS, and a gradebook line item that keeps the
scores posted to it. It signs the id_tokens a real platform would post to the tool."""

from __future__ import annotations

import secrets
import socket
import threading
import time

import httpx
import jwt
import uvicorn
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
AGS = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
DL = "https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"
SCORE_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Platform:
    def __init__(self, client_id: str = "backprop-tool", deployment_id: str = "deployment-1"):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.issuer = "https://lms.example.edu"
        self.client_id, self.deployment_id = client_id, deployment_id
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = "platform-key-1"
        self.tool_jwks: dict | None = None  # given by the test once the tool exists
        self.tokens: set[str] = set()
        self.scores: list[dict] = []
        self.refusals: list[str] = []
        app = Starlette(routes=[Route("/jwks", self._jwks), Route("/token", self._token, methods=["POST"]),
                                Route("/lineitems/{item}/scores", self._scores, methods=["POST"])])
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    # -- the registration the tool is given ------------------------------------------------------------------
    def registration(self) -> dict:
        return {"issuer": self.issuer, "client_id": self.client_id, "deployment_ids": [self.deployment_id],
                "auth_login_url": f"{self.base}/auth", "auth_token_url": f"{self.base}/token",
                "jwks_url": f"{self.base}/jwks"}

    def __enter__(self):
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "the platform did not start"
            time.sleep(0.01)
        return self

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(timeout=10)

    # -- messages to the tool --------------------------------------------------------------------------------
    def id_token(self, nonce: str, message_type: str = "LtiResourceLinkRequest", key=None, kid=None,
                 lifetime: int = 300, **overrides) -> str:
        now = int(time.time())
        claims = {
            "iss": self.issuer, "aud": self.client_id, "sub": "student-42", "iat": now, "exp": now + lifetime,
            "nonce": nonce, "name": "Ada Student",
            CLAIM + "message_type": message_type, CLAIM + "version": "1.3.0",
            CLAIM + "deployment_id": self.deployment_id,
            CLAIM + "target_link_uri": "http://tool.example/lti/launch",
            CLAIM + "resource_link": {"id": "link-7"},
        }
        if message_type == "LtiDeepLinkingRequest":
            claims[DL] = {"deep_link_return_url": f"{self.base}/deep-link-return", "accept_types": ["ltiResourceLink"],
                          "accept_presentation_document_targets": ["iframe", "window"], "data": "opaque-123"}
        claims.update(overrides)
        claims = {k: v for k, v in claims.items() if v is not None}
        return jwt.encode(claims, key or self.key, algorithm="RS256", headers={"kid": kid or self.kid})

    def graded(self, lesson: str) -> dict:
        """The claims of a graded resource link to a lesson."""
        return {CLAIM + "custom": {"lesson": lesson},
                AGS: {"scope": [SCORE_SCOPE], "lineitems": f"{self.base}/lineitems",
                      "lineitem": f"{self.base}/lineitems/9"}}

    def verify_tool_message(self, token: str) -> dict:
        """A message signed by the tool, checked as a platform checks it: the tool's JWKS, audience = us."""
        key = jwt.PyJWKSet.from_dict(self.tool_jwks)[jwt.get_unverified_header(token)["kid"]].key
        return jwt.decode(token, key, algorithms=["RS256"], audience=self.issuer, issuer=self.client_id,
                          options={"require": ["iss", "aud", "exp", "iat", "nonce"]})

    # -- endpoints -------------------------------------------------------------------------------------------
    async def _jwks(self, request: Request):
        public = jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        return JSONResponse({"keys": [{**public, "kid": self.kid, "alg": "RS256", "use": "sig"}]})

    async def _token(self, request: Request):
        form = await request.form()
        try:
            assert form["grant_type"] == "client_credentials"
            assert form["client_assertion_type"] == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
            assert SCORE_SCOPE in form["scope"].split()
            assertion = form["client_assertion"]
            key = jwt.PyJWKSet.from_dict(self.tool_jwks)[jwt.get_unverified_header(assertion)["kid"]].key
            claims = jwt.decode(assertion, key, algorithms=["RS256"], audience=f"{self.base}/token")
            assert claims["iss"] == claims["sub"] == self.client_id and claims.get("jti")
        except (AssertionError, KeyError, jwt.exceptions.InvalidTokenError) as e:
            self.refusals.append(f"token: {e!r}")
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        token = secrets.token_urlsafe(16)
        self.tokens.add(token)
        return JSONResponse({"access_token": token, "token_type": "Bearer", "expires_in": 3600, "scope": SCORE_SCOPE})

    async def _scores(self, request: Request):
        auth = request.headers.get("authorization", "")
        if not auth.startswith("Bearer ") or auth[7:] not in self.tokens:
            self.refusals.append("scores: no valid bearer token")
            return Response(status_code=401)
        if request.headers.get("content-type") != "application/vnd.ims.lis.v1.score+json":
            self.refusals.append("scores: wrong content type")
            return Response(status_code=415)
        self.scores.append({"item": request.path_params["item"], **(await request.json())})
        return Response(status_code=204)


def login(client: httpx.Client, platform: Platform, **extra) -> tuple[str, str]:
    """Third-party login initiation at the tool; the state and nonce of the redirect to the platform."""
    r = client.get("/lti/login", params={"iss": platform.issuer, "login_hint": "student-42", "client_id": platform.client_id,
                                         "target_link_uri": "http://testserver/lti/launch", "lti_message_hint": "m1", **extra},
                   follow_redirects=False)
    assert r.status_code == 302, r.text
    query = dict(httpx.URL(r.headers["location"]).params)
    return query["state"], query["nonce"]
