"""The natural routing set: how people ask about their own documents, photos and videos
(and what needs no retrieval), for training and measuring the router.

    python -m eval.natural [--per-label 170] [--seed 0]

writes eval/data/natural_train.json and eval/data/natural_test.json from
- five hand-written sets, eval/data/natural_handwritten_{a..e}.json (420 questions each,
  written one by one by five writers working independently, each with its own slant: work
  and school; home and family; hobbyists and researchers; hard negatives; implied
  modalities and very short or long messages), and
- templated questions made here: per label many phrasings with entity slots, filled, then
  sometimes roughened the way people type (lower case, no question mark, a typo, a
  greeting in front).
Held out (a fifth): all of writer c's questions, whose phrasing no training question
shares, and the templated questions of every fifth template; a training question that
another writer phrased the same way as a held-out one is dropped. Rows: {"question",
"gt_retrieval", "acceptable": [labels], "kind", "source"}.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

DATA = Path(__file__).with_name("data")
WRITERS = "abcde"
HELD_OUT_WRITER = "c"
HELD_OUT_TEMPLATES = 2  # templates whose number is 2 modulo 5

SLOTS: dict[str, tuple[str, ...]] = {
    "doc": (
        "annual report", "lease", "rental contract", "onboarding handbook", "employee handbook",
        "dishwasher manual", "user manual", "thesis draft", "project proposal", "meeting notes",
        "board minutes", "insurance policy", "quarterly report", "Q3 report", "research paper",
        "grant application", "style guide", "travel itinerary", "recipe book", "syllabus",
        "privacy policy", "warranty booklet", "terms of service", "lab notebook", "newsletter",
        "strategy memo", "product spec", "API docs", "release notes", "course notes",
        "tax return", "mortgage agreement", "school report", "service contract", "white paper",
        "budget spreadsheet notes", "safety data sheet", "install guide", "owner's manual",
        "HR policy", "incident postmortem", "design doc", "sales playbook", "pitch deck notes",
    ),
    "topic": (
        "the refund policy", "the warranty period", "pets", "late fees", "the notice period",
        "parental leave", "the deadline", "the budget", "the error codes", "cleaning the filter",
        "the security deposit", "overtime pay", "the revenue growth", "the sample size",
        "the data retention period", "the dosage", "the baking temperature", "the battery life",
        "the opening hours", "the cancellation fee", "the password reset steps", "the pricing",
        "the minimum order", "the main risks", "the office address", "the descaling procedure",
    ),
    "fact_q": (
        "what is the warranty period", "how long is the notice period", "when is the rent due",
        "how much salt goes in pasta water", "what's the wifi password", "who signed the contract",
        "what temperature should the oven be", "how many vacation days do we get",
        "what's the deadline for the grant", "which error code means the filter is blocked",
        "what time does the pharmacy open on sundays", "how much was the security deposit",
        "what's our refund policy", "who is the contact for IT support",
        "what dose of ibuprofen is recommended", "how often should the boiler be serviced",
        "what is the late fee", "how long should the dough rest", "what's the tyre pressure for the car",
        "when was the company founded", "how many employees does the company have",
        "what's the maximum load of the washing machine", "where is the fuse box",
        "what is the cancellation fee", "what's the minimum order quantity",
        "what's the boiling point of nitrogen", "who was the first woman to command a space shuttle",
        "how far is the moon from earth", "what causes volcanic ash clouds",
        "how do I reset the router", "how do i descale the coffee machine",
        "which chapter covers photosynthesis", "how does photosynthesis work",
        "what are the side effects listed for the vaccine", "what's the speed limit on the ring road",
        "how much caffeine is in a cup of coffee", "what is the return window",
        "how many classes does the iris dataset have", "what's the check-in time at the hotel",
    ),
    "photo": (
        "photo", "picture", "pic", "image", "snapshot", "photograph", "selfie", "screenshot",
        "scan", "scanned page", "diagram", "chart", "figure", "drawing", "slide", "poster",
        "infographic", "X-ray", "thumbnail", "group photo", "polaroid", "headshot", "sketch",
    ),
    "photo_of": (
        "the beach trip", "my cat", "the birthday party", "the wedding", "grandma's garden",
        "the kitchen renovation", "the receipt", "the whiteboard", "the car accident",
        "the hike in the Alps", "the dashboard", "the error message", "the floor plan",
        "the new logo", "the conference booth", "the moon", "the coins", "the astronaut",
        "the rocket", "the coffee cup", "the wiring", "the lab bench", "the temple",
        "the flower", "the team offsite", "the museum visit", "Lisbon", "the hubble deep field",
        "IMG_2041.jpg", "the parking sign", "the damaged package", "the old family album",
    ),
    "look_q": (
        "what colour is the car", "how many people are there", "what is written on the sign",
        "what's the total", "is anyone wearing glasses", "what breed is the dog",
        "what is on the table", "what does the logo look like", "how many candles are on the cake",
        "what's the error message", "which way is the arrow pointing", "what's in the background",
        "is it day or night", "what colour are the cat's eyes", "how many coins are there",
        "what shape is the roof", "what is the person holding", "what does the chart show",
        "what colour is the flower's centre", "what is behind the astronaut",
    ),
    "video": (
        "video", "recording", "footage", "clip", "vlog", "livestream", "webinar",
        "lecture recording", "tutorial video", "dashcam footage", "screen recording",
        "zoom recording", "security camera footage", "drone footage", "youtube video",
        "home video", "documentary", "training video", "highlight reel", "bodycam footage",
    ),
    "video_of": (
        "the bicycle repair", "the volcano", "the pasta cooking", "the all-hands meeting",
        "the product demo", "the football match", "the wedding", "the kids' school play",
        "the garden tour", "the onboarding session", "the cooking class", "the board meeting",
        "the lecture on thermodynamics", "the standup", "the car repair", "the hike",
        "the concert", "the yoga class", "the interview", "the sprint review", "the keynote",
        "standup_2024-03-12.mp4", "the drone flight", "the science fair", "the lava flow",
    ),
    "moment": (
        "the wheel is taken off", "the lava reaches the sea", "the goal is scored",
        "he mentions the budget", "she shows the new dashboard", "the dog jumps into the pool",
        "the spaghetti goes in the pot", "the patch is glued on", "the bride walks in",
        "the speaker talks about layoffs", "the car overtakes us", "the cake comes out",
        "the ash cloud rises", "they drain the pasta", "the CEO announces the results",
        "the demo crashes", "the tyre is pumped up", "someone knocks on the door",
        "the drone takes off", "the teacher writes the formula on the board",
        "the referee shows the red card", "the cat knocks the glass over",
    ),
    "arith": (
        "12 squared", "17% of 240", "sqrt of 144", "3/8 as a decimal", "45 times 12",
        "2 to the power of 10", "1234 divided by 2", "a 15 percent tip on 64 dollars",
        "the average of 4, 8 and 15", "7 factorial", "the number of seconds in a day",
        "250 minus 87", "0.2 plus 0.1", "19 times 21", "half of 3.5", "1/3 plus 1/4",
    ),
    "convert": (
        "30 celsius in fahrenheit", "5 miles in km", "a kilo in pounds", "2 cups in millilitres",
        "6 feet in metres", "100 km/h in mph", "3 tablespoons in teaspoons", "an acre in square metres",
        "350 F in C", "12 inches in cm", "a gallon in litres", "90 minutes in hours",
    ),
    "phrase": (
        "good morning", "thank you very much", "where is the train station", "I love you",
        "see you tomorrow", "the meeting is cancelled", "happy birthday", "video call",
        "photograph", "volcano", "how much does it cost", "nice to meet you",
    ),
    "language": ("Spanish", "French", "German", "Italian", "Japanese", "Portuguese", "Dutch", "Polish"),
    "text": (
        "we was late to the meeting cause the train were delayed",
        "Dear team, the report is late. Sorry.",
        "i can not attend tomorrow because i am sick",
        "The picture is clear: our sales dropped last quarter.",
        "pls send me the video by friday",
        "Our product helps people find their photos and videos faster.",
        "the results of the experiment was very surprising for everyone",
        "Thanks for the recording of the call, it was very helpful.",
    ),
    "write": (
        "a haiku about rain", "a short email declining the meeting", "a birthday message for my sister",
        "a caption for my holiday photo", "a script for a 30 second video about recycling",
        "a limerick about a cat", "a tweet announcing our new feature", "a polite reminder to pay the invoice",
        "three names for a goldfish", "a title for my vlog about Lisbon", "a toast for my friend's wedding",
        "a slogan for a bakery", "an out-of-office reply", "a thank-you note to my teacher",
    ),
}

# (template, label, acceptable labels beyond the label, kind)
TEMPLATES: tuple[tuple[str, str, tuple[str, ...], str], ...] = (
    # paragraph: one fact from a document
    ("{fact_q}?", "paragraph", (), "plain"),
    ("{fact_q}", "paragraph", (), "lowercase"),
    ("according to the {doc}, {fact_q}?", "paragraph", (), "plain"),
    ("{fact_q} according to my notes", "paragraph", (), "plain"),
    ("In the {doc}, what does it say about {topic}?", "paragraph", ("document",), "plain"),
    ("what does the {doc} say about {topic}", "paragraph", ("document",), "lowercase"),
    ("find the part of the {doc} about {topic}", "paragraph", ("document",), "imperative"),
    ("Look up {topic} in the {doc}.", "paragraph", (), "imperative"),
    ("quick q: {fact_q}?", "paragraph", (), "conversational"),
    ("Can you check the {doc} and tell me {fact_q}?", "paragraph", (), "conversational"),
    ("{topic} - {doc}?", "paragraph", ("document",), "short"),
    ("Where in the {doc} is {topic} mentioned?", "paragraph", ("document",), "plain"),
    ("I need one detail from the {doc}: {fact_q}?", "paragraph", (), "plain"),
    ("what page of the {doc} talks about {topic}", "paragraph", (), "lowercase"),
    ("does the {doc} mention {topic}?", "paragraph", ("document",), "plain"),
    ("my {doc} says something about {topic}, what exactly?", "paragraph", ("document",), "conversational"),
    ("I'm trying to remember {fact_q}, it should be in the {doc} somewhere but I can't find it, could you look it up for me?", "paragraph", (), "long"),
    ("the video card in my PC keeps crashing, what does the {doc} say to check?", "paragraph", ("document",), "hard-negative"),
    ("what's the image resolution setting mentioned in the {doc}?", "paragraph", (), "hard-negative"),
    ("snapshot of {topic} from the {doc}?", "paragraph", ("document",), "hard-negative"),
    ("how does photosynthesis work", "paragraph", ("document", "no"), "hard-negative"),
    ("what's the record for {topic} in the {doc}", "paragraph", ("document",), "hard-negative"),
    ("which scene of the play does the {doc} describe first?", "paragraph", ("document",), "hard-negative"),
    ("what frame size does the {doc} recommend for the bike", "paragraph", (), "hard-negative"),
    # document: the whole document
    ("Summarise the {doc}.", "document", (), "imperative"),
    ("give me an overview of the whole {doc}", "document", (), "imperative"),
    ("tl;dr of the {doc}?", "document", (), "short"),
    ("What are the key takeaways from the {doc}?", "document", (), "plain"),
    ("what's the gist of the {doc}", "document", (), "lowercase"),
    ("Compare the {doc} with last year's version: what changed?", "document", (), "comparison"),
    ("compare what the {doc} and the {doc2} say about {topic}", "document", ("paragraph",), "comparison"),
    ("Across the {doc}, how is {topic} handled?", "document", ("paragraph",), "plain"),
    ("Everything the {doc} says about {topic}, please.", "document", ("paragraph",), "imperative"),
    ("What is the main argument of the {doc}?", "document", (), "plain"),
    ("walk me through the entire {doc} section by section", "document", (), "imperative"),
    ("what are all the obligations in the {doc}", "document", ("paragraph",), "lowercase"),
    ("In the big picture, what does the {doc} conclude?", "document", (), "hard-negative"),
    ("Can you read through the whole {doc} and list every deadline it mentions?", "document", (), "plain"),
    ("summary of the {doc} pls", "document", (), "short"),
    ("I don't have time to read the {doc} before my meeting in ten minutes, can you give me a summary of the main points and anything I should worry about?", "document", (), "long"),
    ("what is the {doc} about overall", "document", (), "lowercase"),
    ("outline the structure of the {doc}", "document", (), "imperative"),
    ("How does the {doc} describe the evolution of {topic} from start to finish?", "document", (), "plain"),
    # image
    ("In the {photo} of {photo_of}, {look_q}?", "image", (), "plain"),
    ("{look_q} in the {photo} of {photo_of}", "image", (), "lowercase"),
    ("show me the {photo} of {photo_of}", "image", (), "imperative"),
    ("find the {photo} of {photo_of}", "image", (), "imperative"),
    ("{photo} of {photo_of}?", "image", (), "short"),
    ("What's in the {photo} of {photo_of}?", "image", (), "plain"),
    ("describe the {photo} from {photo_of}", "image", (), "imperative"),
    ("Do I have a {photo} of {photo_of}?", "image", (), "plain"),
    ("{look_q}? it's the {photo} from {photo_of}", "image", (), "conversational"),
    ("read the text on the {photo} of {photo_of}", "image", (), "imperative"),
    ("What does {photo_of} look like?", "image", (), "plain"),
    ("what does the {photo} of {photo_of} show", "image", (), "lowercase"),
    ("There's a {photo} somewhere in my files of {photo_of}; {look_q}? I remember it but not the detail.", "image", (), "long"),
    ("Which of my {photo}s shows {photo_of}?", "image", (), "plain"),
    ("{look_q} (the {photo})", "image", (), "short"),
    # clip: a moment of a video
    ("At what point in the {video} of {video_of} is {moment_passive}?", "clip", (), "timestamp"),
    ("at what point in the {video} {moment}", "clip", (), "timestamp"),
    ("When in the {video} of {video_of} is {moment_passive}?", "clip", (), "timestamp"),
    ("show me the part of the {video} where {moment}", "clip", (), "imperative"),
    ("find the moment in the {video} when {moment}", "clip", (), "imperative"),
    ("timestamp where {moment} in the {video}?", "clip", (), "timestamp"),
    ("Which scene of the {video} shows that {moment}?", "clip", (), "plain"),
    ("what happens right after {moment} in the {video} of {video_of}", "clip", (), "lowercase"),
    ("what does the speaker say when {moment} in the {video}?", "clip", (), "plain"),
    ("jump to where {moment}", "clip", ("video",), "imperative"),
    ("the scene where {moment}?", "clip", (), "short"),
    ("In the {video} of {video_of}, what is said just before {moment}?", "clip", (), "plain"),
    ("how long into the {video} until {moment}", "clip", (), "timestamp"),
    ("I'm looking for the bit in the {video} of {video_of} where {moment}, can you find it and tell me what they say there?", "clip", (), "long"),
    ("what step comes after {moment} in the {video}?", "clip", ("video",), "plain"),
    ("play the clip where {moment}", "clip", (), "imperative"),
    # video: the whole video
    ("Summarise the {video} of {video_of}.", "video", (), "imperative"),
    ("what is the {video} of {video_of} about", "video", (), "lowercase"),
    ("give me an overview of the {video} of {video_of}", "video", (), "imperative"),
    ("What happens in the {video} of {video_of}?", "video", ("clip",), "plain"),
    ("list all the steps shown in the {video} of {video_of}", "video", (), "imperative"),
    ("tl;dr of the {video_of} {video}", "video", (), "short"),
    ("Compare the two {video}s of {video_of}: what is different?", "video", (), "comparison"),
    ("what's the overall story of the {video}", "video", (), "lowercase"),
    ("Summarize the recorded {video_of}.", "video", (), "imperative"),
    ("what topics are covered in the whole {video} of {video_of}", "video", (), "plain"),
    ("I missed {video_of}, there's a {video} of it; what did I miss overall, in a few bullet points?", "video", (), "long"),
    ("{video_of} {video} summary?", "video", (), "short"),
    ("From start to finish, how does the {video} of {video_of} unfold?", "video", (), "plain"),
    ("What is the main message of the {video}?", "video", (), "plain"),
    # no retrieval
    ("what is {arith}", "no", (), "plain"),
    ("calculate {arith}", "no", (), "imperative"),
    ("{reasoning}", "no", (), "plain"),
    ("{arith}?", "no", (), "short"),
    ("quick maths: {arith}", "no", (), "conversational"),
    ("Picture this: I have {n} apples and eat 2. How many are left?", "no", (), "hard-negative"),
    ("convert {convert}", "no", (), "imperative"),
    ("how much is {convert}?", "no", (), "plain"),
    ("{convert}", "no", (), "short"),
    ("How do you say '{phrase}' in {language}?", "no", (), "plain"),
    ("translate '{phrase}' into {language}", "no", (), "imperative"),
    ("{phrase} in {language}?", "no", (), "short"),
    ("rewrite this more politely: {text}", "no", (), "imperative"),
    ("fix the grammar: {text}", "no", (), "imperative"),
    ("Make this sound more professional: \"{text}\"", "no", (), "imperative"),
    ("shorten this to one line: {text}", "no", (), "imperative"),
    ("clip this sentence down to five words: {text}", "no", (), "hard-negative"),
    ("write {write}", "no", (), "imperative"),
    ("Can you write {write}?", "no", (), "plain"),
    ("help me come up with {write}", "no", (), "conversational"),
    ("{greeting}", "no", (), "conversational"),
)
MOMENT_PASSIVE = (
    "the wheel taken off", "the lava reaching the sea", "the goal scored", "the budget mentioned",
    "the new dashboard shown", "the cake taken out of the oven", "the patch glued on",
    "the spaghetti added", "the results announced", "the red card shown", "the tyre pumped up",
)
REASONING = (
    "is 91 a prime number?", "which is bigger, 2/3 or 0.65?", "how many days are there in a leap year?",
    "if a train leaves at 3pm and the trip takes 2h40, when does it arrive?", "what day of the week comes after tuesday",
    "what rhymes with orange", "give me a synonym for happy", "what's the opposite of generous?",
    "is a tomato a fruit or a vegetable", "what's a good name for a goldfish?",
)
GREETINGS = (
    "hi", "hello!", "hey there", "good morning", "thanks!", "thank you, that helped a lot",
    "thx", "cheers", "bye", "see you later", "who are you?", "what can you do?", "how are you today?",
    "ok great", "that's all for now, thanks", "you're awesome", "hmm ok", "nice", "good night",
)
OPENERS = ("hey, ", "hi! ", "quick question: ", "pls ", "can u tell me ", "so ", "ok so ", "")
CLOSERS = (" thanks", " pls", " thx!", " asap", " ?", "")


def fill(template: str, rng: random.Random) -> str:
    """The template with each slot filled with a random value (a second {doc2} differs)."""
    values = {name: rng.choice(options) for name, options in SLOTS.items()}
    values["doc2"] = rng.choice([d for d in SLOTS["doc"] if d != values["doc"]])
    values["moment_passive"] = rng.choice(MOMENT_PASSIVE)
    values["greeting"] = rng.choice(GREETINGS)
    values["reasoning"] = rng.choice(REASONING)
    values["n"] = str(rng.randint(3, 12))
    text = template.format(**values)
    return text[0].upper() + text[1:] if template[0].isupper() else text


def roughen(text: str, rng: random.Random) -> tuple[str, str]:
    """The text as people type it, sometimes: lower case, no final '?', a typo, a greeting."""
    kinds: list[str] = []
    if rng.random() < 0.25:
        text = text.lower()
        kinds.append("lowercase")
    if rng.random() < 0.2:
        text = text.rstrip("?.!")
    if rng.random() < 0.15:
        text = typo(text, rng)
        kinds.append("typo")
    if rng.random() < 0.15:
        text = rng.choice(OPENERS) + text[0].lower() + text[1:] + rng.choice(CLOSERS)
    return text, (kinds[-1] if kinds else "")


def typo(text: str, rng: random.Random) -> str:
    """One typo in a word of four or more letters: two letters swapped, or one dropped."""
    words = list(re.finditer(r"[A-Za-z]{4,}", text))
    if not words:
        return text
    m = rng.choice(words)
    w, i = m.group(), rng.randrange(1, len(m.group()) - 1)
    w = w[:i] + w[i + 1] + w[i] + w[i + 2 :] if rng.random() < 0.5 else w[:i] + w[i + 1 :]
    return text[: m.start()] + w + text[m.end() :]


def generate(per_label: int, seed: int = 0) -> list[dict]:
    """About `per_label` distinct questions per label, spread over that label's templates."""
    rng = random.Random(seed)
    rows, seen = [], set()
    by_label: dict[str, list[int]] = {}
    for n, (_, label, _, _) in enumerate(TEMPLATES):
        by_label.setdefault(label, []).append(n)
    for label, ids in by_label.items():
        made, tries = 0, 0
        while made < per_label and tries < per_label * 50:
            tries += 1
            n = ids[made % len(ids)] if tries <= per_label else rng.choice(ids)
            template, _, also, kind = TEMPLATES[n]
            question, rough = roughen(fill(template, rng), rng)
            if question.lower() in seen:
                continue
            seen.add(question.lower())
            rows.append({
                "question": question, "gt_retrieval": label, "acceptable": [label, *also],
                "kind": rough or kind, "template": n,
            })
            made += 1
    return rows


