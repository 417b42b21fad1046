"""Responding with or without a language model: `build_messages`, `offline_reply`."""

from __future__ import annotations

from collections.abc import Sequence

from langchain_core.messages import AnyMessage, SystemMessage

__all__ = ["NO_MODEL_NOTICE", "SYSTEM_PROMPT", "build_messages", "offline_reply", "system_text"]

SYSTEM_PROMPT = (
    "You are a helpful assistant with long-term memory of this user. Below is what you remember about "
    "them, compiled for the current message. Use it when it is relevant, follow their stated preferences "
    "and constraints, prefer newer information over older, and do not mention memories that do not help."
)

NO_MODEL_NOTICE = "No language model is configured, so I cannot write an answer."


def build_messages(
    profile: str, history: Sequence[AnyMessage], *, system_prompt: str = SYSTEM_PROMPT, max_history: int = 12
) -> list[AnyMessage]:
    """The messages a chat model receives: instructions with the profile, then the recent conversation."""
    system = SystemMessage(content=system_text(profile, system_prompt))
    return [system, *list(history)[-max_history:]]


def system_text(profile: str, system_prompt: str = SYSTEM_PROMPT) -> str:
    """The instructions a chat model receives, with the profile under them."""
    memory_block = profile.strip() or "(nothing remembered yet)"
    return f"{system_prompt}\n\n## What you remember\n{memory_block}"


def offline_reply(profile: str) -> str:
    """The reply when no model is configured: says so plainly and shows what is remembered and relevant."""
    if profile.strip():
        return (
            f"{NO_MODEL_NOTICE} Here is what I remember that is relevant to your message:\n{profile.strip()}"
        )
    return f"{NO_MODEL_NOTICE} I do not remember anything relevant to your message yet."
