"""The user of a request, taken from a trusted proxy's header instead of the caller's word.

Kendra trusts the UserContext a caller sends. A browser is not such a caller: anyone can edit the
page's requests. So a deployment that signs users in at a reverse proxy names the header the proxy
sets (``trusted_user_header``, and optionally ``trusted_groups_header``), and then, for every
operation that filters by user:

- a request carrying the header gets ``UserContext`` rebuilt from it; whatever UserContext the
  caller sent is discarded (the page sends none). GetQuerySuggestions gets it even when the caller
  sent no AttributeSuggestionsConfig, so document titles are always those the user may see;
- ``_user_id`` / ``_group_ids`` conditions of an AttributeFilter add principals to the user's, so one
  naming anyone but the proxy's user and groups is refused with AccessDeniedException (naming
  the user's own changes nothing and is let through);
- a request carrying it comes from a user's browser, not an administrator: it may call only what the
  search page calls (``USER_OPERATIONS``) unless it also holds an admin session of the web pages
  (signed in with the admin token); DeleteIndex, BatchPutDocument, GetSnapshots (other users'
  queries)... are refused with AccessDeniedException;
- a request without it is refused with AccessDeniedException, unless it was SigV4-signed
  (``auth_mode=sigv4``: a back-end holding a key, such as the chat command, is trusted as in Kendra).
  Without this rule a missing header would mean "no UserContext", which in Kendra sees everything.

The proxy must authenticate every request and overwrite (or strip) any copy of these headers that
the client sent; Kensaku cannot tell a forged header from a real one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kernel.errors import AccessDeniedException
from services.query.filters import split_acl_filter, user_principals
from services.settings import Settings

# Operations whose results depend on the user, and where their UserContext lives.
USER_SCOPED = ("Query", "Retrieve", "GetQuerySuggestions")
# What a user of the search page may call through the proxy without an admin session (the index's
# fields for facets, the data sources' names, not their configurations).
USER_OPERATIONS = frozenset({*USER_SCOPED, "SubmitFeedback", "ListIndices", "DescribeIndex", "ListDataSources"})


def user_context(settings: Settings, headers: Mapping[str, str]) -> dict[str, Any] | None:
    """The UserContext the trusted headers describe, or None when the user header is off or absent."""
    if not settings.trusted_user_header:
        return None
    user = (headers.get(settings.trusted_user_header.lower()) or "").strip()
    if not user:
        return None
    context: dict[str, Any] = {"UserId": user}
    if settings.trusted_groups_header:
        raw = headers.get(settings.trusted_groups_header.lower()) or ""
        groups = [g.strip() for g in raw.split(",") if g.strip()]
        if groups:
            context["Groups"] = groups[:200]
    return context


def check_user_operation(settings: Settings, operation: str, headers: Mapping[str, str], admin: bool) -> None:
    """Refuse an administrator's operation to a request the proxy names a user in (see the module
    docstring); ``admin``: the request holds an admin session. Signed requests are not a user's.

    Raises:
        AccessDeniedException: a user's request for an operation outside ``USER_OPERATIONS``.
    """
    if (settings.auth_mode == "sigv4" or admin or operation in USER_OPERATIONS
            or user_context(settings, headers) is None):
        return
    raise AccessDeniedException(
        f"{operation} is an administrator's operation; a request from a user signed in at the authenticating"
        " proxy needs an admin session of the web pages (or a SigV4-signed client) for it"
    )


def apply_trusted_user(settings: Settings, operation: str, headers: Mapping[str, str],
                       params: dict[str, Any]) -> dict[str, Any]:
    """``params`` with UserContext set from the trusted headers (see the module docstring).

    Raises:
        AccessDeniedException: the header is configured, the request lacks it and is not signed.
    """
    if not settings.trusted_user_header or operation not in USER_SCOPED:
        return params
    context = user_context(settings, headers)
    if context is None:
        if settings.auth_mode == "sigv4":  # signed by a key holder: its UserContext is trusted
            return params
        raise AccessDeniedException(
            f"This server takes the user from the {settings.trusted_user_header} header set by its"
            " authenticating proxy, and the request has none"
        )
    if operation == "GetQuerySuggestions":
        config = params.get("AttributeSuggestionsConfig") or {}
        _refuse_other_principals(settings, config.get("AttributeFilter"), context)
        return {**params, "AttributeSuggestionsConfig": {**config, "UserContext": context}}
    _refuse_other_principals(settings, params.get("AttributeFilter"), context)
    return {**params, "UserContext": context}


def _refuse_other_principals(settings: Settings, attribute_filter: dict[str, Any] | None,
                             context: dict[str, Any]) -> None:
    """Refuse a filter whose ``_user_id`` / ``_group_ids`` conditions name principals the proxy did not.

    Raises:
        AccessDeniedException: the filter names another user or a group the user is not in.
        ValidationException: the filter's user-context conditions are malformed (as Query would say).
    """
    _, named = split_acl_filter(attribute_filter)
    if not set(named.terms) <= set(user_principals(context, {}).terms):
        raise AccessDeniedException(
            f"This server takes the user and groups from the {settings.trusted_user_header} header set by its"
            " authenticating proxy; an AttributeFilter may not name other users or groups (_user_id, _group_ids)"
        )
