"""Trunks in the store: validation naming the field, the in-memory table, ownership."""

from __future__ import annotations

import pytest

from callplane.errors import NotFound, ValidationError
from callplane.store import Store
from callplane.store.models import Account
from callplane.store.secrets import digest_ha1

GATEWAY = {"name": "carrier", "host": "192.0.2.10", "port": 5070}


async def test_create_read_update_delete(store: Store, account: Account) -> None:
    trunk = await store.create_trunk(
        account.auth_id,
        {
            **GATEWAY,
            "transport": "TCP",
            "username": "acme",
            "password": "pw",
            "prefixes": ["+1", "44 20"],
            "inbound_acl": ["192.0.2.0/24", "198.51.100.7"],
            "inbound_username": "carrier-in",
            "inbound_password": "in-secret-1",
        },
    )
    assert trunk.transport == "tcp" and trunk.prefixes == ("1", "4420")
    assert trunk.inbound_acl == ("192.0.2.0/24", "198.51.100.7/32")
    assert trunk.inbound_ha1 == digest_ha1("carrier-in", "in-secret-1")
    assert await store.get_trunk(account.auth_id, trunk.trunk_id) == trunk
    assert store.trunks.of(account) == (trunk,)

    updated = await store.update_trunk(
        account.auth_id, trunk.trunk_id, {"enabled": False, "caller_id": "15550001111"}
    )
    assert updated.caller_id == "15550001111" and updated.inbound_ha1 == trunk.inbound_ha1
    assert store.trunks.of(account) == ()  # disabled trunks are not routed
    page = await store.list_trunks(account.auth_id)
    assert page.total == 1 and page.items == [updated]

    await store.delete_trunk(account.auth_id, trunk.trunk_id)
    assert await store.get_trunk(account.auth_id, trunk.trunk_id) is None
    with pytest.raises(NotFound):
        await store.delete_trunk(account.auth_id, trunk.trunk_id)


async def test_port_0_with_a_host_name_means_an_srv_look_up(store: Store, account: Account) -> None:
    fields = {"name": "srv", "host": "carrier.example.com", "port": 0}
    trunk = await store.create_trunk(account.auth_id, fields)
    assert trunk.port == 0


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"host": "192.0.2.10"}, "name"),
        ({"name": "x"}, "host"),
        ({**GATEWAY, "host": "bad host!"}, "host"),
        ({**GATEWAY, "port": 0}, "port"),  # 0 (SRV look-up) needs a host name
        ({**GATEWAY, "host": "gw.example.com", "port": 65536}, "port"),
        ({**GATEWAY, "transport": "sctp"}, "transport"),
        ({**GATEWAY, "prefixes": ["12a"]}, "prefixes"),
        ({**GATEWAY, "inbound_acl": ["300.1.1.1"]}, "inbound_acl"),
        ({**GATEWAY, "username": "acme"}, "password"),
        ({**GATEWAY, "inbound_username": "in"}, "inbound_password"),
        ({**GATEWAY, "inbound_username": "in", "inbound_password": "short"}, "password"),
        ({**GATEWAY, "strip_digits": 16}, "strip_digits"),
        ({**GATEWAY, "add_prefix": "+9"}, "add_prefix"),
        ({**GATEWAY, "caller_id": "a b"}, "caller_id"),
        ({**GATEWAY, "colour": "red"}, "colour"),
        ({**GATEWAY, "name": "n" * 201}, "name"),
    ],
)
async def test_bad_values_name_the_field(
    store: Store, account: Account, fields: dict[str, object], field: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        await store.create_trunk(account.auth_id, fields)
    assert caught.value.field == field


async def test_clearing_the_inbound_username_clears_the_digest(
    store: Store, account: Account
) -> None:
    fields = {**GATEWAY, "inbound_username": "in", "inbound_password": "in-secret-1"}
    trunk = await store.create_trunk(account.auth_id, fields)
    cleared = await store.update_trunk(account.auth_id, trunk.trunk_id, {"inbound_username": ""})
    assert (cleared.inbound_username, cleared.inbound_ha1) == ("", "")


async def test_order_and_sub_accounts_use_their_parents_trunks(
    store: Store, account: Account
) -> None:
    later = await store.create_trunk(account.auth_id, {**GATEWAY, "name": "b", "priority": 5})
    first = await store.create_trunk(account.auth_id, {**GATEWAY, "name": "a", "priority": 1})
    sub = await store.create_subaccount(account.auth_id, "sub", enabled=True)
    own = await store.create_trunk(sub.auth_id, {**GATEWAY, "name": "own", "priority": 9})
    assert store.trunks.of(account) == (first, later)
    assert store.trunks.of(sub) == (own, first, later)
    assert await store.get_trunk(sub.auth_id, first.trunk_id) is None  # not the sub's to read
