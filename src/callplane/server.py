"""`callplane serve`: one process with SIP, the REST API, webhooks and the store.

Start-up: open the store, make sure the main account exists (printing its
credentials the first time), finish records of calls a previous process left
live, then listen. SIGTERM (or ``POST .../Node/Drain/``) drains first: new calls
get 503, live calls go on until they end or ``--drain-timeout`` passes (then they
are hung up). Shut-down (SIGINT, a second SIGTERM, or the end of draining): end
live calls (503 or BYE), let callbacks in flight finish, flush records.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import os
import signal
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import uvicorn

from callplane.api import create_app, flow_runs
from callplane.api.connections import HttpLimits, bounded_protocol
from callplane.calls import causes
from callplane.calls.causes import Cause
from callplane.calls.params import hangup_params
from callplane.calls.records import RecordBatchOutbox, RecordWriter, bill, end_record
from callplane.calls.registrar import Registrar, endpoint_ha1
from callplane.calls.tracer import Tracer
from callplane.config import Settings
from callplane.control.cluster_limits import SharedLimits
from callplane.control.cluster_rooms import ClusterRooms
from callplane.control.cluster_state import LEASE, ClusterState
from callplane.control.conference import ConferenceControl
from callplane.control.live import LiveCallControl
from callplane.control.originate import Originator
from callplane.control.room_guests import RoomGuests
from callplane.control.router import Router
from callplane.control.services import Services
from callplane.flows.outbound import OutboundCalls
from callplane.flows.runtime import FlowRunner
from callplane.media.fetch import AudioFetcher
from callplane.media.tts import CachedTts, EspeakTts
from callplane.net.guard import SourceGuard
from callplane.net.ports import PortAllocator
from callplane.net.resolver import Resolver, parse_nameservers
from callplane.net.sip_tcp import TcpLimits
from callplane.net.sip_transport import SipTransport
from callplane.sip.auth import DigestServer
from callplane.store import Store
from callplane.store.models import Account, CallRecord
from callplane.store.outbox import OutboxChanges
from callplane.store.secrets import REALM
from callplane.webhooks.client import Callback, WebhookClient
from callplane.webhooks.signing import SigningKeys
from callplane.webhooks.ssrf import OutboundPolicy, Reach, reach_of
from callplane.webhooks.stream_socket import StreamSockets
from callplane.webhooks.worker import OutboxWorker

log = logging.getLogger("callplane")


def run_server(settings: Settings) -> int:
    protect_data_dir(settings)
    tune_gc()
    try:
        import uvloop
    except ImportError:
        asyncio.run(serve(settings))
    else:
        uvloop.run(serve(settings))
    return 0


def protect_data_dir(settings: Settings) -> None:
    """Only the user running Callplane can read what it keeps (auth tokens are in the
    database, recordings are calls): files this process creates are 0600 and directories
    0700 (umask 077; SQLite gives its -wal/-shm files the database file's mode), and
    what an older version left readable is tightened."""
    os.umask(0o077)
    data = settings.data_dir
    data.mkdir(parents=True, exist_ok=True)
    data.chmod(0o700)
    for name in ("callplane.db", "callplane.db-wal", "callplane.db-shm", "credentials.json"):
        with contextlib.suppress(FileNotFoundError):
            (data / name).chmod(0o600)
    for folder, _, files in os.walk(settings.recordings_dir):
        os.chmod(folder, 0o700)
        for name in files:
            os.chmod(os.path.join(folder, name), 0o600)


def tune_gc() -> None:
    """Fewer, cheaper collections: start-up objects are frozen out of every scan and
    young collections run less often (default thresholds stalled the loop for tens of
    milliseconds under load), while full collections still run often enough that
    memory stays flat (``docs/benchmarks.md``). ``CALLPLANE_GC_THRESHOLDS`` overrides
    the thresholds; ``CALLPLANE_GC_DEFAULT`` keeps Python's defaults."""
    if os.environ.get("CALLPLANE_GC_DEFAULT"):
        return
    gc.collect()
    gc.freeze()
    thresholds = os.environ.get("CALLPLANE_GC_THRESHOLDS", "50000,20,10")
    gc.set_threshold(*(int(t) for t in thresholds.split(",")))


async def serve(settings: Settings) -> None:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = await Store.open(settings.db_url, settings.node_name)
    account, created = await store.ensure_main_account(
        os.environ.get("CALLPLANE_AUTH_ID") or None, os.environ.get("CALLPLANE_AUTH_TOKEN") or None
    )
    announce(settings, account, created)
    services = build_services(settings, store)
    webhooks, records, audio = services.webhooks, services.records, services.audio
    webhooks.observe = services.metrics.webhook
    node = services.node
    interrupted = await store.outbox.release_interrupted(datetime.now(UTC))
    if interrupted:
        log.warning("sending again %d callback(s) a previous run was sending", interrupted)
    await recover_live_calls(store, services)
    registrar = Registrar(
        endpoint_ha1(store),
        auth=DigestServer(REALM, nonce_ttl=settings.nonce_ttl),
        failures=services.auth_failures,
    )
    router = Router(services, store, registrar=registrar)
    guard = services.guard
    guard.trust_check = router.trusted_source
    sip = SipTransport(
        router.on_event,
        guard=guard,
        resolver=build_resolver(settings),
        tcp_limits=tcp_limits(settings),
    )
    router.sip = sip
    tracer = services.tracer
    if tracer.on:
        sip.tap = tracer.tap
    worker = OutboxWorker(webhooks, lambda auth_id: signing_keys(store, auth_id))
    await sip.start(settings.sip_host, settings.sip_port, settings.public_host)
    node.sip_bound = True
    registrar.start()
    records.start()
    worker.start()
    reporter = asyncio.get_running_loop().create_task(guard.report_forever())
    retention = timedelta(days=settings.trace_retention_days)
    tending = asyncio.get_running_loop().create_task(
        tracer.tend(store.delete_traces_before, retention)
    )
    cluster = join_cluster(settings, store, services, registrar)
    if cluster is not None:
        join_rooms(settings, store, services, router, cluster)
    app = create_app(
        store,
        live=LiveCallControl(services),
        conferences=ConferenceControl(services),
        failures=services.auth_failures,
        guard=guard,
        max_body_bytes=settings.max_body_bytes,
        cluster=cluster,
        local_calls=services.live,
    )
    app.state.originator = Originator(services, sip)  # POST /Call/ (api/outbound_calls.py)
    if services.flows is not None:  # Initiate Call, Call Forward in API-triggered runs
        services.flows.outbound = OutboundCalls(app.state.originator, store.get_account)
    flow_runs.install(app, services.flows)  # API-triggered flow runs (api/flow_runs.py)
    app.state.node = node  # /readyz, /Node/ and POST /Call/ while draining (api/node.py)
    app.state.metrics = services.metrics
    app.state.metrics_token = settings.metrics_token
    app.state.live_count = lambda: len(services.live)
    http = HttpServer(
        uvicorn.Config(
            app,
            host=settings.http_host,
            port=settings.http_port,
            http=bounded_protocol(http_limits(settings)),
            ws="none",  # the API has no WebSocket routes (and the bounds above assume HTTP)
            log_level="warning",
            lifespan="off",
            access_log=False,
        )
    )
    log.info(
        "node %s listening: SIP udp+tcp %s:%d, HTTP %s:%d",
        node.name,
        settings.sip_host,
        sip.local_address[1],
        settings.http_host,
        settings.http_port,
    )
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGINT, http.stop)

    def on_sigterm() -> None:
        if not node.drain():  # the second SIGTERM stops at once
            http.stop()

    loop.add_signal_handler(signal.SIGTERM, on_sigterm)
    drainer = loop.create_task(drain_then_stop(services, router, sip, http))
    try:
        await http.serve()
    finally:
        drainer.cancel()
        router.stop_all()
        reporter.cancel()
        tending.cancel()
        await services.drain()
        if cluster is not None:
            await cluster.close()
        if services.flows is not None:
            await services.flows.aclose()
        await registrar.close()
        await sip.close()
        await worker.stop()
        await records.stop()
        await webhooks.aclose()
        await audio.aclose()
        await store.close()
        log.info("stopped")


