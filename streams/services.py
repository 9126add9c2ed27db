"""Writes for streams: creation, pairing codes, the code-for-token exchange, states,
and the frame-path token check. Keyword-only, each write in a transaction.

Secrets at rest: stream tokens are stored as bcrypt hashes (the spec requires it);
pairing codes as HMAC-SHA256 keyed with SECRET_KEY, which is enough for a code that
lives 10 minutes and can be tried only a few times, and lets the exchange be one
indexed lookup. Neither is ever logged.

Beside its bcrypt hash a stream keeps a fingerprint of its token, HMAC-SHA256 under a key
derived from SECRET_KEY: a wrong token is refused on it in microseconds, so nobody can buy
bcrypt checks with wrong tokens. Tokens are 256-bit random, so a fast keyed hash is as safe
as bcrypt for them; bcrypt stays the hash of record and what a right token is proven with.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import secrets
import time
import uuid
from dataclasses import dataclass
from typing import Any

import bcrypt
from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, connection, transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone
from django.utils.crypto import salted_hmac

from billing.models import Customer
from billing.services import STREAM_TOKEN_PREFIX
from policies.models import Policy
from streams.models import PairingCode, PairingGuessWindow, Stream
from streams.selectors import stream_for_frame
from verifyai.api.context import timed
from verifyai.api.errors import ApiError, NotFound

logger = logging.getLogger(__name__)

TOKEN_PREFIX = STREAM_TOKEN_PREFIX
# RFC 8628 section 6.1: consonants only (no vowels, so no words), no look-alikes.
CODE_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ"
CODE_LENGTH = 8  # 20**8 = 2.6e10 codes
CODE_TTL = dt.timedelta(minutes=10)
# Misses naming a stream burn its live code after this many tries (the right code counts one).
MAX_CODE_ATTEMPTS = 5
# Revocation never waits for this (frames re-read the token version); it only bounds the cache.
PROOF_TTL_SECONDS = 3600
# bcrypt costs ~240 ms of CPU: wrong tokens for one stream from one client address get this
# many checks a minute, then are refused unchecked. Counted per address, so nobody who merely
# knows a stream id can keep its camera (at another address) from proving its token; a camera
# holding a valid proof is never checked against the count at all.
MAX_FAILED_TOKEN_CHECKS_PER_MINUTE = 10
LAST_FRAME_RESOLUTION = dt.timedelta(seconds=1)
# The purpose string salted_hmac derives the fingerprint key from SECRET_KEY with.
TOKEN_FINGERPRINT_PURPOSE = "verifyai.streams.token-fingerprint"


class PairingCodeUnknown(NotFound):
    code, message = "pairing_code_not_found", "Unknown pairing code."


class PairingCodeGone(ApiError):
    status, code, message = 410, "pairing_code_expired", "This pairing code has expired."


class PairingCodeUsed(PairingCodeGone):
    code, message = "pairing_code_used", "This pairing code has already been used."


class PairingLocked(ApiError):
    status, code = 429, "pairing_locked"
    message = (
        "Too many wrong pairing codes were tried lately, so typed codes are paused. "
        "Scan the QR code (it names the stream) or retry later."
    )


class PairingUnavailable(ApiError):
    status, code = 503, "pairing_unavailable"
    message = "Pairing is unavailable: its attempt counter cannot be reached. Retry shortly."


class StreamNotFound(NotFound):
    code, message = "stream_not_found", "No such stream."


class InvalidStreamToken(ApiError):
    status, code = 401, "invalid_stream_token"
    message = "Missing or invalid stream token: send it in the X-Stream-Token header."


class StreamPaused(ApiError):
    status, code, message = 409, "stream_paused", "This stream is paused."


class StreamArchived(ApiError):
    status, code, message = 410, "stream_archived", "This stream is archived."


@dataclass(frozen=True)
class IssuedCode:
    pairing_code: PairingCode
    code: str  # the plaintext, e.g. "BCDF-GHJK"; shown once

    @property
    def expires_at(self) -> dt.datetime:
        return self.pairing_code.expires_at


@dataclass(frozen=True)
class Pairing:
    stream: Stream
    token: str  # the plaintext; returned once


# --- Pairing codes ------------------------------------------------------------


def normalize_code(raw: str) -> str:
    """What a person typed, as stored: upper case, no dashes or spaces."""
    return "".join(ch for ch in raw.upper() if ch not in "- \t")


def format_code(code: str) -> str:
    return f"{code[:4]}-{code[4:]}"


def hash_code(code: str) -> str:
    key = settings.SECRET_KEY.encode()
    return hmac.new(key, b"pairing:" + normalize_code(code).encode(), hashlib.sha256).hexdigest()


def qr_payload(issued: IssuedCode) -> str:
    """What the QR carries: the code, its stream and where to exchange them, so a kiosk
    needs no setup. A kiosk that sends the stream back has its code tried against that
    stream's code only (see exchange_code), which no guessing budget for typed codes limits."""
    api = settings.VERIFYAI_PUBLIC_BASE_URL.rstrip("/") + "/api/v1"
    payload = {"code": issued.code, "stream_id": str(issued.pairing_code.stream_id), "api": api}
    return json.dumps(payload, separators=(",", ":"))


