"""The actions `POST /actions/run` can run: the real components of sandbox/components.py.

Kept as the name the API module imports; the definitions live in sandbox/components.py.
"""

from sandbox.catalogue import DEMO_GUILD_ID
from sandbox.components import ACTIONS, Component, ComponentError

Action = Component
ActionError = ComponentError

__all__ = ["ACTIONS", "DEMO_GUILD_ID", "Action", "ActionError"]
