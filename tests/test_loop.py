"""EVENT_LOOP: asyncio's loop by default, uvloop only where it is installed."""

from __future__ import annotations

import asyncio
import sys
import types

import pytest

from service.config import ConfigError, load_settings
from service.loop import LoopUnavailable, loop_factory


def test_default_is_asyncios_own_loop():
    assert load_settings([], {}).event_loop == "asyncio"
    assert loop_factory("asyncio") is None  # asyncio.Runner then makes its default loop


def test_a_bad_value_names_the_variable():
    with pytest.raises(ConfigError, match="EVENT_LOOP: event loop must be one of asyncio, "
                                          "uvloop, got 'libuv'"):
        load_settings([], {"EVENT_LOOP": "libuv"})
    assert load_settings([], {"EVENT_LOOP": "UVLOOP"}).event_loop == "uvloop"


def test_uvloop_missing_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "uvloop", None)  # import uvloop -> ImportError
    with pytest.raises(LoopUnavailable, match="uvloop is not installed"):
        loop_factory("uvloop")


def test_uvloop_installed_gives_its_factory(monkeypatch):
    fake = types.ModuleType("uvloop")
    fake.new_event_loop = asyncio.new_event_loop
    monkeypatch.setitem(sys.modules, "uvloop", fake)
    assert loop_factory("uvloop") is fake.new_event_loop
