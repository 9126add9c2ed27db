"""A fake OpenAI-compatible Chat Completions server for benchmarks and tests.

It answers every ``POST /v1/chat/completions`` after a fixed delay with valid
structured output for the JSON schema the request carries: the first compliant
category, no violations. Asyncio-based, so hundreds of requests wait at once.

    python -m benchmarks.fake_openai --port 8399 --delay 1.5
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid
from typing import Any

import uvicorn


def _answer_for(request: dict[str, Any]) -> dict[str, Any]:
    schema = request.get("response_format", {}).get("json_schema", {}).get("schema", {})
    categories = schema.get("properties", {}).get("category", {}).get("enum", ["compliant"])
    category = "compliant" if "compliant" in categories else categories[0]
    return {
        "is_compliant": True,
        "confidence": 0.93,
        "category": category,
        "violation_reasons": [],
        "feedback": "Thanks, the vehicle is parked correctly.",
    }


def completion(request: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": request.get("model", "fake-model"),
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": json.dumps(_answer_for(request)),
                    "refusal": None,
                },
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 812, "completion_tokens": 41, "total_tokens": 853},
        "system_fingerprint": "fp_fake",
    }


class FakeOpenAI:
    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.requests = 0

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        if scope["method"] != "POST" or not scope["path"].endswith("/chat/completions"):
            await _send(send, 404, {"error": {"message": "not found", "type": "invalid_request_error"}})
            return
        self.requests += 1
        await asyncio.sleep(self.delay)
        await _send(send, 200, completion(json.loads(body)))


async def _send(send: Any, status: int, payload: dict[str, Any]) -> None:
    data = json.dumps(payload).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": data})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8399)
    parser.add_argument("--delay", type=float, default=1.5)
    args = parser.parse_args()
    uvicorn.run(
        FakeOpenAI(args.delay), host="127.0.0.1", port=args.port, log_level="warning",
        backlog=2048, timeout_keep_alive=30,
    )


if __name__ == "__main__":
    main()
