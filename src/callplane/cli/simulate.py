"""``callplane call simulate``: place a real SIP test call and print what happened."""

from __future__ import annotations

import click

from callplane.cli.client import api_of


@click.group("call")
def call_group() -> None:
    """Place test calls."""


@call_group.command("simulate")
@click.option("--from", "from_number", default="14155550100", show_default=True)
@click.option("--to", "to_number", required=True, help="A number routed on this server.")
@click.option("--sip-host", default="127.0.0.1", show_default=True)
@click.option("--sip-port", default=5060, show_default=True)
@click.option("--digits", default="", help="DTMF to send 1 s after answer (RFC 4733).")
@click.option(
    "--hangup-after",
    default=10.0,
    show_default=True,
    help="Seconds before the caller hangs up, if Callplane has not.",
)
@click.pass_context
def call_simulate(
    ctx: click.Context,
    from_number: str,
    to_number: str,
    sip_host: str,
    sip_port: int,
    digits: str,
    hangup_after: float,
) -> None:
    """Place a real SIP call to this server and print what happened."""
    import asyncio

    from callplane.simulate import simulate

    result = asyncio.run(
        simulate(
            (sip_host, sip_port),
            from_number.lstrip("+"),
            to_number.lstrip("+"),
            hangup_after=hangup_after,
            digits=digits,
            report=click.echo,
        )
    )
    if result.answered:
        click.echo(
            f"heard {result.audio_seconds:.1f} s of audio "
            f"({result.loud_frames * 0.02:.1f} s not silent); "
            f"hung up by {result.hung_up_by}"
        )
    _print_call_record(ctx, from_number.lstrip("+"), to_number.lstrip("+"))


def _print_call_record(ctx: click.Context, from_number: str, to_number: str) -> None:
    """The newest record of this caller and number: cause, webhooks' errors, call log."""
    import time

    api = api_of(ctx)
    time.sleep(0.3)  # the record is written within 50 ms of the call's end
    found = api.call(
        "GET", "Call/", params={"from_number": from_number, "to_number": to_number, "limit": 1}
    )
    if not found.get("objects"):
        click.echo("no call record (an unknown number is refused 404 before any account)")
        return
    record = found["objects"][0]
    click.echo(
        f"call {record['call_uuid']}: {record['call_status']}, "
        f"{record['hangup_cause_name']} ({record['hangup_source']}), "
        f"SIP {record.get('sip_response_code')}"
    )
    for event in record.get("events") or []:
        click.echo(f"  {event['time']} {event['level']}: {event['message']}")
