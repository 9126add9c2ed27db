"""The reference capture client: pairs from a QR payload, keeps the token 0600, posts frames."""

from __future__ import annotations

import json
import stat
import urllib.error

import pytest

from streams import capture
from tests.conftest import make_photo
from tests.streams_support import create_stream
from verifications.models import Verification


@pytest.mark.django_db(transaction=True)
def test_pair_from_the_qr_payload_then_post_a_folder(alice, live_server, tmp_path, capsys):
    code = create_stream(alice)["pairing"]["code"]
    frames = tmp_path / "frames"
    frames.mkdir()
    (frames / "a.jpg").write_bytes(make_photo(seed=1))
    (frames / "b.png").write_bytes(make_photo("PNG", seed=2))
    state = tmp_path / "state" / "stream.json"
    qr = json.dumps({"code": code.lower(), "api": f"{live_server.url}/api/v1"})

    capture.main(["--pair", qr, "--state", str(state), "--folder", str(frames), "--fps", "50",
                  "--count", "3"])

    assert stat.S_IMODE(state.stat().st_mode) == 0o600
    saved = json.loads(state.read_text())
    assert saved["token"].startswith("vai_strm_") and saved["api"] == f"{live_server.url}/api/v1"
    out = capsys.readouterr().out
    assert "paired stream" in out
    assert len([line for line in out.splitlines() if line.startswith("ver_")]) == 3
    assert Verification.objects.filter(stream_id=saved["stream_id"]).count() == 3

    # Reusing the code is refused for good, not retried.
    with pytest.raises(capture.ApiError) as refused:
        capture.main(["--pair", qr, "--state", str(tmp_path / "other.json")])
    assert refused.value.status == 410


def test_a_typed_code_needs_the_api_url():
    with pytest.raises(SystemExit):
        capture.parse_pairing("BCDF-GHJK", None)
    assert capture.parse_pairing("BCDF-GHJK", "http://127.0.0.1:8000/api/v1")[0] == "BCDF-GHJK"


def test_network_errors_are_retried_with_backoff_and_4xx_is_final():
    calls, sleeps = [], []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise urllib.error.URLError("connection refused")
        return "ok"

    assert capture.with_backoff(flaky, sleep=sleeps.append) == "ok"
    assert len(sleeps) == 2 and sleeps[1] > sleeps[0] * 0.9

    def refused():
        raise capture.ApiError(401, {"code": "invalid_stream_token"})

    with pytest.raises(capture.ApiError):
        capture.with_backoff(refused, sleep=sleeps.append)
    assert len(sleeps) == 2


@pytest.mark.django_db(transaction=True)
def test_frames_from_a_snapshot_url_survive_a_failed_snapshot(alice, live_server, tmp_path, capsys):
    import http.server
    import threading

    photo = make_photo(seed=4)
    requests = []

    class Snapshot(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            requests.append(self.path)
            if len(requests) == 1:  # the camera hiccups once; the client must carry on
                self.send_error(503)
                return
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", str(len(photo)))
            self.end_headers()
            self.wfile.write(photo)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Snapshot)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        code = create_stream(alice)["pairing"]["code"]
        state = tmp_path / "stream.json"
        capture.main(["--pair", code, "--api", f"{live_server.url}/api/v1", "--state", str(state)])
        capture.main(["--state", str(state), "--snapshot-url", f"http://127.0.0.1:{server.server_port}/snap.jpg",
                      "--fps", "50", "--count", "2"])
    finally:
        server.shutdown()
    assert len([line for line in capsys.readouterr().out.splitlines() if line.startswith("ver_")]) == 2
    assert Verification.objects.count() == 2 and len(requests) == 3
