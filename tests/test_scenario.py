"""X-R2V-Scenario directives (r2v.protocol.scenario): parsing, its errors naming the directive, a header laid over
a rule, the text written back, and the errors and failures a scenario injects (the cloud's own words by default)."""

from __future__ import annotations

import pytest

from r2v.errors import ApiError
from r2v.protocol import scenario as scenarios
from r2v.protocol.scenario import HEADER, MAX_WAIT_S, Scenario, failure, injected_error, parse

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("fail=DataInspectionFailed", Scenario(fail_code="DataInspectionFailed")),
        ("fail=InternalError:boom", Scenario(fail_code="InternalError", fail_message="boom")),
        ("fail=X:a: b", Scenario(fail_code="X", fail_message="a: b")),  # the message may hold colons
        ("fail=X:", Scenario(fail_code="X")),  # an empty message is no message
        ("http=429", Scenario(http_status=429)),
        ("http=429:Throttling.RateQuota", Scenario(http_status=429, http_code="Throttling.RateQuota")),
        ("http=599", Scenario(http_status=599)),
        ("pending=2", Scenario(pending_s=2.0)),
        ("running=0.5", Scenario(running_s=0.5)),
        ("pending=0", Scenario(pending_s=0.0)),
        (f"running={MAX_WAIT_S:g}", Scenario(running_s=MAX_WAIT_S)),
        ("expire", Scenario(expire=True)),
        ("", Scenario()),
        (" ; ;", Scenario()),
        (
            "  FAIL = InternalError ;pending= 1.5;; running=2 ; expire ",
            Scenario(fail_code="InternalError", pending_s=1.5, running_s=2.0, expire=True),
        ),
    ],
)
def test_parse(text, expected):
    assert parse(text) == expected


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("bogus=1", "unknown directive 'bogus'"),
        ("fail=X;bogus", "unknown directive 'bogus'"),
        ("fail=A;fail=B", "'fail' is given twice"),
        ("expire;expire", "'expire' is given twice"),
        ("expire=1", "expire takes no value"),
        ("fail", "fail needs a value"),
        ("fail=", "fail needs a value"),
        ("fail=1abc", "fail: '1abc' is not an error code"),
        ("fail=a b", "fail: 'a b' is not an error code"),
        ("http", "http needs a value"),
        ("http=200", "http: the status must be an error status from 400 to 599, got '200'"),
        ("http=600", "http: the status"),
        ("http=abc", "http: the status"),
        ("http=４２９", "http: the status"),  # full-width digits are not a status
        ("http=429:no good", "http: 'no good' is not an error code"),
        ("pending=abc", "pending: must be a number of seconds"),
        ("pending=-1", "pending: must be a number of seconds"),
        ("pending=nan", "pending: must be a number of seconds"),
        ("running=inf", "running: must be a number of seconds"),
        (f"running={MAX_WAIT_S + 1:g}", "running: must be a number of seconds"),
        ("running", "running needs a value"),
    ],
)
def test_an_unreadable_scenario_is_an_invalid_parameter_naming_the_directive(text, named):
    with pytest.raises(ApiError) as raised:
        parse(text)
    assert (raised.value.status, raised.value.code) == (400, "InvalidParameter")
    assert raised.value.message.startswith(f"{HEADER}: ") and named in raised.value.message, raised.value.message


def test_errors_name_their_source():
    with pytest.raises(ApiError) as raised:
        parse("bogus", "scenario")
    assert raised.value.message.startswith("scenario: unknown directive 'bogus'")
    with pytest.raises(ApiError) as raised:
        scenarios.check(["fail=X"], "scenario")
    assert raised.value.message.startswith("scenario: must be a string")
    assert scenarios.check("fail=X", "scenario") == Scenario(fail_code="X")


