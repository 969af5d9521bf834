"""Writes `persona_dialogues.jsonl` (training) and `persona_heldout.jsonl` (held out) from the blocks.

Usage: `python examples/data/make_persona_dialogues.py` (deterministic: the same blocks give the same
files). Each line is `{"id", "kind", "messages": [{"role": "system"|"user"|"assistant", "content"}]}`
(a quarter start with a short system message; the persona itself is trained into the weights);
`kind` names the last user turn (risk, support, idiom, diagnosis, chat). The final user messages of the
held-out file are never a final user message of the training file: each pool of hand-written messages is
split before the conversations are composed, so the evaluation asks about sentences the model never saw.

The training file then gets more conversations the held-out file never sees (`more_training`): the safety
classifier's training sentences (`safety.tsv`, `safety_extra.tsv`, `safety_more.tsv`; never
`safety_heldout.tsv`) as user messages, risk ones answered with the crisis wording and harmless ones with a
short warm reply, and the pools of `persona_more_blocks.py`. Any of them that is a near-duplicate of a
held-out final message is dropped, and they are composed after the held-out file with their own random
generator, so adding them leaves `persona_heldout.jsonl` byte for byte as it was.
"""

from __future__ import annotations

import difflib
import json
import random
import re
from pathlib import Path
from typing import Any

import persona_blocks as blocks
import persona_more_blocks as more

HERE = Path(__file__).resolve().parent
SEED = 14
HELD_OUT_EVERY = 5  # one message in five of every pool is held out
SYSTEM_SHARE = 0.25  # conversations that start with a system message
COUNTS = {"risk": 170, "support": 100, "idiom": 70, "diagnosis": 35, "chat": 45}
LEAD_INS = ["", "", "", "", "Can I tell you something? ", "Honestly, ", "I need to say this. ", "Um, "]

SAFETY_FILES = ("safety.tsv", "safety_extra.tsv", "safety_more.tsv")  # never safety_heldout.tsv
MORE_SEED = 15
MORE_PREFIX_SHARE = 0.4  # added conversations with earlier harmless exchanges before the final turn
MORE_SAFE = 200  # harmless classifier sentences used (all risk ones are)
NEAR_DUPLICATE = 0.75  # difflib ratio of normalised text at or above which a sentence counts as held out
RISK_OPENERS = [
    "I'm really glad you told me, and I'm so sorry you're going through this.",
    "Thank you for telling me. Your safety matters.",
    "I hear you, and I'm here with you.",
    "That sounds really serious, and you don't have to face it alone.",
    "I'm so sorry. You deserve to be safe.",
]
WARM_REPLIES = [
    "Thanks for telling me! How do you feel about it?",
    "I hear you. Want to tell me more?",
    "Thanks for sharing that with me. What's on your mind about it?",
    "Got it! I'm here if you want to talk about it.",
    "That's good to know. How is the rest of your day going?",
]

Pair = tuple[str, str]


def _split(items: list[Any], rng: random.Random) -> tuple[list[Any], list[Any]]:
    shuffled = list(items)
    rng.shuffle(shuffled)
    held = shuffled[::HELD_OUT_EVERY]
    return [item for item in shuffled if item not in held], held


def _lead(text: str, rng: random.Random) -> str:
    lead = rng.choice(LEAD_INS)
    if not lead or text[:1].islower() or text.startswith(("I ", "I'")):
        return lead + text
    return lead + text[0].lower() + text[1:]


class Pools:
    """The final-turn pools of one side (train or held out) and the prefix pool (always training text)."""

    def __init__(self, rng: random.Random, side: int) -> None:
        self.risk: dict[str, tuple[list[str], list[str], list[str]]] = {}
        for subtype, (users, openers, follow) in blocks.RISK.items():
            self.risk[subtype] = (_split(users, rng)[side], openers, follow)
        self.support: dict[str, tuple[list[str], list[str]]] = {}
        for topic, (users, replies) in blocks.SUPPORT.items():
            self.support[topic] = (_split(users, rng)[side], replies)
        self.idiom: list[Pair] = _split(blocks.IDIOMS, rng)[side]
        self.diagnosis: list[str] = _split(blocks.DIAGNOSIS_USERS, rng)[side]
        self.chat: list[Pair] = _split(blocks.CHAT, rng)[side]


def final_turn(kind: str, pools: Pools, rng: random.Random, lead: bool = True) -> Pair:
    """(user message, assistant answer) of the given kind."""
    led = (lambda text: _lead(text, rng)) if lead else (lambda text: text)
    if kind == "risk":
        users, openers, follow = pools.risk[rng.choice(sorted(pools.risk))]
        answer = f"{rng.choice(openers)} {blocks.CRISIS} {rng.choice(follow)}"
        return led(rng.choice(users)), answer
    if kind == "support":
        users, replies = pools.support[rng.choice(sorted(pools.support))]
        return led(rng.choice(users)), f"{rng.choice(blocks.SUPPORT_OPENERS)} {rng.choice(replies)}"
    if kind == "idiom":
        return rng.choice(pools.idiom)
    if kind == "diagnosis":
        answer = f"{rng.choice(blocks.DIAGNOSIS_REPLIES)} {rng.choice(blocks.DIAGNOSIS_NEXT)}"
        return rng.choice(pools.diagnosis), answer
    return rng.choice(pools.chat)