@transaction.atomic
def issue_pairing_code(*, stream: Stream) -> IssuedCode:
    """A fresh code for ``stream``; any code still outstanding stops working."""
    if stream.status == Stream.Status.ARCHIVED:
        raise StreamArchived()
    now = timezone.now()
    PairingCode.objects.filter(stream=stream, consumed_at__isnull=True).update(
        expires_at=now
    )
    code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    pairing_code = PairingCode.objects.create(
        stream=stream, code_hash=hash_code(code), expires_at=now + CODE_TTL
    )
    return IssuedCode(pairing_code=pairing_code, code=format_code(code))


def exchange_code(*, code: str, stream_id: uuid.UUID | None = None) -> Pairing:
    """Trade a pairing code for a new stream token. Exactly one caller wins a code.

    With ``stream_id`` (the QR names it) only that stream's code is tried, and a miss counts
    against it. Without it (a typed code) every miss, from any address, spends one unit of a
    budget kept in the database; when it is spent, typed codes answer 429 until the window ends.
    """
    normalized = normalize_code(code)
    well_formed = len(normalized) == CODE_LENGTH and all(ch in CODE_ALPHABET for ch in normalized)
    if stream_id is not None:
        pairing_code = _named_code(stream_id, normalized if well_formed else None)
    elif not well_formed:
        raise PairingCodeUnknown()  # cannot match any code, so it is no guess
    else:
        pairing_code = _typed_code(normalized)
    _refuse_unusable(pairing_code, timezone.now())

    # The slow hash runs outside any transaction and before the claim.
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)  # 9 + 43 = 52 bytes, under bcrypt's 72
    token_hash = bcrypt.hashpw(
        token.encode(), bcrypt.gensalt(rounds=settings.VERIFYAI_STREAM_TOKEN_BCRYPT_ROUNDS)
    ).decode()
    fingerprint = token_fingerprint(token)

    now = timezone.now()
    with transaction.atomic():
        claimed = PairingCode.objects.filter(
            pk=pairing_code.pk,
            consumed_at__isnull=True,
            expires_at__gt=now,
            attempts__lt=MAX_CODE_ATTEMPTS,
        ).update(consumed_at=now, attempts=F("attempts") + 1)
        if claimed:
            Stream.objects.filter(pk=pairing_code.stream_id).update(
                token_hash=token_hash,
                token_fingerprint=fingerprint,  # the old token's goes with it
                token_version=F("token_version") + 1,
                updated_at=now,
            )
    if not claimed:  # another kiosk won, or the code expired or was retired meanwhile
        PairingCode.objects.filter(pk=pairing_code.pk).update(attempts=F("attempts") + 1)
        pairing_code.refresh_from_db()
        pairing_code.stream.refresh_from_db()
        _refuse_unusable(pairing_code, now)
        raise PairingCodeUsed()
    stream = pairing_code.stream
    stream.refresh_from_db()
    # We just minted this token: its proof needs no bcrypt, so the first frame is fast too.
    _remember_proof(stream, token)
    return Pairing(stream=stream, token=token)


def _codes() -> QuerySet[PairingCode]:
    return PairingCode.objects.select_related("stream__policy")


def _named_code(stream_id: uuid.UUID, normalized: str | None) -> PairingCode:
    if normalized is not None:
        pairing_code = _codes().filter(stream_id=stream_id, code_hash=hash_code(normalized)).first()
        if pairing_code is not None:
            return pairing_code
        # A miss: a few typos are forgiven, then the stream's live code is burnt, so guessing
        # it takes the stream id and luck within MAX_CODE_ATTEMPTS tries.
        PairingCode.objects.filter(
            stream_id=stream_id, consumed_at__isnull=True, expires_at__gt=timezone.now(),
            attempts__lt=MAX_CODE_ATTEMPTS,
        ).update(attempts=F("attempts") + 1)
    raise PairingCodeUnknown()


def _typed_code(normalized: str) -> PairingCode:
    window_start = _spend_guess()
    pairing_code = _codes().filter(code_hash=hash_code(normalized)).first()
    if pairing_code is None:
        raise PairingCodeUnknown()  # the unit stays spent
    # Not a miss: give the unit back.
    PairingGuessWindow.objects.filter(pk=window_start, failures__gt=0).update(failures=F("failures") - 1)
    return pairing_code


