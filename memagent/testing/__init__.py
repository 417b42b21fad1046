"""Test doubles and the store conformance suite, shipped so users can test their own graphs and backends."""

from memagent.testing.counting import CountingStore
from memagent.testing.fakes import FakeEmbedder, scripted_chat_model

__all__ = ["CountingStore", "FakeEmbedder", "scripted_chat_model"]
