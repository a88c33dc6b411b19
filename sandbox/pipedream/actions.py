"""The actions `POST /actions/run` can run: the real components of sandbox/pipedream/components.py.

Kept as the name the API module imports; the definitions live in sandbox/pipedream/components.py.
"""

from sandbox.pipedream.catalogue import DEMO_GUILD_ID
from sandbox.pipedream.components import ACTIONS, Component, ComponentError

Action = Component
ActionError = ComponentError

__all__ = ["ACTIONS", "DEMO_GUILD_ID", "Action", "ActionError"]
