"""Login challenges (Sign-In with Ethereum, EIP-4361, signed per EIP-191), bearer tokens,
API keys and encryption of custodial keys."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import os
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import jwt
import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount
from eth_utils.address import to_checksum_address

from backend.errors import Unauthenticated
from backend.settings import BackendSettings, SettingsError, decode_master_key

TOKEN_ALGORITHM = "HS256"
TOKEN_AUDIENCE = "scf-ledger"
API_KEY_PREFIX = "scf_"
ACTIVATION_PREFIX = "scfact_"


MASTER_KEY_FILE = "master.key"


def master_key_bytes(settings: BackendSettings, *, key_dir: Path) -> bytes:
    """The 32-byte master key. Outside the embedded profile it is SCF_MASTER_KEY (the settings
    refuse anything but 32 bytes of base64). The embedded profile, given none, keeps a random
    one in `key_dir` beside the databases it protects: new with a fresh database, the same
    while that database lives."""
    configured = decode_master_key(settings.master_key.get_secret_value())
    if configured is not None:
        return configured
    if not settings.embedded:
        raise SettingsError("SCF_MASTER_KEY must be 32 random bytes in base64")
    path = key_dir / MASTER_KEY_FILE
    key_dir.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        key = decode_master_key(path.read_text().strip())
        if key is None:
            raise SettingsError(f"{path} does not hold a master key") from None
        return key
    key = secrets.token_bytes(32)
    with os.fdopen(fd, "w") as out:
        out.write(base64.urlsafe_b64encode(key).decode())
    return key


def _subkey(master: bytes, purpose: str) -> bytes:
    return hmac.new(master, purpose.encode(), hashlib.sha256).digest()


# -- challenges and signatures -----------------------------------------------------------------


SIWE_STATEMENT = "Sign in to scf-ledger."


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def challenge_message(
    *, address: str, nonce: str, expires_at: datetime, public_url: str, chain_id: int
) -> str:
    """The login message, Sign-In with Ethereum (EIP-4361): the scheme and domain (authority)
    of `public_url`, the EIP-55 address, the URI, chain id, nonce, issued-at and expiry; a
    phishing site relaying it shows a domain that is not its own."""
    url = urlsplit(public_url)
    issued = datetime.now(UTC)
    return (
        f"{url.scheme}://{url.netloc} wants you to sign in with your Ethereum account:\n"
        f"{to_checksum_address(address)}\n"
        "\n"
        f"{SIWE_STATEMENT}\n"
        "\n"
        f"URI: {public_url}\n"
        "Version: 1\n"
        f"Chain ID: {chain_id}\n"
        f"Nonce: {nonce}\n"
        f"Issued At: {_rfc3339(issued)}\n"
        f"Expiration Time: {_rfc3339(expires_at)}"
    )


_SIWE = re.compile(
    r"(?P<scheme>[a-z][a-z0-9+.-]*)://(?P<domain>[^/?#\s]+) wants you to sign in with your "
    r"Ethereum account:\n(?P<address>0x[0-9a-fA-F]{40})\n\n(?P<statement>[^\n]+)\n\n"
    r"URI: (?P<uri>\S+)\nVersion: 1\nChain ID: (?P<chain_id>[0-9]+)\n"
    r"Nonce: (?P<nonce>[A-Za-z0-9]{8,})\nIssued At: (?P<issued_at>\S+)\n"
    r"Expiration Time: (?P<expiration_time>\S+)"
)


def check_challenge(
    message: str, *, nonce: str, public_url: str, chain_id: int, now: datetime
) -> None:
    """Parse an EIP-4361 login message strictly and check each field against this server:
    scheme and domain, URI, chain id, nonce, issued-at (not in the future) and expiry."""
    m = _SIWE.fullmatch(message)
    if m is None:
        raise Unauthenticated("the login message is not Sign-In with Ethereum", code="BadChallenge")
    url = urlsplit(public_url)
    expected = {
        "scheme": url.scheme,
        "domain": url.netloc,
        "uri": public_url,
        "chain_id": str(chain_id),
        "nonce": nonce,
    }
    for name, value in expected.items():
        if m[name] != value:
            raise Unauthenticated(
                f"the login message names {name} {m[name]!r}, this server is {value!r}",
                code="ChallengeMismatch",
                details={"field": name},
            )
    issued = datetime.fromisoformat(m["issued_at"])
    expires = datetime.fromisoformat(m["expiration_time"])
    if issued > now + timedelta(seconds=5):
        raise Unauthenticated("the login message is issued in the future", code="BadChallenge")
    if expires <= now:
        raise Unauthenticated("challenge expired", code="ChallengeExpired")


def recover_signer(message: str, signature: str) -> str:
    """The address that signed `message` (EIP-191 personal message)."""
    try:
        return str(Account.recover_message(encode_defunct(text=message), signature=signature))
    except Exception as exc:  # malformed signatures raise assorted errors
        raise Unauthenticated("signature does not verify", code="BadSignature") from exc


def sign_message(account: LocalAccount, message: str) -> str:
    """Client side of the login (used by tests and scripts)."""
    return account.sign_message(encode_defunct(text=message)).signature.to_0x_hex()


# -- bearer tokens -----------------------------------------------------------------------------


@dataclass(frozen=True)
class TokenClaims:
    """What a verified bearer token says: whose it is (the member, and the staff user if a
    person logged in), its id and its expiry."""

    address: str
    jti: str
    expires_at: datetime
    user_id: str | None = None


@dataclass(frozen=True)
class TokenIssuer:
    secret: bytes
    lifetime: timedelta

    @classmethod
    def from_master(cls, master: bytes, settings: BackendSettings) -> TokenIssuer:
        return cls(_subkey(master, "token"), timedelta(seconds=settings.token_lifetime_seconds))

    def issue(self, address: str, *, user_id: str | None = None) -> tuple[str, datetime]:
        """A token for `address` (and its staff user `user_id`) and its expiry; its `jti` (128
        random bits) names it on the denylist once its holder logs out."""
        now = datetime.now(UTC)
        expires = now + self.lifetime
        claims: dict[str, object] = {
            "sub": address,
            "aud": TOKEN_AUDIENCE,
            "iat": int(now.timestamp()),
            "exp": int(expires.timestamp()),
            "jti": secrets.token_hex(16),
        }
        if user_id is not None:
            claims["uid"] = user_id
        return jwt.encode(claims, self.secret, algorithm=TOKEN_ALGORITHM), expires

    def verify(self, token: str) -> TokenClaims:
        try:
            claims = jwt.decode(
                token, self.secret, algorithms=[TOKEN_ALGORITHM], audience=TOKEN_AUDIENCE
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthenticated("token expired", code="TokenExpired") from exc
        except jwt.PyJWTError as exc:
            raise Unauthenticated("invalid token", code="InvalidToken") from exc
        if not isinstance(claims.get("jti"), str) or not isinstance(claims.get("sub"), str):
            raise Unauthenticated("invalid token", code="InvalidToken")
        user_id = claims.get("uid")
        return TokenClaims(
            address=claims["sub"],
            jti=claims["jti"],
            expires_at=datetime.fromtimestamp(int(claims["exp"]), UTC),
            user_id=user_id if isinstance(user_id, str) else None,
        )


# -- the console's CSRF tokens ----------------------------------------------------------------


@dataclass(frozen=True)
class CsrfSigner:
    """The console's form tokens: an HMAC of the session's credential under a subkey of the
    master key, so only a page served to that session can carry one."""

    secret: bytes

    @classmethod
    def from_master(cls, master: bytes) -> CsrfSigner:
        return cls(_subkey(master, "console-csrf"))

    def token(self, credential: str) -> str:
        return hmac.new(self.secret, credential.encode(), hashlib.sha256).hexdigest()

    def matches(self, credential: str, token: str) -> bool:
        return hmac.compare_digest(self.token(credential).encode(), token.encode())


# -- API keys ----------------------------------------------------------------------------------


def new_api_key() -> tuple[str, str, str]:
    """(key id, full key shown once, hash of the secret to store)."""
    return _new_secret(API_KEY_PREFIX)


def split_api_key(key: str) -> tuple[str, str] | None:
    return _split_secret(key, API_KEY_PREFIX)


def new_activation_code() -> tuple[str, str, str]:
    """(code id, full code shown once, hash of its secret to store): 256 random bits, as a key."""
    return _new_secret(ACTIVATION_PREFIX)


def split_activation_code(code: str) -> tuple[str, str] | None:
    return _split_secret(code, ACTIVATION_PREFIX)


def _new_secret(prefix: str) -> tuple[str, str, str]:
    secret_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    return secret_id, f"{prefix}{secret_id}_{secret}", hash_secret(secret)


def _split_secret(value: str, prefix: str) -> tuple[str, str] | None:
    if not value.startswith(prefix):
        return None
    secret_id, sep, secret = value[len(prefix) :].partition("_")
    if not sep or not secret_id or not secret:
        return None
    return secret_id, secret


def hash_secret(secret: str) -> str:
    """A 256-bit random secret needs no slow hash: SHA-256 is preimage-resistant enough."""
    return hashlib.sha256(secret.encode()).hexdigest()


def secret_matches(secret: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_secret(secret), stored_hash)


# -- staff passwords and second factors --------------------------------------------------------

#: Argon2id with argon2-cffi's defaults (RFC 9106's low-memory choice: t=3, m=64 MiB, p=4)
_PASSWORDS = PasswordHasher()
MIN_PASSWORD_LENGTH = 12
TOTP_STEP_SECONDS = 30
TOTP_WINDOW = 1  # steps either side of now: a clock a step off still logs in


def hash_password(password: str) -> str:
    return _PASSWORDS.hash(password)


def password_matches(password: str, stored_hash: str) -> bool:
    try:
        return _PASSWORDS.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@functools.cache
def dummy_password_hash() -> str:
    """Checked for a login name nobody has, so that an unknown name costs what a known one
    does (made once, when first needed: a hash costs a tenth of a second)."""
    return _PASSWORDS.hash(secrets.token_urlsafe(16))


def new_password() -> str:
    """A one-time password an administrator hands over (160 random bits)."""
    return secrets.token_urlsafe(20)


def new_totp_secret() -> str:
    return pyotp.random_base32()


def totp_uri(secret: str, *, login: str, issuer: str = "scf-ledger") -> str:
    """The otpauth:// URI an authenticator app takes (as text or a QR code)."""
    return pyotp.TOTP(secret).provisioning_uri(name=login, issuer_name=issuer)


