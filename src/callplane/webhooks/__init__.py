"""HTTP requests to customer URLs: signatures, timeouts, retries, the outbox."""

from callplane.webhooks.client import WebhookClient, WebhookResponse
from callplane.webhooks.outbox import MemoryOutbox, OutboxSink
from callplane.webhooks.policy import Policy, action_policy, split_url
from callplane.webhooks.signing import SigningKeys, sign
from callplane.webhooks.ssrf import OutboundPolicy, Reach, reach_of
from callplane.webhooks.worker import KeyLookup, OutboxWorker

__all__ = [
    "KeyLookup",
    "MemoryOutbox",
    "OutboundPolicy",
    "OutboxSink",
    "OutboxWorker",
    "Policy",
    "Reach",
    "SigningKeys",
    "WebhookClient",
    "WebhookResponse",
    "action_policy",
    "reach_of",
    "sign",
    "split_url",
]