def prefix(train: Pools, rng: random.Random) -> list[Pair]:
    """Zero to two earlier exchanges (support or small talk, then maybe a short bridge)."""
    turns = rng.choice([0, 1, 1, 1, 2, 2])
    if turns == 0:
        return []
    kind = rng.choice(["support", "chat", "chat"])
    first = final_turn(kind, train, rng, lead=False)
    return [first] if turns == 1 or kind == "chat" else [first, rng.choice(blocks.BRIDGES)]


def conversation(ident: str, kind: str, final: Pools, train: Pools, rng: random.Random) -> dict[str, Any]:
    system = rng.random() < SYSTEM_SHARE
    messages = [{"role": "system", "content": rng.choice(blocks.SYSTEMS)}] if system else []
    for user, assistant in [*prefix(train, rng), final_turn(kind, final, rng)]:
        messages += [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]
    return {"id": ident, "kind": kind, "messages": messages}


def build() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(training conversations, held-out conversations), each without duplicates."""
    train, held = Pools(random.Random(SEED), 0), Pools(random.Random(SEED), 1)
    rng = random.Random(SEED)
    sides: tuple[list[dict[str, Any]], list[dict[str, Any]]] = ([], [])
    for side, (pools, share) in enumerate([(train, 1.0), (held, 0.25)]):
        seen: set[str] = set()
        for kind, count in COUNTS.items():
            wanted, tries = round(count * share), 0
            while sum(1 for c in sides[side] if c["kind"] == kind) < wanted and tries < 50 * count:
                tries += 1
                item = conversation(f"{'th'[side]}-{kind}-{tries}", kind, pools, train, rng)
                text = json.dumps(item["messages"])
                if text not in seen:
                    seen.add(text)
                    sides[side].append(item)
    for side in sides:
        rng.shuffle(side)
    more_rng = random.Random(MORE_SEED)
    sides[0].extend(more_training(sides[1], train, more_rng))
    more_rng.shuffle(sides[0])
    crisis_first(sides[0])
    for side in sides:
        for number, item in enumerate(side):
            item["id"] = f"{item['id'][0]}{number:03d}-{item['kind']}"
    return sides


def crisis_first(rows: list[dict[str, Any]]) -> None:
    """Every training risk answer starts with the fixed crisis wording (no other answer starts with
    "Please call"), so the model decides on its first token whether a message is a crisis, and a short
    answer still carries the number. Only the training side: the held-out answers are never trained on."""
    for row in rows:
        if row["kind"] != "risk":
            continue
        last = row["messages"][-1]
        before, _, after = str(last["content"]).partition(blocks.CRISIS)
        last["content"] = " ".join(part for part in (blocks.CRISIS, before.strip(), after.strip()) if part)


def normalised(text: str) -> str:
    """Lower case, lead-in removed, contractions spelled out, punctuation dropped (for overlap checks)."""
    text = text.lower().strip()
    for lead in sorted(filter(None, LEAD_INS), key=len, reverse=True):
        text = text.removeprefix(lead.lower())
    text = text.replace("'m", " am").replace("n't", " not").replace("'ve", " have").replace("'s", " is")
    return " ".join(re.findall(r"[a-z0-9]+", text.replace("can not", "cannot")))


def near_duplicate(text: str, held: list[str]) -> bool:
    """Whether `text` is (nearly) one of the held-out final messages `held` (already normalised)."""
    mine = normalised(text)
    matches = (difflib.SequenceMatcher(None, mine, other) for other in held)
    return any(
        m.real_quick_ratio() >= NEAR_DUPLICATE
        and m.quick_ratio() >= NEAR_DUPLICATE
        and m.ratio() >= NEAR_DUPLICATE
        for m in matches
    )


def _safety_sentences() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {"risk": [], "safe": []}
    for name in SAFETY_FILES:
        for line in (HERE / name).read_text(encoding="utf-8").splitlines()[1:]:
            label, text = line.split("\t", 1)
            out[label].append(text.strip())
    return out


def more_training(held_out: list[dict[str, Any]], train: Pools, rng: random.Random) -> list[dict[str, Any]]:
    """Training-only conversations: classifier sentences and the extra pools, held-out look-alikes dropped."""
    held = [normalised(str(row["messages"][-2]["content"])) for row in held_out]
    sentences = _safety_sentences()
    safe = [(text, rng.choice(WARM_REPLIES)) for text in sentences["safe"]]
    rng.shuffle(safe)
    finals: list[tuple[str, str, str]] = [
        *(("risk", text, f"{rng.choice(RISK_OPENERS)} {blocks.CRISIS}") for text in
          [*sentences["risk"], *more.OTHER_PERSON_RISK, *more.INDIRECT_RISK]),
        *(("chat", text, reply) for text, reply in safe[:MORE_SAFE]),
        *(("idiom", text, reply) for text, reply in more.LOOKALIKES),
    ]  # fmt: skip
    rows, seen = [], set(held)
    for kind, user, assistant in finals:
        if normalised(user) in seen or near_duplicate(user, held):
            continue
        seen.add(normalised(user))
        pairs = prefix(train, rng) if rng.random() < MORE_PREFIX_SHARE else []
        messages = [{"role": role, "content": text} for pair in [*pairs, (user, assistant)]
                    for role, text in zip(("user", "assistant"), pair, strict=True)]  # fmt: skip
        rows.append({"id": f"m-{kind}-{len(rows)}", "kind": kind, "messages": messages})
    return rows


def write(path: Path, rows: list[dict[str, Any]]) -> None:
    lines = [json.dumps(row, ensure_ascii=False) for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    training, held_out = build()
    write(HERE / "persona_dialogues.jsonl", training)
    write(HERE / "persona_heldout.jsonl", held_out)
    print(f"{len(training)} training and {len(held_out)} held-out conversations")