async def drain_then_stop(
    services: Services, router: Router, sip: SipTransport, http: HttpServer
) -> None:
    """Once draining starts: probes get 503, live calls may end until the drain
    timeout (then they are hung up: Node Drained, 5091), then the server stops."""
    node = services.node
    await node.drain_requested.wait()
    sip.endpoint.unavailable = True
    log.warning(
        "node %s draining: new calls get 503; waiting up to %g s for %d live call(s)",
        node.name,
        node.drain_timeout,
        len(services.live),
    )
    try:
        await asyncio.wait_for(services.calls_ended(), node.drain_timeout)
    except TimeoutError:
        log.warning("drain timeout: hanging up %d live call(s)", len(services.live))
        router.stop_all(causes.NODE_DRAINED, "the call outlived the node's --drain-timeout")
        with contextlib.suppress(TimeoutError):  # each hangup ends its call at once
            await asyncio.wait_for(services.calls_ended(), 10.0)
    log.info("node %s drained", node.name)
    http.stop()


def build_services(settings: Settings, store: Store) -> Services:
    """What calls share, on top of ``store``: webhooks, records, RTP ports, TTS, audio.

    Customer URLs never reach the API's own port (``webhooks/ssrf.py``)."""
    policy = OutboundPolicy(own_ports=[settings.http_port])
    records = RecordWriter(store.write_records)
    outbox = RecordBatchOutbox(records, store.outbox.due)
    return Services(
        settings,
        WebhookClient(default_timeout=settings.answer_timeout, outbox=outbox, policy=policy),
        records,
        PortAllocator.parse(settings.rtp_ports),
        CachedTts(EspeakTts(), settings.cache_dir / "tts"),
        AudioFetcher(settings.cache_dir / "audio", policy=policy),
        store.add_recording,
        trunks=store.trunks,
        flows=FlowRunner(store.save_flow_run, policy),
        streams=StreamSockets(policy),
        guard=SourceGuard.of(settings.pike_window, settings.pike_threshold, settings.ban_seconds),
        tracer=Tracer(settings.trace, max_bytes=settings.trace_max_bytes, records=records),
    )