def split(per_label: int, seed: int = 0) -> tuple[list[dict], list[dict]]:
    """(train, held-out): see the module doc."""
    train: list[dict] = []
    test: list[dict] = []
    for writer in WRITERS:
        rows = json.loads((DATA / f"natural_handwritten_{writer}.json").read_text(encoding="utf-8"))
        for row in rows:
            (test if writer == HELD_OUT_WRITER else train).append({**row, "source": f"writer-{writer}"})
    for row in generate(per_label, seed):
        template = row.pop("template")
        (test if template % 5 == HELD_OUT_TEMPLATES else train).append({**row, "source": f"template-{template}"})
    held = {row["question"].strip().lower() for row in test}  # a held-out question is never trained on
    return [row for row in train if row["question"].strip().lower() not in held], test


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.natural", description=__doc__.split("\n\n")[0])
    parser.add_argument("--per-label", type=int, default=170, help="templated questions per label")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=DATA, help="folder for natural_{train,test}.json")
    args = parser.parse_args(argv)
    for name, rows in zip(("train", "test"), split(args.per_label, args.seed), strict=True):
        path = args.out / f"natural_{name}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        lines = ",\n".join(json.dumps(row, ensure_ascii=False) for row in rows)
        path.write_text(f"[\n{lines}\n]\n", encoding="utf-8")
        counts = Counter(r["gt_retrieval"] for r in rows)
        print(f"wrote {len(rows)} questions to {path}: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
