"""Process-wide interpreter settings are scoped: applied inside, restored exactly after."""

from __future__ import annotations

import gc
import sys
import threading

from connector.sync.interpreter import SWITCH_INTERVAL_S, gc_paused, short_switch_interval


def test_short_switch_interval_applies_inside_and_restores_the_previous_value():
    before = sys.getswitchinterval()
    with short_switch_interval():
        assert sys.getswitchinterval() == SWITCH_INTERVAL_S
    assert sys.getswitchinterval() == before


def test_nested_scopes_restore_only_when_the_outermost_one_ends():
    before = sys.getswitchinterval()
    with short_switch_interval():
        with short_switch_interval():
            pass
        assert sys.getswitchinterval() == SWITCH_INTERVAL_S
    assert sys.getswitchinterval() == before


def test_scopes_overlapping_across_threads_restore_once_the_last_one_ends():
    before = sys.getswitchinterval()
    inside, release = threading.Event(), threading.Event()

    def worker():
        with short_switch_interval():
            inside.set()
            release.wait(10)

    t = threading.Thread(target=worker)
    with short_switch_interval():
        t.start()
        inside.wait(10)
    assert sys.getswitchinterval() == SWITCH_INTERVAL_S  # the worker's scope is still open
    release.set()
    t.join(10)
    assert sys.getswitchinterval() == before


def test_gc_paused_leaves_a_disabled_collector_disabled():
    gc.disable()
    try:
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_gc_paused_turns_the_collector_back_on_after_an_exception():
    assert gc.isenabled()
    try:
        with gc_paused():
            raise ValueError("boom")
    except ValueError:
        pass
    assert gc.isenabled()
