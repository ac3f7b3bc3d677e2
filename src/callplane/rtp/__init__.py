"""Sans-IO media: RTP/RTCP packets, RFC 4733 events, G.711, stream bookkeeping."""

from callplane.rtp.dtmf import DtmfEvent, DtmfReceiver, DtmfSender
from callplane.rtp.errors import RtpError
from callplane.rtp.packet import RtpPacket
from callplane.rtp.rtcp import CompoundPacket
from callplane.rtp.stream import InboundStream, OutboundStream

__all__ = [
    "CompoundPacket",
    "DtmfEvent",
    "DtmfReceiver",
    "DtmfSender",
    "InboundStream",
    "OutboundStream",
    "RtpError",
    "RtpPacket",
]
