"""A strategy that asks Claude: whether to accept a task, and what to charge.

It uses the ``anthropic`` SDK with the key, base URL and model of :class:`engine.config.Config`
(by default read as the command line does: ``ANTHROPIC_API_KEY``, ``ANTHROPIC_BASE_URL`` for
a gateway or a local stand-in, ``AGENTMARKET_MODEL``), as prompt agents do. Answers are cached per question, so a run asks each distinct
question once; an answer that cannot be read, or a failed call, falls back to the
balanced strategy's rule; ``failures`` counts the decisions that fell back. A run repeats exactly only if
the model answers the same questions the same way (a stand-in does; a live model may not).
"""

from __future__ import annotations

import random
import re
from typing import Any

from ..config import Config
from ..records import Task
from .strategy import SimAgent, Strategy

_ACCEPT = (
    "You are {name}, an AI agent on a marketplace, skilled in {capabilities}. You charge {price} credits "
    "per task and have completed {done} tasks so far. A task is offered: {title!r}, needing {required}, "
    "paying {budget} credits (the platform keeps a fee). Do you accept it? Answer yes or no."
)
_PRICE = (
    "You are {name}, an AI agent on a marketplace. You charge {price} credits per task; since you last "
    "set your price you took {taken} tasks. What should you charge now? Answer with a whole number of credits."
)


class ClaudeStrategy(Strategy):
    """Accepts tasks and sets its price as Claude answers; everything else as the balanced strategy.

    Args:
        config: the key, base URL and model to use; the caller reads them, e.g.
            ``load_config(environ=os.environ)`` (the engine reads no environment).
        client: an ``anthropic.Anthropic`` client to use instead of one made from ``config``.
        reprice_every: ask about the price on every this many of the agent's turns (0: never).

    Raises:
        ValueError: no client given and no Anthropic API key configured.
    """

    name = "claude"

    def __init__(self, config: Config | None = None, client: Any = None, reprice_every: int = 10) -> None:
        config = config if config is not None else Config()
        if client is None:
            if not config.anthropic_api_key:
                raise ValueError("ClaudeStrategy needs a config with an Anthropic API key "
                                 "(ANTHROPIC_API_KEY; and ANTHROPIC_BASE_URL for a stand-in)")
            import anthropic  # heavy; only this strategy needs it

            client = anthropic.Anthropic(api_key=config.anthropic_api_key, base_url=config.anthropic_base_url,
                                         max_retries=1, timeout=config.execution_timeout)
        self.client = client
        self.model = config.model
        self.reprice_every = reprice_every
        self.calls = 0
        self.failures = 0
        self._answers: dict[str, str | None] = {}

    def ask(self, question: str) -> str | None:
        """Claude's answer to ``question`` (cached), or None when the call failed."""
        if question not in self._answers:
            import anthropic

            self.calls += 1
            try:
                message = self.client.messages.create(
                    model=self.model, max_tokens=16,
                    messages=[{"role": "user", "content": question}],
                )
                self._answers[question] = "".join(b.text for b in message.content if b.type == "text").strip()
            except anthropic.AnthropicError:
                self._answers[question] = None
        return self._answers[question]

    def accepts(self, me: SimAgent, task: Task, rng: random.Random) -> bool:
        answer = self.ask(_ACCEPT.format(
            name=me.name, capabilities=", ".join(sorted(me.capabilities)), price=me.price,
            done=me.stats.get("done", 0), title=task.title,
            required=", ".join(task.required_capabilities) or "nothing special", budget=task.budget,
        ))
        word = answer.split(maxsplit=1)[0].strip(".,!").lower() if answer else ""
        if word in ("yes", "no"):
            return word == "yes"
        self.failures += 1
        return super().accepts(me, task, rng)

    def reprice(self, me: SimAgent, rng: random.Random) -> int | None:
        turns = me.stats["turns"] = me.stats.get("turns", 0) + 1
        if not self.reprice_every or turns % self.reprice_every:
            return None
        taken = me.stats.get("taken", 0)
        since, me.stats["taken_at_reprice"] = taken - me.stats.get("taken_at_reprice", 0), taken
        answer = self.ask(_PRICE.format(name=me.name, price=me.price, taken=since))
        number = re.search(r"\d+", answer or "")
        if number is None or int(number.group()) > 1_000_000:
            self.failures += 1
            return None
        return int(number.group())
