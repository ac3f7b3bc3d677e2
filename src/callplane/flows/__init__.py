"""The visual call-flow model (like Plivo's PHLO): documents, components, validation.

``model`` parses a flow document into frozen dataclasses, ``components`` declares
every node type (settings, exits, variables), ``templates`` handles ``{{Node.path}}``
and ``validate`` lists what keeps a flow from being published. No I/O here: the
store keeps documents, the API and CLI speak them, the runtime (later) runs them.
"""

from callplane.flows.model import SCHEMA_VERSION, Edge, Flow, FlowError, Node, Position
from callplane.flows.validate import Problem, validate

__all__ = [
    "SCHEMA_VERSION",
    "Edge",
    "Flow",
    "FlowError",
    "Node",
    "Position",
    "Problem",
    "validate",
]
