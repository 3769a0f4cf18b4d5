from __future__ import annotations

import pickle

import pytest

import steadyllm as sl
from steadyllm._core.errors import ERROR_CLASSES, error_class

KINDS = [
    "rate_limit",
    "quota_exceeded",
    "timeout",
    "connection",
    "invalid_request",
    "authentication",
    "permission",
    "not_found",
    "context_length",
    "content_filter",
    "server_error",
    "overloaded",
    "circuit_open",
    "budget_exceeded",
    "stream_interrupted",
    "invalid_response",
]


def test_one_subclass_per_kind_in_the_design() -> None:
    assert set(KINDS) <= set(ERROR_CLASSES)
    for kind in KINDS:
        cls = ERROR_CLASSES[kind]
        assert issubclass(cls, sl.LLMError)
        assert cls.kind == kind


@pytest.mark.parametrize("kind", sorted(ERROR_CLASSES))
def test_every_error_pickles_with_its_fields(kind: str) -> None:
    cls = error_class(kind)
    err = cls(
        "something broke",
        status=503,
        provider="openai",
        model="gpt-4o",
        request_id="req_1",
        retry_after=1.5,
        attempt=2,
        retryable=False,
        body={"error": "x"},
    )
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is cls
    assert back.to_dict() == err.to_dict()
    assert back.body == {"error": "x"}
    assert str(back) == str(err)


def test_stream_interrupted_keeps_its_partial_response_through_pickle() -> None:
    err = sl.StreamInterruptedError("cut", partial=sl.Response(text="half"))
    back = pickle.loads(pickle.dumps(err))
    assert back.partial.text == "half"


def test_retryable_defaults_and_overrides() -> None:
    assert sl.RateLimitError("x").retryable
    assert sl.ServerError("x").retryable
    assert sl.OverloadedError("x").retryable
    assert not sl.QuotaExceededError("x").retryable
    assert not sl.InvalidRequestError("x").retryable
    assert not sl.RateLimitError("x", retryable=False).retryable


def test_str_names_the_fields_that_help_debugging() -> None:
    err = sl.RateLimitError(
        "slow down",
        status=429,
        provider="openai",
        model="gpt-4o",
        request_id="req_9",
        retry_after=2.0,
        attempt=3,
    )
    text = str(err)
    for fragment in (
        "slow down",
        "kind=rate_limit",
        "status=429",
        "model=openai:gpt-4o",
        "request_id=req_9",
        "retry_after=2s",
        "attempt=3",
    ):
        assert fragment in text
    assert repr(err) == "RateLimitError('slow down', status=429)"


def test_hierarchy_lets_callers_catch_families() -> None:
    assert issubclass(sl.ContextLengthError, sl.InvalidRequestError)
    assert issubclass(sl.ConfigError, sl.InvalidRequestError)
    assert issubclass(sl.LLMTimeoutError, sl.LLMError)
    assert not issubclass(sl.LLMTimeoutError, TimeoutError)


def test_unknown_kind_lists_the_known_ones() -> None:
    with pytest.raises(sl.ConfigError, match=r"unknown error kind 'rate_limt'.*rate_limit"):
        error_class("rate_limt")


def test_locate_masks_secrets_and_fills_the_origin() -> None:
    err = sl.AuthenticationError("Incorrect API key provided: sk-abcdefghijklmnopqrstuvwx")
    err.locate("openai", "gpt-4o", 1)
    assert "sk-abcdefghij" not in str(err)
    assert "sk-abcdefghij" not in repr(err)
    assert err.args == (err.message,)
    assert (err.provider, err.model, err.attempt) == ("openai", "gpt-4o", 1)
