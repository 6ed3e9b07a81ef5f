"""Assignment and Grade Services: a score on a gradebook line item, with an access token obtained by the OAuth 2
client-credentials grant and a JWT assertion signed by the tool's key (the LTI Advantage security framework)."""

from __future__ import annotations

import time
from datetime import datetime, timezone

import httpx

from .config import Platform
from .launches import Launch
from .tokens import LtiError, ToolKey

SCORE_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
SCORE_TYPE = "application/vnd.ims.lis.v1.score+json"
TIMEOUT = 10.0


class Grades:
    def __init__(self, tool: ToolKey, transport: httpx.AsyncBaseTransport | None = None):
        self.tool = tool
        self.transport = transport
        self.tokens: dict[tuple[str, str], tuple[float, str]] = {}  # (issuer, client id) -> (expires, token)

    def _client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(timeout=TIMEOUT, transport=self.transport)

    async def access_token(self, platform: Platform) -> str:
        key = (platform.issuer, platform.client_id)
        cached = self.tokens.get(key)
        if cached and cached[0] > time.monotonic() + 30:
            return cached[1]
        assertion = self.tool.sign({"iss": platform.client_id, "sub": platform.client_id,
                                    "aud": platform.token_audience})
        async with self._client() as client:
            try:
                r = await client.post(platform.auth_token_url, data={
                    "grant_type": "client_credentials",
                    "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                    "client_assertion": assertion, "scope": SCORE_SCOPE})
            except httpx.HTTPError as e:
                raise LtiError(502, "platform_unreachable", f"the platform's token endpoint did not answer: {e}") from None
        if r.status_code != 200:
            raise LtiError(502, "token_refused", f"the platform refused an access token ({r.status_code}): "
                                                 f"{r.text[:200]}")
        body = r.json()
        token = body.get("access_token")
        if not isinstance(token, str):
            raise LtiError(502, "token_refused", "the platform's token answer has no access_token")
        self.tokens[key] = (time.monotonic() + float(body.get("expires_in", 3600)), token)
        return token

    async def post_score(self, platform: Platform, launch: Launch) -> dict:
        given, maximum = launch.score()
        score = {
            "userId": launch.user,
            "scoreGiven": given,
            "scoreMaximum": maximum,
            "activityProgress": "Completed" if launch.completed() else "InProgress",
            "gradingProgress": "FullyGraded" if launch.completed() else "Pending",
            "timestamp": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
            "comment": f"Backprop Live lesson {launch.lesson}: {int(given)} of {int(maximum)} exercises correct",
        }
        token = await self.access_token(platform)
        url = _scores_url(launch.lineitem)
        async with self._client() as client:
            try:
                r = await client.post(url, json=score, headers={"Authorization": f"Bearer {token}",
                                                                "Content-Type": SCORE_TYPE})
            except httpx.HTTPError as e:
                raise LtiError(502, "platform_unreachable", f"the platform's line item did not answer: {e}") from None
        if r.status_code not in (200, 201, 202, 204):
            raise LtiError(502, "score_refused", f"the platform refused the score ({r.status_code}): {r.text[:200]}")
        return score


def _scores_url(lineitem: str) -> str:
    """{lineitem}/scores, keeping the line item's query string where it belongs (after the path)."""
    base, _, query = lineitem.partition("?")
    return f"{base.rstrip('/')}/scores" + (f"?{query}" if query else "")
