"""A JSON-RPC proxy that makes anvil look like a Besu QBFT node to the client: eth_getLogs
refuses ranges over a cap (Besu's `--rpc-max-logs-range`, same error), and blocks carry a
97-byte QBFT extraData that web3 only accepts with the POA middleware."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

QBFT_EXTRA_DATA = "0x" + "f8" + "00" * 96  # longer than the 32 bytes of an ethash header
RANGE_ERROR = {"code": -32005, "message": "Requested range exceeds maximum RPC range limit"}


class BesuLikeProxy:
    def __init__(self, upstream: str, *, max_logs_range: int) -> None:
        self.upstream = upstream
        self.max_logs_range = max_logs_range
        self.refused_ranges = 0
        self._client = httpx.Client(timeout=30)
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if isinstance(body, list):
                    answer: Any = [proxy.handle(item) for item in body]
                else:
                    answer = proxy.handle(body)
                data = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> BesuLikeProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._client.close()

    def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        method = request.get("method")
        if method == "eth_getLogs" and self._too_wide(request["params"][0]):
            self.refused_ranges += 1
            return {"jsonrpc": "2.0", "id": request.get("id"), "error": RANGE_ERROR}
        answer: dict[str, Any] = self._client.post(self.upstream, json=request).json()
        result = answer.get("result")
        if method in ("eth_getBlockByNumber", "eth_getBlockByHash") and isinstance(result, dict):
            result["extraData"] = QBFT_EXTRA_DATA
        return answer

    def _too_wide(self, flt: dict[str, Any]) -> bool:
        if "blockHash" in flt:
            return False
        head = None

        def number(tag: Any) -> int:
            nonlocal head
            if isinstance(tag, str) and tag.startswith("0x"):
                return int(tag, 16)
            if head is None:
                reply = self._client.post(
                    self.upstream,
                    json={"jsonrpc": "2.0", "id": 0, "method": "eth_blockNumber", "params": []},
                ).json()
                head = int(reply["result"], 16)
            return 0 if tag == "earliest" else head

        start, end = number(flt.get("fromBlock", "latest")), number(flt.get("toBlock", "latest"))
        return end - start + 1 > self.max_logs_range
