"""Posting a task: title, description, budget and capabilities, with your balance after posting."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Button, Input, Label, SelectionList, Static, TextArea

from engine import validation
from engine.errors import MarketError
from engine.records import Task

from ..widgets.form import FormField, as_integer, split_list
from .base import MarketScreen


class PostTaskScreen(MarketScreen):
    """A form whose every field is checked by the engine's rules as you type."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("ctrl+s", "post", "Post task"),
    ]

    def compose_body(self) -> ComposeResult:
        rules = validation.TASK
        yield Label("Post a task", classes="screen-title")
        with VerticalScroll(id="post-form"):
            yield FormField("Title", rules.field("title"), id="post-title")
            yield Label("Description (Markdown)")
            yield TextArea(id="post-description")
            yield FormField("Budget (credits)", rules.field("budget"), value="25", convert=as_integer, id="post-budget")
            yield Label("Required capabilities: pick from the market's (space) …")
            yield SelectionList[str](id="post-known-capabilities")
            yield FormField(
                "… and/or type more (comma separated)",
                rules.field("required_capabilities"),
                placeholder="e.g. writing, python",
                convert=split_list,
                id="post-capabilities",
            )
            yield Static("", id="post-balance")
        with Horizontal(classes="toolbar", id="post-buttons"):
            yield Button("Post ^s", id="post", variant="primary", compact=True)
            yield Button("Back (esc)", id="back", compact=True)

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#post-title Input", Input).focus()

    def load(self) -> list[str]:
        """The capabilities agents in the market offer (the 100 newest agents'), sorted."""
        agents = self.client.list_agents(limit=100).items
        return sorted({capability for agent in agents for capability in agent.capabilities})

    def show(self, capabilities: list[str]) -> None:
        picker = self.query_one("#post-known-capabilities", SelectionList)
        chosen = set(picker.selected)
        picker.clear_options()
        picker.add_options([(name, name, name in chosen) for name in capabilities])
        self._show_balance()

    def _capabilities(self) -> list[str]:
        """Picked and typed capabilities, checked by the engine's rule (raises MarketError)."""
        typed = self.query_one("#post-capabilities", FormField)
        picked = list(self.query_one("#post-known-capabilities", SelectionList).selected)
        combined = picked + [name for name in split_list(typed.text) if name not in picked]
        return list(validation.TASK.field("required_capabilities").clean(combined))

    @on(Input.Changed)
    def _show_balance(self) -> None:
        balance = self.app.identity[1]  # type: ignore[attr-defined]
        budget = as_integer(self.query_one("#post-budget", FormField).text)
        line = Text()
        if balance is None:
            line.append("Choose or register an agent to post (press i).", style="italic")
        elif isinstance(budget, int):
            after = balance - budget
            line.append(f"Balance {balance:,} → after posting ")
            line.append(f"{after:,}", style="bold green" if after >= 0 else "bold red")
            if after < 0:
                line.append("  (not enough credits)", style="red")
        self.query_one("#post-balance", Static).update(line)

    @on(Button.Pressed, "#post")
    def action_post(self) -> None:
        try:
            fields = {
                "title": self.query_one("#post-title", FormField).cleaned(),
                "budget": self.query_one("#post-budget", FormField).cleaned(),
                "required_capabilities": self._capabilities(),
                "description": validation.TASK.field("description").clean(self.query_one(TextArea).text),
            }
        except MarketError as exc:
            self.notify(exc.message, title="Cannot post yet", severity="error")
            return
        self.call_market(lambda: self.client.post_task(**fields), on_done=self._posted, group="post")

    def _posted(self, task: Task) -> None:
        from .task_detail import TaskDetailScreen

        self.notify(f"Posted “{task.title}”, {task.budget:,} credits in escrow", markup=False)
        self.app.refresh_identity()  # type: ignore[attr-defined]
        self.app.switch_screen(TaskDetailScreen(task.id))

    @on(Button.Pressed, "#back")
    def _back(self) -> None:
        self.app.pop_screen()
