"""Process-wide interpreter settings are scoped: applied inside, restored exactly after."""

from __future__ import annotations

import gc
import threading

from connector.sync.interpreter import gc_paused


def test_gc_paused_pauses_the_collector_and_turns_it_back_on():
    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_nested_pauses_resume_only_when_the_outermost_one_ends():
    with gc_paused():
        with gc_paused():
            pass
        assert not gc.isenabled()
    assert gc.isenabled()


def test_pauses_overlapping_across_threads_resume_once_the_last_one_ends():
    inside, release = threading.Event(), threading.Event()

    def worker():
        with gc_paused():
            inside.set()
            release.wait(10)

    t = threading.Thread(target=worker)
    with gc_paused():
        t.start()
        inside.wait(10)
    assert not gc.isenabled()  # the worker's pause is still open
    release.set()
    t.join(10)
    assert gc.isenabled()


def test_gc_paused_leaves_a_collector_that_was_off_off():
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_gc_paused_turns_the_collector_back_on_after_an_exception():
    try:
        with gc_paused():
            raise ValueError("boom")
    except ValueError:
        pass
    assert gc.isenabled()
