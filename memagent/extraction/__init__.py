"""Extractors: find preferences, life events and facts about the user in conversation turns.

`RuleExtractor` is the offline default (patterns, no model); `LLMExtractor` asks any LangChain chat
model for JSON and falls back to the rules when the output stays invalid. `is_personal` is the shared
pre-filter that lets turns without anything personal cost nothing.
"""

from memagent.extraction.llm import LLMExtractor
from memagent.extraction.rules import RuleExtractor, is_personal

__all__ = ["LLMExtractor", "RuleExtractor", "is_personal"]
