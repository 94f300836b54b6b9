"""The local SparkSession's JVM runs with the options the resource sets (not just a conf entry nobody applied)."""

import pytest

from athlete_platform.resources.spark import HEAP_RETURN_OPTIONS, JIT_OPTIONS, cached


def jvm_arguments(session) -> list[str]:
    bean = session._jvm.java.lang.management.ManagementFactory.getRuntimeMXBean()
    return list(bean.getInputArguments())


def test_driver_jvm_gives_unused_heap_back_uses_the_quick_jit_and_has_the_configured_cap(spark_resource):
    session = spark_resource.get_session()
    arguments = jvm_arguments(session)
    for option in [*HEAP_RETURN_OPTIONS.split(), *JIT_OPTIONS.split()]:
        assert option in arguments
    assert "-Xmx2g" in arguments  # spark.driver.memory of the session (conftest: 2g)
    max_heap = session._jvm.java.lang.Runtime.getRuntime().maxMemory()
    assert max_heap <= 2 * 2**30


def test_console_progress_is_off_and_driver_binds_to_loopback(spark_resource):
    conf = spark_resource.get_session().sparkContext.getConf()
    assert conf.get("spark.ui.showConsoleProgress") == "false"
    assert conf.get("spark.driver.host") == "127.0.0.1"


def test_cached_holds_a_frame_for_the_block_only_even_when_it_fails(spark_resource):
    frame = spark_resource.get_session().range(100)
    with cached(frame) as held:
        assert held.count() == 100
        assert held.storageLevel.useMemory
    assert not frame.storageLevel.useMemory
    with pytest.raises(RuntimeError), cached(frame) as held:
        held.count()
        raise RuntimeError("a check failed")
    assert not frame.storageLevel.useMemory
