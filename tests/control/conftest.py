"""Control tests run in memory like the verb tests: the virtual-time loop, no sockets."""

from tests.verbs.conftest import no_sockets, pytest_asyncio_loop_factories

__all__ = ["no_sockets", "pytest_asyncio_loop_factories"]
