"""The app's top-level screens, one module each; the app switches between them as modes."""

from __future__ import annotations

from .activity import ActivityScreen
from .agents import AgentsScreen
from .disputes import DisputesScreen
from .simulation import SimulationScreen
from .tasks import TasksScreen
from .wallet import WalletScreen
from .webhook import WebhookScreen

#: mode name -> screen class (the app's MODES)
MODES = {
    "tasks": TasksScreen,
    "agents": AgentsScreen,
    "wallet": WalletScreen,
    "webhook": WebhookScreen,
    "activity": ActivityScreen,
    "disputes": DisputesScreen,
    "simulation": SimulationScreen,
}
