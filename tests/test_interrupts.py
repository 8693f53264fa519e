"""stop_on_signals: SIGTERM and SIGHUP raise as Ctrl-C does, once, and only for the block."""

from __future__ import annotations

import os
import signal
import sys

import pytest

from dlpk.interrupts import (
    Terminated,
    handlers_kept,
    stop_exit_code,
    stop_on_signals,
    stop_reason,
)

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_a_stop_signal_raises_a_keyboard_interrupt(signum: int, code: int) -> None:
    with pytest.raises(KeyboardInterrupt) as caught, stop_on_signals():
        os.kill(os.getpid(), signum)
        signal.sigtimedwait([], 0)  # let the handler run
    assert isinstance(caught.value, Terminated)
    assert stop_exit_code(caught.value) == code
    assert stop_reason(caught.value) == f"stopped by {signal.Signals(signum).name}"
    assert stop_exit_code(KeyboardInterrupt()) == 130
    assert stop_reason(KeyboardInterrupt()) == "interrupted"


def test_a_second_signal_does_not_cut_the_cleanup_short() -> None:
    cleaned = False
    with pytest.raises(Terminated), stop_on_signals():
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            signal.sigtimedwait([], 0)
        finally:
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C while cleaning up: ignored
            signal.sigtimedwait([], 0)
            cleaned = True
    assert cleaned


def test_handlers_are_restored_and_an_ignored_signal_stays_ignored() -> None:
    before = signal.signal(signal.SIGHUP, signal.SIG_IGN)  # as under nohup
    try:
        term = signal.getsignal(signal.SIGTERM)
        with stop_on_signals():
            assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
            os.kill(os.getpid(), signal.SIGHUP)  # nothing happens
            signal.sigtimedwait([], 0)
            assert signal.getsignal(signal.SIGTERM) is not term
        assert signal.getsignal(signal.SIGTERM) is term
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGHUP, before)


def test_a_plain_keyboard_interrupt_after_a_stop_signal_still_names_the_signal() -> None:
    """Native code (Ray's ray.wait) may replace the handler's Terminated by a bare
    KeyboardInterrupt on its way up: the stop is still reported as SIGTERM's."""
    with pytest.raises(Terminated) as caught, stop_on_signals():
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            signal.sigtimedwait([], 0)
        except Terminated:
            raise KeyboardInterrupt from None
    assert stop_exit_code(caught.value) == 143


def test_handlers_kept_undoes_what_native_code_installs() -> None:
    term = signal.getsignal(signal.SIGTERM)
    with handlers_kept():
        signal.signal(signal.SIGTERM, signal.SIG_DFL)  # as a library's own handler would
    assert signal.getsignal(signal.SIGTERM) is term
