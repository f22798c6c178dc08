"""Fault tests: a private RabbitMQ node (started here, restarted at will) and the
whole system under the launcher, as `make run` runs it (tests/faults/harness.py).

Every test here is marked `faults` (`make test-faults` runs only these)."""
import pytest

from tests.faults.harness import PrivateBroker, System, rabbitmq_server


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/faults/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.faults)


@pytest.fixture(scope="session")
def private_broker(tmp_path_factory):
    if rabbitmq_server() is None:
        pytest.skip("rabbitmq-server is not installed: the fault tests need a private node")
    broker = PrivateBroker(tmp_path_factory.mktemp("rabbit")).start()
    yield broker
    broker.stop()


@pytest.fixture
def broker(private_broker):
    """The private broker, running (a test that stopped it and failed leaves it down)."""
    if not private_broker.answers():
        private_broker.start()
    return private_broker


@pytest.fixture(scope="module")
def launched_system(private_broker, tmp_path_factory):
    """The system started by the launcher for the tests of one module."""
    started = System(tmp_path_factory.mktemp("system"), private_broker.uri).start()
    yield started
    started.stop()


@pytest.fixture
def running(launched_system, broker):
    """The module's system, healthy (the previous test may have broken something)."""
    assert launched_system.process.poll() is None, launched_system.output()[-4000:]
    launched_system.wait_healthy(timeout=90)
    return launched_system
