"""Follow-ups made standalone without a model (the rules), the checks on a model's rewrite,
the follow-up's route prior, and the earlier turns in the answer prompt (no server)."""

from __future__ import annotations

from agents.condense import clean_reply, condense, condense_rules, rejected
from agents.router import stick
from agents.state import Turn
from rag.core.config import GeneratorConfig
from rag.core.items import Hit, Span
from rag.generation.messages import build_messages, history_messages


def hit(source: str, corpus: str, modality: str, granularity: str, title: str = "", start: float | None = None) -> Hit:
    span = Span(start_s=start, end_s=start + 5) if start is not None else Span()
    return Hit(source, corpus, 0.5, f"/data/{source}", modality, granularity, "text", span, title)  # type: ignore[arg-type]


GUIDE = hit("pasta_guide.html", "text-paragraph", "text", "paragraph", "Cooking pasta")
CAT = hit("chelsea_the_cat.jpg", "image", "image", "image")
MOON = hit("moon.jpg", "image", "image", "image")
CLIP = hit("pasta_cooking.mp4", "video-clip", "video", "clip", start=0.0)
SALT = Turn("How much salt goes into pasta water?", "About ten grams per litre [1].", labels=("paragraph",), cited=(GUIDE, CAT, MOON, CLIP))


def test_a_follow_up_without_a_subject_carries_the_previous_one_and_prefers_its_route() -> None:
    for follow_up in ("and how long should it boil?", "how long?", "what about the lid?"):
        condensed = condense_rules(follow_up, [SALT])
        assert condensed.standalone.startswith(follow_up.rstrip())
        assert condensed.standalone.endswith("(salt pasta water)"), condensed
        assert condensed.dependent and condensed.prefer == ("paragraph",) and condensed.method == "rules"


def test_a_self_contained_question_is_left_alone() -> None:
    for question in ("Who was the first person on the Moon?", "is there a picture of a horse?", "What is it like in Lisbon in May?"):
        condensed = condense_rules(question, [SALT])
        assert condensed.standalone == question and not condensed.dependent and not condensed.prefer


def test_a_reference_to_a_cited_item_becomes_its_name() -> None:
    second = condense_rules("what is in the second photo?", [SALT])
    assert second.standalone == "what is in the photo moon?"
    assert second.prefer == ("image",) and "moon.jpg" in second.reason
    numbered = condense_rules("what does source 2 show", [SALT])
    assert "chelsea the cat" in numbered.standalone and numbered.prefer == ("image",)
    document = condense_rules("what else does that document say?", [SALT])
    assert "the document Cooking pasta" in document.standalone and document.prefer == ("document",)
    assert not condense_rules("is there a picture in that document?", [SALT]).prefer  # another modality: its words route


def test_a_switch_of_modality_keeps_the_subject_and_is_routed_on_its_words() -> None:
    cited = condense_rules("show me that in the video", [SALT])  # the answer cited a clip: that one
    assert "pasta cooking" in cited.standalone and "salt" in cited.standalone and cited.prefer == ("clip",)
    no_clip = Turn(SALT.question, SALT.answer, labels=("paragraph",), cited=(GUIDE,))
    switched = condense_rules("show me that in the video", [no_clip])
    assert switched.standalone == "show me that in the video (salt pasta water)"
    assert switched.dependent and switched.prefer == ()


def test_a_first_question_is_not_condensed_and_off_changes_nothing() -> None:
    assert condense("and how long?", [], "rules", None, 48).method == "none"
    off = condense("and how long?", [SALT], "off", None, 48)
    assert off.standalone == "and how long?" and off.method == "none"


def test_a_models_rewrite_is_checked() -> None:
    assert clean_reply('Standalone question: "How long should pasta boil?"\nmore') == "How long should pasta boil?"
    history = [SALT, Turn("What does the cat look like?", "A tabby cat [1].")]
    assert rejected("", "and how long?", history) == "empty"
    assert rejected("How much salt goes into pasta water?", "and how long?", history) == "a copy of an earlier question"
    assert rejected("Tell me about the weather in Paris", "and how long?", history) == "no word of the conversation in it"
    assert rejected("How long should pasta water boil?", "and how long?", history) == ""
    assert rejected("How much salt goes in pasta?", "and how much water for 500g of spaghetti?", history) == "it drops the follow-up's own words"


def test_a_follow_ups_prior_multiplies_the_previous_routes_odds() -> None:
    probs, why = stick({"paragraph": 0.2, "clip": 0.6, "no": 0.2}, ("paragraph",), 3.0)
    assert abs(sum(probs.values()) - 1) < 1e-9 and abs(probs["paragraph"] / probs["no"] - 3.0) < 1e-9
    assert "paragraph preferred" in why
    assert stick({"clip": 1.0}, ("paragraph",), 3.0) == ({"clip": 1.0}, "")


def test_earlier_turns_reach_the_answer_prompt_newest_first_within_the_budget() -> None:
    history = [(f"question {i} " + "x" * 300, f"answer {i} [1][2]") for i in range(5)]
    kept = history_messages(history, budget_tokens=200)  # 800 characters: the last two turns
    assert [m["content"].split()[1] for m in kept] == ["3", "3", "4", "4"]
    assert [m["role"] for m in kept] == ["user", "assistant"] * 2
    assert "[1]" not in kept[1]["content"]  # an old answer's citations do not number this turn's evidence
    messages, _ = build_messages("and now?", [GUIDE], GeneratorConfig(history_tokens=200), False, None, history)
    assert messages[0]["role"] == "system" and messages[1:-1] == kept and "and now?" in messages[-1]["content"]
    assert history_messages(history, budget_tokens=0) == []
