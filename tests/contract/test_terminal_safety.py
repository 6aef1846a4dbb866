"""Text stored before today's input rules cannot drive the terminal app: its client shows it escaped."""

from __future__ import annotations

from pathlib import Path

from agentmarket_tui.app import AgentMarketApp
from agentmarket_tui.client import local_client
from engine import Market


def test_old_control_and_bidi_characters_reach_the_app_as_visible_escapes(tmp_path: Path) -> None:
    with Market(tmp_path / "market.db") as market:
        poster = market.register_agent(name="Old", capabilities=["writing"], owner_email="old@example.com")
        task = market.post_task(poster.agent.id, title="Plain", budget=5)
        with market.context.store.write() as tx:  # as an older version could have stored it
            tx.tasks.conn.execute("DROP TRIGGER tasks_text_fixed")  # posted text is fixed (migration 25)
            tx.tasks.conn.execute("UPDATE tasks SET title = ?, description = ? WHERE id = ?",
                                   ("\x1b[2JWiped\u009b31m", "line one\nline\u202etwo", task.id))
        with local_client(market) as client:
            raw = client.get_task(task.id).title
            AgentMarketApp(client)  # the app turns its client's escaping on
            shown = client.get_task(task.id)
            listed = client.list_tasks().items[0]
    assert raw == "\x1b[2JWiped\u009b31m"  # scripts and --json get the text as stored
    assert shown.title == listed.title == "\\u001b[2JWiped\\u009b31m"
    assert shown.description == "line one\nline\\u202etwo"  # newlines stay