def totp_code(secret: str, at: datetime | None = None) -> str:
    """The code for `at` (now): what the authenticator app shows (tests and `scf totp`)."""
    return str(pyotp.TOTP(secret).at(at or datetime.now(UTC)))


def totp_step(secret: str, code: str, *, now: datetime) -> int | None:
    """The time step whose code `code` is, within the window around `now`; None if none is.
    The caller refuses a step not after the last one used (a code is good once)."""
    totp = pyotp.TOTP(secret)
    current = int(now.timestamp()) // TOTP_STEP_SECONDS
    for step in range(current - TOTP_WINDOW, current + TOTP_WINDOW + 1):
        if hmac.compare_digest(str(totp.at(step * TOTP_STEP_SECONDS)), code):
            return step
    return None


# -- custodial keys ----------------------------------------------------------------------------


@dataclass(frozen=True)
class KeyVault:
    """AES-256-GCM under a subkey of the master key; the address is the associated data, so a
    ciphertext cannot be moved to another member's row."""

    key: bytes

    @classmethod
    def from_master(cls, master: bytes) -> KeyVault:
        return cls(_subkey(master, "custody"))

    def seal(self, *, address: str, private_key: bytes) -> tuple[bytes, bytes]:
        nonce = secrets.token_bytes(12)
        return nonce, AESGCM(self.key).encrypt(nonce, private_key, address.lower().encode())

    def open(self, *, address: str, nonce: bytes, ciphertext: bytes) -> LocalAccount:
        key = AESGCM(self.key).decrypt(nonce, ciphertext, address.lower().encode())
        account: LocalAccount = Account.from_key(key)
        return account

    def seal_secret(self, *, label: str, secret: bytes) -> tuple[bytes, bytes]:
        """Any other secret the backend must recover (a webhook's signing secret); `label`
        (e.g. `webhook:<id>`) is the associated data, never an address."""
        nonce = secrets.token_bytes(12)
        return nonce, AESGCM(self.key).encrypt(nonce, secret, label.encode())

    def open_secret(self, *, label: str, nonce: bytes, ciphertext: bytes) -> bytes:
        return AESGCM(self.key).decrypt(nonce, ciphertext, label.encode())


def challenge_expiry(settings: BackendSettings) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=settings.challenge_lifetime_seconds)
