"""Events the SipEndpoint hands to the transaction user (drain with ``events()``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from callplane.errors import SipParseError
from callplane.sip.message import Address, Request, Response

if TYPE_CHECKING:
    from callplane.sip.transaction import ClientTransaction, ServerTransaction


@dataclass(slots=True)
class RequestReceived:
    """A new request for the TU (not ACK, CANCEL or an auto-answered one)."""

    request: Request
    transaction: ServerTransaction
    source: Address
    transport: str


@dataclass(slots=True)
class AckReceived:
    """An ACK for a 2xx (a transaction of its own, §17.1.1.3); ``transaction`` is the
    INVITE server transaction it acknowledges, or None if none matched."""

    request: Request
    transaction: ServerTransaction | None
    source: Address
    transport: str


@dataclass(slots=True)
class CancelReceived:
    """A CANCEL matched an INVITE still without a final response: send it 487."""

    transaction: ServerTransaction
    request: Request


@dataclass(slots=True)
class ResponseReceived:
    response: Response
    transaction: ClientTransaction


@dataclass(slots=True)
class TransactionTimeout:
    """Timer B/F (client: ``response`` is a synthetic 408, §17.1.1.2), a transport
    error (client: a synthetic 503, §8.1.3.1) or
    Timer H/L (server: no ACK came for the final response; ``response`` is None)."""

    transaction: ClientTransaction | ServerTransaction
    response: Response | None


@dataclass(slots=True)
class BadMessage:
    """Unparseable bytes (answered with 4xx/5xx when possible, otherwise dropped)."""

    data: bytes
    source: Address
    transport: str
    error: SipParseError
    answered: int | None = None


Event = (
    RequestReceived
    | AckReceived
    | CancelReceived
    | ResponseReceived
    | TransactionTimeout
    | BadMessage
)
