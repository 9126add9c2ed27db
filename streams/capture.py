"""Reference capture client: pair once, then post frames at a steady rate.

    python -m streams.capture --pair 'BCDF-GHJK' --api http://127.0.0.1:8000/api/v1
    python -m streams.capture --pair '{"code":"BCDF-GHJK","stream_id":"…","api":"http://127.0.0.1:8000/api/v1"}'
    python -m streams.capture --folder ./frames --fps 1
    python -m streams.capture --snapshot-url http://127.0.0.1:8080/snapshot.jpg --fps 1
    python -m streams.capture --camera 0 --fps 1          # only if OpenCV (cv2) is installed

The spec's Raspberry Pi loop made real. Standard library only, so it runs on any
device with Python 3.11; OpenCV is used for a local camera only when importable.
The token is kept in a file readable by its owner only (0600).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

DEFAULT_STATE = Path.home() / ".config" / "verifyai" / "stream.json"
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp"}
CONTENT_TYPES = {".png": "image/png", ".webp": "image/webp"}


class ApiError(Exception):
    def __init__(self, status: int, body: dict[str, Any]) -> None:
        self.status, self.body = status, body
        super().__init__(f"{status} {body.get('code', '')}: {body.get('error', body)}")


# --- HTTP ------------------------------------------------------------------------


def _request(url: str, *, data: bytes, headers: dict[str, str], timeout: float) -> dict[str, Any]:
    request = urllib.request.Request(url, data=data, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - operator's URL
            return json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        try:
            body = json.loads(exc.read() or b"{}")
        except ValueError:
            body = {"error": exc.reason}
        if not isinstance(body, dict):
            body = {"error": str(body)}
        body.setdefault("retry_after", exc.headers.get("Retry-After"))
        raise ApiError(exc.code, body) from None


def _multipart(field: str, filename: str, content: bytes, content_type: str) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    head = (
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{filename}\"\r\n"
        f"Content-Type: {content_type}\r\n\r\n"
    ).encode()
    return head + content + f"\r\n--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


# --- Pairing and the token file ------------------------------------------------------


def parse_pairing(value: str, api: str | None) -> tuple[str, str, str | None]:
    """A typed code, or the QR's JSON payload {"code", "stream_id", "api"}: code, API, stream."""
    value = value.strip()
    if value.startswith("{"):
        payload = json.loads(value)
        return payload["code"], api or payload["api"], payload.get("stream_id")
    if not api:
        raise SystemExit("--api is needed with a typed code (the QR payload carries it)")
    return value, api, None


def pair(code: str, api: str, stream_id: str | None = None, *, timeout: float = 10.0) -> dict[str, str]:
    # Naming the stream the QR named means only its code is tried (and no lockout of typed codes applies).
    request = {"code": code} if stream_id is None else {"code": code, "stream_id": stream_id}
    body = _request(
        f"{api.rstrip('/')}/streams/pair",
        data=json.dumps(request).encode(),
        headers={"Content-Type": "application/json"},
        timeout=timeout,
    )
    return {"stream_id": body["stream_id"], "token": body["stream_token"], "api": api.rstrip("/"),
            "policy_id": body.get("policy_id")}


