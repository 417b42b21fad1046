"""Multiple choice with an LLM answerer (PERMA, PrefEval): accuracy with and without memory.

Options are never scored by similarity (on PERMA the longest option is the right one ~94% of the time and
similarity scores below chance; on PrefEval similarity picks the option that mentions what the user
avoids). A LangChain chat model answers each question twice, without and with the memory's context in
the prompt; accuracy is always reported next to chance (mean 1/n) and the longest-option control, and
answers whose letter cannot be parsed are counted, never guessed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from memagent.eval.metrics import mean
from memagent.eval.systems import MemorySystem
from memagent.replay.base import BenchmarkData, Question

__all__ = [
    "LETTERS",
    "MCQItem",
    "MCQResult",
    "ask",
    "build_messages",
    "evaluate_mcq",
    "longest_option",
    "parse_choice",
    "summarize",
]

LETTERS = "ABCDEFGHIJKLMNOP"
"""Option labels, in order."""

SYSTEM_PROMPT = (
    "You are a helpful assistant answering a multiple-choice question for a user. "
    "Pick the option that best serves this user. Reply with the letter of one option only."
)
_THINK = re.compile(r"<think>.*?</think>", re.DOTALL | re.IGNORECASE)


def build_messages(
    question: str, options: Sequence[str], context: str | None = None
) -> list[tuple[str, str]]:
    """Chat messages (role, content) asking ``question`` with lettered ``options`` (``context``: memory)."""
    if len(options) > len(LETTERS):
        raise ValueError(f"at most {len(LETTERS)} options are supported")
    system = SYSTEM_PROMPT
    if context and context.strip():
        system += "\n\nWhat you know about the user:\n" + context.strip()
    listed = "\n".join(f"{LETTERS[i]}. {' '.join(option.split())}" for i, option in enumerate(options))
    valid = ", ".join(LETTERS[: len(options)])
    user = f"{question.strip()}\n\nOptions:\n{listed}\n\nAnswer with one letter ({valid})."
    return [("system", system), ("human", user)]


def parse_choice(text: str, n_options: int, options: Sequence[str] | None = None) -> int | None:
    """The option index a model's reply chooses, or None when it cannot be told unambiguously.

    Tries, in order: the whole reply is a letter ("B", "(B)", "b."); an explicit "answer/option/choice
    (is) B"; a leading "B)" / "B." / "B:"; a single parenthesised letter; a single standalone capital
    letter among the valid ones; a reply naming exactly one option's full text.
    """
    valid = LETTERS[:n_options]
    reply = _THINK.sub(" ", text or "").strip()
    if not reply or not valid:
        return None
    letter = f"[{valid}]"
    patterns = (
        re.compile(rf"^\W*({letter})\W*$", re.IGNORECASE),
        re.compile(
            rf"\b(?:answer|option|choice)\b\s*(?:is|would be|:)?\s*[:\-]?\s*\**\(?({letter})\b", re.IGNORECASE
        ),
        re.compile(rf"^\W*({letter})\s*[\).:\-]"),
    )
    for pattern in patterns:
        found = pattern.search(reply)
        if found:
            return valid.index(found.group(1).upper())
    for pattern in (re.compile(rf"\(({letter})\)"), re.compile(rf"\b({letter})\b")):
        letters = {m.upper() for m in pattern.findall(reply)}
        if len(letters) == 1:
            return valid.index(letters.pop())
        if len(letters) > 1:
            return None
    if options:
        lowered = " ".join(reply.lower().split())
        named = [i for i, o in enumerate(options) if o.strip() and " ".join(o.lower().split()) in lowered]
        if len(named) == 1:
            return named[0]
    return None


def longest_option(options: Sequence[str]) -> int:
    """Index of the longest option (the first of equals): the control every accuracy is shown beside."""
    return max(range(len(options)), key=lambda i: (len(options[i]), -i))


def ask(
    chat_model: Any, question: str, options: Sequence[str], context: str | None = None
) -> tuple[int | None, str]:
    """Ask ``chat_model``: the parsed choice (None if unparseable or the call failed) and the reply."""
    try:
        reply = chat_model.invoke(build_messages(question, options, context))
    except Exception as exc:
        return None, f"<error: {type(exc).__name__}: {exc}>"
    content = getattr(reply, "content", reply)
    if isinstance(content, list):  # content blocks
        content = " ".join(str(b.get("text", "")) if isinstance(b, dict) else str(b) for b in content)
    text = str(content)
    return parse_choice(text, len(options), options), text


@dataclass(frozen=True)
class MCQItem:
    """One question's outcome."""

    question_id: str
    n_options: int
    gold: int
    without_memory: int | None
    with_memory: int | None
    longest: int
    context_tokens: int


@dataclass
class MCQResult:
    """Accuracy with and without memory, next to chance and the longest-option control."""

    system: str
    budget: int
    n: int = 0
    accuracy_without_memory: float | None = None
    accuracy_with_memory: float | None = None
    chance: float | None = None
    longest_option: float | None = None
    parse_failures_without_memory: int = 0
    parse_failures_with_memory: int = 0
    items: list[MCQItem] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary."""
        return asdict(self)


def summarize(system: str, budget: int, items: Sequence[MCQItem]) -> MCQResult:
    """Aggregate items; a parse failure counts as a wrong answer."""
    return MCQResult(
        system=system,
        budget=budget,
        n=len(items),
        accuracy_without_memory=mean(float(i.without_memory == i.gold) for i in items),
        accuracy_with_memory=mean(float(i.with_memory == i.gold) for i in items),
        chance=mean(1.0 / i.n_options for i in items),
        longest_option=mean(float(i.longest == i.gold) for i in items),
        parse_failures_without_memory=sum(1 for i in items if i.without_memory is None),
        parse_failures_with_memory=sum(1 for i in items if i.with_memory is None),
        items=list(items),
    )


def evaluate_mcq(
    data: BenchmarkData,
    system: MemorySystem,
    chat_model: Any,
    *,
    budget: int = 512,
    progress: Callable[[int, int, str], None] | None = None,
) -> MCQResult:
    """Replay ``data`` through ``system`` and ask every question that has options, without and with memory.

    Args:
        data: A benchmark whose questions carry ``options`` and ``gold_option`` (others are skipped).
        system: A fresh memory system; its context at ``budget`` tokens goes into the prompt.
        chat_model: A LangChain chat model (anything with ``invoke(messages)``).
        budget: Context budget in tokens.
        progress: Called as ``progress(done, total, label)`` after each question.
    """
    asked: list[Question] = [q for q in data.questions if q.options and q.gold_option is not None]
    total = len(asked)
    items: list[MCQItem] = []
    for user_id in data.users():
        turns = data.turns_for(user_id)
        mine = sorted(
            ((i, q) for i, q in enumerate(asked) if q.user_id == user_id),
            key=lambda p: (p[1].checkpoint, p[0]),
        )
        position = 0
        for _, question in mine:
            if question.checkpoint > position:
                system.ingest(turns[position : question.checkpoint])
                position = question.checkpoint
            ctx = system.context(user_id, question.text, budget)
            without, _ = ask(chat_model, question.text, question.options)
            with_memory, _ = ask(chat_model, question.text, question.options, ctx.text)
            assert question.gold_option is not None
            items.append(
                MCQItem(
                    question_id=question.id,
                    n_options=len(question.options),
                    gold=question.gold_option,
                    without_memory=without,
                    with_memory=with_memory,
                    longest=longest_option(question.options),
                    context_tokens=ctx.tokens,
                )
            )
            if progress:
                progress(len(items), total, question.id)
    return summarize(system.name, budget, items)
