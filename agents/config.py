"""The agent's settings: the `[agent]` table of the config file, owned and validated here."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, ValidationError

from rag.core.config import Config, GeneratorConfig, Strict
from rag.core.errors import ConfigError

RouterMode = Literal["trained", "llm", "hybrid"]
ReflectionMode = Literal["cheap", "llm"]


class AgentConfig(Strict):
    """The agent: router mode, re-ranking, reflection (the `[agent]` table)."""

    router: RouterMode = "hybrid"
    confidence: float = Field(0.5, ge=0.0, le=1.0)  # below it: the LLM (when trusted) or the top two
    multi_route_margin: float = Field(0.15, ge=0.0, le=1.0)
    # Evidence probes before routing (agents.evidence): each corpus's top match, calibrated,
    # moves the intent model's label probabilities (agents.router.fuse) by this weight.
    evidence: bool = True
    evidence_weight: float = Field(0.75, ge=0.0, le=2.0)
    no_evidence_max: float = Field(0.8, ge=0.0, le=1.0)  # `no` only when no corpus matches this well
    # Whether the hybrid router may ask the LLM when unsure: auto = only a served model
    # (generator.base_url or [agent.helper]; the embedded 135M model routes worse than the
    # trained router), on = also the embedded one, off = never (the top two are searched).
    llm_router: Literal["auto", "on", "off"] = "auto"
    rerank_threshold: float = Field(0.5, ge=0.0, le=1.0)
    k: int | None = Field(None, ge=1)  # None: the generator's evidence_k
    candidates: int = Field(10, ge=1)  # hits fetched per corpus before re-ranking
    cross_encoder: str | None = (
        None  # sentence-transformers CrossEncoder (name or folder) for text hits
    )
    # The answer model's own yes/no relevance judgement per hit (probability from logprobs):
    # auto = when it is a vision model at generator.base_url; on = also the embedded model.
    model_relevance: Literal["auto", "on", "off"] = "auto"
    reflection_rounds: int = Field(2, ge=0)
    reflection: ReflectionMode = "cheap"
    min_coverage: float = Field(
        0.5, ge=0.0, le=1.0
    )  # share of the question's words the cited evidence holds
    # Evidence this strong (best kept relevance) is not re-routed away from when the draft fails.
    strong_relevance: float = Field(0.6, ge=0.0, le=1.0)
    widen_factor: int = Field(2, ge=2)
    # Second retrieval hop for multi-hop questions (agents.rewrite): follow-up queries built
    # from the evidence (feedback), written by the answer model (llm), or none (off).
    rewrite: Literal["feedback", "llm", "off"] = "feedback"
    rewrite_max_tokens: int = Field(24, ge=1)
    # A (smaller) served model for the routing, relevance and reflection calls; unset: the
    # answer model. Its base_url is required.
    helper: GeneratorConfig | None = None
    # Follow-ups in a conversation are made standalone before routing (agents.condense):
    # rules (deterministic), llm (the helper model rewrites, checked; the rules when it fails),
    # off, or auto = llm for a served model (base_url or [agent.helper]), rules for the
    # embedded 135M one (measured: it rewrites worse than the rules).
    condense: Literal["auto", "rules", "llm", "off"] = "auto"
    condense_max_tokens: int = Field(48, ge=1)
    condense_turns: int = Field(3, ge=1)  # earlier turns the LLM rewrite reads
    # A follow-up leaning on the previous turn and naming no modality stays with its route:
    # that route's odds are multiplied by this before the decision (1: no stickiness).
    follow_up_odds: float = Field(3.0, ge=1.0)
    router_max_tokens: int = Field(8, ge=1)
    direct_max_tokens: int = Field(96, ge=1)  # the `no` route: the model answers alone

    @classmethod
    def of(cls, config: Config) -> AgentConfig:
        """The `[agent]` table of a loaded config, validated."""
        try:
            return cls.model_validate(config.agent)
        except ValidationError as exc:
            raise ConfigError(f"invalid [agent] table in the config:\n{exc}") from exc