def join_cluster(
    settings: Settings, store: Store, services: Services, registrar: Registrar
) -> ClusterState | None:
    """With ``--redis-url``: publish this node's live calls, registrar bindings and
    lease, mirror the other nodes' bindings, and close the calls of nodes whose lease
    runs out (docs/cluster.md). Without: None."""
    if not settings.redis_url:
        return None

    async def node_lost(node: str) -> int:
        why = f"Callplane node {node} was lost while the call was live"
        return await close_out(store, services, node, causes.NODE_LOST, why)

    cluster = ClusterState(
        settings.redis_url, settings.node_name, settings.public_http_url, services.live, node_lost
    )
    services.watcher = cluster
    cluster.attach_registrar(registrar)
    shared = SharedLimits(cluster.redis, settings.node_name, services.guard.bans)
    services.limits.shared = shared
    cluster.attach_limits(shared)
    cluster.start()
    return cluster


def join_rooms(
    settings: Settings, store: Store, services: Services, router: Router, cluster: ClusterState
) -> None:
    """With ``--cluster-secret``: one room per name across the nodes, members on other
    nodes joined by signed internal INVITEs (docs/cluster.md). Without: rooms per node."""
    if not settings.cluster_secret:
        log.warning("no --cluster-secret: conference rooms are per node")
        return
    secret = settings.cluster_secret.encode()
    assert router.sip is not None
    cluster.sip_address = (settings.public_host, router.sip.local_address[1])
    lease_ms = int(LEASE * 1000)
    rooms = ClusterRooms(cluster.redis, settings.node, services.conferences, secret, lease_ms)
    cluster.rooms = rooms
    services.room_homes = rooms
    router.guests = RoomGuests(services, store, secret)


