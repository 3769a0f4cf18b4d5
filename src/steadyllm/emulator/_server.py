"""The emulator's HTTP server: routes, request checks, replies (faults: ``_faults``)."""

from __future__ import annotations

import asyncio
import json
import math
import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from . import _documents, _server_tools, _thinking, _vendors
from ._behavior import Behavior, BehaviorError
from ._faults import mid_stream_fault, pre_response_fault
from ._frames import Quiet
from ._render import AnthropicRender, OpenAIRender
from ._reply import Reply
from ._state import EmulatorState, RecordedRequest, last_user_text, prompt_tokens
from ._vendors import Vendor

if TYPE_CHECKING:
    from aiohttp import web

    from ._render_gemini import GeminiRender
    from ._render_responses import ResponsesRender


def _json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> web.Response:
    from aiohttp import web

    return web.Response(
        status=status,
        body=json.dumps(body).encode(),
        content_type="application/json",
        headers=headers or {},
    )


class Handler:
    """Serves one API family (OpenAI, Azure or Anthropic)."""

    #: Whether its streams end with ``data: [DONE]`` (Chat Completions), also after an
    #: in-band error.
    sends_done = True

    def __init__(self, api: str, state: EmulatorState, vendor: Vendor | None = None) -> None:
        self.api = api
        self.state = state
        #: An OpenAI-compatible vendor whose refusals this handler plays.
        self.vendor = vendor
        self.render: OpenAIRender | AnthropicRender | ResponsesRender | GeminiRender = (
            AnthropicRender() if api == "anthropic" else OpenAIRender(azure=api == "azure")
        )
        if api == "anthropic":
            self.sends_done = False

    # -------------------------------------------------------------- entry

    async def handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        self.state.requests.append(
            RecordedRequest(
                self.api,
                request.method,
                request.path,
                dict(request.query),
                {k.lower(): v for k, v in request.headers.items()},
                body,
            )
        )
        if not isinstance(body, dict):
            return self.error(400, None, "We could not parse the JSON body of your request.")
        try:
            model = self.model_of(request, body)
            behavior = self.state.next_behavior(request, self.api, model)
        except BehaviorError as exc:
            return self.error(400, None, f"emulator: bad x-emulator-behavior header: {exc}")
        problem = self.check(request, body)
        if problem is not None:
            return problem
        if behavior.latency_ms:
            await asyncio.sleep(behavior.latency_ms / 1000.0)
        headers = self.base_headers(behavior)
        if self.state.limits is not None:
            max_out = (
                body.get("max_completion_tokens")
                or body.get("max_tokens")
                or body.get("max_output_tokens")
                or 0
            )
            verdict = self.state.limits.take(prompt_tokens(body) + int(max_out))
            headers.update(self.limit_headers(verdict.headers))
            if not verdict.allowed:
                return self.rate_limited(verdict.wait, headers)
        early = await pre_response_fault(self, behavior, headers)
        if early is not None:
            return early
        streaming = self.streaming(request, body)
        if behavior.fault == "drop" and not streaming and request.transport is not None:
            request.transport.close()  # read the request, then close without an answer
            return web.Response(status=200)
        reply = self.reply(body, behavior, model)
        if streaming:
            return await self.stream(request, body, behavior, reply, headers)
        return _json_response(200, self.payload(reply), headers)

    def payload(self, reply: Reply) -> Any:
        """The body of a complete (not streamed) reply."""
        if isinstance(self.render, AnthropicRender):
            return self.render.message(reply)
        return self.render.completion(reply)

    def model_of(self, request: web.Request, body: dict[str, Any]) -> str:
        """The model asked for: Azure's deployment in the path, else the body's."""
        return request.match_info.get("deployment") or str(body.get("model") or "")

    def streaming(self, request: web.Request, body: dict[str, Any]) -> bool:
        return bool(body.get("stream"))

    # -------------------------------------------------------------- checks

    def check(self, request: web.Request, body: dict[str, Any]) -> web.Response | None:
        keys = self.state.api_keys
        if self.api == "anthropic":
            version = request.headers.get("anthropic-version")
            if version not in ("2023-06-01", "2026-10-21"):
                return self.error(
                    400,
                    None,
                    "anthropic-version: header is required and must be 2023-06-01 or 2026-10-21",
                )
            key = request.headers.get("x-api-key") or _bearer(request)
        elif self.api == "azure":
            if (
                request.path.startswith("/openai/deployments/")
                and "api-version" not in request.query
            ):
                return self.error(
                    404, None, "Resource not found (the api-version query parameter is required)"
                )
            key = request.headers.get("api-key") or _bearer(request)
        else:
            key = _bearer(request)
        refused = self.state.token_problem(key)
        if refused is not None:
            return self.error(401, "auth", refused)
        if keys is not None and key not in keys and key not in self.state.tokens:
            return self.error(401, "auth", "Incorrect API key provided.")
        return self.body_problem(request, body)

    def body_problem(self, request: web.Request, body: dict[str, Any]) -> web.Response | None:
        """What the API refuses in an authenticated request's body, or None."""
        if self.api == "anthropic":
            refused = _anthropic_problem(request, body)
            if refused is not None:
                return self.error(400, None, refused)
        if not body.get("messages"):
            return self.error(400, None, "messages: at least one message is required")
        refusal = _vendors.problem(self.vendor, body) if self.vendor else None
        return _json_response(*refusal) if refusal else None

    # -------------------------------------------------------------- replies

    def base_headers(self, behavior: Behavior) -> dict[str, str]:
        rid = f"req_{uuid.uuid4().hex[:24]}"
        headers = (
            {"request-id": rid}
            if self.api == "anthropic"
            else {
                "x-request-id": rid,
                "openai-processing-ms": "12",
                "openai-version": "2020-10-01",
            }
        )
        headers.update(behavior.headers)
        return headers

    def limit_headers(self, openai_style: dict[str, str]) -> dict[str, str]:
        if self.api != "anthropic":
            return openai_style
        out: dict[str, str] = {}
        now = datetime.now(UTC)
        for name in ("requests", "tokens"):
            if f"x-ratelimit-limit-{name}" not in openai_style:
                continue
            reset = float(openai_style[f"x-ratelimit-reset-{name}"].rstrip("s"))
            out[f"anthropic-ratelimit-{name}-limit"] = openai_style[f"x-ratelimit-limit-{name}"]
            out[f"anthropic-ratelimit-{name}-remaining"] = openai_style[
                f"x-ratelimit-remaining-{name}"
            ]
            out[f"anthropic-ratelimit-{name}-reset"] = (
                (now + timedelta(seconds=reset))
                .isoformat(timespec="seconds")
                .replace("+00:00", "Z")
            )
        return out

    @property
    def _call_prefix(self) -> str:
        return "toolu_" if self.api == "anthropic" else "call_"

    def _answer(
        self, body: dict[str, Any], behavior: Behavior
    ) -> tuple[str, list[tuple[str, str, str]]]:
        """The reply's text and tool calls (id, name, arguments JSON)."""
        text = behavior.text
        calls = [
            (
                str(c.get("id") or f"{self._call_prefix}{i}{uuid.uuid4().hex[:8]}"),
                str(c["name"]),
                c["arguments"]
                if isinstance(c.get("arguments"), str)
                else json.dumps(c.get("arguments") or {}),
            )
            for i, c in enumerate(behavior.tool_calls)
        ]
        forced = body.get("tool_choice") if self.api == "anthropic" else None
        json_mode = bool(body.get("response_format")) or (
            isinstance(forced, dict) and forced.get("type") == "tool"
        )
        if text is None:
            echo = last_user_text(body)
            text = json.dumps({"echo": echo}) if json_mode else echo
        if isinstance(forced, dict) and forced.get("type") == "tool" and not calls:
            # Anthropic JSON mode: the answer is the input of the forced tool.
            try:
                arguments = json.dumps(json.loads(text))
            except ValueError:
                arguments = json.dumps({"text": text})
            calls, text = [(f"toolu_{uuid.uuid4().hex[:12]}", str(forced["name"]), arguments)], ""
        return text, calls

    def reply(self, body: dict[str, Any], behavior: Behavior, model: str = "") -> Reply:
        text, calls = self._answer(body, behavior)
        finish = behavior.finish_reason or ("tool_calls" if calls else "stop")
        if behavior.fault == "content_filter":
            finish = "content_filter"
        usage = behavior.usage
        thought = _thinking.thinking_text(body) if _thinking.enabled(body) else ""
        pieces = [thought, text, *(a for _, _, a in calls)]
        completion = sum(-(-len(t) // 4) for t in pieces if t)
        cache = self.state.prompt_cache.use(body) if self.api == "anthropic" else None
        searched = _server_tools.blocks(body) if self.api == "anthropic" else []
        read, write_5m, write_1h = (
            (cache.read, cache.write_5m, cache.write_1h) if cache else (0, 0, 0)
        )
        prompt = max(prompt_tokens(body), read + write_5m + write_1h)
        return Reply(
            text=text,
            tool_calls=calls,
            finish=finish,
            prompt_tokens=int(usage.get("prompt_tokens", prompt)),
            completion_tokens=int(usage.get("completion_tokens", completion)),
            cached_tokens=int(usage.get("cached_tokens", read)),
            cache_write_tokens=int(usage.get("cache_write_tokens", write_5m + write_1h)),
            cache_write_1h_tokens=int(usage.get("cache_write_1h_tokens", write_1h)),
            reasoning_tokens=int(usage.get("reasoning_tokens", 0)),
            audio_prompt_tokens=int(usage.get("audio_prompt_tokens", 0)),
            audio_completion_tokens=int(usage.get("audio_completion_tokens", 0)),
            model=str(body.get("model") or model or "deployment"),
            id=(
                f"msg_{uuid.uuid4().hex[:20]}"
                if self.api == "anthropic"
                else f"chatcmpl-{uuid.uuid4().hex[:20]}"
            ),
            thinking=thought,
            citations=_documents.citations(body) + _server_tools.citation(searched),
            server_blocks=searched,
            service_tier=served_tier(body.get("service_tier")),
        )

    # -------------------------------------------------------------- faults

    def error(
        self, status: int, fault: str | None, message: str, headers: dict[str, str] | None = None
    ) -> web.Response:
        return _json_response(status, self.render.error_body(status, fault, message), headers)

    def rate_limited(self, wait: float, headers: dict[str, str]) -> web.Response:
        if math.isinf(wait):
            return self.error(
                429,
                "rate_limit",
                "Request too large for the per-minute token limit; it can never be served.",
                headers,
            )
        headers["retry-after-ms"] = str(math.ceil(wait * 1000))
        headers["retry-after"] = str(math.ceil(wait))
        return self.error(
            429,
            "rate_limit",
            f"Rate limit reached for requests or tokens per min. Please try again in {wait:.3f}s.",
            headers,
        )

    # -------------------------------------------------------------- streaming

    async def stream(
        self,
        request: web.Request,
        body: dict[str, Any],
        b: Behavior,
        reply: Reply,
        headers: dict[str, str],
    ) -> web.StreamResponse:
        from aiohttp import web

        if isinstance(self.render, AnthropicRender):
            head, content, tail = self.render.stream(reply, b)
        else:
            asked = bool((body.get("stream_options") or {}).get("include_usage"))
            include_usage = asked or bool(self.vendor and self.vendor.usage_always)
            head, content, tail = self.render.stream(reply, b, include_usage)
        response = web.StreamResponse(
            status=200,
            headers={
                **headers,
                "content-type": "text/event-stream; charset=utf-8",
                "cache-control": "no-cache",
            },
        )
        await response.prepare(request)
        for head_frame in head:
            await response.write(head_frame)
        delay = b.chunk_delay_ms / 1000.0
        mid_stream = b.fault in ("stall", "drop", "malformed", "error_event")
        sent = 0  # content frames sent; Quiet frames (block starts, pings) do not count
        for frame in [*content, None]:
            counts = frame is not None and not isinstance(frame, Quiet)
            if mid_stream and sent == b.after_chunks and (counts or frame is None):
                mid_stream = False
                if await mid_stream_fault(self, request, response, b):
                    return response
            if frame is None:
                break
            if counts and sent and delay:
                await asyncio.sleep(delay)
            if counts and b.comments:
                await response.write(b": keep-alive\n\n")
            await response.write(frame)
            sent += counts
        for tail_frame in tail:
            await response.write(tail_frame)
        await response.write_eof()
        return response


def _anthropic_problem(request: web.Request, body: dict[str, Any]) -> str | None:
    if request.headers.get("anthropic-version") == "2026-10-21":
        for name in ("temperature", "top_p", "top_k"):
            if name in body:
                return f"{name}: Extra inputs are not permitted"
    if "max_tokens" not in body:
        return "max_tokens: Field required"
    return _thinking.problem(body)


def _bearer(request: web.Request) -> str | None:
    value = request.headers.get("authorization", "")
    return value[7:] if value.lower().startswith("bearer ") else None


def served_tier(asked: Any) -> str:
    """The tier OpenAI reports serving: the one asked for, ``auto`` or none: default."""
    return asked if asked in ("flex", "priority", "scale") else "default"