_SPEND_GUESS_SQL = """
    INSERT INTO {table} (window_start, failures) VALUES (%s, 1)
    ON CONFLICT (window_start)
    DO UPDATE SET failures = {table}.failures + 1 WHERE {table}.failures < %s
    RETURNING failures
"""


def _spend_guess() -> int:
    """One unit of this window's budget of typed codes, or PairingLocked; its window.

    One atomic upsert (PostgreSQL and SQLite alike), so racing processes never spend more
    than the budget; a miss keeps its unit. The window's start is returned for a refund.
    """
    length = settings.VERIFYAI_STREAM_PAIR_FAILURE_WINDOW
    now = time.time()
    window_start = int(now // length * length)
    budget = settings.VERIFYAI_STREAM_PAIR_FAILURE_BUDGET
    spent = None
    if budget > 0:
        sql = _SPEND_GUESS_SQL.format(table=PairingGuessWindow._meta.db_table)
        try:
            with connection.cursor() as cursor:
                cursor.execute(sql, [window_start, budget])
                spent = cursor.fetchone()
            if spent is not None and spent[0] == 1:  # a new window: drop the old ones
                PairingGuessWindow.objects.filter(window_start__lt=window_start - length).delete()
        except DatabaseError as exc:
            logger.warning("Pairing refused: the guess budget cannot be counted (%s)", type(exc).__name__)
            raise PairingUnavailable(retry_after=30) from None
    if spent is None:
        raise PairingLocked(retry_after=max(1, int(window_start + length - now + 0.999)))
    return window_start


def _refuse_unusable(pairing_code: PairingCode, now: dt.datetime) -> None:
    if pairing_code.consumed_at is not None:
        raise PairingCodeUsed()
    if pairing_code.expires_at <= now or pairing_code.attempts >= MAX_CODE_ATTEMPTS:
        raise PairingCodeGone()
    if pairing_code.stream.status == Stream.Status.ARCHIVED:
        raise StreamArchived()


# --- Streams ------------------------------------------------------------------

EDITABLE_FIELDS = (
    "name", "site_id", "location", "asset_type", "region", "expected_throughput", "group_id", "policy",
)


@transaction.atomic
def create_stream(*, customer: Customer, policy: Policy, name: str, **fields: Any) -> tuple[Stream, IssuedCode]:
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise TypeError(f"unknown stream fields: {sorted(unknown)}")
    stream = Stream.objects.create(customer=customer, policy=policy, name=name, **fields)
    return stream, issue_pairing_code(stream=stream)


@transaction.atomic
def update_stream(*, stream: Stream, data: dict[str, Any]) -> Stream:
    for name, value in data.items():
        if name not in EDITABLE_FIELDS:
            raise TypeError(f"not an editable stream field: {name}")
        setattr(stream, name, value)
    stream.save()
    return stream


@transaction.atomic
def set_status(*, stream: Stream, status: str) -> Stream:
    """Pause, resume or archive. Frames re-read the status on every request,
    so the change holds in every process from the next frame on."""
    if stream.status == Stream.Status.ARCHIVED and status != Stream.Status.ARCHIVED:
        raise StreamArchived("An archived stream cannot be resumed or paused; create a new one.")
    stream.status = status
    stream.save(update_fields=["status", "updated_at"])
    if status == Stream.Status.ARCHIVED:
        # Nothing left to pair with.
        PairingCode.objects.filter(stream=stream, consumed_at__isnull=True).update(
            expires_at=timezone.now()
        )
    return stream


# --- Frames -------------------------------------------------------------------


def _proof_key(stream: Stream, token: str) -> str:
    digest = hashlib.sha256(token.encode()).hexdigest()
    return f"streams:proof:{stream.pk}:{stream.token_version}:{digest}"


# Proofs this process has seen, so a camera's frames skip even the cache round trip.
# Safe for the same reason as the shared proofs: the key carries the token version
# read from the stream row on every frame. Bounded; cleared wholesale when full.
_local_proofs: dict[str, float] = {}
_LOCAL_PROOFS_MAX = 10_000


def token_fingerprint(token: str, secret: str | None = None) -> str:
    """HMAC-SHA256 of ``token`` under a key derived from ``secret`` (SECRET_KEY by default)."""
    return salted_hmac(TOKEN_FINGERPRINT_PURPOSE, token, secret=secret, algorithm="sha256").hexdigest()


def _fingerprint_refuses(stream: Stream, token: str, current: str) -> bool:
    """True when the stream's fingerprint shows ``token`` is wrong. A stream without one
    (paired before fingerprints) is left to bcrypt; one made under a key that is now in
    SECRET_KEY_FALLBACKS still admits its token (and is renewed on the good frame)."""
    stored = stream.token_fingerprint
    if stored is None or hmac.compare_digest(current, stored):
        return False
    return not any(
        hmac.compare_digest(token_fingerprint(token, fallback), stored)
        for fallback in settings.SECRET_KEY_FALLBACKS
    )


def _keep_fingerprint(stream: Stream, current: str) -> None:
    """After ``stream``'s token was proven: store its fingerprint if missing or under an old key.
    Only while the token version is the proven one, so a racing re-pairing's is never replaced."""
    if stream.token_fingerprint is not None and hmac.compare_digest(stream.token_fingerprint, current):
        return
    try:
        Stream.objects.filter(pk=stream.pk, token_version=stream.token_version).update(
            token_fingerprint=current
        )
        stream.token_fingerprint = current
    except DatabaseError:  # best-effort: the next good frame tries again
        logger.warning("Could not store the token fingerprint of stream %s", stream.pk)


def _count_failure(failures_key: str) -> None:
    try:
        cache.add(failures_key, 0, timeout=60)
        cache.incr(failures_key)
    except Exception:  # noqa: BLE001 - counting failures is best-effort
        pass


def _token_matches(stream: Stream, token: str, client: str) -> bool:
    """The fingerprint refuses a wrong token at once; a right one is proven with bcrypt once,
    then by a short-lived proof: in this process, then in the shared cache.

    The proof's key names the stream, its token version and a SHA-256 of the
    token (never the token). Re-pairing bumps the version, so every process
    stops honouring the old proof on its next frame.
    """
    failures_key = f"streams:failed-token-checks:{stream.pk}:{client}"
    current = token_fingerprint(token)
    if _fingerprint_refuses(stream, token, current):
        _count_failure(failures_key)  # no bcrypt spent, but still a wrong token from there
        return False
    if not _proven(stream, token, failures_key):
        return False
    _keep_fingerprint(stream, current)
    return True


def _proven(stream: Stream, token: str, failures_key: str) -> bool:
    key = _proof_key(stream, token)
    now = time.monotonic()
    if _local_proofs.get(key, 0.0) > now:
        return True
    try:
        if cache.get(key):
            _remember_locally(key, now)
            return True
    except Exception:  # noqa: BLE001 - a cache outage costs speed, never correctness
        logger.warning("Stream token cache unavailable; checking with bcrypt")
    assert stream.token_hash is not None
    try:
        if (cache.get(failures_key) or 0) >= MAX_FAILED_TOKEN_CHECKS_PER_MINUTE:
            return False
    except Exception:  # noqa: BLE001
        pass
    if not bcrypt.checkpw(token.encode(), stream.token_hash.encode()):
        _count_failure(failures_key)
        return False
    _remember_proof(stream, token)
    return True


def _remember_proof(stream: Stream, token: str) -> None:
    key = _proof_key(stream, token)
    _remember_locally(key, time.monotonic())
    try:
        cache.set(key, 1, timeout=PROOF_TTL_SECONDS)
    except Exception:  # noqa: BLE001 - a cache outage costs speed, never correctness
        logger.warning("Stream token cache unavailable; proof not kept")


def _remember_locally(key: str, now: float) -> None:
    if len(_local_proofs) >= _LOCAL_PROOFS_MAX:
        _local_proofs.clear()
    _local_proofs[key] = now + PROOF_TTL_SECONDS


def authenticate_frame(*, stream_id: str, token: str | None, client: str) -> Stream:
    """The stream a frame may be posted to, in the order of decision 9:
    unknown 404, bad token 401, paused 409, archived 410. ``client`` is the caller's
    address, which wrong tokens are counted against."""
    stream = stream_for_frame(stream_id)
    if stream is None:
        raise StreamNotFound()
    token = (token or "").strip()
    well_formed = token.startswith(TOKEN_PREFIX) and len(token.encode()) <= 72
    if not well_formed or stream.token_hash is None:
        raise InvalidStreamToken()
    with timed("token"):  # the credential check alone, inside the "auth" phase
        matches = _token_matches(stream, token, client)
    if not matches:
        raise InvalidStreamToken()
    if stream.status == Stream.Status.PAUSED:
        raise StreamPaused()
    if stream.status == Stream.Status.ARCHIVED:
        raise StreamArchived()
    return stream


def touch_stream(stream: Stream) -> None:
    """Record a frame at one-second resolution; best-effort, never fails the frame."""
    now = timezone.now()
    if stream.last_frame_at and now - stream.last_frame_at < LAST_FRAME_RESOLUTION:
        return
    try:
        Stream.objects.filter(pk=stream.pk).filter(
            Q(last_frame_at__isnull=True) | Q(last_frame_at__lt=now - LAST_FRAME_RESOLUTION)
        ).update(last_frame_at=now)
        stream.last_frame_at = now
    except DatabaseError:
        logger.warning("Could not record last_frame_at for stream %s", stream.pk)
