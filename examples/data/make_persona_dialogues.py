"""Writes `persona_dialogues.jsonl` (training) and `persona_heldout.jsonl` (held out) from the blocks.

Usage: `python examples/data/make_persona_dialogues.py` (deterministic: the same blocks give the same
files). Each line is `{"id", "kind", "messages": [{"role": "system"|"user"|"assistant", "content"}]}`
(a quarter start with a short system message; the persona itself is trained into the weights);
`kind` names the last user turn (risk, support, idiom, diagnosis, chat). The final user messages of the
held-out file are never a final user message of the training file: each pool of hand-written messages is
split before the conversations are composed, so the evaluation asks about sentences the model never saw.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import persona_blocks as blocks

HERE = Path(__file__).resolve().parent
SEED = 14
HELD_OUT_EVERY = 5  # one message in five of every pool is held out
SYSTEM_SHARE = 0.25  # conversations that start with a system message
COUNTS = {"risk": 170, "support": 100, "idiom": 70, "diagnosis": 35, "chat": 45}
LEAD_INS = ["", "", "", "", "Can I tell you something? ", "Honestly, ", "I need to say this. ", "Um, "]

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
        for number, item in enumerate(side):
            item["id"] = f"{item['id'][0]}{number:03d}-{item['kind']}"
    return sides


def write(path: Path, rows: list[dict[str, Any]]) -> None:
    lines = [json.dumps(row, ensure_ascii=False) for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    training, held_out = build()
    write(HERE / "persona_dialogues.jsonl", training)
    write(HERE / "persona_heldout.jsonl", held_out)
    print(f"{len(training)} training and {len(held_out)} held-out conversations")