def test_the_header_is_laid_over_the_rule():
    rule = parse("fail=RuleCode:rule words;http=503:Busy;pending=5;running=2")
    header = parse("fail=HeaderCode;running=1")
    laid = header.over(rule)
    # the header's fail code comes with its own message (none), not the rule's; what it leaves out stays the rule's
    assert laid == Scenario(fail_code="HeaderCode", fail_message=None, http_status=503, http_code="Busy",
                            pending_s=5.0, running_s=1.0)  # fmt: skip
    assert parse("http=429").over(rule).http_code is None  # a status comes with its own code too
    assert parse("expire").over(rule).expire and rule.over(parse("expire")).expire  # not given: the base's kept
    assert Scenario().over(rule) == rule and rule.over(Scenario()) == rule
    assert parse("pending=0").over(parse("pending=9")).pending_s == 0.0  # zero is given, not absent


@pytest.mark.parametrize(
    "text",
    ["fail=DataInspectionFailed", "fail=InternalError:boom", "http=429:Throttling.RateQuota", "http=500",
     "pending=2.5", "running=0", "expire", "fail=X:why;http=503;pending=1;running=2;expire", ""],
)  # fmt: skip
def test_text_round_trips(text):
    parsed = parse(text)
    assert parsed.text() == text and parse(parsed.text()) == parsed


def test_text_is_in_a_fixed_order():
    assert parse("expire;running=2;fail=X").text() == "fail=X;running=2;expire"


def test_empty():
    assert Scenario().empty and parse(" ; ").empty
    assert not parse("pending=0").empty and not parse("expire").empty


@pytest.mark.parametrize(
    ("text", "status", "code", "message"),
    [
        ("http=429", 429, "Throttling.RateQuota", "Requests rate limit exceeded, please try again later."),
        ("http=429:Throttling.RateQuota", 429, "Throttling.RateQuota",
         "Requests rate limit exceeded, please try again later."),
        ("http=500", 500, "InternalError",
         "An internal error has occured, please try again later or contact service support."),
        ("http=503", 503, "ServiceUnavailable", "The service is temporarily unavailable; retry later."),
        ("http=400", 400, "InvalidParameter", "The request is invalid."),
        ("http=401", 401, "InvalidApiKey", "Invalid API-key provided."),
        ("http=403", 403, "AccessDenied", "Access denied."),
        ("http=404", 404, "NotFound", "url error, please check url!"),
        ("http=504", 504, "RequestTimeOut", "Request timed out, please try again later."),
        ("http=502", 502, "InternalError", "HTTP 502 (injected by X-R2V-Scenario)"),
        ("http=418", 418, "InvalidParameter", "HTTP 418 (injected by X-R2V-Scenario)"),
        # another code than the status's own: that code's cloud words, or a message naming it
        ("http=500:InternalError.Timeout", 500, "InternalError.Timeout",
         "An internal timeout error has occured during execution, please try again later."),
        ("http=400:DataInspectionFailed", 400, "DataInspectionFailed",
         "Input data may contain inappropriate content."),
        ("http=400:Custom.Code", 400, "Custom.Code", "Custom.Code (injected by X-R2V-Scenario)"),
    ],
)  # fmt: skip
def test_injected_error(text, status, code, message):
    error = injected_error(parse(text))
    assert (error.status, error.code, error.message) == (status, code, message)


@pytest.mark.parametrize(
    ("text", "code", "message"),
    [
        ("fail=DataInspectionFailed", "DataInspectionFailed", "Input data may contain inappropriate content."),
        ("fail=InternalError", "InternalError",
         "An internal error has occured, please try again later or contact service support."),
        ("fail=InternalError:boom", "InternalError", "boom"),
        ("fail=Arrearage", "Arrearage", "Arrearage (injected by X-R2V-Scenario)"),
        ("fail=DataInspectionFailed:my words", "DataInspectionFailed", "my words"),
        ("pending=1", "InternalError",
         "An internal error has occured, please try again later or contact service support."),
    ],
)  # fmt: skip
def test_failure(text, code, message):
    assert failure(parse(text)) == (code, message)
