"""Device-side answering shared by the simulator and the cascade domain.

Whoever answers a platform as a device does (a simulated camera toward our node,
our node toward an upper platform) needs the same three things, kept here once:

- :func:`accept_catalog_subscribe`: the notifier side of a Catalog SUBSCRIBE
  (new dialog, in-dialog refresh, Expires 0 ends it, 481 for an unknown dialog,
  489 for another event package) — pure: takes ``now``, returns the response and
  the subscription to keep;
- :func:`notify_request`: the NOTIFY carrying a catalog change in that dialog;
- :func:`send_paced`: Appendix N delivery of a multi-part answer, each part only
  after the previous MESSAGE's 2xx, stopping at the first failure.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from sharpeyes.gb28181 import manscdp
from sharpeyes.gb28181.manscdp import ManscdpError, parse_manscdp
from sharpeyes.gb28181.message import (
    SipParseError,
    SipRequest,
    SipResponse,
    parse_name_addr,
    response_for,
)
from sharpeyes.sip.stack import SipStack, new_tag

MANSCDP_TYPE = "Application/MANSCDP+xml"


@dataclass
class CatalogSubscription:
    """A Catalog SUBSCRIBE dialog, seen from the notifier (device / lower platform) side."""

    call_id: str
    local_uri: str
    local_tag: str
    remote_uri: str
    remote_tag: str
    target: str
    event: str
    sn: int
    expires_at: float

    def remaining(self, now: float) -> int:
        return max(0, int(self.expires_at - now))


def accept_catalog_subscribe(
    req: SipRequest,
    current: CatalogSubscription | None,
    now: float,
    *,
    notifier_id: str,
    contact: str,
    next_sn: Callable[[], int],
    charset: str = "GB2312",
    default_expires: int = 600,
    max_expires: int = 86400,
) -> tuple[SipResponse, CatalogSubscription | None]:
    """Answer a SUBSCRIBE; returns (response, the subscription to keep, None if none).

    When the request is refused the returned subscription is ``current`` unchanged.
    """
    event = req.headers.get("Event") or ""
    if event.split(";")[0].strip().lower() != "catalog":
        return response_for(req, 489, "Bad Event", headers=[("Allow-Events", "Catalog")]), current
    try:
        expires = int((req.headers.get("Expires") or str(default_expires)).strip())
        frm = parse_name_addr(req.headers["From"])
        to = parse_name_addr(req.headers["To"])
        contact_text = req.headers.get("Contact")
        target = str(parse_name_addr(contact_text).uri) if contact_text else str(frm.uri)
        msg = parse_manscdp(req.body) if req.body else None
    except (ValueError, KeyError, SipParseError, ManscdpError):
        return response_for(req, 400, "Bad SUBSCRIBE"), current
    if to.tag and (
        current is None or current.call_id != req.call_id or current.local_tag != to.tag
    ):
        return response_for(req, 481), current
    expires = max(0, min(expires, max_expires))
    sn = msg.sn if msg is not None else next_sn()
    kept: CatalogSubscription | None
    if expires == 0:
        kept = None
        local_tag = to.tag or new_tag()
    elif current is not None and to.tag:
        current.expires_at = now + expires
        current.target = target
        kept = current
        local_tag = current.local_tag
    else:
        local_tag = new_tag()
        kept = CatalogSubscription(
            call_id=req.call_id,
            local_uri=str(to.uri),
            local_tag=local_tag,
            remote_uri=str(frm.uri),
            remote_tag=frm.tag,
            target=target,
            event=event,
            sn=sn,
            expires_at=now + expires,
        )
    body = manscdp.build_manscdp(
        "Response", "Catalog", sn, notifier_id, [("Result", "OK")], charset=charset
    )
    resp = response_for(
        req,
        200,
        to_tag=local_tag,
        headers=[
            ("Expires", str(expires)),
            ("Contact", f"<{contact}>"),
            ("Content-Type", MANSCDP_TYPE),
        ],
        body=body,
    )
    return resp, kept


def notify_request(
    stack: SipStack, sub: CatalogSubscription, body: bytes, *, contact: str, now: float
) -> SipRequest:
    """The NOTIFY for one catalog change inside the subscription dialog."""
    return stack.build_request(
        "NOTIFY",
        sub.target,
        from_uri=sub.local_uri,
        to_uri=sub.remote_uri,
        from_tag=sub.local_tag,
        to_tag=sub.remote_tag,
        call_id=sub.call_id,
        contact=contact,
        headers=[
            ("Event", sub.event),
            ("Subscription-State", f"active;expires={sub.remaining(now)}"),
        ],
        body=body,
        content_type=MANSCDP_TYPE,
    )


async def send_paced(
    parts: Sequence[bytes],
    send: Callable[[bytes], Awaitable[int]],
    on_failure: Callable[[int, int, int], None] | None = None,
) -> int:
    """Appendix N: send part i+1 only after part i's 2xx; the last status (or the failure)."""
    status = 200
    for i, body in enumerate(parts):
        status = await send(body)
        if not 200 <= status < 300:
            if on_failure is not None:
                on_failure(i + 1, len(parts), status)
            break
    return status


__all__ = [
    "MANSCDP_TYPE",
    "CatalogSubscription",
    "accept_catalog_subscribe",
    "notify_request",
    "send_paced",
]
