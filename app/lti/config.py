"""Which platforms may launch the tool, and the tool's own key.

BACKPROP_LTI_PLATFORMS names a JSON file: {"platforms": [{...}, ...]}, one object per registration:

    issuer           the platform's `iss` (e.g. https://canvas.instructure.com)
    client_id        the tool's client id on that platform (the `aud` of its messages)
    deployment_ids   the deployments allowed to launch (a launch from another is refused)
    auth_login_url   the platform's OIDC authorization endpoint (the login redirect goes there)
    auth_token_url   the platform's OAuth 2 token endpoint (for grades)
    jwks_url         the platform's public keys (JWKS)
    auth_audience    optional: the `aud` the token endpoint expects in the tool's assertion (default: its URL)

Without the variable, LTI is off and /lti/... answers 404. BACKPROP_LTI_KEY_FILE is where the tool's RSA key is
kept (PEM, mode 0600), generated on first use: default $XDG_DATA_HOME/backprop-live/lti-tool-key.pem, else
~/.local/share/backprop-live/lti-tool-key.pem.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

KEY_BITS = 2048
REQUIRED = ("issuer", "client_id", "deployment_ids", "auth_login_url", "auth_token_url", "jwks_url")


class LtiConfigError(ValueError):
    pass


@dataclass(frozen=True)
class Platform:
    issuer: str
    client_id: str
    deployment_ids: tuple[str, ...]
    auth_login_url: str
    auth_token_url: str
    jwks_url: str
    auth_audience: str | None = None

    @property
    def token_audience(self) -> str:
        return self.auth_audience or self.auth_token_url


@dataclass(frozen=True)
class LtiSettings:
    platforms: tuple[Platform, ...]
    key_file: Path

    def platform(self, issuer: str, client_id: str | None = None) -> Platform | None:
        for p in self.platforms:
            if p.issuer == issuer and (client_id is None or p.client_id == client_id):
                return p
        return None


def _url(value, where: str) -> str:
    if not isinstance(value, str) or urlsplit(value).scheme not in ("http", "https") or not urlsplit(value).netloc:
        raise LtiConfigError(f"{where} must be an http(s) address, not {value!r}")
    return value


def parse_platforms(data, source: str) -> tuple[Platform, ...]:
    """The registrations of a platforms file, each field checked (the message names the file and the field)."""
    if not isinstance(data, dict) or not isinstance(data.get("platforms"), list) or not data["platforms"]:
        raise LtiConfigError(f'{source}: expected {{"platforms": [...]}} with at least one platform')
    out = []
    for i, p in enumerate(data["platforms"]):
        where = f"{source}: platforms[{i}]"
        if not isinstance(p, dict):
            raise LtiConfigError(f"{where} must be an object")
        missing = [k for k in REQUIRED if k not in p]
        if missing:
            raise LtiConfigError(f"{where} lacks {', '.join(missing)}")
        unknown = set(p) - set(REQUIRED) - {"auth_audience"}
        if unknown:
            raise LtiConfigError(f"{where} has unknown fields {', '.join(sorted(unknown))}")
        deployments = p["deployment_ids"]
        if not isinstance(deployments, list) or not deployments or not all(isinstance(d, str) and d for d in deployments):
            raise LtiConfigError(f"{where}.deployment_ids must be a list of deployment ids (strings)")
        for key in ("issuer", "client_id"):
            if not isinstance(p[key], str) or not p[key]:
                raise LtiConfigError(f"{where}.{key} must be a non-empty string")
        out.append(Platform(
            issuer=p["issuer"], client_id=p["client_id"], deployment_ids=tuple(deployments),
            auth_login_url=_url(p["auth_login_url"], f"{where}.auth_login_url"),
            auth_token_url=_url(p["auth_token_url"], f"{where}.auth_token_url"),
            jwks_url=_url(p["jwks_url"], f"{where}.jwks_url"),
            auth_audience=p.get("auth_audience")))
    return tuple(out)


def default_key_file() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "backprop-live" / "lti-tool-key.pem"


def load_lti_settings() -> LtiSettings | None:
    raw = (os.environ.get("BACKPROP_LTI_PLATFORMS") or "").strip()
    if not raw:
        return None
    path = Path(raw).expanduser()
    try:
        data = json.loads(path.read_text())
    except OSError as e:
        raise LtiConfigError(f"BACKPROP_LTI_PLATFORMS: cannot read {path}: {e.strerror or e}") from None
    except json.JSONDecodeError as e:
        raise LtiConfigError(f"BACKPROP_LTI_PLATFORMS: {path} is not JSON: {e}") from None
    key = (os.environ.get("BACKPROP_LTI_KEY_FILE") or "").strip()
    return LtiSettings(parse_platforms(data, str(path)), Path(key).expanduser() if key else default_key_file())


def tool_key(path: Path) -> rsa.RSAPrivateKey:
    """The tool's private key: read from `path`, or generated and kept there on first use. Several processes
    starting at once agree on one key: the file appears whole (a hard link of a finished temporary file) or not
    at all."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".lti-key-")
        try:
            os.fchmod(fd, 0o600)
            os.write(fd, pem)
            os.close(fd)
            try:
                os.link(tmp, path)
            except FileExistsError:
                pass  # another process kept its key first: use that one
        finally:
            os.unlink(tmp)
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise LtiConfigError(f"BACKPROP_LTI_KEY_FILE: {path} does not hold an RSA private key")
    return key
