"""The agent as a LangGraph StateGraph over one typed state (agents.state.AgentState):

    START -> condense -> route -(no corpora: the `no` route)-> generate     (condense: a
                                                                        follow-up made standalone)
                              -(otherwise)-----------------> retrieve -> rerank -> generate
    generate -> reflect -(reroute)-> route     (next-best corpus along the decision's ranking)
                        -(widen)---> retrieve  (same corpora, k and candidates multiplied)
                        -(rewrite)-> retrieve  (same corpora, a follow-up query: second hop)
                        -(end)-----> finish -> END

Wiring only: the nodes are agents.nodes, run with an agents.nodes.Deps as the context.
"""

from __future__ import annotations

from typing import Any

from langgraph.graph import END, START, StateGraph

from agents import nodes
from agents.nodes import Deps
from agents.state import AgentState


def build_graph() -> Any:
    """The compiled graph; `graph.stream(state, context=Deps(...))` runs it."""
    graph = StateGraph(AgentState, context_schema=Deps)
    for name in ("condense", "route", "retrieve", "rerank", "generate", "reflect", "finish"):
        graph.add_node(name, getattr(nodes, name))
    graph.add_edge(START, "condense")
    graph.add_edge("condense", "route")
    graph.add_conditional_edges("route", nodes.after_route, ["retrieve", "generate"])
    graph.add_edge("retrieve", "rerank")
    graph.add_edge("rerank", "generate")
    graph.add_edge("generate", "reflect")
    graph.add_conditional_edges("reflect", nodes.after_reflect, ["route", "retrieve", "finish"])
    graph.add_edge("finish", END)
    return graph.compile()