def http_limits(settings: Settings) -> HttpLimits:
    return HttpLimits(
        max_connections=settings.http_max_connections,
        header_timeout=settings.http_header_timeout,
        body_timeout=settings.http_body_timeout,
    )


def build_resolver(settings: Settings) -> Resolver:
    """Where SIP host names are looked up: --dns-server, else the system's resolv.conf."""
    return Resolver(parse_nameservers(settings.dns_servers))


def tcp_limits(settings: Settings) -> TcpLimits:
    return TcpLimits(
        first_message_timeout=settings.sip_tcp_first_message_timeout,
        idle_timeout=settings.sip_tcp_idle_timeout,
        max_per_source=settings.sip_tcp_max_per_source,
        max_connections=settings.sip_tcp_max_connections,
    )


class HttpServer(uvicorn.Server):
    """uvicorn without its own signal handling: it re-raises the signal on exit, which
    would kill the process before live calls get their final responses and records."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    def stop(self) -> None:
        self.should_exit = True


def announce(settings: Settings, account: Account, created: bool) -> None:
    path = settings.data_dir / "credentials.json"
    path.write_text(json.dumps({"auth_id": account.auth_id, "auth_token": account.auth_token}))
    path.chmod(0o600)
    if created:
        print(
            f"Created the main account.\n  auth id:    {account.auth_id}\n"
            f"  auth token: {account.auth_token}\n(also saved in {path})",
            file=sys.stderr,
        )
    else:
        print(f"Main account: {account.auth_id} (token in {path})", file=sys.stderr)


async def signing_keys(store: Store, auth_id: str) -> tuple[SigningKeys, Reach] | None:
    account = await store.get_account(auth_id)
    return (SigningKeys(account.auth_token), reach_of(account)) if account else None


async def recover_live_calls(store: Store, services: Services) -> None:
    """Give calls this node's previous process left live their final record and
    hangup callback (only this node's: other cluster nodes' calls are theirs)."""
    why = "Callplane stopped while the call was live"
    found = await close_out(store, services, store.node, causes.PROCESS_STOPPED, why)
    if found:
        log.warning("finished %d call record(s) left live by a previous run", found)


async def close_out(store: Store, services: Services, node: str, cause: Cause, why: str) -> int:
    """Finish the calls node ``node`` left live (a crash, or a lost cluster node); how many.

    They end at the last moment the store shows that node alive (the newest start,
    answer or end time it wrote), never later: a call answered before the crash is
    billed from its answer up to then. The records and their callbacks' outbox rows
    are written in one transaction, then the callbacks are sent.
    """
    stale = await store.live_records(node)
    if not stale:
        return 0
    last_alive = await store.last_activity(node) or datetime.now(UTC)
    callbacks: list[tuple[Callback, SigningKeys]] = []
    for record in stale:
        end_record(record, cause, causes.SOURCE_PLATFORM, last_alive)
        record.error = (record.error + "; " if record.error else "") + why
        account = await store.get_account(record.auth_id)
        if account is not None and record.answer_time is not None:
            bill(record, account)
        found = await hangup_callback(store, services, record, cause)
        if account is not None and found is not None:
            callbacks.append((found, SigningKeys(account.auth_token)))
    await store.write_records(stale, OutboxChanges([callback.stored for callback, _ in callbacks]))
    for callback, keys in callbacks:
        services.spawn(services.webhooks.deliver(callback, keys))
    return len(stale)


async def hangup_callback(
    store: Store, services: Services, record: CallRecord, cause: Cause
) -> Callback | None:
    app = await store.get_application(record.auth_id, record.app_id) if record.app_id else None
    account = await store.get_account(record.auth_id)
    if app is None or not app.hangup_url or account is None:
        return None
    params = hangup_params(record, {}, cause.q850)
    return services.webhooks.prepare(
        app.hangup_url,
        app.hangup_method,
        params,
        auth_id=record.auth_id,
        reach=reach_of(account),
    )
