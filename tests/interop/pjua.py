"""A real SIP user agent for tests: PJSUA2 (pjsip's Python bindings), no sound card.

One pjsua2 Endpoint per process; events are polled from the test's thread, so
no pjsip threads touch Python objects behind our back.
"""

from __future__ import annotations

import gc
import time
from dataclasses import dataclass, field
from pathlib import Path

import pjsua2 as pj


@dataclass
class CallLog:
    states: list[tuple[str, int]] = field(default_factory=list)
    media_ready: bool = False
    disconnected: bool = False

    @property
    def final_status(self) -> int:
        return self.states[-1][1] if self.states else 0


class UaCall(pj.Call):
    def __init__(
        self,
        ua: UserAgent,
        record_to: Path | None,
        play: Path | None,
        *,
        account: pj.Account | None = None,
        call_id: int = pj.PJSUA_INVALID_ID,
    ) -> None:
        super().__init__(account or ua.account, call_id)
        self.ua = ua
        self.log = CallLog()
        self.record_to = record_to
        self.play = play
        self.recorder: pj.AudioMediaRecorder | None = None
        self.player: pj.AudioMediaPlayer | None = None

    def onCallState(self, prm: pj.OnCallStateParam) -> None:
        info = self.getInfo()
        self.log.states.append((info.stateText, info.lastStatusCode))
        self.log.disconnected = info.state == pj.PJSIP_INV_STATE_DISCONNECTED

    def onCallMediaState(self, prm: pj.OnCallMediaStateParam) -> None:
        media = self.getAudioMedia(-1)
        devices = self.ua.endpoint.audDevManager()
        # The null sound device clocks pjsua's bridge: a stream not on it stops sending.
        devices.getCaptureDevMedia().startTransmit(media)
        media.startTransmit(devices.getPlaybackDevMedia())
        if self.record_to and self.recorder is None:
            self.recorder = pj.AudioMediaRecorder()
            self.recorder.createRecorder(str(self.record_to))
            media.startTransmit(self.recorder)
        if self.play and self.player is None:
            self.player = pj.AudioMediaPlayer()
            self.player.createPlayer(str(self.play), pj.PJMEDIA_FILE_NO_LOOP)
            self.player.startTransmit(media)
        self.log.media_ready = True


class UserAgent:
    """A PJSUA2 phone on 127.0.0.1 that places calls to a Callplane server."""

    def __init__(self, user: str = "14155550100", transport: str = "udp") -> None:
        self.endpoint = pj.Endpoint()
        self.endpoint.libCreate()
        config = pj.EpConfig()
        config.logConfig.level = 0
        config.logConfig.consoleLevel = 0
        config.uaConfig.threadCnt = 0
        config.uaConfig.mainThreadOnly = True
        config.medConfig.clockRate = 8000
        config.medConfig.sndClockRate = 8000
        config.medConfig.noVad = True
        self.endpoint.libInit(config)
        kind = pj.PJSIP_TRANSPORT_TCP if transport == "tcp" else pj.PJSIP_TRANSPORT_UDP
        transport_config = pj.TransportConfig()
        transport_config.port = 0
        transport_config.boundAddress = "127.0.0.1"
        self.transport_id = self.endpoint.transportCreate(kind, transport_config)
        self.endpoint.libStart()
        self.endpoint.audDevManager().setNullDev()
        account_config = pj.AccountConfig()
        account_config.idUri = f"sip:{user}@127.0.0.1"
        media = account_config.mediaConfig.transportConfig
        media.boundAddress = media.publicAddress = "127.0.0.1"  # RTP on loopback only
        self.account = pj.Account()
        self.account.create(account_config)
        self.transport = transport
        self.calls: list[UaCall] = []

    def call(
        self, number: str, port: int, *, record_to: Path | None = None, play: Path | None = None
    ) -> UaCall:
        call = UaCall(self, record_to, play)
        suffix = ";transport=tcp" if self.transport == "tcp" else ""
        call.makeCall(f"sip:{number}@127.0.0.1:{port}{suffix}", pj.CallOpParam(True))
        self.calls.append(call)
        return call

    @property
    def sip_port(self) -> int:
        """The port of the UA's SIP transport (where a Dial can reach it)."""
        info = self.endpoint.transportGetInfo(self.transport_id)
        return int(info.localName.rsplit(":", 1)[1])

    def poll(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.endpoint.libHandleEvents(10)

    def wait(self, call: UaCall, timeout: float = 10.0) -> CallLog:
        end = time.monotonic() + timeout
        while time.monotonic() < end and not call.log.disconnected:
            self.endpoint.libHandleEvents(10)
        if call.log.disconnected:
            call.recorder = call.player = None  # pjmedia completes the WAV file on destroy
            gc.collect()
        return call.log

    def finish(self, calls: list[UaCall], timeout: float = 15.0) -> None:
        """Poll until every one of ``calls`` has disconnected, then complete their WAV files.

        The far side of a bridge (a Dial callee, an endpoint) hangs up a moment after the
        caller; reading its recording before that finds a WAV file pjmedia has not finished.
        """
        end = time.monotonic() + timeout
        while time.monotonic() < end and not all(call.log.disconnected for call in calls):
            self.endpoint.libHandleEvents(10)
        assert all(call.log.disconnected for call in calls), [c.log.states for c in calls]
        for call in calls:
            call.recorder = call.player = None  # pjmedia completes the WAV file on destroy
        gc.collect()

    def close(self) -> None:
        for call in self.calls:
            call.recorder = call.player = None
            # pjsua2 2.15's ~Call asserts on the id of a call that already ended, so the
            # C++ objects are left to the process's end rather than deleted here.
            call.thisown = False
        self.calls.clear()
        self.account.shutdown()
        self.endpoint.libDestroy()


class AnsweringAccount(pj.Account):
    """A second PJSUA2 account in the same library that answers every call it gets,
    recording what it hears and playing a file (the callee side of a Dial)."""

    def __init__(self, ua: UserAgent, user: str, *, record_to: Path, play: Path) -> None:
        super().__init__()
        self.ua = ua
        self.record_to = record_to
        self.play = play
        self.calls: list[UaCall] = []
        config = pj.AccountConfig()
        config.idUri = f"sip:{user}@127.0.0.1"
        media = config.mediaConfig.transportConfig
        media.boundAddress = media.publicAddress = "127.0.0.1"
        self.create(config)

    def onIncomingCall(self, prm: pj.OnIncomingCallParam) -> None:
        call = UaCall(self.ua, self.record_to, self.play, account=self, call_id=prm.callId)
        self.calls.append(call)
        self.ua.calls.append(call)
        answer = pj.CallOpParam()
        answer.statusCode = 200
        call.answer(answer)
