"""The emulator's application: the routes of every API it serves, and its own
``/_emulator/...`` routes (script, request log, reset, health)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from . import _vendors
from ._behavior import Behavior, BehaviorError
from ._counts import AnthropicCount, GoogleCount, ResponsesCount
from ._embeddings import GoogleEmbeddings, OpenAIEmbeddings
from ._gemini import GeminiHandler
from ._responses import ResponsesHandler
from ._server import Handler, _json_response
from ._state import TOKEN_PREFIX, EmulatorState

if TYPE_CHECKING:
    from aiohttp import web

    from ._cassette import CassetteReplay


def build_app(state: EmulatorState, cassette: CassetteReplay | None = None) -> web.Application:
    from aiohttp import web

    app = web.Application(client_max_size=64 * 1024 * 1024)
    _admin_routes(app, state)
    if cassette is not None:  # every other request is answered from the recording

        async def replay(request: web.Request) -> web.StreamResponse:
            return await cassette.handle(request, state)

        app.router.add_route("*", "/{tail:.*}", replay)
        return app
    openai, azure, anthropic = (
        Handler("openai", state),
        Handler("azure", state),
        Handler("anthropic", state),
    )
    app.router.add_post("/v1/chat/completions", openai.handle)
    app.router.add_post("/openai/deployments/{deployment}/chat/completions", azure.handle)
    app.router.add_post("/openai/v1/chat/completions", azure.handle)
    app.router.add_post("/v1/messages", anthropic.handle)
    app.router.add_post("/v1/messages/count_tokens", AnthropicCount(state).handle)
    app.router.add_post("/v1/responses/input_tokens", ResponsesCount("openai", state).handle)
    app.router.add_post("/openai/v1/responses/input_tokens", ResponsesCount("azure", state).handle)
    app.router.add_post("/v1/responses", ResponsesHandler("openai", state).handle)
    app.router.add_post("/openai/v1/responses", ResponsesHandler("azure", state).handle)
    gemini = _by_method(
        GeminiHandler("gemini", state),
        GoogleEmbeddings("gemini", state),
        GoogleCount("gemini", state),
    )
    app.router.add_post("/v1beta/models/{target}", gemini)
    app.router.add_post("/v1/models/{target}", gemini)  # the stable version
    vertex = "/v1/projects/{project}/locations/{location}/publishers/google/models/{target}"
    app.router.add_post(
        vertex,
        _by_method(
            GeminiHandler("vertex", state),
            GoogleEmbeddings("vertex", state),
            GoogleCount("vertex", state),
        ),
    )
    app.router.add_post("/v1/embeddings", OpenAIEmbeddings("openai", state).handle)
    azure_embed = OpenAIEmbeddings("azure", state).handle
    app.router.add_post("/openai/deployments/{deployment}/embeddings", azure_embed)
    app.router.add_post("/openai/v1/embeddings", azure_embed)
    for name, vendor in _vendors.VENDORS.items():
        handler = Handler("openai", state, vendor)
        app.router.add_post(f"/vendors/{name}/v1/chat/completions", handler.handle)
        embed = OpenAIEmbeddings("openai", state)
        app.router.add_post(f"/vendors/{name}/v1/embeddings", embed.handle)
    return app


def _by_method(
    chat: GeminiHandler, *others: GeminiHandler
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """A Google model route: each method (``MODEL:method``) to the handler that serves
    it (embeddings, counts), the rest to ``chat``."""

    async def handle(request: web.Request) -> web.StreamResponse:
        target = request.match_info.get("target", "")
        handler = next((h for h in others if target.endswith(h.methods)), chat)
        return await handler.handle(request)

    return handle


def _admin_routes(app: web.Application, state: EmulatorState) -> None:
    """``/_emulator/...``: script behaviours, read the request log, reset, health."""

    async def script(request: web.Request) -> web.Response:
        try:
            data = await request.json()
            items = data if isinstance(data, list) else [data]
            state.push([Behavior.from_dict(item) for item in items])
        except (ValueError, BehaviorError) as exc:
            return _json_response(400, {"error": {"message": str(exc)}})
        return _json_response(200, {"queued": len(state.queue)})

    async def requests(_: web.Request) -> web.Response:
        return _json_response(200, [r.__dict__ for r in state.requests])

    async def reset(_: web.Request) -> web.Response:
        state.clear()
        return _json_response(200, {"ok": True})

    async def health(_: web.Request) -> web.Response:
        limited = state.limits.rejected if state.limits is not None else 0
        return _json_response(
            200,
            {
                "ok": True,
                "queued": len(state.queue),
                "requests": len(state.requests),
                "rate_limited": limited,
            },
        )

    async def oauth_token(request: web.Request) -> web.Response:
        """An OAuth 2.0 token endpoint (a service account's ``token_uri``): any signed
        assertion gets a bearer token this emulator then accepts, for an hour."""
        form = await request.post()
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return _json_response(400, {"error": "unsupported_grant_type"})
        if str(form.get("assertion", "")).count(".") != 2:
            return _json_response(400, {"error": "invalid_grant"})
        import secrets

        token = f"{TOKEN_PREFIX}{secrets.token_hex(12)}"
        state.tokens[token] = state.now() + 3600
        return _json_response(
            200, {"access_token": token, "expires_in": 3600, "token_type": "Bearer"}
        )

    app.router.add_post("/_emulator/oauth2/token", oauth_token)
    app.router.add_post("/_emulator/script", script)
    app.router.add_get("/_emulator/requests", requests)
    app.router.add_post("/_emulator/reset", reset)
    app.router.add_get("/_emulator/health", health)
