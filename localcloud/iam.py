"""IAM policy evaluation, as AWS documents it, for the local cloud's permission checks.

No well-kept Python library evaluates IAM policies: moto's evaluator (`moto.iam.access_control`)
matches actions case-sensitively, has no `?` wildcard, no `NotResource`, no principals and only
`StringEquals` among the condition operators, and `policy_sentry`/`policyuniverse` write or
expand policies without evaluating them. So the rules are written here, from the IAM User Guide
("Policy evaluation logic", "IAM JSON policy elements", "Condition operators"):

- an explicit `Deny` in any applicable policy wins; otherwise an `Allow` is needed; otherwise the
  request is implicitly denied;
- actions match case-insensitively, with `*` and `?` wildcards; resources (ARNs) match
  case-sensitively, with the same wildcards; `NotAction`/`NotResource` match everything else;
- all condition operators of a statement must hold (AND), and every key within an operator; a
  key holds when any of its values matches (OR); a key missing from the request makes a
  condition false, except for the negated operators (true) and `...IfExists` (true);
- a resource-based policy names its principals: `*`, an account (its root ARN or id), a role
  ARN, or a service (`Service`). A statement naming the principal itself (or `*`) allows on its
  own; one naming only the principal's account delegates to the account's identity-based
  policies, so for a role of that account it adds nothing an identity policy does not already
  grant (IAM User Guide, "AWS account principals"); a `Deny` naming the account applies to
  every principal in it.

Only what a request in one account needs is modelled: no permission boundaries, session policies
or SCPs (the template defines none).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any


class Decision(enum.Enum):
    ALLOW = "allow"
    EXPLICIT_DENY = "explicit deny"
    IMPLICIT_DENY = "implicit deny"


@dataclass(frozen=True)
class Request:
    """One action on one resource by one principal (a role ARN or a service principal such as
    `sns.amazonaws.com`), with the request's condition keys."""

    principal: str
    action: str
    resource: str
    context: Mapping[str, str | Sequence[str]] = field(default_factory=dict)

    @property
    def service_principal(self) -> bool:
        return self.principal.endswith(".amazonaws.com")


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


