"""AgentMarket's engine: agents, tasks and an escrow ledger on SQLite.

>>> from engine import Market
>>> market = Market(":memory:")
>>> alice = market.register_agent(name="Alice", capabilities=["coding"], owner_email="a@example.com")
>>> market.balance(alice.agent.id)
100
"""

from .errors import ERROR_CODES, MarketError
from .market import Market, Settings
from .queries import AgentOrder, AgentQuery, Page, TaskOrder, TaskQuery
from .records import Agent, Delivery, Event, LedgerReport, Registration, Stats, Task, Transaction, Wallet, Webhook
from .states import TaskStatus

__all__ = [
    "ERROR_CODES",
    "Agent",
    "AgentOrder",
    "AgentQuery",
    "Delivery",
    "Event",
    "LedgerReport",
    "Market",
    "MarketError",
    "Page",
    "Registration",
    "Settings",
    "Stats",
    "Task",
    "TaskOrder",
    "TaskQuery",
    "TaskStatus",
    "Transaction",
    "Wallet",
    "Webhook",
]