def save_state(path: Path, state: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Created 0600 from the first byte, then swapped in: the token is never world-readable.
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(state, handle)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def load_state(path: Path) -> dict[str, str]:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise SystemExit(f"not paired yet: run with --pair CODE first (no {path})") from None


# --- Frame sources ---------------------------------------------------------------


Frame = tuple[str, bytes, str]  # filename, bytes, content type


def folder_frames(folder: Path) -> Iterator[Frame]:
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise SystemExit(f"no JPEG, PNG or WebP files in {folder}")
    for path in itertools.cycle(files):
        yield path.name, path.read_bytes(), CONTENT_TYPES.get(path.suffix.lower(), "image/jpeg")


def snapshot_frames(url: str, timeout: float) -> Iterator[Frame]:
    # Retries live inside the frame sources: a generator that raised is finished, so
    # retrying next() on it ended the capture loop at the first failed snapshot.
    while True:
        yield with_backoff(lambda: _snapshot(url, timeout))


def _snapshot(url: str, timeout: float) -> Frame:
    with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310
        return "snapshot.jpg", response.read(), response.headers.get_content_type() or "image/jpeg"


def camera_frames(index: int) -> Iterator[Frame]:
    try:
        import cv2  # optional: never a hard dependency
    except ImportError:
        raise SystemExit("--camera needs OpenCV: pip install opencv-python-headless") from None
    capture = cv2.VideoCapture(index)

    def read() -> Any:
        ok, image = capture.read()
        if not ok:
            raise OSError(f"camera {index} gave no frame")
        return image

    while True:
        ok, jpeg = cv2.imencode(".jpg", with_backoff(read), [cv2.IMWRITE_JPEG_QUALITY, 85])
        yield "frame.jpg", jpeg.tobytes(), "image/jpeg"


# --- The loop --------------------------------------------------------------------


def post_frame(state: dict[str, str], frame: Frame, *, timeout: float) -> dict[str, Any]:
    filename, content, content_type = frame
    body, multipart_type = _multipart("frame", filename, content, content_type)
    return _request(
        f"{state['api']}/streams/{state['stream_id']}/frame",
        data=body,
        headers={"X-Stream-Token": state["token"], "Content-Type": multipart_type},
        timeout=timeout,
    )


def with_backoff(call: Callable[[], Any], *, attempts: int = 6, base: float = 0.5, cap: float = 30.0,
                 sleep: Callable[[float], None] = time.sleep) -> Any:
    """Retry network failures and 5xx/429 with exponential backoff and jitter; 4xx is final."""
    for attempt in range(attempts):
        try:
            return call()
        except ApiError as exc:
            # A plan's rate limit passes; a monthly cap or a refused frame does not.
            transient = exc.status >= 500 or exc.body.get("code") == "rate_limited"
            if not transient or attempt == attempts - 1:
                raise
            retry_after = exc.body.get("retry_after")
            delay = min(cap, float(retry_after) if retry_after else base * 2**attempt)
        except (urllib.error.URLError, OSError, TimeoutError) as exc:
            if attempt == attempts - 1:
                raise
            delay = min(cap, base * 2**attempt)
            print(f"network error ({exc}); retrying in {delay:.1f}s", file=sys.stderr)
        sleep(delay * (0.5 + random.random() / 2))
    raise AssertionError("unreachable")


def run(state: dict[str, str], frames: Iterator[Frame], *, fps: float, timeout: float,
        count: int | None = None) -> None:
    interval = 1.0 / fps
    for index in itertools.count():
        if count is not None and index >= count:
            return
        started = time.monotonic()
        frame = next(frames)
        try:
            result = with_backoff(lambda frame=frame: post_frame(state, frame, timeout=timeout))
        except ApiError as exc:
            print(f"refused: {exc}", file=sys.stderr)
            if exc.status in (401, 404, 410):
                raise SystemExit("this stream no longer accepts frames: re-pair with --pair") from None
            result = None
        if result is not None:
            decision = "COMPLIANT" if result.get("is_compliant") else "NOT COMPLIANT"
            reasons = ", ".join(result.get("violation_reasons") or [])
            print(f"{result.get('id')} {decision} {reasons} {result.get('feedback', '')}".strip(), flush=True)
        time.sleep(max(0.0, interval - (time.monotonic() - started)))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m streams.capture", description=__doc__.split("\n")[0])
    parser.add_argument("--pair", metavar="CODE_OR_QR_JSON", help="pair with a code or the QR's JSON")
    parser.add_argument("--api", help="API base URL, e.g. http://127.0.0.1:8000/api/v1")
    parser.add_argument("--state", type=Path, default=DEFAULT_STATE, help=f"token file (default {DEFAULT_STATE})")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--folder", type=Path, help="post the images of this folder, cycling")
    source.add_argument("--snapshot-url", help="fetch a JPEG from this URL for each frame")
    source.add_argument("--camera", type=int, help="OpenCV camera index (needs cv2)")
    parser.add_argument("--fps", type=float, default=1.0, help="frames per second (default 1)")
    parser.add_argument("--count", type=int, help="stop after this many frames")
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds per request (default 5)")
    args = parser.parse_args(argv)

    if args.pair:
        code, api, stream_id = parse_pairing(args.pair, args.api)
        state = with_backoff(lambda: pair(code, api, stream_id))
        save_state(args.state, state)
        print(f"paired stream {state['stream_id']} (policy {state['policy_id']}); token saved to {args.state}")
    if args.folder is None and args.snapshot_url is None and args.camera is None:
        if not args.pair:
            parser.error("give --pair, or a frame source: --folder, --snapshot-url or --camera")
        return
    state = load_state(args.state)
    if args.folder is not None:
        frames = folder_frames(args.folder)
    elif args.snapshot_url is not None:
        frames = snapshot_frames(args.snapshot_url, args.timeout)
    else:
        frames = camera_frames(args.camera)
    try:
        run(state, frames, fps=args.fps, timeout=args.timeout, count=args.count)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