@lru_cache(maxsize=4096)
def _pattern(wildcard: str, ignore_case: bool) -> re.Pattern[str]:
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in wildcard)
    return re.compile(body, re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


def wildcard_match(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    """IAM's `*` (any run of characters) and `?` (one character); nothing else is special."""
    if "*" not in pattern and "?" not in pattern:
        return pattern.lower() == value.lower() if ignore_case else pattern == value
    return _pattern(pattern, ignore_case).fullmatch(value) is not None


def _account_of(arn: str) -> str:
    parts = arn.split(":")
    return parts[4] if len(parts) > 5 else ""


def _principal_matches(element: Any, principal: str) -> bool:
    if element == "*":
        return True
    if not isinstance(element, dict):
        return False
    if "*" in _as_list(element.get("AWS")):
        return True
    if principal.endswith(".amazonaws.com"):
        return principal in _as_list(element.get("Service"))
    for name in _as_list(element.get("AWS")):
        named = str(name)
        if named == principal:
            return True
        account = named if named.isdigit() else named.removesuffix(":root").rsplit(":", 1)[-1]
        if (named.isdigit() or named.endswith(":root")) and _account_of(principal) == account:
            return True
    return False


def _matches_any(patterns: Iterable[Any], value: str, *, ignore_case: bool) -> bool:
    return any(wildcard_match(str(pattern), value, ignore_case=ignore_case) for pattern in patterns)


_NEGATED = {"StringNotEquals", "StringNotEqualsIgnoreCase", "StringNotLike", "ArnNotEquals", "ArnNotLike"}


def _compare(operator: str, expected: str, actual: str) -> bool:
    base = operator
    if base in ("StringEquals", "StringNotEquals"):
        return expected == actual
    if base in ("StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase"):
        return expected.lower() == actual.lower()
    if base in ("StringLike", "StringNotLike"):
        return wildcard_match(expected, actual)
    if base in ("ArnEquals", "ArnLike", "ArnNotEquals", "ArnNotLike"):
        expected_parts, actual_parts = expected.split(":", 5), actual.split(":", 5)
        return len(expected_parts) == len(actual_parts) and all(
            wildcard_match(e, a) for e, a in zip(expected_parts, actual_parts, strict=True)
        )
    if base == "Bool":
        return expected.lower() == actual.lower()
    if base.startswith("Numeric"):
        left, right = float(actual), float(expected)
        return {
            "NumericEquals": left == right,
            "NumericNotEquals": left != right,
            "NumericLessThan": left < right,
            "NumericLessThanEquals": left <= right,
            "NumericGreaterThan": left > right,
            "NumericGreaterThanEquals": left >= right,
        }[base]
    raise UnsupportedCondition(operator)


class UnsupportedCondition(Exception):
    """A condition operator the evaluator does not implement: refused, never guessed."""

    def __init__(self, operator: str) -> None:
        super().__init__(f"the local IAM evaluator does not implement the condition operator {operator!r}")


def _condition_holds(operator: str, values: Mapping[str, Any], context: Mapping[str, Any]) -> bool:
    qualifier, _, name = operator.rpartition(":")
    if_exists = name.endswith("IfExists")
    name = name.removesuffix("IfExists")
    for key, expected in values.items():
        present = next((v for k, v in context.items() if k.lower() == key.lower()), None)
        if name == "Null":
            if (present is None) != (str(_as_list(expected)[0]).lower() == "true"):
                return False
            continue
        if present is None:
            if if_exists or name in _NEGATED:
                continue
            return False
        actual_values = [str(v) for v in _as_list(present)]
        expected_values = [str(v) for v in _as_list(expected)]
        negated = name in _NEGATED
        hits = [any(_compare(name, e, actual) for e in expected_values) != negated for actual in actual_values]
        holds = all(hits) if qualifier == "ForAllValues" else any(hits)  # single-valued keys: one value
        if not holds:
            return False
    return True


def statement_applies(statement: Mapping[str, Any], request: Request, *, resource_policy: bool = False) -> bool:
    if resource_policy:
        if "Principal" in statement and not _principal_matches(statement["Principal"], request.principal):
            return False
        if "NotPrincipal" in statement and _principal_matches(statement["NotPrincipal"], request.principal):
            return False
    if "Action" in statement and not _matches_any(_as_list(statement["Action"]), request.action, ignore_case=True):
        return False
    if "NotAction" in statement and _matches_any(_as_list(statement["NotAction"]), request.action, ignore_case=True):
        return False
    if "Resource" in statement and not _matches_any(
        _as_list(statement["Resource"]), request.resource, ignore_case=False
    ):
        return False
    if "NotResource" in statement and _matches_any(
        _as_list(statement["NotResource"]), request.resource, ignore_case=False
    ):
        return False
    return all(
        _condition_holds(operator, values, request.context)
        for operator, values in statement.get("Condition", {}).items()
    )


def _statements(policy: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return _as_list(policy.get("Statement"))


def _decide(policies: Iterable[Mapping[str, Any]], request: Request, *, resource_policy: bool) -> Decision:
    allowed = False
    for policy in policies:
        for statement in _statements(policy):
            if not statement_applies(statement, request, resource_policy=resource_policy):
                continue
            if statement.get("Effect") == "Deny":
                return Decision.EXPLICIT_DENY
            if statement.get("Effect") == "Allow" and (
                not resource_policy or _names_itself(statement.get("Principal"), request.principal)
            ):
                allowed = True
    return Decision.ALLOW if allowed else Decision.IMPLICIT_DENY


def _names_itself(element: Any, principal: str) -> bool:
    """Whether a resource policy's `Principal` names this principal itself (or everyone), not
    merely its account."""
    if element == "*":
        return True
    if not isinstance(element, dict):
        return False
    if principal.endswith(".amazonaws.com"):
        return principal in _as_list(element.get("Service"))
    return any(str(name) in ("*", principal) for name in _as_list(element.get("AWS")))


def evaluate(
    request: Request,
    identity_policies: Sequence[Mapping[str, Any]] = (),
    resource_policy: Mapping[str, Any] | None = None,
) -> Decision:
    """The decision for a request within one account: an explicit deny in either kind of policy
    denies; otherwise an allow in the principal's policies, or a resource policy allow naming the
    principal itself, allows (a service principal has no identity policies: only the resource
    policy can)."""
    identity = (
        Decision.IMPLICIT_DENY
        if request.service_principal
        else _decide(identity_policies, request, resource_policy=False)
    )
    resource = (
        Decision.IMPLICIT_DENY if resource_policy is None else _decide([resource_policy], request, resource_policy=True)
    )
    if Decision.EXPLICIT_DENY in (identity, resource):
        return Decision.EXPLICIT_DENY
    return Decision.ALLOW if Decision.ALLOW in (identity, resource) else Decision.IMPLICIT_DENY


def evaluate_kms(
    request: Request, key_policy: Mapping[str, Any], identity_policies: Sequence[Mapping[str, Any]] = ()
) -> Decision:
    """KMS differs: the key policy is the root of access. A key policy statement that names the
    principal allows on its own; one that names the account (its root) delegates to IAM, so the
    principal's identity policies must allow as well (KMS Developer Guide, "Key policies")."""
    if (
        _decide(identity_policies, request, resource_policy=False) is Decision.EXPLICIT_DENY
        and not request.service_principal
    ):
        return Decision.EXPLICIT_DENY
    allowed_directly = delegated = False
    for statement in _statements(key_policy):
        if not statement_applies(statement, request, resource_policy=True):
            continue
        if statement.get("Effect") == "Deny":
            return Decision.EXPLICIT_DENY
        if statement.get("Effect") != "Allow":
            continue
        names = (
            _as_list(statement.get("Principal", {}).get("AWS")) if isinstance(statement.get("Principal"), dict) else []
        )
        if (
            any(str(name) == request.principal for name in names)
            or request.service_principal
            or statement.get("Principal") == "*"
        ):
            allowed_directly = True
        else:
            delegated = True
    if allowed_directly:
        return Decision.ALLOW
    if delegated and not request.service_principal:
        return _decide(identity_policies, request, resource_policy=False)
    return Decision.IMPLICIT_DENY
