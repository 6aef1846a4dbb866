"""Who you act as: switch to a remembered agent, import an API key, or register a new agent."""

from __future__ import annotations

import uuid
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from engine import validation
from engine.errors import MarketError
from engine.records import Registration

from ..config import KeyStore, RememberedAgent
from ..messages import IdentityChanged
from ..widgets.form import FormField, as_integer, optional, split_list

NOBODY = "\x00nobody"


class IdentityScreen(ModalScreen[None]):
    """Choose the agent the app acts as; browsing needs none, acting needs one."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss", "Close"),
        Binding("ctrl+s", "register", "Register"),
    ]

    def __init__(self, keys: KeyStore | None = None) -> None:
        super().__init__()
        self.keys = keys or KeyStore()
        self._attempt: tuple[dict[str, Any], str] | None = None

    @property
    def client(self) -> Any:
        return self.app.client  # type: ignore[attr-defined]

    def compose(self) -> ComposeResult:
        rules = validation.AGENT_REGISTRATION
        with Vertical(id="identity-dialog"):
            yield Label("Act as an agent", classes="screen-title")
            with VerticalScroll(id="identity-body"):
                yield Label("Remembered agents (Enter to switch)")
                yield OptionList(id="identity-agents")
                yield Label("…or paste an API key")
                yield Input(placeholder="am_…", password=True, id="identity-key", compact=True)
                yield Label("Register a new agent (100 credits to start)", classes="section-title")
                yield FormField("Name", rules.field("name"), id="reg-name")
                yield FormField(
                    "Capabilities (comma separated)", rules.field("capabilities"), convert=split_list, id="reg-capabilities"
                )
                yield FormField("Owner email", rules.field("owner_email"), id="reg-email")
                yield FormField("Price per task", rules.field("price_per_task"), value="10", convert=as_integer, id="reg-price")
                # Shown once the market says it registers only with an invite (see on_mount).
                yield FormField("Invite code (this market is invite-only)", rules.field("invite_code"),
                                convert=optional, id="reg-invite")
                yield Label("Optional: what you do, how others hire you, where new work is announced",
                            classes="section-title")
                yield FormField("Description", rules.field("description"), id="reg-description")
                yield FormField("Endpoint URL (hire me by HTTP)", rules.field("endpoint_url"), convert=optional,
                                placeholder="https://…", id="reg-endpoint")
                yield FormField("System prompt (hire me through Claude)", rules.field("system_prompt"),
                                convert=optional, id="reg-prompt")
                yield FormField("Webhook URL (tell me of new tasks)", rules.field("webhook_url"), convert=optional,
                                placeholder="https://…", id="reg-webhook")
                yield Static("", id="identity-secret")
            with Horizontal(classes="toolbar", id="identity-buttons"):
                yield Button("Register ^s", id="register", variant="primary", compact=True)
                yield Button("Close (esc)", id="close", compact=True)

    def on_mount(self) -> None:
        options = self.query_one("#identity-agents", OptionList)
        options.add_option(Option(Text("nobody (just browse)", style="italic"), id=NOBODY))
        for agent in reversed(self.keys.agents(self.client.location)):
            options.add_option(Option(Text(agent.name), id=agent.api_key))
        self.query_one("#reg-invite", FormField).display = False
        self.query_one("#reg-name Input", Input).focus()
        self.run_worker(self._load_terms, thread=True, group="terms", exit_on_error=False)

    def _load_terms(self) -> None:
        """Show the invite code field when the market requires one."""
        try:
            terms = self.client.registration_terms()
        except MarketError:
            return  # an older server without the endpoint: registering tells the user what is missing
        if terms.requires_invite:
            self.app.call_from_thread(setattr, self.query_one("#reg-invite", FormField), "display", True)

    @on(OptionList.OptionSelected, "#identity-agents")
    def _switch(self, event: OptionList.OptionSelected) -> None:
        key = event.option.id
        self._use_key(None if key == NOBODY else key)

    @on(Input.Submitted, "#identity-key")
    def _import(self, event: Input.Submitted) -> None:
        if event.value.strip():
            self._use_key(event.value.strip())

    def _use_key(self, api_key: str | None) -> None:
        """Act as the owner of ``api_key`` (None: nobody) and remember it as the latest used."""
        def job() -> None:
            try:
                agent = self.client.use_key(api_key)
            except MarketError as exc:
                self.app.call_from_thread(self.notify, exc.message, title=exc.code, severity="error", markup=False)
                return
            if agent is not None and api_key:
                self.keys.remember(self.client.location, RememberedAgent(agent.name, agent.id, api_key))
            name = agent.name if agent else "nobody"
            self.app.call_from_thread(self._switched, f"Now acting as {name}")

        self.run_worker(job, thread=True, exclusive=True, group="identity", exit_on_error=False)

    def _switched(self, message: str) -> None:
        self.app.post_message(IdentityChanged())
        self.notify(message, markup=False)
        self.dismiss()

    @on(Button.Pressed, "#register")
    def action_register(self) -> None:
        try:
            fields = {
                "name": self.query_one("#reg-name", FormField).cleaned(),
                "capabilities": list(self.query_one("#reg-capabilities", FormField).cleaned()),
                "owner_email": self.query_one("#reg-email", FormField).cleaned(),
                "price_per_task": self.query_one("#reg-price", FormField).cleaned(),
                "description": self.query_one("#reg-description", FormField).cleaned(),
                "endpoint_url": self.query_one("#reg-endpoint", FormField).cleaned(),
                "system_prompt": self.query_one("#reg-prompt", FormField).cleaned(),
                "webhook_url": self.query_one("#reg-webhook", FormField).cleaned(),
                "invite_code": self.query_one("#reg-invite", FormField).cleaned(),
            }
        except MarketError as exc:
            self.notify(exc.message, title="Cannot register yet", severity="error", markup=False)
            return
        # Pressing Register again with the same fields (say, after a lost answer) is a retry:
        # the same Idempotency-Key gets the first registration back instead of name_taken.
        if self._attempt is None or self._attempt[0] != fields:
            self._attempt = (fields, str(uuid.uuid4()))
        key = self._attempt[1]

        def job() -> None:
            try:
                registration = self.client.register(idempotency_key=key, **fields)
            except MarketError as exc:
                self.app.call_from_thread(self.notify, exc.message, title=exc.code, severity="error", markup=False)
                return
            agent = registration.agent
            self.keys.remember(self.client.location, RememberedAgent(agent.name, agent.id, registration.api_key))
            self.app.call_from_thread(self._registered, registration)

        self.run_worker(job, thread=True, exclusive=True, group="register", exit_on_error=False)

    def _registered(self, registration: Registration) -> None:
        secret = Text.assemble(
            ("Registered ", "bold green"),
            (registration.agent.name, "bold"),
            f" with {registration.balance:,} credits. Your API key (kept in the app's config):\n",
            (registration.api_key, "bold yellow"),
        )
        if registration.webhook_secret:
            secret.append("\nWebhook secret, shown only now: check each delivery's signature with it\n")
            secret.append(registration.webhook_secret, "bold yellow")
        self.query_one("#identity-secret", Static).update(secret)
        self.app.post_message(IdentityChanged())
        self.query_one("#register", Button).disabled = True

    @on(Button.Pressed, "#close")
    def _close(self) -> None:
        self.dismiss()
