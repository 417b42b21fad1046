"""Quickstart: remember two turns months apart, then read the profile, the history view, and forget.

Run: python examples/quickstart.py   (offline: bundled embedding model, embedded Chroma in a temp dir)
"""

import tempfile
from datetime import datetime

from memagent import Memory, Turn

with tempfile.TemporaryDirectory() as home:
    memory = Memory.open(f"{home}/chroma")
    memory.remember(
        [
            Turn(
                user_id="ana",
                session_id="jan",
                turn_id="1",
                text="I've been vegetarian for years, and I'm allergic to peanuts.",
                event_time=datetime(2023, 1, 10),
            )
        ]
    )
    memory.remember(
        [
            Turn(
                user_id="ana",
                session_id="mar",
                turn_id="2",
                text="I started eating fish again.",
                event_time=datetime(2023, 3, 5),
            )
        ]
    )
    print(memory.profile("ana", "Any dinner ideas for tonight?", budget=128).text)
    print(
        "diet on 2023-02-15:",
        [r.content for r in memory.memories("ana", as_of=datetime(2023, 2, 15)) if r.slot == "diet"],
    )
    print("diet now:", [r.content for r in memory.memories("ana") if r.slot == "diet"])
    print("forgot", memory.forget("ana"), "records")
    memory.close()
